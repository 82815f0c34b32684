/* SEM_UNDO is kept across execve: the undo list belongs to the process, and
 * the exec'd image's exit applies the adjustments made before the exec. */
#include "common.h"

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "exec-child") == 0) {
		/* the exec'd image: no printing; report through the exit code */
		int id = atoi(argv[2]);
		int v = semctl(id, 0, GETVAL);
		if (v < 0)
			_exit(99);
		struct sembuf b = { 0, -1, SEM_UNDO };
		if (semop(id, &b, 1) < 0)
			_exit(98);
		return v; /* normal exit through libc */
	}
	setup();
	int id = sem_private(1);
	setval(id, 0, 5);
	pid_t c = xfork();
	if (c == 0) {
		char arg[32];
		xsop(id, 0, -2, SEM_UNDO);
		snprintf(arg, sizeof arg, "%d", id);
		execl("/proc/self/exe", argv[0], "exec-child", arg, (char *)NULL);
		die("execl");
	}
	int st = reap(c);
	if (!WIFEXITED(st) || WEXITSTATUS(st) >= 98)
		die("exec child failed");
	say("value seen by the exec'd image: %d", WEXITSTATUS(st));
	say("value after the exec'd image exits: %d", getval(id, 0));
	yes("getpid is the exec'd child", semctl(id, 0, GETPID) == c);

	/* adjustments on two sets survive the exec */
	int id2 = sem_private(1);
	setval(id2, 0, 1);
	c = xfork();
	if (c == 0) {
		char arg[32];
		xsop(id, 0, -4, SEM_UNDO);
		xsop(id2, 0, -1, SEM_UNDO);
		snprintf(arg, sizeof arg, "%d", id);
		execl("/proc/self/exe", argv[0], "exec-child", arg, (char *)NULL);
		die("execl");
	}
	st = reap(c);
	if (!WIFEXITED(st) || WEXITSTATUS(st) >= 98)
		die("exec child failed");
	say("value seen by the exec'd image: %d", WEXITSTATUS(st));
	say("values after exit: %d %d", getval(id, 0), getval(id2, 0));
	sem_rm(id2);
	sem_rm(id);
	say("done");
	return 0;
}
