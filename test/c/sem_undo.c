/* SEM_UNDO: adjustments are applied when the process exits (normally or by
 * SIGKILL, also while blocked), clamped to 0..SEMVMX, wake waiters, set
 * GETPID, stay within -32768..32767 (ERANGE otherwise), and belong to the
 * set (not the key). */
#include "common.h"

static int fd[2], go[2];
static char buf[128];

int main(void)
{
	setup();
	xpipe(fd);
	xpipe(go);
	int id = sem_private(2);
	pid_t c;

	/* 1. applied at exit */
	setval(id, 0, 5);
	c = xfork();
	if (c == 0) {
		xsop(id, 0, -2, SEM_UNDO);
		xsop(id, 0, -1, SEM_UNDO);
		xsop(id, 0, 1, SEM_UNDO);
		xsop(id, 0, -1, 0); /* not undone */
		xsop(id, 1, 3, SEM_UNDO);
		send_line(fd[1], "ready");
		wait_go(go[0]);
		_exit(0);
	}
	recv_line(fd[0], buf, sizeof buf);
	say("while child lives: %d %d", getval(id, 0), getval(id, 1));
	send_go(go[1]);
	reap_ok(c);
	say("after child exit: %d %d", getval(id, 0), getval(id, 1));
	yes("getpid is the exited child", semctl(id, 0, GETPID) == c);

	/* 2. SIGKILL while holding one semaphore and blocked on another */
	setval(id, 0, 1);
	setval(id, 1, 0);
	c = xfork();
	if (c == 0) {
		xsop(id, 0, -1, SEM_UNDO);
		sop1(id, 1, -1, SEM_UNDO);
		_exit(1);
	}
	wait_ncnt(id, 1, 1);
	say("held: %d ncnt s1 %d", getval(id, 0), getncnt(id, 1));
	kill(c, SIGKILL);
	int st = reap(c);
	yes("killed", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	say("after kill: %d %d ncnt s1 %d", getval(id, 0), getval(id, 1), getncnt(id, 1));
	xsop(id, 1, 1, 0);
	msleep(20);
	say("s1 after a later post: %d", getval(id, 1));

	/* 3. exit undo wakes a waiter */
	setval(id, 0, 1);
	setval(id, 1, 0);
	c = xfork();
	if (c == 0) {
		xsop(id, 0, -1, SEM_UNDO);
		send_line(fd[1], "holding");
		wait_go(go[0]);
		_exit(0);
	}
	recv_line(fd[0], buf, sizeof buf);
	pid_t w = xfork();
	if (w == 0) {
		int r = sop1(id, 0, -1, 0);
		send_res(fd[1], r, errno);
		_exit(0);
	}
	wait_ncnt(id, 0, 1);
	send_go(go[1]);
	reap_ok(c);
	say("waiter woken by exit undo: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(w);
	say("value: %d", getval(id, 0));
	yes("getpid is the waiter", semctl(id, 0, GETPID) == w);

	/* 4. clamping */
	setval(id, 0, 0);
	setval(id, 1, 3);
	c = xfork();
	if (c == 0) {
		xsop(id, 0, 3, SEM_UNDO);  /* adj -3 */
		xsop(id, 1, -3, SEM_UNDO); /* adj +3 */
		send_line(fd[1], "ready");
		wait_go(go[0]);
		_exit(0);
	}
	recv_line(fd[0], buf, sizeof buf);
	xsop(id, 0, -2, 0);
	xsop(id, 1, SEMVMX_, 0);
	say("before exit: %d %d", getval(id, 0), getval(id, 1));
	send_go(go[1]);
	reap_ok(c);
	say("after exit (clamped): %d %d", getval(id, 0), getval(id, 1));

	/* 5. adjustment range */
	setval(id, 0, 0);
	setval(id, 1, SEMVMX_);
	c = xfork();
	if (c == 0) {
		char m[128];
		int r1, r2, r3, r4, e1, e2, e3, e4;
		r1 = sop1(id, 0, SEMVMX_, SEM_UNDO); e1 = errno;   /* adj -32767 */
		xsop(id, 0, -SEMVMX_, 0);
		r2 = sop1(id, 0, 1, SEM_UNDO); e2 = errno;         /* adj -32768 */
		xsop(id, 0, -1, 0);
		r3 = sop1(id, 0, 1, SEM_UNDO | IPC_NOWAIT); e3 = errno; /* -32769 */
		xsop(id, 1, -SEMVMX_, SEM_UNDO);                   /* adj +32767 */
		xsop(id, 1, 1, 0);
		r4 = sop1(id, 1, -1, SEM_UNDO | IPC_NOWAIT); e4 = errno; /* +32768 */
		snprintf(m, sizeof m, "%s, %s, %s, %s", res(r1, e1), res(r2, e2),
			 res(r3, e3), res(r4, e4));
		send_line(fd[1], m);
		_exit(0);
	}
	say("adj -32767, -32768, -32769, +32768: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(c);
	say("values after exit: %d %d", getval(id, 0), getval(id, 1));

	/* 6. undo belongs to the set: removed set, new set under the same key */
	key_t key = test_key(1);
	int a = sem_new(key, 1, IPC_CREAT | IPC_EXCL | 0600);
	setval(a, 0, 5);
	c = xfork();
	if (c == 0) {
		xsop(a, 0, -2, SEM_UNDO);
		send_line(fd[1], "ready");
		wait_go(go[0]);
		_exit(0);
	}
	recv_line(fd[0], buf, sizeof buf);
	sem_rm(a);
	int b = sem_new(key, 1, IPC_CREAT | IPC_EXCL | 0600);
	setval(b, 0, 5);
	send_go(go[1]);
	reap_ok(c);
	say("new set under the same key after exit: %d", getval(b, 0));
	sem_rm(b);

	sem_rm(id);
	say("done");
	return 0;
}
