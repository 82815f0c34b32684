/*
 * persist_fill - fill the [ipc] persist snapshot, for the kill-mid-write test:
 *
 *   persist_fill NSETS NSEMS MARKER
 *
 * Creates (or finds, when a previous run's sets were restored) NSETS sets of
 * NSEMS semaphores under keys 0x5f100000+i, sets semaphore 0 of the first
 * one to MARKER, prints "done" and exits: the supervisor then writes a large
 * snapshot, which the test kills it in the middle of.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: persist_fill NSETS NSEMS MARKER\n");
		return 2;
	}
	int nsets = atoi(argv[1]), nsems = atoi(argv[2]), marker = atoi(argv[3]);
	int first = -1;
	for (int i = 0; i < nsets; i++) {
		int id = semget(0x5f100000 + i, nsems, IPC_CREAT | 0600);
		if (id < 0) {
			printf("semget(0x%x, %d, IPC_CREAT|0600): %s\n", 0x5f100000 + i, nsems, strerror(errno));
			return 1;
		}
		if (i == 0)
			first = id;
	}
	if (semctl(first, 0, SETVAL, marker) < 0) {
		printf("semctl(%d, 0, SETVAL, %d): %s\n", first, marker, strerror(errno));
		return 1;
	}
	printf("done\n");
	fflush(stdout);
	return 0;
}
