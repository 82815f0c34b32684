/* Wake-up order: waiters on one semaphore are served in arrival order, but a
 * waiter that cannot proceed does not hold back later ones that can. */
#include "common.h"

#define N 5

static int id;
static int fd[2];

/* Fork a waiter doing ops; it reports its tag once its semop returns. */
static pid_t waiter(char tag, struct sembuf *b, int n, int wait_sem, int want)
{
	pid_t c = xfork();
	if (c == 0) {
		int r = semop(id, b, (size_t)n);
		char msg[64];
		snprintf(msg, sizeof msg, "%c %s", tag, res(r, errno));
		send_line(fd[1], msg);
		_exit(0);
	}
	wait_ncnt(id, wait_sem, want);
	return c;
}

int main(void)
{
	setup();
	id = sem_private(2);
	xpipe(fd);
	char buf[128];
	pid_t kids[N];
	struct sembuf m1 = { 0, -1, 0 }, m2 = { 0, -2, 0 };

	/* 1. five -1 waiters, posts one at a time. */
	for (int i = 0; i < N; i++)
		kids[i] = waiter((char)('A' + i), &m1, 1, 0, i + 1);
	for (int i = 0; i < N; i++) {
		xsop(id, 0, 1, 0);
		say("woke: %s (ncnt now %d)", recv_line(fd[0], buf, sizeof buf), getncnt(id, 0));
	}
	for (int i = 0; i < N; i++)
		reap_ok(kids[i]);

	/* 2. one post of +3 wakes exactly the first three. */
	for (int i = 0; i < N; i++)
		kids[i] = waiter((char)('A' + i), &m1, 1, 0, i + 1);
	xsop(id, 0, 3, 0);
	say("after +3: value %d ncnt %d", getval(id, 0), getncnt(id, 0));
	char got[3];
	for (int i = 0; i < 3; i++)
		got[i] = recv_line(fd[0], buf, sizeof buf)[0];
	/* sort: the three may report in any order */
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (got[j] < got[i]) { char t = got[i]; got[i] = got[j]; got[j] = t; }
	say("woken by +3: %c %c %c", got[0], got[1], got[2]);
	xsop(id, 0, 2, 0);
	for (int i = 0; i < 2; i++)
		recv_line(fd[0], buf, sizeof buf);
	for (int i = 0; i < N; i++)
		reap_ok(kids[i]);

	/* 3. A wants -2 (first), B wants -1: +1 wakes B, not A. */
	kids[0] = waiter('A', &m2, 1, 0, 1);
	kids[1] = waiter('B', &m1, 1, 0, 2);
	xsop(id, 0, 1, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	say("value %d ncnt %d", getval(id, 0), getncnt(id, 0));
	xsop(id, 0, 1, 0);
	msleep(20);
	say("after +1: value %d ncnt %d", getval(id, 0), getncnt(id, 0));
	xsop(id, 0, 1, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	say("value %d ncnt %d", getval(id, 0), getncnt(id, 0));
	reap_ok(kids[0]);
	reap_ok(kids[1]);

	/* 4. A wants -2 (first), B wants -1; +2 wakes A, B keeps waiting. */
	kids[0] = waiter('A', &m2, 1, 0, 1);
	kids[1] = waiter('B', &m1, 1, 0, 2);
	xsop(id, 0, 2, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	say("value %d ncnt %d", getval(id, 0), getncnt(id, 0));
	xsop(id, 0, 1, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(kids[0]);
	reap_ok(kids[1]);

	/* 5. Whole-array waiter X {s0 -1, s1 -1} first, then Y {s0 -1}.
	 * Posting s0 wakes Y (X still needs s1); posting both wakes X. */
	struct sembuf xb[2] = { { 0, -1, 0 }, { 1, -1, 0 } };
	kids[0] = waiter('X', xb, 2, 0, 1);
	kids[1] = waiter('Y', &m1, 1, 0, 2);
	xsop(id, 0, 1, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	say("values %d %d", getval(id, 0), getval(id, 1));
	struct sembuf both[2] = { { 0, 1, 0 }, { 1, 1, 0 } };
	TRY(semop(id, both, 2));
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	say("values %d %d", getval(id, 0), getval(id, 1));
	reap_ok(kids[0]);
	reap_ok(kids[1]);

	/* 6. Y {s0 -1} first, then X {s0 -1, s1 -1} with s1 already 1: +1 on
	 * s0 wakes Y (first in line), X keeps waiting. */
	xsop(id, 1, 1, 0);
	kids[1] = waiter('Y', &m1, 1, 0, 1);
	kids[0] = waiter('X', xb, 2, 0, 2);
	xsop(id, 0, 1, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	say("values %d %d ncnt %d", getval(id, 0), getval(id, 1), getncnt(id, 0));
	xsop(id, 0, 1, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	say("values %d %d", getval(id, 0), getval(id, 1));
	reap_ok(kids[0]);
	reap_ok(kids[1]);

	sem_rm(id);
	say("done");
	return 0;
}
