/*
 * sys_probe NR [ARG...]: make syscall NR with integer arguments and print
 * "ret <value>" or "ret -1 <ERRNO>". Used by the foundation tests to check
 * what the filter does with a denied, killed or notified syscall.
 */
#include "common.h"
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: sys_probe NR [ARG...]");
	long args[6] = { 0 };
	for (int i = 2; i < argc && i < 8; i++)
		args[i - 2] = strtol(argv[i], NULL, 0);
	errno = 0;
	long r = syscall(strtol(argv[1], NULL, 0), args[0], args[1], args[2], args[3], args[4], args[5]);
	if (r == -1)
		printf("ret -1 %s\n", errname(errno));
	else
		printf("ret %ld\n", r);
	return 0;
}
