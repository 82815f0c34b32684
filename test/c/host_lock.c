/*
 * host_lock FILE OP... - a scriptable lock client for the host-coherence
 * tests (test/host-locks.test.ts): one copy runs on the host, one under
 * sysvisor, and they take turns through marker files. Not a differential
 * program (no lock_ prefix): its output names pids and depends on who runs it.
 *
 * FILE is opened O_RDWR|O_CREAT. Each OP prints one line "OP = result":
 *   set:K:T:START:LEN    F_SETLK (K posix) or F_OFD_SETLK (K ofd); T r|w|u
 *   wait:K:T:START:LEN   F_SETLKW / F_OFD_SETLKW
 *   get:K:T:START:LEN    F_GETLK / F_OFD_GETLK: "T START LEN pid P" or "F_UNLCK"
 *   flock:sh|ex|un[:nb]  flock(2)
 *   fd:ro|rw|wo          open FILE again with that access mode; later ops use it
 *   mark:NAME            create FILE.NAME holding our pid (the other side waits for it)
 *   await:NAME           wait until FILE.NAME exists
 *   handler:restart|norestart
 *                        SIGUSR1 handler (with or without SA_RESTART); it creates
 *                        FILE.signalled
 *   signal:NAME          send SIGUSR1 to the pid in FILE.NAME
 *   sleep:MS
 *   hostlocks            FILE's lines of /proc/locks: "KIND TYPE START END", sorted
 * The exit status is 0 unless an OP could not be parsed or a helper failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <time.h>

#include "proc_locks.h"
#include <unistd.h>

#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif

static const char *file;
static int fd;
static char signalled[4096];

static void fail(const char *what)
{
	fprintf(stderr, "host_lock: %s: %s\n", what, strerror(errno));
	exit(2);
}

static const char *ename(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EACCES: return "EACCES";
	case EINTR: return "EINTR";
	case EBADF: return "EBADF";
	case EINVAL: return "EINVAL";
	case EDEADLK: return "EDEADLK";
	case ENOLCK: return "ENOLCK";
	default: {
		static char b[32];
		snprintf(b, sizeof b, "errno %d", e);
		return b;
	}
	}
}

static void marker(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s.%s", file, name);
}

static void on_usr1(int sig)
{
	(void)sig;
	int m = open(signalled, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (m >= 0)
		close(m);
}

static int ltype(char c)
{
	return c == 'r' ? F_RDLCK : c == 'w' ? F_WRLCK : c == 'u' ? F_UNLCK : -1;
}

static const char *tname(int t)
{
	return t == F_RDLCK ? "F_RDLCK" : t == F_WRLCK ? "F_WRLCK" : t == F_UNLCK ? "F_UNLCK" : "?";
}

/* set/wait/get: the fcntl command for K and the op. */
static int fcntl_op(const char *op, const char *spec)
{
	char kind[8], t;
	long long start, len;
	if (sscanf(spec, "%7[a-z]:%c:%lld:%lld", kind, &t, &start, &len) != 4 || ltype(t) < 0)
		return -1;
	int ofd = strcmp(kind, "ofd") == 0;
	if (!ofd && strcmp(kind, "posix") != 0)
		return -1;
	int cmd;
	if (strcmp(op, "set") == 0)
		cmd = ofd ? F_OFD_SETLK : F_SETLK;
	else if (strcmp(op, "wait") == 0)
		cmd = ofd ? F_OFD_SETLKW : F_SETLKW;
	else
		cmd = ofd ? F_OFD_GETLK : F_GETLK;
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = (short)ltype(t);
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	if (fcntl(fd, cmd, &fl) < 0) {
		printf("%s:%s = -1 %s\n", op, spec, ename(errno));
	} else if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
		if (fl.l_type == F_UNLCK)
			printf("%s:%s = F_UNLCK\n", op, spec);
		else
			printf("%s:%s = %s %lld %lld pid %d\n", op, spec, tname(fl.l_type), (long long)fl.l_start,
			       (long long)fl.l_len, fl.l_pid);
	} else {
		printf("%s:%s = 0\n", op, spec);
	}
	return 0;
}

static int flock_op(const char *spec)
{
	int how = strncmp(spec, "sh", 2) == 0 ? LOCK_SH : strncmp(spec, "ex", 2) == 0 ? LOCK_EX
		: strncmp(spec, "un", 2) == 0 ? LOCK_UN : -1;
	if (how < 0)
		return -1;
	if (strstr(spec, ":nb"))
		how |= LOCK_NB;
	if (flock(fd, how) < 0)
		printf("flock:%s = -1 %s\n", spec, ename(errno));
	else
		printf("flock:%s = 0\n", spec);
	return 0;
}

static void host_locks(void)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		fail("fstat");
	char id[64];
	snprintf(id, sizeof id, "%02x:%02x:%llu", major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino);
	char lines[16384], out[64][96];
	if (proc_locks_about(proc_locks_open, id, lines, sizeof lines) < 0)
		fail("read /proc/locks");
	int n = 0;
	for (char *line = lines, *nl; (nl = strchr(line, '\n')) && n < 64; line = nl + 1) {
		*nl = 0;
		char kind[16], type[16], dev[64], start[32], end[32];
		/* "1: POSIX  ADVISORY  WRITE 123 fe:00:456 0 EOF"; blocked requests have "->" first */
		if (strstr(line, "->"))
			continue;
		if (sscanf(line, "%*d: %15s %*s %15s %*d %63s %31s %31s", kind, type, dev, start, end) != 5)
			continue;
		if (strcmp(dev, id) != 0)
			continue;
		snprintf(out[n++], sizeof out[0], "%s %s %s %s", kind, type, start, end);
	}
	qsort(out, n, sizeof out[0], (int (*)(const void *, const void *))strcmp);
	printf("hostlocks =");
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? ", " : " ", out[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: host_lock FILE OP...\n");
		return 2;
	}
	file = argv[1];
	marker(signalled, sizeof signalled, "signalled");
	fd = open(file, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		fail(file);
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 2; i < argc; i++) {
		char *op = argv[i];
		char *arg = strchr(op, ':');
		char name[16];
		snprintf(name, sizeof name, "%.*s", arg ? (int)(arg - op) : (int)strlen(op), op);
		arg = arg ? arg + 1 : "";
		char path[4096];
		int bad = 0;
		if (!strcmp(name, "set") || !strcmp(name, "wait") || !strcmp(name, "get")) {
			bad = fcntl_op(name, arg) < 0;
		} else if (!strcmp(name, "flock")) {
			bad = flock_op(arg) < 0;
		} else if (!strcmp(name, "fd")) {
			int mode = !strcmp(arg, "ro") ? O_RDONLY : !strcmp(arg, "wo") ? O_WRONLY : O_RDWR;
			fd = open(file, mode);
			if (fd < 0)
				fail("open");
			printf("%s = 0\n", op);
		} else if (!strcmp(name, "mark")) {
			marker(path, sizeof path, arg);
			char tmp[4200];
			snprintf(tmp, sizeof tmp, "%s.tmp", path);
			FILE *m = fopen(tmp, "w");
			if (!m || fprintf(m, "%d\n", getpid()) < 0 || fclose(m) != 0 || rename(tmp, path) < 0)
				fail("mark");
			printf("%s\n", op);
		} else if (!strcmp(name, "await")) {
			marker(path, sizeof path, arg);
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			for (int k = 0; access(path, F_OK) != 0; k++) {
				if (k > 6000) {
					errno = ETIMEDOUT;
					fail(path);
				}
				nanosleep(&ts, NULL);
			}
			printf("%s\n", op);
		} else if (!strcmp(name, "handler")) {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = on_usr1;
			sa.sa_flags = !strcmp(arg, "restart") ? SA_RESTART : 0;
			if (sigaction(SIGUSR1, &sa, NULL) < 0)
				fail("sigaction");
			printf("%s\n", op);
		} else if (!strcmp(name, "signal")) {
			marker(path, sizeof path, arg);
			FILE *m = fopen(path, "r");
			int pid;
			if (!m || fscanf(m, "%d", &pid) != 1)
				fail(path);
			fclose(m);
			if (kill(pid, SIGUSR1) < 0)
				fail("kill");
			printf("%s\n", op);
		} else if (!strcmp(name, "sleep")) {
			long ms = atol(arg);
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
			printf("%s\n", op);
		} else if (!strcmp(name, "hostlocks")) {
			host_locks();
		} else {
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "host_lock: cannot parse %s\n", op);
			return 2;
		}
	}
	return 0;
}
