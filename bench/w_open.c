/* w_open N: N open(O_RDONLY) + close(2) pairs of a regular file the program
 * creates (in $TMPDIR, else /tmp) and removes at the end. What the sandbox
 * costs a program that opens files, in every [locks] mode and [proc] views
 * mode (bench/run.ts has a row for each). ns_per_op is per open+close pair. */
#include "workload.h"
#include <fcntl.h>

static void open_close(const char *path, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			DIE("open(%s)", path);
		if (close(fd) < 0)
			DIE("close(%d)", fd);
	}
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 1000000);
	const char *dir = getenv("TMPDIR");
	char path[4096];
	if (snprintf(path, sizeof path, "%s/w_open.XXXXXX", dir && *dir ? dir : "/tmp") >= (int)sizeof path)
		DIE("TMPDIR is too long");
	int fd = mkstemp(path);
	if (fd < 0)
		DIE("mkstemp(%s)", path);
	if (write(fd, "w_open\n", 7) != 7)
		DIE("write(%s)", path);
	if (close(fd) < 0)
		DIE("close(%s)", path);
	open_close(path, warmup(n));
	double t0 = now_ns();
	open_close(path, n);
	double t1 = now_ns();
	if (unlink(path) < 0)
		DIE("unlink(%s)", path);
	report(t1 - t0, (double)n);
	return 0;
}
