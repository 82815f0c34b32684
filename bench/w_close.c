/* w_close N: N open("/dev/null", O_RDONLY) + close(2) pairs. Under sysvisor
 * with [locks] mode = "exact" close is notified (it may release POSIX
 * locks); "fast" leaves it to the kernel. ns_per_op is per open+close pair. */
#include "workload.h"
#include <fcntl.h>

static void open_close(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			DIE("open(/dev/null)");
		if (close(fd) < 0)
			DIE("close(%d)", fd);
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 1000000);
	open_close(warmup(n));
	double t0 = now_ns();
	open_close(n);
	double t1 = now_ns();
	report(t1 - t0, (double)n);
	return 0;
}
