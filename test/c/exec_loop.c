/*
 * exec_loop - the cost of fork + exec + exit, for measuring what observing
 * execve costs under sysvisor:
 *
 *   exec_loop N PROGRAM [ARGS...]
 *
 * Runs PROGRAM N times (fork, execv, waitpid), checks every run exits 0, and
 * prints "N runs, MEAN us per fork+exec+exit (min MIN us)". Exits 1 if a run
 * failed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: exec_loop N PROGRAM [ARGS...]\n");
		return 2;
	}
	int n = atoi(argv[1]);
	double total = 0, min = 1e18;
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "exec_loop: run %d of %s failed (status 0x%x)\n", i, argv[2], status);
			return 1;
		}
		double dt = now_us() - t0;
		total += dt;
		if (dt < min)
			min = dt;
	}
	printf("%d runs, %.1f us per fork+exec+exit (min %.1f us)\n", n, total / n, min);
	return 0;
}
