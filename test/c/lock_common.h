/*
 * lock_common.h - helpers for the lock_*.c differential programs (file
 * locks: fcntl POSIX and OFD record locks, flock). Same rules as common.h:
 * one deterministic line per check, errno names, pids shown only as
 * relations ("parent", "child A", "-1").
 */
#ifndef SYSVISOR_TEST_LOCK_COMMON_H
#define SYSVISOR_TEST_LOCK_COMMON_H

#include "common.h"
#include "proc_locks.h"
#include <sys/file.h>

#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif

/* Named pids: lock owners are printed by name. */
#define MAX_NAMES 16
static pid_t g_name_pid[MAX_NAMES];
static const char *g_name[MAX_NAMES];
static int g_nnames;

H void name_pid(pid_t pid, const char *name)
{
	for (int i = 0; i < g_nnames; i++)
		if (g_name_pid[i] == pid) {
			g_name[i] = name;
			return;
		}
	if (g_nnames < MAX_NAMES) {
		g_name_pid[g_nnames] = pid;
		g_name[g_nnames++] = name;
	}
}

H const char *pid_name(long pid)
{
	static char bufs[4][32];
	static int n;
	if (pid == -1)
		return "-1";
	if (pid == 0)
		return "0";
	for (int i = 0; i < g_nnames; i++)
		if (g_name_pid[i] == pid)
			return g_name[i];
	char *b = bufs[n++ & 3];
	snprintf(b, 32, "unknown pid");
	return b;
}

H const char *tname(int t)
{
	switch (t) {
	case F_RDLCK: return "F_RDLCK";
	case F_WRLCK: return "F_WRLCK";
	case F_UNLCK: return "F_UNLCK";
	default: {
		static char b[32];
		snprintf(b, sizeof b, "type%d", t);
		return b;
	}
	}
}

H struct flock mkfl(int type, int whence, off_t start, off_t len)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = (short)type;
	fl.l_whence = (short)whence;
	fl.l_start = start;
	fl.l_len = len;
	fl.l_pid = 0;
	return fl;
}

/* fcntl lock command on [start, start+len) from SEEK_SET; errno intact. */
H int lk(int fd, int cmd, int type, off_t start, off_t len)
{
	struct flock fl = mkfl(type, SEEK_SET, start, len);
	return fcntl(fd, cmd, &fl);
}

H int xopen(const char *path, int flags)
{
	int fd = open(path, flags, 0600);
	if (fd < 0)
		die("open %s", path);
	return fd;
}

/* A fresh file of `size` bytes; returns an O_RDWR fd. */
H int make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("create %s", path);
	if (ftruncate(fd, size) < 0)
		die("ftruncate");
	return fd;
}

H ino_t ino_of(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		die("fstat");
	return st.st_ino;
}

/* "F_WRLCK 0+10 by parent" or "F_UNLCK" for a struct flock F_GETLK filled. */
H const char *fl_str(const struct flock *fl)
{
	static char bufs[4][96];
	static int n;
	char *b = bufs[n++ & 3];
	if (fl->l_type == F_UNLCK)
		snprintf(b, 96, "F_UNLCK");
	else
		snprintf(b, 96, "%s whence %d start %lld len %lld by %s", tname(fl->l_type), fl->l_whence,
			 (long long)fl->l_start, (long long)fl->l_len, pid_name(fl->l_pid));
	return b;
}

/* F_GETLK (or F_OFD_GETLK) result as text, "-1 EINVAL" on failure. */
H const char *getlk_str(int fd, int cmd, int type, off_t start, off_t len)
{
	struct flock fl = mkfl(type, SEEK_SET, start, len);
	errno = 0;
	if (fcntl(fd, cmd, &fl) < 0)
		return res(-1, errno);
	return fl_str(&fl);
}

/*
 * Ask a fresh process with its own open of `path` (no locks, its own open
 * file description): F_GETLK for the range, answered as text. `cmd` may
 * also be F_SETLK (then "0" or "-1 EAGAIN") or F_OFD_GETLK.
 */
H const char *probe(const char *path, int cmd, int type, off_t start, off_t len)
{
	static char out[4][160];
	static int n;
	char *b = out[n++ & 3];
	int p[2];
	xpipe(p);
	pid_t c = xfork();
	if (c == 0) {
		close(p[0]);
		int fd = open(path, O_RDWR);
		if (fd < 0)
			die("probe open");
		struct flock fl = mkfl(type, SEEK_SET, start, len);
		errno = 0;
		int r = fcntl(fd, cmd, &fl);
		char m[160];
		if (r < 0)
			snprintf(m, sizeof m, "E %d", errno);
		else
			snprintf(m, sizeof m, "%d %d %lld %lld %d", fl.l_type, fl.l_whence, (long long)fl.l_start,
				 (long long)fl.l_len, (int)fl.l_pid);
		send_line(p[1], m);
		_exit(0);
	}
	close(p[1]);
	char line[160];
	recv_line(p[0], line, sizeof line);
	close(p[0]);
	reap_ok(c);
	if (line[0] == 'E') {
		snprintf(b, 160, "%s", res(-1, atoi(line + 2)));
		return b;
	}
	int type_, whence;
	long long s, l;
	int pid;
	if (sscanf(line, "%d %d %lld %lld %d", &type_, &whence, &s, &l, &pid) != 5)
		die("probe reply");
	if (cmd == F_SETLK || cmd == F_OFD_SETLK) {
		snprintf(b, 160, "0");
		return b;
	}
	struct flock fl = mkfl(type_, whence, s, l);
	fl.l_pid = pid;
	snprintf(b, 160, "%s", fl_str(&fl));
	return b;
}

/* The lines of /proc/locks about inode `ino` (proc_locks.h: a consistent read) into out. */
H void locks_about(ino_t ino, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof pat, ":%lu ", (unsigned long)ino);
	if (proc_locks_about(proc_locks_open, pat, out, cap) < 0)
		die("read /proc/locks");
}

/* Lines of /proc/locks about inode `ino`: how many, and how many are waiters ("->"). */
H int proc_locks_count(ino_t ino, int *waiters)
{
	static char lines[16384];
	locks_about(ino, lines, sizeof lines);
	int all = 0, w = 0;
	for (char *line = lines, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		all++;
		if (memmem(line, (size_t)(nl - line), "-> ", 3))
			w++;
	}
	if (waiters)
		*waiters = w;
	return all;
}

/* Poll until `n` requests wait on locks of inode `ino` (seen in /proc/locks). */
H void wait_waiters(ino_t ino, int n)
{
	int w = 0;
	for (int i = 0; i < 10000; i++) {
		proc_locks_count(ino, &w);
		if (w == n)
			return;
		msleep(1);
	}
	die("/proc/locks never showed %d waiters (shows %d)", n, w);
}

/*
 * Print /proc/locks lines about inode `ino`, with the line number, device
 * and inode dropped and the pid by name: "POSIX ADVISORY WRITE parent 0 9",
 * each lock followed by the requests waiting on it ("-> ..."). Linux lists
 * locks per CPU, so the order of the locks depends on where their owners
 * ran: locks (with their waiters) are printed sorted.
 */
#define MAX_BLOCKS 64
static int block_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

H void show_proc_locks(const char *label, ino_t ino)
{
	static char lines[16384];
	static char blocks[MAX_BLOCKS][1024];
	char *order[MAX_BLOCKS];
	int nb = 0;
	locks_about(ino, lines, sizeof lines);
	for (char *line = lines, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = 0;
		char kind[16], adv[16], type[16], dev[64], start[32], end[32], text[200];
		long pid;
		char *arrow = strstr(line, "-> ");
		char *p = strchr(line, ':');
		if (!p)
			continue;
		p = arrow ? arrow + 3 : p + 1;
		if (sscanf(p, "%15s %15s %15s %ld %63s %31s %31s", kind, adv, type, &pid, dev, start, end) != 7)
			die("parse /proc/locks: %s", line);
		snprintf(text, sizeof text, "%s: %s%s %s %s %s %s %s\n", label, arrow ? "-> " : "", kind, adv, type,
			 pid_name(pid), start, end);
		if (!arrow || nb == 0) {
			if (nb == MAX_BLOCKS)
				die("too many locks");
			blocks[nb][0] = 0;
			order[nb] = blocks[nb];
			nb++;
		}
		strncat(blocks[nb - 1], text, sizeof blocks[0] - strlen(blocks[nb - 1]) - 1);
	}
	qsort(order, nb, sizeof order[0], block_cmp);
	for (int i = 0; i < nb; i++)
		fputs(order[i], stdout);
	fflush(stdout);
	if (nb == 0)
		say("%s: (none)", label);
}

/*
 * Workers: child processes with their own open of a file that run lock
 * calls on command and answer each with its result line, so the parent
 * can stage contention and deadlocks deterministically.
 *   'f CMD TYPE START LEN'  fcntl(fd, CMD, {TYPE, SEEK_SET, START, LEN})
 *   'k OP'                  flock(fd, OP)
 *   'c'                     close(fd)
 *   'x'                     exit
 */
struct worker {
	pid_t pid;
	int cmd;
	int rep;
	const char *name;
};

H void worker_start(struct worker *w, const char *name, const char *path)
{
	int c[2], r[2];
	xpipe(c);
	xpipe(r);
	w->name = name;
	w->pid = xfork();
	if (w->pid == 0) {
		close(c[1]);
		close(r[0]);
		int fd = open(path, O_RDWR);
		if (fd < 0)
			die("worker open");
		char line[160];
		for (;;) {
			recv_line(c[0], line, sizeof line);
			int a, b;
			long long s, l;
			long rv = 0;
			errno = 0;
			if (line[0] == 'f' && sscanf(line + 1, "%d %d %lld %lld", &a, &b, &s, &l) == 4) {
				struct flock fl = mkfl(b, SEEK_SET, s, l);
				rv = fcntl(fd, a, &fl);
			} else if (line[0] == 'k' && sscanf(line + 1, "%d", &a) == 1) {
				rv = flock(fd, a);
			} else if (line[0] == 'c') {
				rv = close(fd);
			} else if (line[0] == 'x') {
				_exit(0);
			} else {
				die("worker command %s", line);
			}
			send_line(r[1], res(rv, errno));
		}
	}
	close(c[0]);
	close(r[1]);
	w->cmd = c[1];
	w->rep = r[0];
	name_pid(w->pid, name);
}

__attribute__((format(printf, 2, 3), unused))
static void worker_send(struct worker *w, const char *fmt, ...)
{
	char b[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	send_line(w->cmd, b);
}

/* The next result line of a worker. */
H const char *worker_result(struct worker *w)
{
	static char bufs[4][160];
	static int n;
	char *b = bufs[n++ & 3];
	return recv_line(w->rep, b, 160);
}

/* Run an fcntl lock command in the worker and print its result. */
H void wlk(struct worker *w, const char *cmdname, int cmd, int type, long long start, long long len)
{
	worker_send(w, "f %d %d %lld %lld", cmd, type, start, len);
	say("%s %s %s %lld+%lld: %s", w->name, cmdname, tname(type), start, len, worker_result(w));
}

/* Start an fcntl lock command that will sleep; its result is read later. */
H void wlk_async(struct worker *w, int cmd, int type, long long start, long long len)
{
	worker_send(w, "f %d %d %lld %lld", cmd, type, start, len);
}

H void worker_stop(struct worker *w)
{
	worker_send(w, "x");
	reap_ok(w->pid);
	close(w->cmd);
	close(w->rep);
}

#endif
