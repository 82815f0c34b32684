/*
 * proc_pids - every pid the emulation reports is the one getpid() returns
 * in the process it names (issue 20, finding 5): sempid (GETPID) after a
 * child's semop, after its exit with SEM_UNDO (the kernel keeps the number
 * of a process that is gone), after SETVAL and SETALL; l_pid of F_GETLK and
 * the pid column of /proc/locks for a child's lock. As root, sysvisor runs
 * the program in a PID namespace of its own: a pid of the host's would
 * print as "unknown pid".
 */
#include "lock_common.h"

int main(void)
{
	setup();
	name_pid(getpid(), "parent");
	int id = sem_private(3);
	pid_t kid = xfork();
	if (kid == 0) {
		if (sop1(id, 0, 1, 0) < 0 || sop1(id, 1, 1, SEM_UNDO) < 0)
			_exit(1);
		_exit(0);
	}
	name_pid(kid, "child");
	reap_ok(kid);
	say("GETPID after the child's semop: %s", pid_name(semctl(id, 0, GETPID)));
	say("GETPID after the child's exit with SEM_UNDO: %s", pid_name(semctl(id, 1, GETPID)));
	setval(id, 0, 5);
	say("GETPID after the parent's SETVAL: %s", pid_name(semctl(id, 0, GETPID)));
	unsigned short all[3] = { 1, 2, 3 };
	CHECK("SETALL", semctl(id, 0, SETALL, all));
	say("GETPID of the last after the parent's SETALL: %s", pid_name(semctl(id, 2, GETPID)));
	sem_rm(id);

	int fd = make_file("f", 10);
	struct worker w;
	worker_start(&w, "holder", "f");
	worker_send(&w, "f %d %d 0 5", F_SETLK, F_WRLCK);
	say("holder F_SETLK: %s", worker_result(&w));
	say("F_GETLK: %s", getlk_str(fd, F_GETLK, F_WRLCK, 0, 0));
	show_proc_locks("/proc/locks", ino_of(fd));
	worker_send(&w, "x");
	reap_ok(w.pid);
	close(fd);
	say("done");
	return 0;
}
