/*
 * Many processes, many sets, random kills: WORKERS processes each run ROUNDS
 * rounds of "take a SEM_UNDO mutex, bump the set's counter semaphore, release"
 * on one of SETS sets, and a committed counter in a second semaphore. Every
 * fourth worker is killed with SIGKILL partway, possibly while holding its
 * mutex or blocked on it: undo must give the mutex back. At the end every
 * mutex is 1 and no operation is lost: each counter equals the number of
 * increments that workers reported committing.
 */
#include "common.h"

#define WORKERS 32
#define SETS 8
#define ROUNDS 300

static int ids[SETS];

static int op(int id, unsigned short num, short v, short flg)
{
	struct sembuf b = { num, v, flg };
	while (semop(id, &b, 1) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static void worker(int w, int report)
{
	int id = ids[w % SETS];
	for (int r = 0; r < ROUNDS; r++) {
		if (op(id, 0, -1, SEM_UNDO) < 0)
			_exit(3);
		/* counter and commit log move together inside the mutex */
		struct sembuf inc[2] = { { 1, 1, 0 }, { 2, 1, 0 } };
		if (semop(id, inc, 2) < 0)
			_exit(4);
		if (op(id, 0, 1, SEM_UNDO) < 0)
			_exit(5);
	}
	int done = ROUNDS;
	if (write(report, &done, sizeof done) != sizeof done)
		_exit(6);
	_exit(0);
}

int main(void)
{
	alarm(120);
	for (int s = 0; s < SETS; s++) {
		ids[s] = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
		if (ids[s] < 0)
			die("semget");
		unsigned short init[3] = { 1, 0, 0 };
		union semun arg = { .array = init };
		if (semctl(ids[s], 0, SETALL, arg) < 0)
			die("SETALL");
	}
	int pipefd[2];
	if (pipe(pipefd) < 0)
		die("pipe");
	pid_t pids[WORKERS];
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		if (pids[w] < 0)
			die("fork");
		if (pids[w] == 0) {
			close(pipefd[0]);
			worker(w, pipefd[1]);
		}
	}
	close(pipefd[1]);
	usleep(20000);
	for (int w = 3; w < WORKERS; w += 4)
		kill(pids[w], SIGKILL);
	int bad_exit = 0;
	for (int w = 0; w < WORKERS; w++) {
		int st;
		if (waitpid(pids[w], &st, 0) < 0)
			die("waitpid");
		if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			bad_exit++;
	}
	int got, finished = 0;
	while (read(pipefd[0], &got, sizeof got) == sizeof got)
		finished++;
	int mutexes_free = 1, counts_match = 1;
	long total = 0;
	for (int s = 0; s < SETS; s++) {
		int mutex = semctl(ids[s], 0, GETVAL);
		int counter = semctl(ids[s], 1, GETVAL);
		int log = semctl(ids[s], 2, GETVAL);
		if (mutex != 1)
			mutexes_free = 0;
		if (counter != log)
			counts_match = 0;
		total += counter;
		semctl(ids[s], 0, IPC_RMID);
	}
	printf("abnormal exits: %d\n", bad_exit);
	printf("every mutex released by undo: %s\n", mutexes_free ? "yes" : "no");
	printf("counter equals commit log in every set: %s\n", counts_match ? "yes" : "no");
	printf("survivors' rounds all counted: %s\n", total >= (long)finished * ROUNDS ? "yes" : "no");
	printf("done\n");
	return 0;
}
