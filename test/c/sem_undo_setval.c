/* SETVAL clears every process's adjustment for that one semaphore; SETALL
 * clears them for all semaphores of the set. Other semctl commands do not. */
#include "common.h"

static int fd[2], go[2];
static char buf[128];

/* child: -1 with SEM_UNDO on each of the 3 sems, then (after go) another -1
 * with SEM_UNDO on s0, then exit */
static pid_t holder(int id)
{
	pid_t c = xfork();
	if (c == 0) {
		for (int i = 0; i < 3; i++)
			xsop(id, i, -1, SEM_UNDO);
		send_line(fd[1], "ready");
		wait_go(go[0]);
		xsop(id, 0, -1, SEM_UNDO);
		_exit(0);
	}
	recv_line(fd[0], buf, sizeof buf);
	return c;
}

static void show(int id, const char *label)
{
	say("%s: %d %d %d", label, getval(id, 0), getval(id, 1), getval(id, 2));
}

static void init(int id)
{
	unsigned short v[3] = { 5, 5, 5 };
	union semun a = { .array = v };
	TRY(semctl(id, 0, SETALL, a));
}

int main(void)
{
	setup();
	xpipe(fd);
	xpipe(go);
	int id = sem_private(3);

	init(id);
	pid_t c = holder(id);
	show(id, "holding");
	setval(id, 1, 10);
	send_go(go[1]);
	reap_ok(c);
	show(id, "SETVAL s1=10 then exit");

	init(id);
	c = holder(id);
	unsigned short v[3] = { 10, 10, 10 };
	union semun a = { .array = v };
	TRY(semctl(id, 0, SETALL, a));
	send_go(go[1]);
	reap_ok(c);
	show(id, "SETALL 10 then exit");

	/* SETVAL to the same value still clears */
	init(id);
	c = holder(id);
	setval(id, 2, 4);
	send_go(go[1]);
	reap_ok(c);
	show(id, "SETVAL s2 to its own value then exit");

	/* IPC_STAT / IPC_SET / GETALL do not clear */
	init(id);
	c = holder(id);
	struct semid_ds ds;
	union semun s = { .buf = &ds };
	TRY(semctl(id, 0, IPC_STAT, s));
	TRY(semctl(id, 0, IPC_SET, s));
	TRY(semctl(id, 0, GETALL, a));
	send_go(go[1]);
	reap_ok(c);
	show(id, "IPC_SET etc. then exit");

	/* a failed SETVAL (ERANGE) does not clear */
	init(id);
	c = holder(id);
	union semun bad = { .val = 40000 };
	CHECK("SETVAL 40000", semctl(id, 0, SETVAL, bad));
	send_go(go[1]);
	reap_ok(c);
	show(id, "failed SETVAL then exit");

	sem_rm(id);
	say("done");
	return 0;
}
