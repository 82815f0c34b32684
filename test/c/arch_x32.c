/*
 * An x32-ABI syscall (getpid | __X32_SYSCALL_BIT). Killed by the filter under
 * sysvisor; natively the kernel answers ENOSYS when x32 is not built in.
 */
#include "common.h"
#include <sys/syscall.h>

int main(void)
{
	printf("before\n");
	fflush(stdout);
	long r = syscall(0x40000000L | SYS_getpid);
	printf("x32 getpid: %s\n", r == -1 ? errname(errno) : "a pid");
	return 0;
}
