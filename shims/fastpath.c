/*
 * libsysvisor-fast.so: the notification loop's blocking step as one native
 * call, loaded by supervisor/ffi.ts with koffi. A koffi call costs ~0.2 us
 * right after a context switch; a round trip made of SEND, epoll_wait, RECV
 * and a read of the caller's memory as four calls pays that four times. This
 * does them in one: answer the previous notification (if `send`), wait, and
 * when the only event is the listener being readable, receive the next
 * notification and read ahead the argument memory its handler will read.
 *
 * plan[nr] says what to read ahead for syscall nr: 0 nothing, else
 * ptr_arg | count_arg << 8 | size << 16, for args[count_arg] (an unsigned
 * int) elements of `size` bytes at args[ptr_arg], when that is at most
 * `ahead_max` bytes.
 *
 * out[0]: 1 received into `notif`, 0 not attempted, -errno RECV failed.
 * out[1]: 0, or -errno of the SEND: then nothing else was done (so `notif`
 *         still holds the notification that could not be answered).
 * out[2]: bytes read ahead into `ahead`, 0 if none (not planned, too long,
 *         or the read failed: the handler then reads and reports the error).
 * Returns epoll_wait's result (0 when the SEND failed), or -errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
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

int sv_step(int listener, int epfd, struct epoll_event *events, int max, int timeout, void *resp, int send,
	    struct seccomp_notif *notif, int *out, const uint32_t *plan, void *ahead, int ahead_max)
{
	out[0] = 0;
	out[1] = 0;
	out[2] = 0;
	if (send && ioctl(listener, NOTIF_SEND, resp) != 0) {
		out[1] = -errno;
		return 0;
	}
	int n = epoll_wait(epfd, events, max, timeout);
	if (n < 0)
		return -errno;
	if (n == 1 && events[0].data.fd == listener && (events[0].events & EPOLLIN)) {
		memset(notif, 0, sizeof(*notif)); /* the kernel insists on a zeroed struct */
		if (ioctl(listener, NOTIF_RECV, notif) != 0) {
			out[0] = -errno;
			return n;
		}
		out[0] = 1;
		out[2] = read_ahead(notif, plan, ahead, ahead_max);
	}
	return n;
}
