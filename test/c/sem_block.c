/* Blocking semop: a waiter sleeps until another process makes its operation
 * possible; the woken operation is applied by the waker (value and GETPID
 * are already updated when the waker's semop returns). */
#include "common.h"

static int still_running(pid_t p)
{
	int st;
	return waitpid(p, &st, WNOHANG) == 0;
}

int main(void)
{
	setup();
	int id = sem_private(2);
	int fd[2];
	char buf[128];
	xpipe(fd);

	/* 1. child waits for -1, parent posts. */
	pid_t c = xfork();
	if (c == 0) {
		int r = sop1(id, 0, -1, 0);
		send_res(fd[1], r, errno);
		_exit(0);
	}
	wait_ncnt(id, 0, 1);
	msleep(50);
	yes("child still blocked", still_running(c));
	say("ncnt while blocked: %d", getncnt(id, 0));
	CHECK("post +1", sop1(id, 0, 1, 0));
	say("value right after post: %d", getval(id, 0));
	say("ncnt right after post: %d", getncnt(id, 0));
	yes("getpid is the woken child", semctl(id, 0, GETPID) == c);
	say("child semop: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(c);

	/* 2. child waits for -2: one post is not enough. */
	c = xfork();
	if (c == 0) {
		int r = sop1(id, 0, -2, 0);
		send_res(fd[1], r, errno);
		_exit(0);
	}
	wait_ncnt(id, 0, 1);
	CHECK("post +1", sop1(id, 0, 1, 0));
	msleep(50);
	yes("child still blocked after +1", still_running(c));
	say("value: %d ncnt: %d", getval(id, 0), getncnt(id, 0));
	CHECK("post +1", sop1(id, 0, 1, 0));
	say("child semop: %s", recv_line(fd[0], buf, sizeof buf));
	say("value: %d ncnt: %d", getval(id, 0), getncnt(id, 0));
	reap_ok(c);

	/* 3. child waits for {s0 -1, s1 -1}: needs both. */
	c = xfork();
	if (c == 0) {
		struct sembuf b[2] = { { 0, -1, 0 }, { 1, -1, 0 } };
		int r = semop(id, b, 2);
		send_res(fd[1], r, errno);
		_exit(0);
	}
	wait_ncnt(id, 0, 1);
	CHECK("post s0 +1", sop1(id, 0, 1, 0));
	wait_ncnt(id, 1, 1);
	msleep(20);
	yes("child still blocked after s0", still_running(c));
	say("values: %d %d", getval(id, 0), getval(id, 1));
	CHECK("post s1 +1", sop1(id, 1, 1, 0));
	say("child semop: %s", recv_line(fd[0], buf, sizeof buf));
	say("values: %d %d", getval(id, 0), getval(id, 1));
	reap_ok(c);

	/* 4. parent blocks, child posts once the parent is counted. */
	c = xfork();
	if (c == 0) {
		wait_ncnt(id, 0, 1);
		msleep(20);
		xsop(id, 0, 1, 0);
		_exit(0);
	}
	CHECK("parent semop -1 (woken by child)", sop1(id, 0, -1, 0));
	reap_ok(c);
	yes("getpid is the parent", semctl(id, 0, GETPID) == getpid());
	say("value: %d ncnt: %d", getval(id, 0), getncnt(id, 0));

	/* 5. a failing IPC_NOWAIT op does not change GETPID. */
	c = xfork();
	if (c == 0) {
		int r = sop1(id, 0, -1, IPC_NOWAIT);
		send_res(fd[1], r, errno);
		_exit(0);
	}
	say("child nowait semop: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(c);
	yes("getpid still the parent", semctl(id, 0, GETPID) == getpid());

	sem_rm(id);
	say("done");
	return 0;
}
