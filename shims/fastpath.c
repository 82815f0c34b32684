/*
 * libsysvisor-fast.so: the notification loop's blocking step as one native
 * call, loaded by supervisor/ffi.ts with koffi. A koffi call costs ~0.2 us
 * right after a context switch; a round trip made of SEND, epoll_pwait2, RECV
 * and a read of the caller's memory as four calls pays that four times. This
 * does them in one: answer the previous notification (if `send`), wait, and
 * when the only event is the listener being readable, receive the next
 * notification and read ahead the argument memory its handler will read.
 *
 * Everything travels in one struct sv_loop (supervisor/loop.ts fills it;
 * one koffi argument converts faster than twelve).
 *
 * plan[nr] says what to read ahead for syscall nr: 0 nothing, else
 * ptr_arg | count_arg << 8 | size << 16, for args[count_arg] (an unsigned
 * int) elements of `size` bytes at args[ptr_arg], when that is at most
 * `ahead_max` bytes.
 *
 * Returns epoll_pwait2's result (0 when the SEND failed), or -errno.
 */
#define _GNU_SOURCE
#include <errno.h>
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
};
_Static_assert(sizeof(struct sv_loop) == 80, "supervisor/loop.ts STEP layout");

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
	/* epoll_pwait2: a semtimedop timeout of 100 us must not wait for the next whole millisecond. */
	static int no_pwait2; /* before Linux 5.11: epoll_wait, milliseconds rounded up */
	struct timespec ts = { l->timeout / 1000000, (long)(l->timeout % 1000000) * 1000 };
	int n = no_pwait2 ? -1 : (int)syscall(SYS_epoll_pwait2, l->epfd, l->events, l->max, l->timeout < 0 ? NULL : &ts, NULL, 8);
	if (no_pwait2 || (n < 0 && errno == ENOSYS)) {
		no_pwait2 = 1;
		n = epoll_wait(l->epfd, l->events, l->max, l->timeout < 0 ? -1 : (l->timeout + 999) / 1000);
	}
	if (n < 0)
		return -errno;
	if (n == 1 && l->events[0].data.fd == l->listener && (l->events[0].events & EPOLLIN)) {
		memset(l->notif, 0, sizeof(*l->notif)); /* the kernel insists on a zeroed struct */
		if (ioctl(l->listener, NOTIF_RECV, l->notif) != 0) {
			l->received = -errno;
			return n;
		}
		l->received = 1;
		l->ahead_len = read_ahead(l->notif, l->plan, l->ahead, l->ahead_max);
	}
	return n;
}
