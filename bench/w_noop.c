/* w_noop N: N calls of semctl(-1, 0, GETVAL). Natively the kernel answers
 * EINVAL at once; under a supervisor it is a notified syscall answered without
 * work (ENOSYS before the semaphore handlers exist, EINVAL after): the pure
 * notification round trip. Only the -1 return is checked, not the errno. */
#include "workload.h"

static void calls(long n)
{
	for (long i = 0; i < n; i++)
		if (semctl(-1, 0, GETVAL) != -1)
			DIE("semctl(-1, 0, GETVAL) did not fail");
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 1000000);
	calls(warmup(n));
	double t0 = now_ns();
	calls(n);
	double t1 = now_ns();
	report(t1 - t0, (double)n);
	return 0;
}
