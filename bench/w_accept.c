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
	report(mutex_workers(WORKERS, each, requests), (double)each * WORKERS);
	return 0;
}
