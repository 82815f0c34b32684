/* w_getpid N: N getpid(2) calls (after warmup(N) untimed ones). The filter allows getpid, so this measures
 * what installing the seccomp filter costs a syscall that is never notified
 * (with the kernel's action cache, one bitmap test). */
#include "workload.h"
#include <sys/syscall.h>

static long calls(long n)
{
	long sink = 0;
	for (long i = 0; i < n; i++)
		sink += syscall(SYS_getpid);
	return sink;
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 5000000);
	long sink = calls(warmup(n));
	double t0 = now_ns();
	sink += calls(n);
	double t1 = now_ns();
	if (sink == 0)
		DIE("getpid returned 0");
	report(t1 - t0, (double)n);
	return 0;
}
