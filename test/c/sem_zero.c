/* Wait-for-zero (sem_op == 0): blocks while the value is non-zero and wakes
 * when it reaches zero, including through SETVAL and through the completion
 * of another waiter; an intermediate zero inside one atomic array does not
 * count. */
#include "common.h"

static int id;
static int fd[2];

static pid_t waiter(char tag, int op, int wait_zero, int want)
{
	pid_t c = xfork();
	if (c == 0) {
		int r = sop1(id, 0, op, 0);
		char msg[64];
		snprintf(msg, sizeof msg, "%c %s", tag, res(r, errno));
		send_line(fd[1], msg);
		_exit(0);
	}
	if (wait_zero)
		wait_zcnt(id, 0, want);
	else
		wait_ncnt(id, 0, want);
	return c;
}

static void sort3(char *g, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (g[j] < g[i]) { char t = g[i]; g[i] = g[j]; g[j] = t; }
}

int main(void)
{
	setup();
	id = sem_private(1);
	xpipe(fd);
	char buf[128];

	/* 1 */
	setval(id, 0, 1);
	pid_t z = waiter('Z', 0, 1, 1);
	say("zcnt: %d ncnt: %d", getzcnt(id, 0), getncnt(id, 0));
	xsop(id, 0, -1, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	say("zcnt after: %d", getzcnt(id, 0));
	yes("getpid is the woken zero-waiter", semctl(id, 0, GETPID) == z);
	reap_ok(z);

	/* 2 */
	setval(id, 0, 2);
	z = waiter('Z', 0, 1, 1);
	xsop(id, 0, -1, 0);
	msleep(30);
	say("after -1 of 2: value %d zcnt %d", getval(id, 0), getzcnt(id, 0));
	xsop(id, 0, -1, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(z);

	/* 3: {-1, +1} passes through zero atomically */
	setval(id, 0, 1);
	z = waiter('Z', 0, 1, 1);
	struct sembuf b[2] = { { 0, -1, 0 }, { 0, 1, 0 } };
	TRY(semop(id, b, 2));
	msleep(30);
	say("after {-1,+1}: value %d zcnt %d", getval(id, 0), getzcnt(id, 0));
	xsop(id, 0, -1, 0);
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(z);

	/* 4: a decrementer's completion lets a zero-waiter through */
	setval(id, 0, 1);
	pid_t d = waiter('D', -2, 0, 1);
	z = waiter('Z', 0, 1, 1);
	xsop(id, 0, 1, 0);
	char g[3];
	g[0] = recv_line(fd[0], buf, sizeof buf)[0];
	g[1] = recv_line(fd[0], buf, sizeof buf)[0];
	sort3(g, 2);
	say("woken by +1: %c %c", g[0], g[1]);
	say("value %d ncnt %d zcnt %d", getval(id, 0), getncnt(id, 0), getzcnt(id, 0));
	reap_ok(d);
	reap_ok(z);

	/* 5: SETVAL 0 wakes every zero-waiter */
	setval(id, 0, 3);
	pid_t zs[3];
	for (int i = 0; i < 3; i++)
		zs[i] = waiter((char)('A' + i), 0, 1, i + 1);
	setval(id, 0, 0);
	for (int i = 0; i < 3; i++)
		g[i] = recv_line(fd[0], buf, sizeof buf)[0];
	sort3(g, 3);
	say("woken by SETVAL 0: %c %c %c", g[0], g[1], g[2]);
	say("zcnt: %d", getzcnt(id, 0));
	for (int i = 0; i < 3; i++)
		reap_ok(zs[i]);

	/* 6: SETALL to zero wakes too; SETVAL to non-zero does not */
	setval(id, 0, 1);
	z = waiter('Z', 0, 1, 1);
	setval(id, 0, 5);
	msleep(30);
	say("after SETVAL 5: zcnt %d", getzcnt(id, 0));
	unsigned short zero = 0;
	union semun a = { .array = &zero };
	TRY(semctl(id, 0, SETALL, a));
	say("woke: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(z);

	sem_rm(id);
	say("done");
	return 0;
}
