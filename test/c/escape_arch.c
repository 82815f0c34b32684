/*
 * escape_arch MODE - reach the kernel's SysV semaphores through the i386
 * entry (int $0x80), where the numbers differ from x86_64 and a filter that
 * only knew the x86_64 ones would let them through:
 *   ipc_semget   ipc(SEMGET) through the multiplexer, nr 117
 *   ipc_semop    ipc(SEMOP) on a set made by the 64-bit semget, nr 117
 *   semget       i386 semget, nr 393
 *   semctl       i386 semctl, nr 394 (IPC_STAT of a set made by the 64-bit semget)
 *   semtimedop   i386 semtimedop_time64, nr 420
 * Prints "before MODE", then the call's result. Natively (IA32 emulation on)
 * every call reaches the host kernel; under sysvisor the filter kills the
 * process with SIGSYS before it runs. Sets made natively are removed.
 */
#include "common.h"
#include <sys/mman.h>

static long int80(long nr, long a, long b, long c, long d, long e)
{
	long ret;
	__asm__ volatile("push %%rbp\n\tmov %[e], %%rbp\n\tint $0x80\n\tpop %%rbp"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), [e] "D"(e)
			 : "memory");
	return ret;
}

static const char *kres(long r)
{
	return r < 0 && r > -4096 ? res(-1, (int)-r) : "ok";
}

int main(int argc, char **argv)
{
	setup();
	if (argc != 2)
		die("usage: escape_arch ipc_semget|ipc_semop|semget|semctl|semtimedop");
	const char *m = argv[1];
	/* i386 pointers must fit in 32 bits */
	struct sembuf *sops = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (sops == MAP_FAILED)
		die("mmap MAP_32BIT");
	/* a set made the ordinary way (emulated under sysvisor) */
	int id = -1;
	if (strcmp(m, "ipc_semget") != 0 && strcmp(m, "semget") != 0)
		id = sem_private(1);
	say("before %s", m);
	long r;
	if (!strcmp(m, "ipc_semget")) {
		r = int80(117, 2 /* SEMGET */, IPC_PRIVATE, 1, IPC_CREAT | 0600, 0);
		if (r >= 0)
			track_set((int)r);
	} else if (!strcmp(m, "ipc_semop")) {
		sops[0] = (struct sembuf){ 0, 1, IPC_NOWAIT };
		r = int80(117, 1 /* SEMOP */, id, 1, 0, (long)(uintptr_t)sops);
		if (r == 0)
			say("value after: %d", getval(id, 0));
	} else if (!strcmp(m, "semget")) {
		r = int80(393, IPC_PRIVATE, 1, IPC_CREAT | 0600, 0, 0);
		if (r >= 0)
			track_set((int)r);
	} else if (!strcmp(m, "semctl")) {
		r = int80(394, id, 0, GETVAL, 0, 0);
	} else if (!strcmp(m, "semtimedop")) {
		sops[0] = (struct sembuf){ 0, 1, IPC_NOWAIT };
		r = int80(420, id, (long)(uintptr_t)sops, 1, 0, 0);
	} else {
		die("unknown mode %s", m);
	}
	say("i386 %s: %s", m, kres(r));
	say("done");
	return 0;
}
