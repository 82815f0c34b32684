/*
 * A 32-bit syscall through int $0x80 (i386 getpid, nr 20). Under sysvisor the
 * filter kills the process with SIGSYS before the kernel runs it: i386 ipc()
 * and semop numbers would otherwise bypass the emulation.
 */
#include "common.h"

int main(void)
{
	printf("before\n");
	fflush(stdout);
	long nr = 20, ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr) : "memory");
	printf("int 0x80 getpid returned: %s\n", ret > 0 ? "a pid" : "an error");
	return 0;
}
