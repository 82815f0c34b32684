/* semop basics: increment/decrement, IPC_NOWAIT -> EAGAIN, E2BIG, EFBIG,
 * ERANGE at SEMVMX, EINVAL for bad ids and nsops, EFAULT, removed set,
 * wait-for-zero with IPC_NOWAIT. */
#include "common.h"

int main(void)
{
	setup();
	long opm = semopm();
	int id = sem_private(2);
	struct sembuf b[2];

	say("initial value: %d", getval(id, 0));
	CHECK("semop +3", sop1(id, 0, 3, 0));
	say("value: %d", getval(id, 0));
	CHECK("semop -2", sop1(id, 0, -2, 0));
	say("value: %d", getval(id, 0));
	CHECK("semop -1 nowait", sop1(id, 0, -1, IPC_NOWAIT));
	say("value: %d", getval(id, 0));
	CHECK("semop -1 nowait on 0", sop1(id, 0, -1, IPC_NOWAIT));
	CHECK("semop -5 nowait on 0", sop1(id, 0, -5, IPC_NOWAIT));
	say("value: %d", getval(id, 0));

	/* wait-for-zero */
	CHECK("zero on 0 nowait", sop1(id, 0, 0, IPC_NOWAIT));
	CHECK("zero on 0 blocking", sop1(id, 0, 0, 0));
	xsop(id, 0, 1, 0);
	CHECK("zero on 1 nowait", sop1(id, 0, 0, IPC_NOWAIT));
	xsop(id, 0, -1, 0);

	/* ERANGE */
	CHECK("semop +32767", sop1(id, 1, SEMVMX_, 0));
	CHECK("semop +1 at 32767", sop1(id, 1, 1, 0));
	CHECK("semop +1 at 32767 nowait", sop1(id, 1, 1, IPC_NOWAIT));
	say("value: %d", getval(id, 1));
	CHECK("semop -32767", sop1(id, 1, -SEMVMX_, 0));
	CHECK("semop -32768 nowait", sop1(id, 1, -32768, IPC_NOWAIT));
	CHECK("semop +32767 twice in one call", ({
		b[0] = (struct sembuf){ 1, SEMVMX_, 0 };
		b[1] = (struct sembuf){ 1, SEMVMX_, 0 };
		semop(id, b, 2); }));
	say("value: %d", getval(id, 1));

	/* EFBIG: sem_num out of range */
	CHECK("semnum 2 of 2", sop1(id, 2, 1, 0));
	CHECK("semnum 65535", sop1(id, 65535, 1, 0));
	CHECK("semnum 2 zero-wait nowait", sop1(id, 2, 0, IPC_NOWAIT));
	CHECK("semnum 2 after valid op", ({
		b[0] = (struct sembuf){ 0, 1, 0 };
		b[1] = (struct sembuf){ 2, 1, 0 };
		semop(id, b, 2); }));
	say("value: %d", getval(id, 0));

	/* nsops */
	CHECK("nsops 0", semop(id, b, 0));
	struct sembuf *many = calloc((size_t)opm + 1, sizeof *many);
	if (!many) die("calloc");
	for (long i = 0; i <= opm; i++)
		many[i] = (struct sembuf){ 0, 0, IPC_NOWAIT };
	CHECK("nsops semopm", semop(id, many, (size_t)opm));
	CHECK("nsops semopm+1", semop(id, many, (size_t)opm + 1));
	CHECK("nsops semopm+1 bad id", semop(-1, many, (size_t)opm + 1));
	CHECK("nsops semopm+1 bad pointer", semop(id, (struct sembuf *)8, (size_t)opm + 1));
	/* The kernel takes nsops as unsigned int: the high bits are dropped. */
	CHECK("nsops 2^40", semop(id, many, (size_t)1 << 40));
	CHECK("nsops 2^32+1", semop(id, many, ((size_t)1 << 32) + 1));
	free(many);

	/* EFAULT */
	CHECK("bad sops pointer", semop(id, (struct sembuf *)8, 1));
	CHECK("bad sops pointer bad id", semop(-1, (struct sembuf *)8, 1));
	CHECK("NULL sops", semop(id, NULL, 1));

	/* EINVAL: ids */
	CHECK("id -1", sop1(-1, 0, 1, 0));
	CHECK("id INT_MIN", sop1(INT_MIN, 0, 1, 0));

	/* Removed set. */
	sem_rm(id);
	CHECK("semop after IPC_RMID", sop1(id, 0, 1, 0));
	CHECK("semop after IPC_RMID nowait", sop1(id, 0, -1, IPC_NOWAIT));
	CHECK("semnum 5 after IPC_RMID", sop1(id, 5, 1, 0));
	say("done");
	return 0;
}
