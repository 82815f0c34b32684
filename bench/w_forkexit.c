/* w_forkexit N: N times fork(2), the child _exit(0)s at once, the parent
 * waitpid()s for it. ns_per_op is per fork (fork + exit + reap). */
#include "workload.h"

static void forks(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			DIE("fork");
		if (pid == 0)
			_exit(0);
		int status;
		if (waitpid(pid, &status, 0) != pid)
			DIE("waitpid(%d)", pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			DIE("child %d: status %#x", pid, status);
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 10000);
	forks(warmup(n));
	double t0 = now_ns();
	forks(n);
	double t1 = now_ns();
	report(t1 - t0, (double)n);
	return 0;
}
