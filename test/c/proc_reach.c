/*
 * proc_reach - prlimit, setpriority, ioprio_set and sched_set* on the
 * program's own processes work as natively (the supervisor lets calls that
 * name sandbox processes through); a pid that does not exist is ESRCH.
 * A child in a process group of its own is the target, so that the group
 * calls touch nothing but this test.
 */
#include "common.h"
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_WHO_PGRP 2
#define IOPRIO_VALUE(class, data) (((class) << 13) | (data))

static pid_t thread_tid;
static int thread_go[2];

static void *sleeper_thread(void *arg)
{
	thread_tid = (pid_t)syscall(SYS_gettid);
	char c = 0;
	if (write(thread_go[1], &c, 1) != 1)
		die("write");
	pause();
	return arg;
}

int main(void)
{
	setup();
	int ready[2];
	if (pipe(ready) < 0 || pipe(thread_go) < 0)
		die("pipe");
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		g_is_child = 1;
		setpgid(0, 0);
		char c = 0;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char c;
	if (read(ready[0], &c, 1) != 1)
		die("read");

	struct rlimit r;
	CHECK("prlimit(child, NOFILE, get)", prlimit(child, RLIMIT_NOFILE, NULL, &r));
	struct rlimit lower = { 64, r.rlim_max };
	CHECK("prlimit(child, NOFILE, 64)", prlimit(child, RLIMIT_NOFILE, &lower, NULL));
	prlimit(child, RLIMIT_NOFILE, NULL, &r);
	say("child NOFILE now: %ld", (long)r.rlim_cur);
	CHECK("prlimit(own pid, NOFILE, get)", prlimit(getpid(), RLIMIT_NOFILE, NULL, &r));

	CHECK("setpriority(child, 7)", setpriority(PRIO_PROCESS, (id_t)child, 7));
	errno = 0;
	int prio = getpriority(PRIO_PROCESS, (id_t)child);
	say("child nice now: %d", prio);
	CHECK("setpriority(child's group, 9)", setpriority(PRIO_PGRP, (id_t)child, 9));
	say("child nice now: %d", getpriority(PRIO_PROCESS, (id_t)child));

	CHECK("ioprio_set(child, BE 4)", (int)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, child, IOPRIO_VALUE(2, 4)));
	CHECK("ioprio_set(child's group, BE 5)", (int)syscall(SYS_ioprio_set, IOPRIO_WHO_PGRP, child, IOPRIO_VALUE(2, 5)));
	say("child ioprio now: 0x%x", (int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, child));

	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK("sched_setaffinity(child, cpu0)", sched_setaffinity(child, sizeof set, &set));
	CPU_ZERO(&set);
	sched_getaffinity(child, sizeof set, &set);
	say("child on cpu0 only: %s", yesno(CPU_COUNT(&set) == 1 && CPU_ISSET(0, &set)));
	struct sched_param sp = { 0 };
	CHECK("sched_setscheduler(child, SCHED_BATCH)", sched_setscheduler(child, SCHED_BATCH, &sp));
	say("child policy is SCHED_BATCH: %s", yesno(sched_getscheduler(child) == SCHED_BATCH));
	CHECK("sched_setparam(child, 0)", sched_setparam(child, &sp));

	pthread_t th;
	if (pthread_create(&th, NULL, sleeper_thread, NULL) != 0)
		die("pthread_create");
	if (read(thread_go[0], &c, 1) != 1)
		die("read");
	CHECK("setpriority(own thread, 3)", setpriority(PRIO_PROCESS, (id_t)thread_tid, 3));
	say("thread nice now: %d", getpriority(PRIO_PROCESS, (id_t)thread_tid));

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	CHECK("setpriority(reaped child)", setpriority(PRIO_PROCESS, (id_t)child, 1));
	CHECK("prlimit(reaped child)", prlimit(child, RLIMIT_NOFILE, NULL, &r));
	CHECK("sched_setaffinity(reaped child)", sched_setaffinity(child, sizeof set, &set));
	CHECK("setpriority(reaped child's group)", setpriority(PRIO_PGRP, (id_t)child, 1));
	CHECK("setpriority(pid -5)", setpriority(PRIO_PROCESS, (id_t)-5, 1));
	CHECK("setpriority(which 7)", setpriority(7, 0, 1));
	say("done");
	return 0;
}
