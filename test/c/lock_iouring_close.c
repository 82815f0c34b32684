/* A POSIX lock, /proc/locks read and the lock's fd closed through io_uring
 * (IORING_OP_OPENAT, IORING_OP_CLOSE), as a liburing program would; when
 * io_uring_setup fails with ENOSYS or EPERM (no io_uring in the kernel,
 * kernel.io_uring_disabled, a seccomp policy) it falls back to openat(2)
 * and close(2), as liburing users and libuv do. Either way the same lines
 * come out: the lock shows in /proc/locks, and once its fd is closed a
 * third process can take the range. Which path ran goes to stderr only
 * ("io_uring_setup: ..."), so the native run (ring) and the run under the
 * default manifest (ENOSYS, plain syscalls) compare equal. Raw syscalls:
 * liburing is not needed. */
#include "lock_common.h"
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

/* 0 with the ring set up, or -1 with errno from io_uring_setup. */
static int ring_init(struct ring *r)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	int fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return -1;
	size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
	if (single && cq_len > sq_len)
		sq_len = cq_len;
	char *sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		die("mmap of the io_uring SQ ring");
	char *cq = single ? sq : mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
	if (cq == MAP_FAILED)
		die("mmap of the io_uring CQ ring");
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		       IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		die("mmap of the io_uring SQEs");
	r->fd = fd;
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* Submit one SQE and wait for its completion; returns cqe->res (-errno on failure). */
static int ring_run(struct ring *r, const struct io_uring_sqe *sqe, const char *what)
{
	unsigned tail = *r->sq_tail;
	unsigned i = tail & *r->sq_mask;
	r->sqes[i] = *sqe;
	r->sq_array[i] = i;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	long n;
	while ((n = syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0)) < 0 && errno == EINTR)
		;
	if (n != 1)
		die("io_uring_enter for %s", what);
	unsigned head = *r->cq_head;
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		die("io_uring_enter for %s: no completion", what);
	int res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static struct ring g_ring;
static int g_have_ring;

/* openat(AT_FDCWD, path, O_RDONLY) through the ring, or openat(2). */
static int open_ro(const char *path)
{
	if (!g_have_ring)
		return open(path, O_RDONLY);
	struct io_uring_sqe sqe;
	memset(&sqe, 0, sizeof sqe);
	sqe.opcode = IORING_OP_OPENAT;
	sqe.fd = AT_FDCWD;
	sqe.addr = (unsigned long)path;
	sqe.open_flags = O_RDONLY;
	int res = ring_run(&g_ring, &sqe, "IORING_OP_OPENAT");
	if (res < 0) {
		errno = -res;
		return -1;
	}
	return res;
}

/* close(fd) through the ring, or close(2). */
static int close_fd(int fd)
{
	if (!g_have_ring)
		return close(fd);
	struct io_uring_sqe sqe;
	memset(&sqe, 0, sizeof sqe);
	sqe.opcode = IORING_OP_CLOSE;
	sqe.fd = fd;
	int res = ring_run(&g_ring, &sqe, "IORING_OP_CLOSE");
	if (res < 0) {
		errno = -res;
		return -1;
	}
	return 0;
}

/* Lines of /proc/locks about inode `ino`, the file opened with open_ro. */
static int locks_lines(ino_t ino)
{
	char pat[64], lines[16384];
	snprintf(pat, sizeof pat, ":%lu ", (unsigned long)ino);
	if (proc_locks_about(open_ro, pat, lines, sizeof lines) < 0)
		die("read /proc/locks");
	int n = 0;
	for (char *p = lines; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

int main(void)
{
	setup();
	if (ring_init(&g_ring) == 0) {
		g_have_ring = 1;
		fprintf(stderr, "io_uring_setup: ok, closing and opening through the ring\n");
	} else if (errno == ENOSYS || errno == EPERM) {
		fprintf(stderr, "io_uring_setup: -1 %s, falling back to close(2) and openat(2)\n", errname(errno));
	} else {
		die("io_uring_setup");
	}
	int fd = make_file("f", 100);
	ino_t ino = ino_of(fd);
	CHECK("F_SETLK write 0-9", lk(fd, F_SETLK, F_WRLCK, 0, 10));
	say("/proc/locks lines about f: %d", locks_lines(ino));
	say("third process F_SETLK write 0-9 while locked: %s", probe("f", F_SETLK, F_WRLCK, 0, 10));
	CHECK("close(the fd)", close_fd(fd));
	say("third process F_SETLK write 0-9 after the close: %s", probe("f", F_SETLK, F_WRLCK, 0, 10));
	say("/proc/locks lines about f: %d", locks_lines(ino));
	say("done");
	return 0;
}
