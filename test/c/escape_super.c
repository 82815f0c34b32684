/*
 * escape_super MODE [PID] - attacks on the supervisor from inside the sandbox.
 *
 * The supervisor is this program's parent when the sandbox has no PID
 * namespace of its own: the launcher is spawned by the sysvisor process and
 * execs the program in place. In a PID namespace the supervisor is not
 * there to name: PID, the supervisor's pid as the host sees it, is then
 * what the attacks aim at (and find nothing). Every mode prints
 * "supervisor pid: <pid>" first (the test checks it against the pid it
 * spawned) and then one line per attempt with the result or errno name.
 * Meant to run under sysvisor only: natively, as root, most would succeed.
 *
 * Modes:
 *   ptrace   PTRACE_ATTACH / PTRACE_SEIZE of the supervisor and each of its
 *            threads; pidfd_getfd of its fds (the seccomp listener is one)
 *   signal   kill/tgkill/sigqueue/pidfd_send_signal of the supervisor and its
 *            threads, and kill of its process group from a new group
 *   mem      /proc/PID/mem for reading and writing, process_vm_readv/writev,
 *            and other /proc/PID entries guarded by ptrace access
 *   fds      the program holds no seccomp listener itself
 *   nofile   prlimit(RLIMIT_NOFILE) of the supervisor lowered to 8
 *   cpu      prlimit(RLIMIT_CPU) of the supervisor lowered to 1 s: the kernel
 *            kills it with SIGXCPU/SIGKILL once it has used that much
 *   nice     setpriority/sched_setaffinity/sched_setscheduler/oom_score_adj
 *            on the supervisor: not an escape, reported as what they do
 */
#include "common.h"
#include <dirent.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static pid_t sup;

/* The supervisor's thread ids (its worker thread runs the loop). */
static int threads(pid_t *tids, int max)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", sup);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] != '.')
			tids[n++] = atoi(e->d_name);
	closedir(d);
	return n;
}

/* "all N refused with E" collapsed to one deterministic line. */
static void summary(const char *label, int tried, int ok, int first_errno)
{
	if (tried == 0)
		say("%s: nothing to try", label);
	else if (ok)
		say("%s: %d of them SUCCEEDED", label, ok);
	else
		say("%s: all refused, %s", label, errname(first_errno));
}

/* A semget through the supervisor (the set is removed again): "ok", or ENOSYS once it is gone. */
static void still_answers(void)
{
	int id = semget(IPC_PRIVATE, 1, 0600);
	int e = errno;
	if (id >= 0)
		semctl(id, 0, IPC_RMID);
	say("supervisor still answers: semget %s", resok(id, e));
}

static void mode_ptrace(void)
{
	CHECK("PTRACE_ATTACH supervisor", ptrace(PTRACE_ATTACH, sup, 0, 0));
	CHECK("PTRACE_SEIZE supervisor", ptrace(PTRACE_SEIZE, sup, 0, 0));
	pid_t t[256];
	int n = threads(t, 256);
	say("supervisor has more than one thread: %s", yesno(n > 1));
	int ok = 0, e1 = 0;
	for (int i = 0; i < n; i++) {
		if (ptrace(PTRACE_ATTACH, t[i], 0, 0) == 0)
			ok++;
		else if (!e1)
			e1 = errno;
	}
	summary("PTRACE_ATTACH each supervisor thread", n, ok, e1);
	int pidfd = (int)syscall(SYS_pidfd_open, sup, 0);
	say("pidfd_open supervisor: %s", resok(pidfd, errno));
	if (pidfd >= 0) {
		ok = 0, e1 = 0;
		for (int fd = 0; fd < 256; fd++) {
			int got = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
			if (got >= 0) {
				ok++;
				close(got);
			} else if (!e1 || e1 == EBADF) {
				e1 = errno;
			}
		}
		summary("pidfd_getfd of supervisor fds 0..255", 256, ok, e1);
	}
}

static void mode_signal(void)
{
	CHECK("kill(supervisor, 0)", kill(sup, 0));
	CHECK("kill(supervisor, SIGKILL)", kill(sup, SIGKILL));
	CHECK("kill(supervisor, SIGSTOP)", kill(sup, SIGSTOP));
	CHECK("kill(supervisor, SIGTERM)", kill(sup, SIGTERM));
	union sigval v = { .sival_int = 1 };
	CHECK("sigqueue(supervisor, SIGKILL)", sigqueue(sup, SIGKILL, v));
	pid_t t[256];
	int n = threads(t, 256);
	int ok = 0, e1 = 0;
	for (int i = 0; i < n; i++) {
		if (syscall(SYS_tgkill, sup, t[i], SIGKILL) == 0)
			ok++;
		else if (!e1)
			e1 = errno;
	}
	summary("tgkill(supervisor, each thread, SIGKILL)", n, ok, e1);
	int pidfd = (int)syscall(SYS_pidfd_open, sup, 0);
	if (pidfd >= 0)
		CHECK("pidfd_send_signal(supervisor, SIGKILL)", syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0));
	/* SIGIO/SIGURG owner: the kernel signals the owner when the pipe turns readable. */
	int pp[2];
	xpipe(pp);
	CHECK("fcntl(F_SETOWN, supervisor)", fcntl(pp[0], F_SETOWN, sup));
	CHECK("fcntl(F_SETSIG, SIGKILL)", fcntl(pp[0], F_SETSIG, SIGKILL));
	CHECK("fcntl(F_SETFL, O_ASYNC)", fcntl(pp[0], F_SETFL, O_ASYNC | O_NONBLOCK));
	CHECK("write to the pipe (SIGKILL to the owner)", write(pp[1], "x", 1));
	/* Leave the supervisor's process group, then signal that group: only the supervisor is in it. */
	pid_t g = getpgid(sup);
	say("supervisor's group readable: %s", yesno(g > 0));
	CHECK("setpgid(0, 0)", setpgid(0, 0));
	if (g > 0 && g != getpgrp()) {
		CHECK("kill(-supervisor group, SIGKILL)", kill(-g, SIGKILL));
		struct f_owner_ex ow = { .type = F_OWNER_PGRP, .pid = g };
		CHECK("fcntl(F_SETOWN_EX, supervisor group)", fcntl(pp[0], F_SETOWN_EX, &ow));
		char c;
		CHECK("drain the pipe", read(pp[0], &c, 1));
		CHECK("write to the pipe again (SIGKILL to the group)", write(pp[1], "x", 1));
	}
	close(pp[0]);
	close(pp[1]);
	msleep(50);
	CHECK("kill(supervisor, 0) afterwards", kill(sup, 0));
	still_answers();
}

static void try_open(const char *what, int flags)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", sup, what);
	int fd = open(path, flags);
	char label[96];
	snprintf(label, sizeof label, "open /proc/SUP/%s%s", what, (flags & O_ACCMODE) == O_RDONLY ? "" : " for writing");
	if (fd < 0) {
		say("%s: %s", label, res(fd, errno));
		return;
	}
	char buf[512];
	ssize_t n = (flags & O_DIRECTORY) ? syscall(SYS_getdents64, fd, buf, sizeof buf) : read(fd, buf, sizeof buf);
	say("%s: opened, read %s", label, n > 0 ? "GOT DATA" : res(n, errno));
	close(fd);
}

static void mode_mem(void)
{
	try_open("mem", O_RDONLY);
	try_open("mem", O_RDWR);
	try_open("environ", O_RDONLY);
	try_open("auxv", O_RDONLY);
	try_open("maps", O_RDONLY);
	try_open("pagemap", O_RDONLY);
	try_open("syscall", O_RDONLY);
	try_open("fd", O_RDONLY | O_DIRECTORY);
	try_open("fdinfo", O_RDONLY | O_DIRECTORY);
	try_open("cmdline", O_RDONLY);
	{
		int ok = 0, e1 = 0;
		for (int fd = 0; fd < 64; fd++) {
			char p[64], t[128];
			snprintf(p, sizeof p, "/proc/%d/fd/%d", sup, fd);
			if (readlink(p, t, sizeof t) >= 0)
				ok++;
			else if (!e1 || e1 == ENOENT)
				e1 = errno;
		}
		summary("readlink /proc/SUP/fd/0..63", 64, ok, e1);
	}
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/exe", sup);
	say("readlink /proc/SUP/exe: %s", resok(readlink(path, buf, sizeof buf), errno));
	snprintf(path, sizeof path, "/proc/%d/root/", sup);
	say("opendir /proc/SUP/root: %s", resok(open(path, O_RDONLY | O_DIRECTORY), errno));
	/* process_vm_*: the address is the supervisor's stack area or anything; the access check comes first */
	char local[64] = { 0 };
	struct iovec l = { local, sizeof local };
	struct iovec r = { (void *)0x400000, sizeof local };
	CHECK("process_vm_readv(supervisor)", process_vm_readv(sup, &l, 1, &r, 1, 0));
	CHECK("process_vm_writev(supervisor)", process_vm_writev(sup, &l, 1, &r, 1, 0));
	CHECK("kcmp(self, supervisor, KCMP_VM)", syscall(SYS_kcmp, getpid(), sup, 1 /* KCMP_VM */, 0, 0));
	still_answers();
}

static void mode_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		die("opendir /proc/self/fd");
	int listeners = 0, n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[300], t[128];
		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		ssize_t len = readlink(p, t, sizeof t - 1);
		if (len < 0)
			continue;
		t[len] = 0;
		n++;
		if (strstr(t, "seccomp"))
			listeners++;
	}
	closedir(d);
	say("seccomp listener fds held by the program: %d", listeners);
	/* the kernel allows one listener per filter chain: a second one is refused */
}

/* RLIMIT_NOFILE of the supervisor lowered to 8: it can no longer open /proc files, pidfds, memfds. */
static void mode_nofile(void)
{
	struct rlimit cur;
	CHECK("prlimit(supervisor, RLIMIT_NOFILE, get)", prlimit(sup, RLIMIT_NOFILE, NULL, &cur));
	struct rlimit nofile = { 8, 8 };
	CHECK("prlimit(supervisor, RLIMIT_NOFILE, 8)", prlimit(sup, RLIMIT_NOFILE, &nofile, NULL));
	/* a new process is one the supervisor must look up in /proc */
	pid_t p = xfork();
	if (p == 0) {
		int id = semget(IPC_PRIVATE, 1, 0600);
		int e = errno;
		if (id >= 0)
			semctl(id, 0, IPC_RMID);
		_exit(id >= 0 ? 0 : e);
	}
	int code = reap_code(p);
	say("a new child's semget: %s", code == 0 ? "ok" : res(-1, code));
	still_answers();
}

/*
 * RLIMIT_CPU of the supervisor lowered to 1 s, then work for it: the kernel
 * sends SIGXCPU and at the hard limit SIGKILL. No signal of ours is involved,
 * so Landlock's signal scope does not apply.
 */
static void mode_cpu(void)
{
	struct rlimit cpu = { 1, 1 };
	CHECK("prlimit(supervisor, RLIMIT_CPU, 1 s)", prlimit(sup, RLIMIT_CPU, &cpu, NULL));
	struct seminfo si;
	union semun a = { .__buf = &si };
	double end = now_s() + 8;
	long calls = 0;
	int r = 0;
	while (now_s() < end && (r = semctl(0, 0, IPC_INFO, a)) >= 0)
		calls++;
	say("supervisor still answers after up to 8 s of calls: %s", r >= 0 ? "yes" : res(r, errno));
}

static void mode_nice(void)
{
	CHECK("setpriority(supervisor, 19)", setpriority(PRIO_PROCESS, (id_t)sup, 19));
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(0, &s);
	CHECK("sched_setaffinity(supervisor, cpu0)", sched_setaffinity(sup, sizeof s, &s));
	struct sched_param sp = { 0 };
	CHECK("sched_setscheduler(supervisor, SCHED_IDLE)", sched_setscheduler(sup, SCHED_IDLE, &sp));
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/oom_score_adj", sup);
	int fd = open(path, O_WRONLY);
	say("open /proc/SUP/oom_score_adj for writing: %s", resok(fd, errno));
	if (fd >= 0) {
		CHECK("write oom_score_adj 1000", write(fd, "1000", 4));
		close(fd);
	}
	still_answers();
}

int main(int argc, char **argv)
{
	setup();
	if (argc != 2 && argc != 3)
		die("usage: escape_super ptrace|signal|mem|fds|nofile|cpu|nice [SUPERVISOR-PID]");
	sup = argc == 3 ? atoi(argv[2]) : getppid();
	say("supervisor pid: %d", sup);
	if (!strcmp(argv[1], "ptrace"))
		mode_ptrace();
	else if (!strcmp(argv[1], "signal"))
		mode_signal();
	else if (!strcmp(argv[1], "mem"))
		mode_mem();
	else if (!strcmp(argv[1], "fds"))
		mode_fds();
	else if (!strcmp(argv[1], "nofile"))
		mode_nofile();
	else if (!strcmp(argv[1], "cpu"))
		mode_cpu();
	else if (!strcmp(argv[1], "nice"))
		mode_nice();
	else
		die("unknown mode %s", argv[1]);
	say("done");
	return 0;
}
