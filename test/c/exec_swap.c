/*
 * exec_swap - the exec path-swap race: a second thread rewrites the path
 * string that execve is reading, between a pinned and an unpinned program.
 *
 *   exec_swap PINNED UNPINNED ATTEMPTS
 *
 * PINNED and UNPINNED must have the same length and differ in one byte (the
 * test uses copies of true and false). Each attempt forks a child that
 * starts the flipping thread and calls execve on the shared buffer; the
 * child exits 126 when execve fails. The parent prints the tally:
 *
 *   pinned ran: N, unpinned ran: M, refused: K, other: O
 *
 * from exit statuses 0 (true), 1 (false), 126 (refused) and anything else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[4096];
static size_t differ;
static char pinned_byte, unpinned_byte;

static void *flip(void *arg)
{
	(void)arg;
	volatile char *p = path + differ;
	for (;;) {
		*p = unpinned_byte;
		*p = pinned_byte;
	}
	return NULL;
}

static int attempt(void)
{
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "exec_swap: fork: %s\n", strerror(errno));
		exit(99);
	}
	if (pid == 0) {
		pthread_t t;
		int err = pthread_create(&t, NULL, flip, NULL);
		if (err != 0) {
			fprintf(stderr, "exec_swap: pthread_create: %s\n", strerror(err));
			_exit(99);
		}
		char *argv[] = { path, NULL };
		char *envp[] = { NULL };
		execve(path, argv, envp);
		_exit(126);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0) {
		fprintf(stderr, "exec_swap: waitpid: %s\n", strerror(errno));
		exit(99);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	if (argc != 4 || strlen(argv[1]) != strlen(argv[2]) || strlen(argv[1]) >= sizeof path) {
		fprintf(stderr, "usage: exec_swap PINNED UNPINNED ATTEMPTS (paths of equal length)\n");
		return 99;
	}
	for (differ = 0; argv[1][differ] == argv[2][differ]; differ++)
		if (argv[1][differ] == 0) {
			fprintf(stderr, "exec_swap: the two paths are the same\n");
			return 99;
		}
	if (strcmp(argv[1] + differ + 1, argv[2] + differ + 1) != 0) {
		fprintf(stderr, "exec_swap: the paths must differ in one byte\n");
		return 99;
	}
	strcpy(path, argv[1]);
	pinned_byte = argv[1][differ];
	unpinned_byte = argv[2][differ];
	int attempts = atoi(argv[3]);
	int pinned = 0, unpinned = 0, refused = 0, other = 0;
	for (int i = 0; i < attempts; i++) {
		switch (attempt()) {
		case 0: pinned++; break;
		case 1: unpinned++; break;
		case 126: refused++; break;
		default: other++; break;
		}
	}
	printf("pinned ran: %d, unpinned ran: %d, refused: %d, other: %d\n", pinned, unpinned, refused, other);
	return 0;
}
