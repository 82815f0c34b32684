/*
 * escape_reach - calls that act on other processes, aimed at process groups
 * and users the supervisor belongs to, and at init. Under sysvisor each is
 * refused with EPERM; a group of the program's own is fine. Natively these
 * would renice the caller's whole session: run it only sandboxed.
 */
#include "common.h"
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

int main(void)
{
	setup();
	int nice_now = getpriority(PRIO_PROCESS, 0);
	CHECK("setpriority(own group, shared with the supervisor)", setpriority(PRIO_PGRP, 0, nice_now));
	CHECK("setpriority(PRIO_USER, own uid)", setpriority(PRIO_USER, getuid(), nice_now));
	CHECK("ioprio_set(own group)", syscall(SYS_ioprio_set, 2, 0, (2 << 13) | 4));
	struct rlimit r;
	CHECK("prlimit(pid 1)", prlimit(1, RLIMIT_NOFILE, NULL, &r));
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CHECK("sched_setaffinity(pid 1)", sched_setaffinity(1, sizeof set, &set));
	CHECK("setpriority(own pid)", setpriority(PRIO_PROCESS, (id_t)getpid(), nice_now));
	if (setpgid(0, 0) < 0)
		die("setpgid");
	CHECK("setpriority(a new group of its own)", setpriority(PRIO_PGRP, 0, nice_now));
	say("done");
	return 0;
}
