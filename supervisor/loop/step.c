/*
 * libsysvisor-step.so: the notification loop's blocking step as one native
 * call, loaded by supervisor/ffi.ts with koffi. A koffi call costs ~0.2 us
 * right after a context switch; a round trip made of SEND, epoll_pwait2, RECV
 * and a read of the caller's memory as four calls pays that four times. This
 * does them in one: answer the previous notification (if `send`), wait, and
 * when the only event is the listener being readable, receive the next
 * notification and read ahead the argument memory its handler will read.
 *
 * Everything travels in one struct sv_loop (supervisor/loop/loop.ts fills it;
 * one koffi argument converts faster than twelve).
 *
 * plan[nr] says what to read ahead for syscall nr: 0 nothing, else
 * ptr_arg | count_arg << 8 | size << 16, for args[count_arg] (an unsigned
 * int) elements of `size` bytes at args[ptr_arg], when that is at most
 * `ahead_max` bytes.
 *
 * Some notifications are decided here without returning to JS (struct
 * sv_native, filled by supervisor/loop/native-rules.ts): the answer is CONTINUE,
 * sent at once, and the step waits again for what is left of its timeout.
 * These are the common cases of calls the supervisor only watches:
 *  - rt_sigreturn of a thread JS has nothing on (no call asleep, interrupted
 *    or cut off), whose signal frame shows no restart of a call with a
 *    restart policy, and either no interrupted call (rax is not -EINTR) or
 *    one Linux never interrupts, named by the `mov $nr` before its syscall
 *    instruction: then the frame is rewound here as JS would
 *    (supervisor/blocking.ts) so that the call runs again. That includes
 *    rt_sigreturn itself, cut off by the next signal of a storm;
 *  - close, close_range, dup2, dup3 while the sandbox holds no lock a close
 *    could release;
 *  - open, openat, openat2 of a path whose last component names none of
 *    the files the supervisor serves (or with O_PATH).
 * A thread listed in `tids` (JS keeps state on it) always goes to JS.
 *
 * Returns epoll_pwait2's result (0 when the SEND failed), or -errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>

#define NOTIF_RECV 0xc0502100UL
#define NOTIF_SEND 0xc0182101UL
#define PLAN_SIZE 512
#define NR_MAX 512
#define RULE_JS 0
#define RULE_CLOSE 1 /* CONTINUE while nothing a close could release is held */
#define RULE_SIGRETURN 2 /* CONTINUE unless the frame shows a call to repair or a restart */
#define RULE_OPEN_PATH0 3 /* CONTINUE unless args[0] may name a served file */
#define RULE_OPEN_PATH1 4 /* the same for args[1] */
#define WATCH_MAX 64
#define NAMES_SIZE 64
#define MINUS_EINTR ((uint64_t)-4)
#define O_PATH_FLAG 010000000

/* Shared with supervisor/loop/native-rules.ts (layout asserted below and there). */
struct sv_native {
	uint8_t rule[NR_MAX];
	uint8_t restarts[NR_MAX]; /* nr has a restart policy in JS (blocking.ts setPolicy) */
	uint8_t transparent[NR_MAX]; /* nr is notified and Linux never fails it with EINTR */
	uint32_t decided[NR_MAX]; /* notifications answered here, per nr (for --stats) */
	int32_t enabled; /* 0: every notification goes to JS (tracing) */
	int32_t locks_held; /* the sandbox holds a lock that a close may release */
	int32_t watched; /* entries in tids, or -1: every thread goes to JS */
	int32_t tids[WATCH_MAX];
	char names[NAMES_SIZE]; /* basenames of served files, each NUL-terminated, then an empty one */
};
_Static_assert(sizeof(struct sv_native) == 3 * NR_MAX + 4 * NR_MAX + 12 + 4 * WATCH_MAX + NAMES_SIZE, "supervisor/loop/native-rules.ts layout");

static int read_ahead(const struct seccomp_notif *n, const uint32_t *plan, void *ahead, int ahead_max)
{
	int nr = n->data.nr;
	if (nr < 0 || nr >= PLAN_SIZE || plan[nr] == 0)
		return 0;
	uint32_t p = plan[nr];
	if ((p & 0xff) > 5 || ((p >> 8) & 0xff) > 5)
		return 0;
	uint64_t count = (uint32_t)n->data.args[(p >> 8) & 0xff];
	uint64_t len = count * (p >> 16);
	if (len == 0 || len > (uint64_t)ahead_max)
		return 0;
	struct iovec local = { ahead, len };
	struct iovec remote = { (void *)(uintptr_t)n->data.args[p & 0xff], len };
	return process_vm_readv(n->pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? (int)len : 0;
}

struct sv_loop {
	int32_t listener, epfd, max;
	int32_t timeout; /* microseconds, -1 for none */
	int32_t send; /* answer `resp` first */
	int32_t ahead_max;
	int32_t received; /* 1 into `notif`, 0 not attempted, -errno RECV failed */
	int32_t send_error; /* -errno of the SEND: then nothing else was done, `notif` still holds the unanswered one */
	int32_t ahead_len; /* bytes read ahead, 0 if none (not planned, too long, or failed: the handler reads and reports) */
	int32_t yield; /* sched_yield() after the SEND, before the wait: a sleeper was woken (see loop.ts) */
	struct epoll_event *events;
	void *resp;
	struct seccomp_notif *notif;
	const uint32_t *plan;
	void *ahead;
	struct sv_native *native;
};
_Static_assert(sizeof(struct sv_loop) == 88, "supervisor/loop/loop.ts STEP layout");

static int watched(const struct sv_native *nat, uint32_t tid)
{
	if (nat->watched < 0)
		return 1;
	for (int i = 0; i < nat->watched && i < WATCH_MAX; i++)
		if ((uint32_t)nat->tids[i] == tid)
			return 1;
	return 0;
}

/*
 * The stack pointer of a thread sitting in a syscall, from /proc/TID/syscall
 * ("nr a0 .. a5 sp pc"). The files stay open, one slot per tid modulo
 * SP_SLOTS, and are read again with pread at 0 (a seq_file regenerates);
 * a file whose thread is gone fails and is opened anew.
 */
#define SP_SLOTS 64
static struct { int tid; int fd; } sp_files[SP_SLOTS];

static int read_syscall_file(int slot, char *buf, size_t len)
{
	if (sp_files[slot].fd <= 0)
		return -1;
	ssize_t got = pread(sp_files[slot].fd, buf, len - 1, 0);
	if (got <= 0)
		return -1;
	buf[got] = 0;
	return 0;
}

static int stack_pointer(uint32_t tid, uint64_t *sp)
{
	char buf[256];
	int slot = tid % SP_SLOTS;
	if (sp_files[slot].tid != (int)tid || read_syscall_file(slot, buf, sizeof buf) != 0) {
		if (sp_files[slot].fd > 0)
			close(sp_files[slot].fd);
		char path[40];
		snprintf(path, sizeof path, "/proc/%u/syscall", tid);
		sp_files[slot].tid = (int)tid;
		sp_files[slot].fd = open(path, O_RDONLY | O_CLOEXEC);
		if (read_syscall_file(slot, buf, sizeof buf) != 0)
			return -1;
	}
	char *p = buf;
	for (int field = 0; field < 7; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	char *end;
	*sp = strtoull(p, &end, 16);
	return end == p ? -1 : 0;
}

/* For JS (blocking.ts readStackPointer): the stack pointer of a thread in a syscall, or -1. */
int64_t sv_stack_pointer(int32_t tid)
{
	uint64_t sp;
	return tid > 0 && stack_pointer((uint32_t)tid, &sp) == 0 ? (int64_t)sp : -1;
}

/*
 * struct sigcontext as rt_sigreturn finds it: the rt_sigframe starts at
 * sp-8 (pretcode popped), uc_mcontext 48 bytes in, so at sp+40; rax @104,
 * rip @128.
 */
#define MCONTEXT 40
#define MC_RAX 104
#define MC_RIP 128

static int target_io(uint32_t tid, uint64_t addr, void *buf, size_t len, int write)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t done = write ? process_vm_writev(tid, &local, 1, &remote, 1, 0) : process_vm_readv(tid, &local, 1, &remote, 1, 0);
	return done == (ssize_t)len ? 0 : -1;
}

/* The nr of `mov $nr, %eax` (b8 imm32) or `mov $nr, %rax` (48 c7 c0 imm32) right before the syscall at rip-2, or -1. */
static int syscall_before(uint32_t tid, uint64_t rip)
{
	uint8_t code[9];
	if (target_io(tid, rip - 9, code, sizeof code, 0) != 0 || code[7] != 0x0f || code[8] != 0x05)
		return -1;
	if (code[2] != 0xb8 && !(code[0] == 0x48 && code[1] == 0xc7 && code[2] == 0xc0))
		return -1;
	uint32_t nr;
	memcpy(&nr, code + 3, sizeof nr);
	return nr < NR_MAX ? (int)nr : -1;
}

static int sigreturn_is_plain(const struct sv_native *nat, uint32_t tid)
{
	uint64_t sp, regs[4]; /* rax, rcx, rsp, rip */
	if (stack_pointer(tid, &sp) != 0)
		return 0;
	uint64_t at = sp + MCONTEXT + MC_RAX;
	if (target_io(tid, at, regs, sizeof regs, 0) != 0)
		return 0;
	uint64_t rax = regs[0], rip = regs[3];
	if (rax == MINUS_EINTR) {
		/* A call about to fail with EINTR: made to run again if Linux never interrupts it. */
		int nr = syscall_before(tid, rip);
		if (nr < 0 || !nat->transparent[nr])
			return 0;
		regs[0] = (uint64_t)nr;
		regs[3] = rip - 2;
		return target_io(tid, at, regs, sizeof regs, 1) == 0;
	}
	if (rax < NR_MAX && nat->restarts[rax])
		return 0; /* maybe rewound to restart a call whose restart JS must recognise */
	return 1;
}

/* Copy the NUL-terminated string at `addr` (up to len-1 bytes), page by page. */
static int read_string(uint32_t tid, uint64_t addr, char *buf, size_t len)
{
	size_t have = 0;
	while (have < len - 1) {
		size_t chunk = 4096 - ((addr + have) & 4095);
		if (chunk > len - 1 - have)
			chunk = len - 1 - have;
		struct iovec local = { buf + have, chunk };
		struct iovec remote = { (void *)(uintptr_t)(addr + have), chunk };
		if (process_vm_readv(tid, &local, 1, &remote, 1, 0) != (ssize_t)chunk)
			return -1;
		if (memchr(buf + have, 0, chunk) != NULL)
			return 0;
		have += chunk;
	}
	return -1;
}

/* May the path at args[arg] name a served file? As VirtualFiles.open: by its last component. */
static int open_may_serve(const struct sv_native *nat, const struct seccomp_notif *n, int arg)
{
	char path[4097];
	if (n->data.nr != 437 /* openat2: flags are in struct open_how */) {
		uint64_t flags = n->data.args[arg + 1];
		if (flags & O_PATH_FLAG)
			return 0;
	}
	if (read_string(n->pid, n->data.args[arg], path, sizeof path) != 0)
		return 0; /* EFAULT or ENAMETOOLONG: the kernel says so */
	size_t end = strlen(path);
	while (end > 1 && path[end - 1] == '/')
		end--;
	size_t start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	for (const char *name = nat->names; *name; name += strlen(name) + 1)
		if (strlen(name) == end - start && memcmp(name, path + start, end - start) == 0)
			return 1;
	return 0;
}

/* 1 when the notification is answered CONTINUE here, without JS. */
static int decided_natively(const struct sv_native *nat, const struct seccomp_notif *n)
{
	int nr = n->data.nr;
	if (!nat->enabled || nr < 0 || nr >= NR_MAX || watched(nat, n->pid))
		return 0;
	switch (nat->rule[nr]) {
	case RULE_CLOSE:
		return !nat->locks_held;
	case RULE_SIGRETURN:
		return sigreturn_is_plain(nat, n->pid);
	case RULE_OPEN_PATH0:
		return !open_may_serve(nat, n, 0);
	case RULE_OPEN_PATH1:
		return !open_may_serve(nat, n, 1);
	default:
		return 0;
	}
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int wait_events(struct sv_loop *l, int32_t timeout)
{
	/* epoll_pwait2: a semtimedop timeout of 100 us must not wait for the next whole millisecond. */
	static int no_pwait2; /* before Linux 5.11: epoll_wait, milliseconds rounded up */
	struct timespec ts = { timeout / 1000000, (long)(timeout % 1000000) * 1000 };
	int n = no_pwait2 ? -1 : (int)syscall(SYS_epoll_pwait2, l->epfd, l->events, l->max, timeout < 0 ? NULL : &ts, NULL, 8);
	if (no_pwait2 || (n < 0 && errno == ENOSYS)) {
		no_pwait2 = 1;
		n = epoll_wait(l->epfd, l->events, l->max, timeout < 0 ? -1 : (timeout + 999) / 1000);
	}
	return n;
}

int sv_step(struct sv_loop *l)
{
	l->received = 0;
	l->send_error = 0;
	l->ahead_len = 0;
	if (l->send && ioctl(l->listener, NOTIF_SEND, l->resp) != 0) {
		l->send_error = -errno;
		return 0;
	}
	if (l->yield)
		sched_yield();
	int32_t timeout = l->timeout;
	int64_t deadline = timeout < 0 ? 0 : now_us() + timeout;
	for (;;) {
		int n = wait_events(l, timeout);
		if (n < 0)
			return -errno;
		if (n != 1 || l->events[0].data.fd != l->listener || !(l->events[0].events & EPOLLIN))
			return n;
		struct seccomp_notif *notif = l->notif;
		memset(notif, 0, sizeof(*notif)); /* the kernel insists on a zeroed struct */
		if (ioctl(l->listener, NOTIF_RECV, notif) != 0) {
			l->received = -errno;
			return n;
		}
		if (!decided_natively(l->native, notif)) {
			l->received = 1;
			l->ahead_len = read_ahead(notif, l->plan, l->ahead, l->ahead_max);
			return n;
		}
		struct seccomp_notif_resp resp = { .id = notif->id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
		if (ioctl(l->listener, NOTIF_SEND, &resp) != 0) {
			/* Cut off by a signal: JS must learn of it (the call will be repaired at rt_sigreturn). */
			l->send_error = -errno;
			return 0;
		}
		l->native->decided[notif->data.nr]++;
		if (timeout >= 0) {
			int64_t left = deadline - now_us();
			timeout = left > 0 ? (int32_t)left : 0;
		}
	}
}
