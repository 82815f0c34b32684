/* SEM_UNDO across fork and clone: a forked child starts with an empty undo
 * list (its exit does not undo the parent's ops; its own ops are undone at
 * its exit); a child created with CLONE_SYSVSEM shares the list, which is
 * applied only when the last sharer exits. */
#include "common.h"
#include <sched.h>
#include <sys/prctl.h>

static int id;
static int fd[2], go[2];
static char buf[128];

static int sharer_wait(void *arg)
{
	wait_go((int)(intptr_t)arg);
	return 0;
}

static int sharer(void *arg)
{
	(void)arg;
	xsop(id, 0, -1, SEM_UNDO);
	return 0;
}

int main(void)
{
	setup();
	xpipe(fd);
	xpipe(go);
	id = sem_private(1);
	setval(id, 0, 5);

	/* P: -1 with undo, forks G. */
	pid_t p = xfork();
	if (p == 0) {
		char m[128];
		xsop(id, 0, -1, SEM_UNDO);
		pid_t g = fork();
		if (g == 0) _exit(0);             /* G: nothing of its own */
		waitpid(g, NULL, 0);
		snprintf(m, sizeof m, "after idle fork child exit: %d", getval(id, 0));
		send_line(fd[1], m);
		g = fork();
		if (g == 0) {                     /* G: own op, undone at its exit */
			xsop(id, 0, -2, SEM_UNDO);
			_exit(0);
		}
		waitpid(g, NULL, 0);
		snprintf(m, sizeof m, "after fork child with own undo exits: %d", getval(id, 0));
		send_line(fd[1], m);
		_exit(0);
	}
	say("%s", recv_line(fd[0], buf, sizeof buf));
	say("%s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(p);
	say("after P exits: %d", getval(id, 0));

	/* CLONE_SYSVSEM: shared list */
	p = xfork();
	if (p == 0) {
		char m[128];
		static char stack[64 * 1024] __attribute__((aligned(16)));
		xsop(id, 0, -1, SEM_UNDO);
		pid_t s = clone(sharer, stack + sizeof stack, CLONE_SYSVSEM | SIGCHLD, NULL);
		if (s < 0) die("clone");
		int st;
		if (waitpid(s, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			die("sharer");
		snprintf(m, sizeof m, "after CLONE_SYSVSEM child exits: %d", getval(id, 0));
		send_line(fd[1], m);
		wait_go(go[0]);
		_exit(0);
	}
	say("%s", recv_line(fd[0], buf, sizeof buf));
	send_go(go[1]);
	reap_ok(p);
	say("after the last sharer exits: %d", getval(id, 0));

	/* CLONE_SYSVSEM child outliving its parent applies the shared list;
	 * we become a subreaper so the orphaned sharer is reparented to us */
	TRY(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	p = xfork();
	if (p == 0) {
		static char stack[64 * 1024] __attribute__((aligned(16)));
		xsop(id, 0, -1, SEM_UNDO);
		/* the sharer waits on the pipe, then exits after P */
		pid_t s = clone(sharer_wait, stack + sizeof stack,
				CLONE_SYSVSEM | SIGCHLD, (void *)(intptr_t)go[0]);
		if (s < 0) die("clone");
		char m[64];
		snprintf(m, sizeof m, "%d", (int)s);
		send_line(fd[1], m);
		_exit(0);
	}
	pid_t s = (pid_t)atoi(recv_line(fd[0], buf, sizeof buf));
	reap_ok(p);
	say("P exited, sharer alive: %d", getval(id, 0));
	send_go(go[1]);
	int st;
	if (waitpid(s, &st, 0) != s)
		die("waitpid orphaned sharer");
	yes("orphaned sharer reaped by us", WIFEXITED(st));
	say("after the sharer exits: %d", getval(id, 0));

	sem_rm(id);
	say("done");
	return 0;
}
