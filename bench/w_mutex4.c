/* w_mutex4 N: 4 processes contend for one semaphore used as a mutex
 * (-1 / +1 with SEM_UNDO, as Apache's `Mutex sysvsem` does), N acquire/release
 * pairs in total. ns_per_op is per acquire/release pair, wall clock from the
 * start gate opening (once every worker has done its warm-up pairs) to the
 * last worker's exit. */
#include "workload.h"

#define WORKERS 4

static void acquire_release(int id, long n)
{
	for (long i = 0; i < n; i++) {
		sem_change(id, 0, -1, SEM_UNDO);
		sem_change(id, 0, 1, SEM_UNDO);
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 400000);
	long each = (n + WORKERS - 1) / WORKERS;
	report(mutex_workers(WORKERS, each, acquire_release), (double)each * WORKERS);
	return 0;
}
