/* w_lock N: N uncontended fcntl(2) calls on a private temp file, alternating
 * F_SETLK F_WRLCK and F_SETLK F_UNLCK of byte 0 (nothing ever waits).
 * ns_per_op is per fcntl call. The file is unlinked at once. */
#include "workload.h"
#include <fcntl.h>

static void lock_unlock(int fd, long pairs)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	struct flock un = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	for (long i = 0; i < pairs; i++) {
		if (fcntl(fd, F_SETLK, &lk) < 0)
			DIE("fcntl(F_SETLK, F_WRLCK)");
		if (fcntl(fd, F_SETLK, &un) < 0)
			DIE("fcntl(F_SETLK, F_UNLCK)");
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 1000000);
	char path[] = "/tmp/sysvisor-w_lock-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		DIE("mkstemp(%s)", path);
	unlink(path);
	long pairs = (n + 1) / 2;
	lock_unlock(fd, warmup(pairs));
	double t0 = now_ns();
	lock_unlock(fd, pairs);
	double t1 = now_ns();
	struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	if (fcntl(fd, F_GETLK, &q) < 0 || q.l_type != F_UNLCK)
		DIE("F_GETLK: the file is still locked at the end");
	close(fd);
	report(t1 - t0, (double)pairs * 2);
	return 0;
}
