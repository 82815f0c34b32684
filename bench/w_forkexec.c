/* w_forkexec N: N times fork(2), the child execs /bin/true (execve, dynamic
 * loading, exit 0), the parent waitpid()s for it. ns_per_op is per fork
 * (fork + exec + exit + reap). */
#include "workload.h"

static void fork_execs(long n)
{
	char *const args[] = { "true", NULL };
	char *const env[] = { NULL };
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			DIE("fork");
		if (pid == 0) {
			execve("/bin/true", args, env);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid)
			DIE("waitpid(%d)", pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			DIE("child %d: status %#x", pid, status);
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 2000);
	fork_execs(warmup(n));
	double t0 = now_ns();
	fork_execs(n);
	double t1 = now_ns();
	report(t1 - t0, (double)n);
	return 0;
}
