/* w_semtimedpp N: w_pingpong with every wait a semtimedop(2) with a 10 s
 * timeout: each wait sleeps and is woken by the other process long before
 * its deadline, so the timeout is armed and cancelled on every hand-off.
 * N hand-offs; ns_per_op is per hand-off. */
#include "workload.h"

/* Wait for semaphore `num` with a timeout that never expires (retrying EINTR). */
static void timed_down(int id, unsigned short num)
{
	struct sembuf op = { .sem_num = num, .sem_op = -1, .sem_flg = 0 };
	struct timespec timeout = { 10, 0 };
	while (semtimedop(id, &op, 1, &timeout) < 0)
		if (errno != EINTR)
			DIE("semtimedop(num %u, 10 s)", num);
}

static void ping(int id, long rounds)
{
	for (long i = 0; i < rounds; i++) {
		sem_change(id, 0, 1, 0);  /* ping */
		timed_down(id, 1);        /* wait for pong */
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
			timed_down(id, 0);        /* wait for ping */
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
