/* w_semtimeout N: N semtimedop(2) calls that wait for a semaphore held at 0
 * with a 100 us timeout: every call sleeps, times out and fails with EAGAIN.
 * ns_per_op is per call, so it is the timeout plus what expiring it costs
 * (natively the kernel adds its timer slack, 50 us by default). */
#include "workload.h"

#define TIMEOUT_NS 100000

static void time_out(int id, long n)
{
	struct sembuf down = { 0, -1, 0 };
	struct timespec timeout = { 0, TIMEOUT_NS };
	for (long i = 0; i < n; i++) {
		if (semtimedop(id, &down, 1, &timeout) == 0)
			DIE("semtimedop succeeded on a semaphore at 0");
		if (errno != EAGAIN)
			DIE("semtimedop(100 us)");
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 5000);
	int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	if (id < 0)
		DIE("semget(IPC_PRIVATE)");
	time_out(id, warmup(n));
	double t0 = now_ns();
	time_out(id, n);
	double t1 = now_ns();
	if (semctl(id, 0, IPC_RMID) < 0)
		DIE("semctl(IPC_RMID)");
	report(t1 - t0, (double)n);
	return 0;
}
