/*
 * proc_mtfork [ITERATIONS]: a multithreaded parent forks while its other
 * threads run semop and fcntl. Two threads take a SEM_UNDO mutex and bump a
 * counter; one thread takes and drops a POSIX write lock; the main thread
 * forks children that take the mutex and the lock and either release them
 * or exit holding them (undo and exit must release them). At the end the
 * mutex is free, the counter counts every committed round and the file
 * lock can be taken: nothing was corrupted or leaked at a fork.
 */
#include "common.h"
#include <pthread.h>

static int id;
static int fd;
static int rounds;

static void sem_step(short num, short v, short flg)
{
	struct sembuf b = { (unsigned short)num, v, flg };
	while (semop(id, &b, 1) < 0)
		if (errno != EINTR)
			die("semop: %s", errname(errno));
}

static void lock_file(short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	while (fcntl(fd, type == F_UNLCK ? F_SETLK : F_SETLKW, &fl) < 0)
		if (errno != EINTR)
			die("fcntl: %s", errname(errno));
}

static void *sem_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < rounds; i++) {
		sem_step(0, -1, SEM_UNDO);
		sem_step(1, 1, 0);
		sem_step(0, 1, SEM_UNDO);
	}
	return NULL;
}

static void *lock_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < rounds; i++) {
		lock_file(F_WRLCK);
		lock_file(F_UNLCK);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	rounds = argc > 1 ? atoi(argv[1]) : 500;
	alarm(120);
	id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (id < 0)
		die("semget");
	union semun one = { .val = 1 };
	if (semctl(id, 0, SETVAL, one) < 0)
		die("SETVAL");
	char path[] = "/tmp/sysvisor-mtfork-XXXXXX";
	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);

	pthread_t t[3];
	pthread_create(&t[0], NULL, sem_thread, NULL);
	pthread_create(&t[1], NULL, sem_thread, NULL);
	pthread_create(&t[2], NULL, lock_thread, NULL);
	int children = rounds / 2, committed = 0;
	for (int i = 0; i < children; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			sem_step(0, -1, SEM_UNDO);
			sem_step(1, 1, 0);
			lock_file(F_WRLCK);
			if (i % 3 == 0)
				_exit(7); /* exit holding both: undo and exit release them */
			lock_file(F_UNLCK);
			sem_step(0, 1, SEM_UNDO);
			_exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
			die("child");
		committed++;
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);

	int mutex = semctl(id, 0, GETVAL), counter = semctl(id, 1, GETVAL);
	printf("mutex free: %s\n", mutex == 1 ? "yes" : "no");
	printf("counter counts every round: %s\n", counter == 2 * rounds + committed ? "yes" : "no");
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	pid_t probe = fork();
	if (probe == 0)
		_exit(fcntl(fd, F_SETLK, &fl) == 0 ? 0 : 1);
	int st;
	waitpid(probe, &st, 0);
	printf("file lock free for another process: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
	semctl(id, 0, IPC_RMID);
	printf("done\n");
	return 0;
}
