/*
 * escape_page0 - pointers the supervisor must treat exactly as the kernel
 * does, with page 0 mapped (root may: mmap_min_addr is waived with
 * CAP_SYS_RAWIO).
 *
 * The kernel accepts NULL when page 0 is mapped, and refuses every address
 * at or above the top of user space (EFAULT), including those just below
 * 2^64, which a JavaScript number rounds up to 2^64 (= address 0 once
 * truncated to 64 bits). Output is deterministic and compared with native.
 * Where page 0 cannot be mapped the program prints "SKIP <why>" and exits 77.
 */
#include "common.h"
#include <sys/mman.h>
#include <sys/syscall.h>

int main(void)
{
	setup();
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		/* Nothing to check: exit 77, which the harness reports as a skip. */
		say("SKIP page 0 cannot be mapped here (mmap MAP_FIXED at 0: %s)", errname(errno));
		return 77;
	}
	volatile unsigned char *zero = p;
	int id = sem_private(2);
	static const uint64_t high[] = { 0xfffffffffffffc00ULL, 0xfffffffffffffff8ULL, 0xffffffffffffffffULL };
	static const char *const hn[] = { "2^64-1024", "2^64-8", "2^64-1" };

	memset((void *)zero, 0, 4096);
	CHECK("IPC_STAT to NULL", syscall(SYS_semctl, id, 0, IPC_STAT, (uint64_t)0));
	say("page 0 holds nsems after it: %s", yesno(zero[80] == 2));
	for (int i = 0; i < 3; i++) {
		memset((void *)zero, 0, 4096);
		char l[64];
		snprintf(l, sizeof l, "IPC_STAT to %s", hn[i]);
		CHECK(l, syscall(SYS_semctl, id, 0, IPC_STAT, high[i]));
		say("page 0 written: %s", yesno(zero[80] != 0));
	}
	((unsigned short *)p)[0] = 7;
	((unsigned short *)p)[1] = 9;
	CHECK("SETALL from 2^64-1024", syscall(SYS_semctl, id, 0, SETALL, high[0]));
	say("value 0 after: %d", getval(id, 0));
	CHECK("SETALL from NULL", syscall(SYS_semctl, id, 0, SETALL, (uint64_t)0));
	say("value 0 after: %d", getval(id, 0));
	struct sembuf *sb = p;
	sb[0] = (struct sembuf){ 1, 1, IPC_NOWAIT };
	CHECK("semop with sops = NULL", syscall(SYS_semop, id, (uint64_t)0, 1));
	CHECK("semop with sops = 2^64-1024", syscall(SYS_semop, id, high[0], 1));
	struct timespec *ts = p;
	*ts = (struct timespec){ 0, 1000 };
	sb[8] = (struct sembuf){ 1, -100, 0 };
	CHECK("semtimedop timeout = 2^64-8", syscall(SYS_semtimedop, id, (uint64_t)(uintptr_t)&sb[8], 1, high[1]));
	say("done");
	return 0;
}
