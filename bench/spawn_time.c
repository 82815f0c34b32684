/*
 * spawn_time: run a command once and print what it cost as a whole process,
 * children included: "wall_us user_us sys_us maxrss_kib status". wait4's
 * rusage covers the command and the children it waited for; its maxrss is
 * the largest of them, which no Node API reports for a child process
 * (bench/startup.ts runs this).
 *
 *   spawn_time PROGRAM [ARGS...]    the command's stdout/stderr go to /dev/null
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long long tv_us(struct timeval tv)
{
	return tv.tv_sec * 1000000LL + tv.tv_usec;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: spawn_time PROGRAM [ARGS...]\n");
		return 2;
	}
	/* Where the child reports an exec failure once its stderr is /dev/null. */
	int err = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (err < 0) {
		fprintf(stderr, "spawn_time: fcntl(2, F_DUPFD_CLOEXEC): %s\n", strerror(errno));
		return 1;
	}
	long long start = now_us();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "spawn_time: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) {
			fprintf(stderr, "spawn_time: redirecting output to /dev/null: %s\n", strerror(errno));
			_exit(127);
		}
		execvp(argv[1], argv + 1);
		dprintf(err, "spawn_time: cannot execute %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		fprintf(stderr, "spawn_time: wait4(%d): %s\n", (int)pid, strerror(errno));
		return 1;
	}
	long long wall = now_us() - start;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	printf("%lld %lld %lld %ld %d\n", wall, tv_us(ru.ru_utime), tv_us(ru.ru_stime), ru.ru_maxrss, code);
	return 0;
}
