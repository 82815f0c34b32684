/*
 * floor [-v] [--sem] -- prog args...
 *
 * The smallest userspace seccomp-notification supervisor that speaks the same
 * protocol as sysvisor: the floor any userspace design can reach on this
 * machine. It forks; the child sets no_new_privs, installs a filter that
 * notifies semget/semop/semtimedop/semctl (after the same arch and x32 checks
 * sysvisor's filter makes) with SECCOMP_FILTER_FLAG_NEW_LISTENER, passes the
 * listener to the parent over a socketpair (SCM_RIGHTS) and execs the target.
 * The parent sets SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (by value) and loops
 * epoll_wait + NOTIF_RECV + NOTIF_SEND.
 *
 * Without --sem every notification is answered ENOSYS at once. With --sem a
 * tiny in-memory System V semaphore emulation answers them: enough for the
 * benchmark workloads (semget, semop/semtimedop including blocking ops woken
 * in FIFO order, semtimedop timeouts on a timerfd, semctl
 * IPC_RMID/GETVAL/SETVAL/GETALL/SETALL, and the IPC_STAT/IPC_SET pair Apache's
 * sysvsem accept mutex makes at start), not a faithful one (no permissions,
 * no SEM_UNDO at exit, no EINTR).
 *
 * Exits with the target's status (128+N if killed by signal N). -v prints the
 * number of notifications and whether SYNC_WAKE_UP was accepted on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS 0x40082104UL
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1UL
#endif

#define NR_SEMGET 64
#define NR_SEMOP 65
#define NR_SEMCTL 66
#define NR_SEMTIMEDOP 220

static int verbose;

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(125);
}

/* ---------------------------------------------------------------- child */

static int install_filter(void)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_SEMGET, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_SEMOP, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_SEMCTL, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_SEMTIMEDOP, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog fprog = { .len = sizeof prog / sizeof prog[0], .filter = prog };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("prctl(PR_SET_NO_NEW_PRIVS)");
	int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
	if (fd < 0)
		die("seccomp(SET_MODE_FILTER, NEW_LISTENER)");
	return fd;
}

static void send_fd(int sock, int fd)
{
	char byte = 'L';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	memset(&u, 0, sizeof u);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (sendmsg(sock, &msg, 0) != 1)
		die("sendmsg(listener)");
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	ssize_t n;
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

/* ---------------------------------------------------- semaphore emulation */

#define MAX_SETS 128
#define MAX_NSEMS 256
#define MAX_SOPS 64
#define MAX_WAITERS 1024
#define IPC_64_FLAG 0x100

struct semset {
	int used;
	int key;
	int nsems;
	unsigned short val[MAX_NSEMS];
};

struct waiter {
	uint64_t id;
	uint64_t deadline; /* CLOCK_MONOTONIC ns; 0: no timeout */
	int set;
	int nsops;
	struct sembuf sops[MAX_SOPS];
};

static struct semset sets[MAX_SETS];
static struct waiter waiters[MAX_WAITERS];
static int nwaiters;
static int listener;
static int timer;            /* timerfd armed for the earliest deadline */
static uint64_t armed;       /* the deadline it is armed for; 0: disarmed */
static int timed;            /* waiters with a deadline */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void drop_waiter(int i)
{
	if (waiters[i].deadline)
		timed--;
	memmove(&waiters[i], &waiters[i + 1], (size_t)(nwaiters - i - 1) * sizeof waiters[0]);
	nwaiters--;
}

static int send_resp(uint64_t id, int64_t val, int error)
{
	struct seccomp_notif_resp resp = { .id = id, .val = val, .error = error, .flags = 0 };
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

static struct semset *set_of(int id)
{
	if (id < 0 || id >= MAX_SETS || !sets[id].used)
		return NULL;
	return &sets[id];
}

static int sem_get(int key, int nsems, int flags)
{
	if (key != 0 /* IPC_PRIVATE */)
		for (int i = 0; i < MAX_SETS; i++)
			if (sets[i].used && sets[i].key == key) {
				if ((flags & IPC_CREAT) && (flags & IPC_EXCL))
					return -EEXIST;
				return nsems > sets[i].nsems ? -EINVAL : i;
			}
	if (key != 0 && !(flags & IPC_CREAT))
		return -ENOENT;
	if (nsems <= 0 || nsems > MAX_NSEMS)
		return -EINVAL;
	for (int i = 0; i < MAX_SETS; i++)
		if (!sets[i].used) {
			memset(&sets[i], 0, sizeof sets[i]);
			sets[i].used = 1;
			sets[i].key = key;
			sets[i].nsems = nsems;
			return i;
		}
	return -ENOSPC;
}

/* 1: applied, 0: would block, <0: errno. */
static int try_apply(struct semset *s, const struct sembuf *sops, int nsops)
{
	int v[MAX_SOPS];
	for (int i = 0; i < nsops; i++) {
		if (sops[i].sem_num >= s->nsems)
			return -EFBIG;
		v[i] = s->val[sops[i].sem_num];
	}
	/* Apply on a scratch copy: later ops may touch the same semaphore. */
	for (int i = 0; i < nsops; i++) {
		int cur = s->val[sops[i].sem_num];
		for (int j = 0; j < i; j++)
			if (sops[j].sem_num == sops[i].sem_num)
				cur = v[j];
		int op = sops[i].sem_op;
		if (op == 0 && cur != 0)
			return (sops[i].sem_flg & IPC_NOWAIT) ? -EAGAIN : 0;
		if (cur + op < 0)
			return (sops[i].sem_flg & IPC_NOWAIT) ? -EAGAIN : 0;
		if (cur + op > 32767)
			return -ERANGE;
		v[i] = cur + op;
	}
	for (int i = 0; i < nsops; i++)
		s->val[sops[i].sem_num] = (unsigned short)v[i];
	return 1;
}

static void undo_apply(struct semset *s, const struct sembuf *sops, int nsops)
{
	for (int i = nsops - 1; i >= 0; i--)
		s->val[sops[i].sem_num] = (unsigned short)(s->val[sops[i].sem_num] - sops[i].sem_op);
}

/* Retry the waiters of set `set` in FIFO order until none can proceed. */
static void wake_waiters(int set)
{
	int progress = 1;
	while (progress) {
		progress = 0;
		for (int i = 0; i < nwaiters; i++) {
			struct waiter *w = &waiters[i];
			if (w->set != set)
				continue;
			struct semset *s = &sets[set];
			int r = try_apply(s, w->sops, w->nsops);
			if (r == 0)
				continue;
			if (send_resp(w->id, 0, r < 0 ? r : 0) < 0 && r > 0)
				undo_apply(s, w->sops, w->nsops); /* the waiter is gone */
			drop_waiter(i);
			progress = 1;
			break;
		}
	}
}

static void remove_set(int set)
{
	sets[set].used = 0;
	for (int i = 0; i < nwaiters;) {
		if (waiters[i].set == set) {
			send_resp(waiters[i].id, 0, -EIDRM);
			drop_waiter(i);
		} else {
			i++;
		}
	}
}

/* Answer EAGAIN to every waiter whose timeout has passed. */
static void expire_waiters(void)
{
	uint64_t now = now_ns();
	for (int i = 0; i < nwaiters;) {
		if (waiters[i].deadline && waiters[i].deadline <= now) {
			send_resp(waiters[i].id, 0, -EAGAIN);
			drop_waiter(i);
		} else {
			i++;
		}
	}
}

/* Arm the timerfd for the earliest deadline (or disarm it). */
static void arm_timer(void)
{
	uint64_t next = 0;
	for (int i = 0; i < nwaiters; i++)
		if (waiters[i].deadline && (next == 0 || waiters[i].deadline < next))
			next = waiters[i].deadline;
	if (next == armed)
		return;
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(next / 1000000000u), .tv_nsec = (long)(next % 1000000000u) } };
	if (timerfd_settime(timer, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		die("timerfd_settime");
	armed = next;
}

static int read_target(pid_t pid, void *dst, uint64_t addr, size_t len)
{
	struct iovec local = { .iov_base = dst, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

static int write_target(pid_t pid, uint64_t addr, const void *src, size_t len)
{
	struct iovec local = { .iov_base = (void *)src, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	return process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

/*
 * Answer one notification. Returns 1 if it must be answered with `*ret`
 * (>= 0 value, < 0 errno), 0 if it was queued as a waiter.
 */
static int emulate(const struct seccomp_notif *n, int64_t *ret)
{
	const __u64 *a = n->data.args;
	switch (n->data.nr) {
	case NR_SEMGET:
		*ret = sem_get((int)a[0], (int)a[1], (int)a[2]);
		return 1;
	case NR_SEMOP:
	case NR_SEMTIMEDOP: {
		int id = (int)a[0];
		unsigned nsops = (unsigned)a[2];
		struct semset *s = set_of(id);
		/* Like the kernel, copy the timeout first, whether or not the call will sleep. */
		struct timespec ts = { 0, 0 };
		int has_timeout = n->data.nr == NR_SEMTIMEDOP && a[3] != 0;
		if (has_timeout) {
			int e = read_target(n->pid, &ts, a[3], sizeof ts);
			if (e < 0) { *ret = e; return 1; }
		}
		if (nsops < 1) { *ret = -EINVAL; return 1; }
		if (nsops > MAX_SOPS) { *ret = -E2BIG; return 1; }
		if (s == NULL) { *ret = -EINVAL; return 1; }
		struct sembuf sops[MAX_SOPS];
		int e = read_target(n->pid, sops, a[1], nsops * sizeof sops[0]);
		if (e < 0) { *ret = e; return 1; }
		if (has_timeout && (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)) { *ret = -EINVAL; return 1; }
		int r = try_apply(s, sops, (int)nsops);
		if (r < 0) { *ret = r; return 1; }
		if (r == 1) {
			*ret = 0;
			wake_waiters(id);
			return 1;
		}
		if (has_timeout && ts.tv_sec == 0 && ts.tv_nsec == 0) { *ret = -EAGAIN; return 1; }
		if (nwaiters == MAX_WAITERS) { *ret = -ENOMEM; return 1; }
		struct waiter *w = &waiters[nwaiters++];
		w->id = n->id;
		w->deadline = has_timeout ? now_ns() + (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec : 0;
		timed += has_timeout;
		w->set = id;
		w->nsops = (int)nsops;
		memcpy(w->sops, sops, nsops * sizeof sops[0]);
		return 0;
	}
	case NR_SEMCTL: {
		int id = (int)a[0], num = (int)a[1], cmd = (int)a[2] & ~IPC_64_FLAG;
		struct semset *s = set_of(id);
		if (s == NULL) { *ret = -EINVAL; return 1; }
		switch (cmd) {
		case IPC_RMID:
			remove_set(id);
			*ret = 0;
			return 1;
		case GETVAL:
			*ret = (num < 0 || num >= s->nsems) ? -EINVAL : s->val[num];
			return 1;
		case SETVAL: {
			int v = (int)a[3];
			if (num < 0 || num >= s->nsems) { *ret = -EINVAL; return 1; }
			if (v < 0 || v > 32767) { *ret = -ERANGE; return 1; }
			s->val[num] = (unsigned short)v;
			*ret = 0;
			wake_waiters(id);
			return 1;
		}
		case GETALL:
			*ret = write_target(n->pid, a[3], s->val, (size_t)s->nsems * sizeof s->val[0]);
			return 1;
		case SETALL: {
			unsigned short v[MAX_NSEMS];
			int e = read_target(n->pid, v, a[3], (size_t)s->nsems * sizeof v[0]);
			if (e < 0) { *ret = e; return 1; }
			for (int i = 0; i < s->nsems; i++)
				if (v[i] > 32767) { *ret = -ERANGE; return 1; }
			memcpy(s->val, v, (size_t)s->nsems * sizeof v[0]);
			*ret = 0;
			wake_waiters(id);
			return 1;
		}
		case IPC_STAT: {
			/* No permissions here: a zeroed semid64_ds with the set's size. */
			struct semid_ds ds;
			memset(&ds, 0, sizeof ds);
			ds.sem_nsems = (unsigned long)s->nsems;
			*ret = write_target(n->pid, a[3], &ds, sizeof ds);
			return 1;
		}
		case IPC_SET: /* owner and mode: accepted, as the floor has no permissions */
			*ret = 0;
			return 1;
		default:
			*ret = -EINVAL;
			return 1;
		}
	}
	default:
		*ret = -ENOSYS;
		return 1;
	}
}

/* ----------------------------------------------------------------- parent */

int main(int argc, char **argv)
{
	int sem = 0, i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--sem") == 0)
			sem = 1;
		else if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: floor [-v] [--sem] -- prog args...\n");
		return 125;
	}

	/* Reap every task (orphans too) so the filter's last user goes away and the listener hangs up. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		close(sv[0]);
		int fd = install_filter();
		send_fd(sv[1], fd);
		close(fd);
		close(sv[1]);
		execvp(argv[i], &argv[i]);
		fprintf(stderr, "floor: exec %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	listener = recv_fd(sv[0]);
	close(sv[0]);
	if (listener < 0) {
		int status;
		waitpid(child, &status, 0);
		fprintf(stderr, "floor: did not receive the listener\n");
		return 125;
	}
	/* The flag travels by value. */
	int sync = ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;

	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd < 0 || ep < 0 || timer < 0)
		die("signalfd/epoll_create1/timerfd_create");
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = listener };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) < 0)
		die("epoll_ctl(listener)");
	ev.data.fd = sfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
		die("epoll_ctl(signalfd)");
	ev.data.fd = timer;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev) < 0)
		die("epoll_ctl(timerfd)");

	struct seccomp_notif notif;
	unsigned long count = 0;
	int child_status = -1, open = 1;
	while (open) {
		struct epoll_event events[8];
		int ne = epoll_wait(ep, events, 8, -1);
		if (ne < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int e = 0; e < ne; e++) {
			if (events[e].data.fd == sfd) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof si) == sizeof si)
					;
				int status;
				pid_t p;
				while ((p = waitpid(-1, &status, WNOHANG)) > 0)
					if (p == child)
						child_status = status;
				continue;
			}
			if (events[e].data.fd == timer) {
				uint64_t ticks;
				if (read(timer, &ticks, sizeof ticks) == sizeof ticks)
					armed = 0; /* fired: a timerfd with no interval disarms itself */
				expire_waiters();
				continue;
			}
			if (!(events[e].events & EPOLLIN)) {
				open = 0; /* EPOLLHUP: no task carries the filter any more */
				continue;
			}
			memset(&notif, 0, sizeof notif);
			if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &notif) < 0) {
				if (errno == ENOENT || errno == EINTR)
					continue;
				die("SECCOMP_IOCTL_NOTIF_RECV");
			}
			count++;
			int64_t ret = -ENOSYS;
			if (sem && !emulate(&notif, &ret))
				continue; /* queued: answered when it can proceed */
			if (ret < 0)
				send_resp(notif.id, 0, (int)ret);
			else
				send_resp(notif.id, ret, 0);
		}
		/* Only workloads with timed waits pay for the timer. */
		if (timed > 0 || armed != 0)
			arm_timer();
	}
	if (child_status < 0 && waitpid(child, &child_status, 0) < 0)
		die("waitpid");
	if (verbose)
		fprintf(stderr, "floor: %lu notifications, sync_wake_up %s\n", count, sync ? "on" : "off");
	if (WIFSIGNALED(child_status))
		return 128 + WTERMSIG(child_status);
	return WEXITSTATUS(child_status);
}
