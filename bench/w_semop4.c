/* w_semop4 N: throughput of 4 processes at once, each doing uncontended
 * semop(2) -1/+1 on a semaphore set of its own (nothing is shared, nothing
 * blocks, so natively they scale with the CPUs; under a supervisor they all
 * queue at its one loop). N semop calls in total; ns_per_op is wall clock per
 * call from the start gate opening (once every worker has done its warm-up
 * calls) to the last worker's exit, so 1e9 / ns_per_op is the aggregate calls
 * per second. */
#include "workload.h"

#define WORKERS 4

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 1000000);
	long pairs = (n + 2 * WORKERS - 1) / (2 * WORKERS);
	/* sem 0: the start gate (workers wait for zero); sem 1: workers still warming up. */
	int gate = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (gate < 0)
		DIE("semget(IPC_PRIVATE, gate)");
	unsigned short init[2] = { 1, WORKERS };
	union semun arg = { .array = init }, one = { .val = 1 };
	if (semctl(gate, 0, SETALL, arg) < 0)
		DIE("semctl(SETALL gate)");
	int ids[WORKERS];
	for (int w = 0; w < WORKERS; w++) {
		ids[w] = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
		if (ids[w] < 0 || semctl(ids[w], 0, SETVAL, one) < 0)
			DIE("semget/SETVAL worker %d", w);
	}
	for (int w = 0; w < WORKERS; w++) {
		pid_t pid = fork();
		if (pid < 0)
			DIE("fork");
		if (pid == 0) {
			down_up(ids[w], warmup(pairs));
			sem_change(gate, 1, -1, 0); /* warm */
			struct sembuf wait_gate = { 0, 0, 0 };
			while (semop(gate, &wait_gate, 1) < 0)
				if (errno != EINTR)
					DIE("semop(wait for the gate)");
			down_up(ids[w], pairs);
			_exit(0);
		}
	}
	struct sembuf warm = { 1, 0, 0 };
	while (semop(gate, &warm, 1) < 0)
		if (errno != EINTR)
			DIE("semop(wait for the warm-up)");
	double t0 = now_ns();
	sem_change(gate, 0, -1, 0); /* open the gate */
	reap_children();
	double t1 = now_ns();
	for (int w = 0; w < WORKERS; w++) {
		if (semctl(ids[w], 0, GETVAL) != 1)
			DIE("worker %d's semaphore is not 1 at the end", w);
		if (semctl(ids[w], 0, IPC_RMID) < 0)
			DIE("semctl(IPC_RMID)");
	}
	if (semctl(gate, 0, IPC_RMID) < 0)
		DIE("semctl(IPC_RMID gate)");
	report(t1 - t0, (double)pairs * 2 * WORKERS);
	return 0;
}
