/* semop arrays are atomic: all operations apply or none; operations on the
 * same semaphore in one array apply in order. */
#include "common.h"

static void show(int id, const char *label)
{
	unsigned short v[3];
	union semun a = { .array = v };
	TRY(semctl(id, 0, GETALL, a));
	say("%s: %u %u %u", label, v[0], v[1], v[2]);
}

int main(void)
{
	setup();
	int id = sem_private(3);
	struct sembuf b[4];

	unsigned short init[3] = { 1, 0, 5 };
	union semun a = { .array = init };
	TRY(semctl(id, 0, SETALL, a));
	show(id, "start");

	b[0] = (struct sembuf){ 0, -1, 0 };
	b[1] = (struct sembuf){ 1, -1, IPC_NOWAIT };
	CHECK("2nd op would block (nowait on 2nd)", semop(id, b, 2));
	show(id, "after");

	b[0] = (struct sembuf){ 2, 1, 0 };
	b[1] = (struct sembuf){ 0, 0, IPC_NOWAIT };
	CHECK("2nd op zero-wait fails", semop(id, b, 2));
	show(id, "after");

	xsop(id, 1, SEMVMX_, 0);
	b[0] = (struct sembuf){ 0, 1, 0 };
	b[1] = (struct sembuf){ 1, 1, 0 };
	CHECK("2nd op ERANGE", semop(id, b, 2));
	show(id, "after");
	xsop(id, 1, -SEMVMX_, 0);

	b[0] = (struct sembuf){ 0, -1, 0 };
	b[1] = (struct sembuf){ 3, 1, 0 };
	CHECK("2nd op EFBIG", semop(id, b, 2));
	show(id, "after");

	b[0] = (struct sembuf){ 0, -1, 0 };
	b[1] = (struct sembuf){ 2, -5, 0 };
	b[2] = (struct sembuf){ 1, 2, 0 };
	CHECK("three ops succeed", semop(id, b, 3));
	show(id, "after");

	/* Same semaphore twice: applied in sequence. */
	b[0] = (struct sembuf){ 1, -1, IPC_NOWAIT };
	b[1] = (struct sembuf){ 1, -1, IPC_NOWAIT };
	b[2] = (struct sembuf){ 1, -1, IPC_NOWAIT };
	CHECK("same sem -1 x3 on 2", semop(id, b, 3));
	show(id, "after");
	b[0] = (struct sembuf){ 1, 1, 0 };
	b[1] = (struct sembuf){ 1, -3, IPC_NOWAIT };
	CHECK("same sem +1 then -3 on 2", semop(id, b, 2));
	show(id, "after");
	setval(id, 1, 2);
	show(id, "after SETVAL");
	b[0] = (struct sembuf){ 1, -2, IPC_NOWAIT };
	b[1] = (struct sembuf){ 1, 0, IPC_NOWAIT };
	b[2] = (struct sembuf){ 1, 4, 0 };
	CHECK("same sem -2, zero, +4 on 2", semop(id, b, 3));
	show(id, "after");
	b[0] = (struct sembuf){ 1, 0, IPC_NOWAIT };
	b[1] = (struct sembuf){ 1, -4, IPC_NOWAIT };
	CHECK("same sem zero then -4 on 4", semop(id, b, 2));
	show(id, "after");
	b[0] = (struct sembuf){ 1, SEMVMX_, 0 };
	b[1] = (struct sembuf){ 1, -SEMVMX_, 0 };
	CHECK("same sem +32767 then -32767 on 4", semop(id, b, 2));
	show(id, "after");
	b[0] = (struct sembuf){ 1, -4, IPC_NOWAIT };
	b[1] = (struct sembuf){ 1, SEMVMX_, IPC_NOWAIT };
	b[2] = (struct sembuf){ 1, -SEMVMX_, IPC_NOWAIT };
	CHECK("same sem -4, +32767, -32767 on 4", semop(id, b, 3));
	show(id, "after");

	/* otime moves only on success */
	struct semid_ds ds;
	union semun s = { .buf = &ds };
	TRY(semctl(id, 0, IPC_STAT, s));
	yes("otime set after successful ops", ds.sem_otime != 0);

	sem_rm(id);
	say("done");
	return 0;
}
