/* w_pingpong N: two processes hand a token back and forth through two
 * semaphores (ping: parent -> child, pong: child -> parent); every hand-off
 * wakes a process blocked in semop. N hand-offs; ns_per_op is per hand-off. */
#include "workload.h"

static void ping(int id, long rounds)
{
	for (long i = 0; i < rounds; i++) {
		sem_change(id, 0, 1, 0);  /* ping */
		sem_change(id, 1, -1, 0); /* wait for pong */
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 200000);
	long rounds = (n + 1) / 2, warm = warmup(rounds);
	int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (id < 0)
		DIE("semget(IPC_PRIVATE, 2)");
	pid_t pid = fork();
	if (pid < 0)
		DIE("fork");
	if (pid == 0) {
		for (long i = 0; i < warm + rounds; i++) {
			sem_change(id, 0, -1, 0); /* wait for ping */
			sem_change(id, 1, 1, 0);  /* pong */
		}
		_exit(0);
	}
	ping(id, warm);
	double t0 = now_ns();
	ping(id, rounds);
	double t1 = now_ns();
	reap_children();
	if (semctl(id, 0, IPC_RMID) < 0)
		DIE("semctl(IPC_RMID)");
	report(t1 - t0, (double)rounds * 2);
	return 0;
}
