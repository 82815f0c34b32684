/* Threads of one process share one undo list (CLONE_SYSVSEM, as pthreads
 * use): a thread's exit does not apply it; the process's exit does. */
#include "common.h"
#include <pthread.h>

static int id;

static void *undo_thread(void *arg)
{
	xsop(id, 0, (int)(intptr_t)arg, SEM_UNDO);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	setup();
	int fd[2], go[2];
	char buf[128];
	xpipe(fd);
	xpipe(go);
	id = sem_private(1);
	setval(id, 0, 5);

	pid_t c = xfork();
	if (c == 0) {
		char m[128];
		pthread_t t;
		if (pthread_create(&t, NULL, undo_thread, (void *)(intptr_t)-2))
			die("pthread_create");
		pthread_join(t, NULL);
		snprintf(m, sizeof m, "after thread exit: %d", getval(id, 0));
		send_line(fd[1], m);
		xsop(id, 0, -1, SEM_UNDO);
		if (pthread_create(&t, NULL, undo_thread, (void *)(intptr_t)1))
			die("pthread_create");
		pthread_join(t, NULL);
		snprintf(m, sizeof m, "after main -1 and thread +1: %d", getval(id, 0));
		send_line(fd[1], m);
		wait_go(go[0]);
		exit(0);
	}
	say("%s", recv_line(fd[0], buf, sizeof buf));
	say("%s", recv_line(fd[0], buf, sizeof buf));
	send_go(go[1]);
	reap_ok(c);
	say("after process exit: %d", getval(id, 0));

	/* a thread still running when the process exits (exit_group) */
	c = xfork();
	if (c == 0) {
		pthread_t t;
		xsop(id, 0, -1, SEM_UNDO);
		if (pthread_create(&t, NULL, undo_thread, (void *)(intptr_t)-1))
			die("pthread_create");
		pthread_join(t, NULL);
		if (pthread_create(&t, NULL, sleeper, NULL))
			die("pthread_create");
		send_line(fd[1], "ready");
		wait_go(go[0]);
		exit(0);
	}
	recv_line(fd[0], buf, sizeof buf);
	say("while the process lives: %d", getval(id, 0));
	send_go(go[1]);
	reap_ok(c);
	say("after exit with a live thread: %d", getval(id, 0));

	sem_rm(id);
	say("done");
	return 0;
}
