/*
 * The `npm start` demo: four worker processes increment a counter kept in a
 * file, serialised by a System V semaphore used as a mutex (with SEM_UNDO)
 * and, around the file update, a POSIX record lock; the parent waits for
 * them with a "done" semaphore and checks the total.  Under sysvisor every
 * semaphore operation is answered by the supervisor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 4
#define ROUNDS 500

static int sem_do(int id, unsigned short num, short op, short flg)
{
	struct sembuf sb = { num, op, flg };
	while (semop(id, &sb, 1) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

static void die(const char *what)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void worker(int semid, int fd, int index)
{
	for (int i = 0; i < ROUNDS; i++) {
		if (sem_do(semid, 0, -1, SEM_UNDO) < 0)
			die("semop lock");
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
		if (fcntl(fd, F_SETLKW, &fl) < 0)
			die("fcntl F_SETLKW");
		long value = 0;
		char buf[32] = { 0 };
		if (pread(fd, buf, sizeof buf - 1, 0) < 0)
			die("pread");
		value = strtol(buf, NULL, 10) + 1;
		int len = snprintf(buf, sizeof buf, "%ld\n", value);
		if (pwrite(fd, buf, (size_t)len, 0) != len)
			die("pwrite");
		fl.l_type = F_UNLCK;
		if (fcntl(fd, F_SETLK, &fl) < 0)
			die("fcntl F_UNLCK");
		if (sem_do(semid, 0, 1, SEM_UNDO) < 0)
			die("semop unlock");
	}
	if (sem_do(semid, 1, 1, 0) < 0)
		die("semop done");
	printf("worker %d: %d increments\n", index, ROUNDS);
	fflush(stdout);
	exit(0);
}

int main(void)
{
	int semid = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (semid < 0)
		die("semget");
	unsigned short init[2] = { 1, 0 };
	if (semctl(semid, 0, SETALL, init) < 0)
		die("semctl SETALL");
	char path[] = "/tmp/sysvisor-demo-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);

	for (int i = 0; i < WORKERS; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			worker(semid, fd, i);
	}
	if (sem_do(semid, 1, -WORKERS, 0) < 0)
		die("semop wait for workers");
	while (wait(NULL) > 0)
		;
	char buf[32] = { 0 };
	if (pread(fd, buf, sizeof buf - 1, 0) < 0)
		die("pread");
	long total = strtol(buf, NULL, 10);
	int ok = total == WORKERS * ROUNDS;
	printf("counter = %ld (expected %d): %s\n", total, WORKERS * ROUNDS, ok ? "ok" : "WRONG");
	if (semctl(semid, 0, IPC_RMID) < 0)
		die("semctl IPC_RMID");
	return ok ? 0 : 1;
}
