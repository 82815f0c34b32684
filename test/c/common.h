/*
 * common.h - helpers for the differential test programs in test/c.
 *
 * Every program prints one deterministic line per check, so that a native run
 * and a run under sysvisor can be compared byte for byte. Rules:
 *   - never print pids, ids, keys, times or addresses; print relations instead
 *     ("getpid matches: yes");
 *   - errors are printed as errno *names* ("-1 EAGAIN"), never numbers or
 *     strerror text;
 *   - only the main process prints; children report to it through a pipe or
 *     their exit status, so the order of lines never depends on scheduling;
 *   - every set created through sem_new() is removed, also on failure
 *     (die(), SIGALRM guard);
 *   - a harness failure (something the test itself needs did not work) is
 *     die(): it prints "FATAL ..." and exits 99.
 */
#ifndef SYSVISOR_TEST_COMMON_H
#define SYSVISOR_TEST_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H static inline __attribute__((unused))

#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif

/* The caller must define union semun (POSIX says so); glibc does not. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *__buf;
};

#define SEMVMX_ 32767
#define NOBODY 65534

/* ---------- errno names ---------- */

H const char *errname(int e)
{
	static char other[32];
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN"; /* == EWOULDBLOCK */
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case ETXTBSY: return "ETXTBSY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case EPIPE: return "EPIPE";
	case ERANGE: return "ERANGE";
	case EDEADLK: return "EDEADLK"; /* == EDEADLOCK */
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOLCK: return "ENOLCK";
	case ENOSYS: return "ENOSYS";
	case ELOOP: return "ELOOP";
	case EIDRM: return "EIDRM";
	case EOVERFLOW: return "EOVERFLOW";
	case EBADFD: return "EBADFD";
	case EOPNOTSUPP: return "EOPNOTSUPP"; /* == ENOTSUP */
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECANCELED: return "ECANCELED";
	case EOWNERDEAD: return "EOWNERDEAD";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	default:
		snprintf(other, sizeof other, "errno%d", e);
		return other;
	}
}

/* ---------- process bookkeeping, cleanup, die ---------- */

#define MAX_TRACK 64
static int g_sets[MAX_TRACK];
static int g_nsets;
static pid_t g_kids[MAX_TRACK];
static int g_nkids;
static pid_t g_main_pid;
static int g_is_child;

H void cleanup_all(void)
{
	int saved = errno;
	if (g_is_child || getpid() != g_main_pid)
		return;
	for (int i = 0; i < g_nkids; i++)
		if (g_kids[i] > 0)
			kill(g_kids[i], SIGKILL);
	for (int i = 0; i < g_nsets; i++)
		if (g_sets[i] >= 0)
			semctl(g_sets[i], 0, IPC_RMID);
	for (int i = 0; i < g_nkids; i++)
		if (g_kids[i] > 0)
			while (waitpid(g_kids[i], NULL, 0) < 0 && errno == EINTR)
				;
	g_nsets = 0;
	g_nkids = 0;
	errno = saved;
}

/* Harness failure: something the test relies on did not work. */
__attribute__((noreturn, format(printf, 1, 2), unused))
static void die(const char *fmt, ...)
{
	int e = errno;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fflush(stdout);
	dprintf(1, "FATAL %s (errno %s)\n", msg, errname(e));
	dprintf(2, "FATAL [pid %d%s] %s (errno %s)\n", (int)getpid(),
		g_is_child ? ", child" : "", msg, errname(e));
	cleanup_all();
	_exit(99);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "FATAL timeout (alarm guard)\n";
	ssize_t r = write(1, m, sizeof m - 1);
	r = write(2, m, sizeof m - 1);
	(void)r;
	cleanup_all();
	_exit(98);
}

static void on_exit_cleanup(void)
{
	cleanup_all();
}

/* Call first in main(). */
H void setup(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	g_main_pid = getpid();
	g_is_child = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(20);
	atexit(on_exit_cleanup);
}

/* ---------- output ---------- */

__attribute__((format(printf, 1, 2), unused))
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

H const char *yesno(int cond) { return cond ? "yes" : "no"; }

H void yes(const char *label, int cond) { say("%s: %s", label, yesno(cond)); }

/* "0", "3" or "-1 EAGAIN" (rotating static buffers). */
H const char *res(long r, int e)
{
	static char bufs[8][64];
	static int n;
	char *b = bufs[n++ & 7];
	if (r == -1)
		snprintf(b, 64, "-1 %s", errname(e));
	else
		snprintf(b, 64, "%ld", r);
	return b;
}

/* "ok" for any non-negative result (ids!), else "-1 ENAME". */
H const char *resok(long r, int e)
{
	return r == -1 ? res(r, e) : "ok";
}

/* CHECK prints the value; CHECK_OK prints "ok" (use it for ids). Both
 * evaluate to the result and leave errno as the call set it. */
#define CHECK(label, expr) ({                                              \
	errno = 0;                                                         \
	long r_ = (long)(expr);                                            \
	int e_ = errno;                                                    \
	say("%s: %s", (label), res(r_, e_));                               \
	errno = e_;                                                        \
	r_; })
#define CHECK_OK(label, expr) ({                                           \
	errno = 0;                                                         \
	long r_ = (long)(expr);                                            \
	int e_ = errno;                                                    \
	say("%s: %s", (label), resok(r_, e_));                             \
	errno = e_;                                                        \
	r_; })
/* Harness step that must succeed. */
#define TRY(expr) ({                                                       \
	long r_ = (long)(expr);                                            \
	if (r_ == -1)                                                      \
		die("%s:%d: %s", __FILE__, __LINE__, #expr);               \
	r_; })

/* ---------- processes ---------- */

/* fork(); the child gets its own alarm guard and never runs cleanup. */
H pid_t xfork(void)
{
	fflush(stdout);
	fflush(stderr);
	pid_t p = fork();
	if (p < 0)
		die("fork");
	if (p == 0) {
		g_is_child = 1;
		g_nkids = 0;
		alarm(20);
		return 0;
	}
	if (g_nkids < MAX_TRACK)
		g_kids[g_nkids++] = p;
	return p;
}

H void untrack_kid(pid_t p)
{
	for (int i = 0; i < g_nkids; i++)
		if (g_kids[i] == p)
			g_kids[i] = -1;
}

/* waitpid, retrying EINTR; returns the raw status. */
H int reap(pid_t p)
{
	int st;
	while (waitpid(p, &st, 0) < 0) {
		if (errno != EINTR)
			die("waitpid");
	}
	untrack_kid(p);
	return st;
}

/* Reap and return the exit code; die if the child was killed by a signal
 * or died (99/98) itself. */
H int reap_code(pid_t p)
{
	int st = reap(p);
	if (!WIFEXITED(st))
		die("child killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	if (WEXITSTATUS(st) == 99 || WEXITSTATUS(st) == 98)
		die("child failed (exit %d)", WEXITSTATUS(st));
	return WEXITSTATUS(st);
}

H void reap_ok(pid_t p)
{
	int c = reap_code(p);
	if (c != 0)
		die("child exited %d", c);
}

/* Become uid/gid 65534 with no supplementary groups (root only). */
H void drop_privs(void)
{
	if (setgroups(0, NULL) < 0)
		die("setgroups");
	if (setgid(NOBODY) < 0)
		die("setgid");
	if (setuid(NOBODY) < 0)
		die("setuid");
}

/* ---------- pipes: children report lines to the parent ---------- */

H void xpipe(int fd[2])
{
	if (pipe(fd) < 0)
		die("pipe");
}

H void send_line(int fd, const char *s)
{
	size_t n = strlen(s);
	char buf[256];
	if (n > sizeof buf - 2)
		n = sizeof buf - 2;
	memcpy(buf, s, n);
	buf[n++] = '\n';
	if (write(fd, buf, n) != (ssize_t)n)
		die("write pipe");
}

/* Read one line (without '\n'); dies on EOF. */
H char *recv_line(int fd, char *buf, size_t sz)
{
	size_t n = 0;
	while (n + 1 < sz) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("read pipe: EOF");
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
	return buf;
}

H void send_res(int fd, long r, int e) { send_line(fd, res(r, e)); }

/* In a child: send "label: <result>" to the parent (see relay_lines). */
#define RCHECK(fd, label, expr) ({                                         \
	errno = 0;                                                         \
	long r_ = (long)(expr);                                            \
	int e_ = errno;                                                    \
	char m_[200];                                                      \
	snprintf(m_, sizeof m_, "%s: %s", (label), res(r_, e_));           \
	send_line((fd), m_);                                               \
	errno = e_;                                                        \
	r_; })
#define RCHECK_OK(fd, label, expr) ({                                      \
	errno = 0;                                                         \
	long r_ = (long)(expr);                                            \
	int e_ = errno;                                                    \
	char m_[200];                                                      \
	snprintf(m_, sizeof m_, "%s: %s", (label), resok(r_, e_));         \
	send_line((fd), m_);                                               \
	errno = e_;                                                        \
	r_; })

/* In the parent: print the lines a child sends, with a prefix, until it
 * sends "end". */
H void relay_lines(int fd, const char *prefix)
{
	char b[256];
	for (;;) {
		recv_line(fd, b, sizeof b);
		if (strcmp(b, "end") == 0)
			return;
		say("%s%s", prefix, b);
	}
}

/* Block until the peer writes a byte (a "go" signal). */
H void wait_go(int fd)
{
	char c;
	ssize_t r;
	while ((r = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (r != 1)
		die("wait_go: EOF");
}

H void send_go(int fd)
{
	if (write(fd, "g", 1) != 1)
		die("send_go");
}

/* ---------- time ---------- */

H double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

H void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---------- semaphores ---------- */

/* A key unique to this process: 0x5E<n><pid low 16 bits>. */
H key_t test_key(int n)
{
	return (key_t)(0x5E000000 | ((n & 0xff) << 16) | (getpid() & 0xffff));
}

H void track_set(int id)
{
	if (g_nsets >= MAX_TRACK)
		die("too many sets");
	g_sets[g_nsets++] = id;
}

H void untrack_set(int id)
{
	for (int i = 0; i < g_nsets; i++)
		if (g_sets[i] == id)
			g_sets[i] = -1;
}

/* semget that must succeed; the set is removed at exit / on die. */
H int sem_new(key_t key, int nsems, int flags)
{
	int id = semget(key, nsems, flags);
	if (id < 0)
		die("semget(nsems=%d, flags=0%o)", nsems, flags);
	track_set(id);
	return id;
}

H int sem_private(int nsems) { return sem_new(IPC_PRIVATE, nsems, IPC_CREAT | 0600); }

H void sem_rm(int id)
{
	if (semctl(id, 0, IPC_RMID) < 0)
		die("IPC_RMID");
	untrack_set(id);
}

H int getval(int id, int n)
{
	int v = semctl(id, n, GETVAL);
	if (v < 0)
		die("GETVAL");
	return v;
}

H void setval(int id, int n, int v)
{
	union semun a = { .val = v };
	if (semctl(id, n, SETVAL, a) < 0)
		die("SETVAL %d", v);
}

H int getncnt(int id, int n)
{
	int v = semctl(id, n, GETNCNT);
	if (v < 0)
		die("GETNCNT");
	return v;
}

H int getzcnt(int id, int n)
{
	int v = semctl(id, n, GETZCNT);
	if (v < 0)
		die("GETZCNT");
	return v;
}

/* One semop; returns semop's result with errno intact. */
H int sop1(int id, int num, int op, int flg)
{
	struct sembuf b = { .sem_num = (unsigned short)num, .sem_op = (short)op,
			    .sem_flg = (short)flg };
	return semop(id, &b, 1);
}

/* One semop that must succeed. */
H void xsop(int id, int num, int op, int flg)
{
	if (sop1(id, num, op, flg) < 0)
		die("semop(num=%d, op=%d, flg=0x%x)", num, op, flg);
}

/* Poll until GETNCNT/GETZCNT reaches want (the waiters are blocked). */
H void wait_ncnt(int id, int n, int want)
{
	for (int i = 0; i < 10000; i++) {
		if (getncnt(id, n) == want)
			return;
		msleep(1);
	}
	die("GETNCNT never reached %d (is %d)", want, getncnt(id, n));
}

H void wait_zcnt(int id, int n, int want)
{
	for (int i = 0; i < 10000; i++) {
		if (getzcnt(id, n) == want)
			return;
		msleep(1);
	}
	die("GETZCNT never reached %d (is %d)", want, getzcnt(id, n));
}

/* /proc/sys/kernel/sem: SEMMSL SEMMNS SEMOPM SEMMNI. Returns how many
 * integers were parsed. */
H int read_kernel_sem(long v[4])
{
	FILE *f = fopen("/proc/sys/kernel/sem", "r");
	if (!f)
		die("open /proc/sys/kernel/sem");
	int n = fscanf(f, "%ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3]);
	fclose(f);
	return n;
}

H long semmsl(void)
{
	long v[4];
	if (read_kernel_sem(v) != 4)
		die("parse /proc/sys/kernel/sem");
	return v[0];
}

H long semopm(void)
{
	long v[4];
	if (read_kernel_sem(v) != 4)
		die("parse /proc/sys/kernel/sem");
	return v[2];
}

#endif
