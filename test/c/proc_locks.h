/*
 * proc_locks.h - a consistent read of the /proc/locks lines about one file.
 *
 * The kernel prints /proc/locks a buffer (a page) per read(2), each under
 * its own hold of the lock lists, and goes on from a line number: a lock
 * taken or dropped elsewhere between two reads shifts the lines, so one pass
 * over the file can show a line twice or miss one (seen on a busy CI
 * machine, where other tests' locks came and went beside a differential
 * test). The lines about our file are taken from whole-file passes repeated
 * until two in a row agree. Beside a busy lock user on a loaded machine the
 * passes can keep disagreeing for hundreds of tries (seen: 232 in a row, and
 * once more than 1000, with two CPU-bound loops and 300 churning locks), so
 * the bound is a time, not a count.
 */
#ifndef SYSVISOR_TEST_PROC_LOCKS_H
#define SYSVISOR_TEST_PROC_LOCKS_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROC_LOCKS_SECONDS 60
#define PROC_LOCKS_FN static inline __attribute__((unused))

PROC_LOCKS_FN int proc_locks_open(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* One pass: the lines containing `key`, newline-terminated, into out (cap bytes). -1 on failure. */
PROC_LOCKS_FN int proc_locks_pass(int (*open_fn)(const char *), const char *key, char *out, size_t cap)
{
	int fd = open_fn("/proc/locks");
	if (fd < 0)
		return -1;
	size_t size = 0, room = 65536;
	char *all = malloc(room);
	for (;;) {
		if (!all) {
			close(fd);
			return -1;
		}
		ssize_t n = read(fd, all + size, room - size - 1);
		if (n < 0) {
			free(all);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		size += (size_t)n;
		if (room - size < 4096)
			all = realloc(all, room *= 2);
	}
	close(fd);
	all[size] = 0;
	size_t used = 0;
	out[0] = 0;
	for (char *line = all, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line) - 1;
		size_t len = (size_t)(nl - line) + 1;
		if (memmem(line, len, key, strlen(key)) && used + len < cap) {
			memcpy(out + used, line, len);
			used += len;
			out[used] = 0;
		}
	}
	free(all);
	return 0;
}

/* The lines about `key` from two passes in a row that agree. -1 if the file cannot be read or does not settle within PROC_LOCKS_SECONDS. */
PROC_LOCKS_FN int proc_locks_about(int (*open_fn)(const char *), const char *key, char *out, size_t cap)
{
	char *prev = malloc(cap);
	if (!prev || proc_locks_pass(open_fn, key, prev, cap) < 0) {
		free(prev);
		return -1;
	}
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (proc_locks_pass(open_fn, key, out, cap) < 0)
			break;
		if (strcmp(prev, out) == 0) {
			free(prev);
			return 0;
		}
		strcpy(prev, out);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < PROC_LOCKS_SECONDS);
	free(prev);
	return -1;
}

#endif
