/* GETNCNT / GETZCNT while processes block: a waiter is counted only on the
 * semaphore of the operation it is blocked on (SUS semantics, Linux >= 3.x),
 * and the count follows it when it moves on to the next blocking op. */
#include "common.h"

static int id;
static int fd[2];

static pid_t waiter(struct sembuf *b, int n)
{
	pid_t c = xfork();
	if (c == 0) {
		int r = semop(id, b, (size_t)n);
		send_res(fd[1], r, errno);
		_exit(0);
	}
	return c;
}

static void counts(const char *label)
{
	say("%s: ncnt %d %d %d zcnt %d %d %d", label,
	    getncnt(id, 0), getncnt(id, 1), getncnt(id, 2),
	    getzcnt(id, 0), getzcnt(id, 1), getzcnt(id, 2));
}

int main(void)
{
	setup();
	id = sem_private(3);
	xpipe(fd);
	char buf[128];
	pid_t k[8];
	int nk = 0;

	counts("idle");
	CHECK("GETNCNT semnum 3", semctl(id, 3, GETNCNT));
	CHECK("GETZCNT semnum -1", semctl(id, -1, GETZCNT));

	/* three -1 waiters on s0, two zero-waiters on s1 (value 1) */
	setval(id, 1, 1);
	struct sembuf m0 = { 0, -1, 0 }, z1 = { 1, 0, 0 };
	for (int i = 0; i < 3; i++) {
		k[nk++] = waiter(&m0, 1);
		wait_ncnt(id, 0, i + 1);
	}
	for (int i = 0; i < 2; i++) {
		k[nk++] = waiter(&z1, 1);
		wait_zcnt(id, 1, i + 1);
	}
	counts("3 on s0, 2 zero on s1");

	/* a two-op waiter blocked on its first op counts only there */
	struct sembuf two[2] = { { 2, -1, 0 }, { 0, -1, 0 } };
	k[nk++] = waiter(two, 2);
	wait_ncnt(id, 2, 1);
	counts("plus {s2 -1, s0 -1}");

	/* {s1 0, s2 -2}: blocks on s1 (value 1) */
	struct sembuf zt[2] = { { 1, 0, 0 }, { 2, -2, 0 } };
	k[nk++] = waiter(zt, 2);
	wait_zcnt(id, 1, 3);
	counts("plus {s1 0, s2 -2}");

	/* s1 -> 0: the zero-waiters on s1 go; {s1 0, s2 -2} now blocks on s2 */
	xsop(id, 1, -1, 0);
	for (int i = 0; i < 2; i++)
		say("zero-waiter: %s", recv_line(fd[0], buf, sizeof buf));
	wait_ncnt(id, 2, 2);
	counts("after s1 -1");

	/* s2 +1: the first waiter on s2 ({s2 -1, s0 -1}) now blocks on s0 */
	xsop(id, 2, 1, 0);
	wait_ncnt(id, 0, 4);
	counts("after s2 +1");
	say("value s2: %d", getval(id, 2));

	/* s2 +1: {s1 0, s2 -2} completes and takes s2 back to 0, so the
	 * {s2 -1, s0 -1} waiter is blocked on s2 again */
	xsop(id, 2, 1, 0);
	say("two-op zero waiter: %s", recv_line(fd[0], buf, sizeof buf));
	counts("after s2 +1 again");
	say("value s2: %d", getval(id, 2));
	xsop(id, 2, 1, 0);
	counts("after s2 +1 third");
	/* drain: s0 +4 wakes the three single waiters and the two-op one */
	xsop(id, 0, 4, 0);
	for (int i = 0; i < 4; i++)
		recv_line(fd[0], buf, sizeof buf);
	counts("drained");
	for (int i = 0; i < nk; i++)
		reap_ok(k[i]);

	/* a killed waiter is no longer counted */
	k[0] = waiter(&m0, 1);
	wait_ncnt(id, 0, 1);
	kill(k[0], SIGKILL);
	int st = reap(k[0]);
	yes("waiter killed", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	counts("after kill");

	sem_rm(id);
	say("done");
	return 0;
}
