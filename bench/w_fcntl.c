/* w_fcntl N: N F_GETFL + F_SETFL pairs on a socket, as a server sets
 * O_NONBLOCK. fcntl is emulated for its lock commands only: these never leave
 * the kernel (the filter tests the command). ns_per_op is per fcntl call. */
#include "workload.h"
#include <fcntl.h>
#include <sys/socket.h>

static void flags(long n, int fd)
{
	for (long i = 0; i < n; i++) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl ^ O_NONBLOCK) < 0)
			DIE("fcntl(F_GETFL/F_SETFL)");
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 1000000);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		DIE("socket(AF_UNIX)");
	flags(warmup(n), fd);
	double t0 = now_ns();
	flags(n, fd);
	double t1 = now_ns();
	report(t1 - t0, 2.0 * (double)n);
	return 0;
}
