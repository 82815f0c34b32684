/* IPC_RMID while processes wait: every waiter (decrement, wait-for-zero,
 * semtimedop, multi-op) returns EIDRM, whoever removes the set; afterwards
 * the id is invalid (EINVAL) for semop and semctl. */
#include "common.h"

int main(void)
{
	setup();
	int fd[2];
	xpipe(fd);
	char buf[128];

	int id = sem_private(2);
	setval(id, 1, 1);
	pid_t k[4];
	/* A: -1 on s0 */
	k[0] = xfork();
	if (k[0] == 0) {
		int r = sop1(id, 0, -1, 0);
		char m[64]; snprintf(m, sizeof m, "A %s", res(r, errno)); send_line(fd[1], m);
		_exit(0);
	}
	wait_ncnt(id, 0, 1);
	/* B: zero-wait on s1 */
	k[1] = xfork();
	if (k[1] == 0) {
		int r = sop1(id, 1, 0, 0);
		char m[64]; snprintf(m, sizeof m, "B %s", res(r, errno)); send_line(fd[1], m);
		_exit(0);
	}
	wait_zcnt(id, 1, 1);
	/* C: semtimedop 10 s on s0 */
	k[2] = xfork();
	if (k[2] == 0) {
		struct sembuf b = { 0, -2, 0 };
		struct timespec ts = { 10, 0 };
		int r = semtimedop(id, &b, 1, &ts);
		char m[64]; snprintf(m, sizeof m, "C %s", res(r, errno)); send_line(fd[1], m);
		_exit(0);
	}
	wait_ncnt(id, 0, 2);
	/* D: {s1 -1, s0 -1} blocks on s0 with SEM_UNDO */
	k[3] = xfork();
	if (k[3] == 0) {
		struct sembuf b[2] = { { 1, -1, SEM_UNDO }, { 0, -1, SEM_UNDO } };
		int r = semop(id, b, 2);
		char m[64]; snprintf(m, sizeof m, "D %s", res(r, errno)); send_line(fd[1], m);
		_exit(0);
	}
	wait_ncnt(id, 0, 3);

	/* a third process removes the set */
	pid_t rm = xfork();
	if (rm == 0) {
		if (semctl(id, 0, IPC_RMID) < 0)
			_exit(1);
		_exit(0);
	}
	say("remover exit: %d", reap_code(rm));
	untrack_set(id);
	char got[4][64];
	for (int i = 0; i < 4; i++)
		snprintf(got[i], sizeof got[i], "%s", recv_line(fd[0], buf, sizeof buf));
	qsort(got, 4, sizeof got[0], (int (*)(const void *, const void *))strcmp);
	for (int i = 0; i < 4; i++)
		say("waiter %s", got[i]);
	for (int i = 0; i < 4; i++)
		reap_ok(k[i]);

	CHECK("semop on removed id", sop1(id, 0, 1, 0));
	CHECK("semop nowait on removed id", sop1(id, 0, -1, IPC_NOWAIT));
	CHECK("GETVAL on removed id", semctl(id, 0, GETVAL));
	CHECK("GETNCNT on removed id", semctl(id, 0, GETNCNT));
	CHECK("IPC_RMID again", semctl(id, 0, IPC_RMID));
	struct semid_ds ds;
	union semun a = { .buf = &ds };
	CHECK("IPC_STAT on removed id", semctl(id, 0, IPC_STAT, a));

	/* The remover may be the waiter's own parent too, with a key. */
	key_t key = test_key(1);
	id = sem_new(key, 1, IPC_CREAT | IPC_EXCL | 0600);
	k[0] = xfork();
	if (k[0] == 0) {
		int r = sop1(id, 0, -1, 0);
		send_res(fd[1], r, errno);
		_exit(0);
	}
	wait_ncnt(id, 0, 1);
	sem_rm(id);
	say("keyed waiter after parent IPC_RMID: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(k[0]);
	CHECK("key gone", semget(key, 0, 0));

	say("done");
	return 0;
}
