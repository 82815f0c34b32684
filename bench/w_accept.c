/* w_accept N: a prefork web server's accept mutex (Apache's `Mutex sysvsem`):
 * 8 worker processes each loop semop(-1, SEM_UNDO), a short critical section
 * (standing in for accept()), semop(+1, SEM_UNDO), then longer work outside
 * the mutex (handling the request). N requests in total; ns_per_op is per
 * request, wall clock from the start gate opening (once every worker has
 * served its warm-up requests) to the last worker's exit. */
#include "workload.h"

#define WORKERS 8
#define WORK_INSIDE 400   /* loop iterations: ~0.1 us here */
#define WORK_OUTSIDE 8000 /* ~2 us */

static void work(unsigned n)
{
	volatile unsigned x = 0;
	for (unsigned i = 0; i < n; i++)
		x += i;
}

static void requests(int id, long n)
{
	for (long i = 0; i < n; i++) {
		sem_change(id, 0, -1, SEM_UNDO);
		work(WORK_INSIDE);
		sem_change(id, 0, 1, SEM_UNDO);
		work(WORK_OUTSIDE);
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 200000);
	long each = (n + WORKERS - 1) / WORKERS;
	/* sem 0: the mutex (1 = free); sem 1: the start gate (workers wait for zero);
	 * sem 2: workers still warming up. */
	int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	if (id < 0)
		DIE("semget(IPC_PRIVATE, 3)");
	unsigned short init[3] = { 1, 1, WORKERS };
	union semun arg = { .array = init };
	if (semctl(id, 0, SETALL, arg) < 0)
		DIE("semctl(SETALL)");
	for (int w = 0; w < WORKERS; w++) {
		pid_t pid = fork();
		if (pid < 0)
			DIE("fork");
		if (pid == 0) {
			requests(id, warmup(each));
			sem_change(id, 2, -1, 0); /* warm */
			struct sembuf gate = { 1, 0, 0 };
			while (semop(id, &gate, 1) < 0)
				if (errno != EINTR)
					DIE("semop(wait for the gate)");
			requests(id, each);
			_exit(0);
		}
	}
	struct sembuf warm = { 2, 0, 0 };
	while (semop(id, &warm, 1) < 0)
		if (errno != EINTR)
			DIE("semop(wait for the warm-up)");
	double t0 = now_ns();
	sem_change(id, 1, -1, 0); /* open the gate */
	reap_children();
	double t1 = now_ns();
	if (semctl(id, 0, GETVAL) != 1)
		DIE("mutex value is not 1 at the end");
	if (semctl(id, 0, IPC_RMID) < 0)
		DIE("semctl(IPC_RMID)");
	report(t1 - t0, (double)each * WORKERS);
	return 0;
}
