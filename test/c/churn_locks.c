/*
 * churn_locks DIR N - takes and drops a POSIX lock on each of N files in DIR,
 * over and over, until killed: other processes' locks coming and going, for
 * the test that /proc/locks is read consistently beside them
 * (test/differential.test.ts, proc_locks.h). Not a differential program.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void set(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		perror("churn_locks: fcntl(F_SETLK)");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: churn_locks DIR N\n");
		return 2;
	}
	int n = atoi(argv[2]);
	if (n <= 0 || n > 4096) {
		fprintf(stderr, "churn_locks: N must be 1..4096, not %s\n", argv[2]);
		return 2;
	}
	int *fds = calloc((size_t)n, sizeof *fds);
	if (!fds) {
		perror("churn_locks: calloc");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%d", argv[1], i);
		fds[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fds[i] < 0) {
			perror(path);
			return 1;
		}
	}
	printf("churning\n");
	fflush(stdout);
	for (;;) {
		for (int i = 0; i < n; i++)
			set(fds[i], F_WRLCK);
		for (int i = 0; i < n; i++)
			set(fds[i], F_UNLCK);
	}
}
