/*
 * sysvisor-launch: the first process of a sandbox.
 *
 * The supervisor spawns it with a control socket on fd 3 and writes a
 * configuration, one directive a line:
 *
 *   filter <hex of struct sock_filter[]>   the seccomp program (required)
 *   fs <access bits> <path>                a Landlock path_beneath rule
 *   ipc private|auto|host                  the IPC namespace (default host)
 *   pid private|auto|host                  the PID namespace (default host)
 *   view <fd> <mode> <path>                a [proc] view: mount the supervisor's FUSE
 *                                          connection (/dev/fuse, inherited on fd) over
 *                                          path, a file of that octal mode
 *   view-fallback <hex of sock_filter[]>   the program to install instead when the
 *                                          views cannot be mounted (proc.views "auto")
 *   go                                     end of configuration
 *
 * The launcher enters a new IPC namespace as asked, mounts the views in a
 * private mount namespace (over a /proc of the sandbox's own in a new PID
 * namespace, see pidns_launch), sets no_new_privs,
 * enters a Landlock domain (always, so that the target can neither ptrace nor
 * signal the supervisor), installs the filter with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER, reports "listener <fd> ipc=private" (or
 * "ipc=host" and why), a tab and "views=fuse" ("none" without view lines,
 * "notify" and why after a fallback), a tab and "pid=private" (or "host" and
 * why), a tab and "init=<pid>" (the process holding the listener fd, 0: the
 * launcher) on the control socket, waits for the supervisor to copy
 * the fd (pidfd_getfd) and acknowledge with one byte, closes every descriptor
 * the target must not inherit and execs the target.  Every failure is reported
 * on the control socket ("error <text>") and on stderr, with what was
 * attempted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pidns.h"

#define CONTROL_FD 3
#define MAX_CONFIG (1 << 20)
#define MAX_VIEWS 8

/* Landlock ABI, defined here because the build machine's headers may predate it. */
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#define LANDLOCK_RULE_PATH_BENEATH 1
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_TRUNCATE (1ULL << 14)
#define FS_IOCTL_DEV (1ULL << 15)
#define FS_FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)

struct landlock_ruleset_attr_v6 {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct landlock_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

static char config[MAX_CONFIG + 1];

static void fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "sysvisor-launch: %s\n", msg);
	dprintf(CONTROL_FD, "error %s\n", msg);
	_exit(125);
}

static void read_config(void)
{
	size_t used = 0;
	while (used < MAX_CONFIG) {
		ssize_t n = read(CONTROL_FD, config + used, MAX_CONFIG - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("read configuration from fd %d: %s", CONTROL_FD, strerror(errno));
		if (n == 0)
			fail("configuration ended before \"go\" (supervisor gone?)");
		used += (size_t)n;
		config[used] = 0;
		if (used >= 3 && strcmp(config + used - 3, "go\n") == 0 &&
		    (used == 3 || config[used - 4] == '\n'))
			return;
	}
	fail("configuration larger than %d bytes", MAX_CONFIG);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

static struct sock_filter *parse_filter(const char *hex, size_t len, unsigned short *count)
{
	if (len == 0 || len % 16 != 0 || len / 16 > BPF_MAXINSNS)
		fail("filter: %zu hex digits is not a whole program of 1..%d instructions", len, BPF_MAXINSNS);
	unsigned char *bytes = malloc(len / 2);
	if (!bytes)
		fail("filter: out of memory");
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			fail("filter: bad hex digit at offset %zu", 2 * i);
		bytes[i] = (unsigned char)(hi << 4 | lo);
	}
	*count = (unsigned short)(len / 16);
	return (struct sock_filter *)bytes;
}

static int landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

static uint64_t fs_rights_for_abi(int abi)
{
	uint64_t all = (1ULL << 13) - 1;  /* ABI 1: EXECUTE .. MAKE_SYM */
	if (abi >= 2) all |= 1ULL << 13;  /* REFER */
	if (abi >= 3) all |= FS_TRUNCATE;
	if (abi >= 5) all |= FS_IOCTL_DEV;
	return all;
}

/* Enter a Landlock domain built from the "fs" lines (an unrestricted manifest sends "/" with every right). */
static void apply_landlock(char *lines)
{
	int abi = landlock_abi();
	if (abi < 1)
		fail("Landlock is not available (landlock_create_ruleset: %s); sysvisor needs it to keep the target from tracing the supervisor", strerror(errno));
	uint64_t handled = fs_rights_for_abi(abi);
	struct landlock_ruleset_attr_v6 attr = { .handled_access_fs = handled };
	size_t attr_size = 2 * sizeof(uint64_t);
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
		attr_size = sizeof attr;
	} else if (abi < 4) {
		attr_size = sizeof(uint64_t);
	}
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset < 0)
		fail("landlock_create_ruleset (ABI %d): %s", abi, strerror(errno));

	int rules = 0;
	for (char *line = strtok(lines, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned long long access;
		int offset;
		if (strncmp(line, "fs ", 3) != 0)
			continue;
		if (sscanf(line + 3, "%llu %n", &access, &offset) != 1)
			fail("bad configuration line \"%s\"", line);
		const char *path = line + 3 + offset;
		int fd = open(path, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;  /* an allowlist may name paths other distributions lack */
			fail("open allowlisted path %s: %s", path, strerror(errno));
		}
		struct stat st;
		if (fstat(fd, &st) < 0)
			fail("stat allowlisted path %s: %s", path, strerror(errno));
		struct landlock_path_beneath_attr pb = { .allowed_access = access & handled, .parent_fd = fd };
		if (!S_ISDIR(st.st_mode))
			pb.allowed_access &= FS_FILE_RIGHTS;
		if (pb.allowed_access &&
		    syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
			fail("landlock_add_rule %s (access 0x%llx): %s", path, (unsigned long long)pb.allowed_access, strerror(errno));
		close(fd);
		rules++;
	}
	if (rules == 0)
		fail("no usable Landlock rule (every allowlisted path is missing)");
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		fail("landlock_restrict_self: %s", strerror(errno));
	close(ruleset);
}

/* The value of the first configuration line "<name> <value>": *len bytes, not NUL-terminated; NULL if none. */
static const char *directive(const char *name, size_t *len)
{
	size_t n = strlen(name);
	for (const char *p = config; *p; p = strchr(p, '\n') + 1) {  /* every line ends in \n ("go\n" last) */
		if (strncmp(p, name, n) == 0 && p[n] == ' ') {
			*len = (size_t)(strchr(p, '\n') - p) - n - 1;
			return p + n + 1;
		}
	}
	return NULL;
}

/*
 * A private IPC namespace puts the host's SysV objects, the files in /proc/sysvipc and
 * the kernel.sem/shm/msg sysctls out of reach by any path: a renamed symlink,
 * /proc/self/cwd or io_uring open the namespace's files, not the host's
 * (ipc/util.c and ipc/ipc_sysctl.c resolve them through the opener's
 * nsproxy). The emulated semaphores do not depend on it.  Returns "private",
 * or "host" followed by the reason.
 */
static const char *enter_ipc_namespace(char *report, size_t len)
{
	size_t n;
	const char *value = directive("ipc", &n);
	char mode[16] = "host";
	if (value) {
		if (n >= sizeof mode)
			fail("configuration line \"ipc\" is too long");
		memcpy(mode, value, n);
		mode[n] = 0;
	}
	if (strcmp(mode, "host") == 0)
		return "host (manifest: ipc.namespace = \"host\")";
	if (strcmp(mode, "private") != 0 && strcmp(mode, "auto") != 0)
		fail("unknown IPC namespace mode \"%s\"", mode);
	if (unshare(CLONE_NEWIPC) == 0)
		return "private";
	if (strcmp(mode, "private") == 0)
		fail("unshare(CLONE_NEWIPC) for ipc.namespace = \"private\": %s (needs CAP_SYS_ADMIN)", strerror(errno));
	snprintf(report, len, "host (unshare(CLONE_NEWIPC): %s)", strerror(errno));
	return report;
}

/*
 * The [proc] views: files the supervisor serves (its FUSE connections, one a
 * file), each mounted directly over the /proc file in a mount namespace of
 * the sandbox's own, so that opening them needs no notification. / is made a
 * slave first: nothing mounted here propagates to the host, and the host's
 * later mounts still reach the sandbox. The fds are closed whatever happens.
 * Returns "fuse", "none" without view lines, or (with a "view-fallback"
 * line) "notify (why)" after undoing the mounts; without a fallback a
 * failure stops the launch.
 */
/* Set once the launcher has a mount namespace of its own, / a slave (enter_pid_namespace). */
static int private_mounts;

static const char *mount_views(char *report, size_t len)
{
	struct { int fd; unsigned mode; char path[4096]; } views[MAX_VIEWS];
	int count = 0;
	for (const char *p = config; *p; p = strchr(p, '\n') + 1) {
		if (strncmp(p, "view ", 5) != 0)
			continue;
		size_t n = (size_t)(strchr(p, '\n') - p);
		int offset;
		if (count == MAX_VIEWS)
			fail("more than %d view lines", MAX_VIEWS);
		if (sscanf(p + 5, "%d %o %n", &views[count].fd, &views[count].mode, &offset) != 2 || 5 + (size_t)offset >= n ||
		    n - 5 - (size_t)offset >= sizeof views[count].path)
			fail("bad configuration line \"%.*s\"", (int)n, p);
		memcpy(views[count].path, p + 5 + offset, n - 5 - (size_t)offset);
		views[count].path[n - 5 - offset] = 0;
		count++;
	}
	if (count == 0)
		return "none";
	char why[512] = "";
	int mounted = 0;
	if (!private_mounts && unshare(CLONE_NEWNS) < 0) {
		snprintf(why, sizeof why, "unshare(CLONE_NEWNS): %s", strerror(errno));
	} else if (!private_mounts && mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		snprintf(why, sizeof why, "make / a slave mount (MS_REC|MS_SLAVE): %s", strerror(errno));
	} else {
		for (; mounted < count; mounted++) {
			char options[128];
			snprintf(options, sizeof options, "fd=%d,rootmode=%o,user_id=0,group_id=0,default_permissions,allow_other",
				 views[mounted].fd, S_IFREG | views[mounted].mode);
			if (mount("sysvisor", views[mounted].path, "fuse.sysvisor", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) < 0) {
				snprintf(why, sizeof why, "mount fuse.sysvisor (%s) on %s: %s", options, views[mounted].path, strerror(errno));
				break;
			}
		}
	}
	for (int i = 0; i < count; i++)
		close(views[i].fd);
	if (!why[0])
		return "fuse";
	size_t n;
	if (!directive("view-fallback", &n))
		fail("proc.views = \"fuse\": %s", why);
	for (int i = 0; i < mounted; i++)
		if (umount2(views[i].path, MNT_DETACH) < 0)
			fail("undo the view on %s after \"%s\": umount2: %s", views[i].path, why, strerror(errno));
	snprintf(report, len, "notify (%s)", why);
	return report;
}

/*
 * A PID namespace of the sandbox's own (with a mount namespace for its
 * /proc): the program's /proc then lists the sandbox's processes only, so
 * neither the supervisor nor a host process is there to read (environ,
 * cmdline, maps), and kill or any pid-taking call cannot name them. The
 * launcher stays outside, its next child is the namespace's pid 1. Returns
 * "private", or "host" followed by the reason.
 */
static const char *enter_pid_namespace(char *report, size_t len)
{
	size_t n;
	const char *value = directive("pid", &n);
	char mode[16] = "host";
	if (value) {
		if (n >= sizeof mode)
			fail("configuration line \"pid\" is too long");
		memcpy(mode, value, n);
		mode[n] = 0;
	}
	if (strcmp(mode, "host") == 0)
		return "host (manifest: proc.pid_namespace = \"host\")";
	if (strcmp(mode, "private") != 0 && strcmp(mode, "auto") != 0)
		fail("unknown PID namespace mode \"%s\"", mode);
	if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
		if (strcmp(mode, "private") == 0)
			fail("unshare(CLONE_NEWPID|CLONE_NEWNS) for proc.pid_namespace = \"private\": %s (needs CAP_SYS_ADMIN)", strerror(errno));
		snprintf(report, len, "host (unshare(CLONE_NEWPID|CLONE_NEWNS): %s)", strerror(errno));
		return report;
	}
	/* Nothing mounted here propagates to the host; the host's later mounts still reach the sandbox. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		fail("make / a slave mount (MS_REC|MS_SLAVE): %s", strerror(errno));
	private_mounts = 1;
	return "private";
}

/* no_new_privs, the Landlock domain and the seccomp filter for `views`; returns the listener fd. */
static int enter_sandbox(const char *views)
{
	/* Without the views mounted, the open family is notified instead: the fallback program. */
	const char *which = strncmp(views, "notify", 6) == 0 ? "view-fallback" : "filter";
	size_t hex_len;
	const char *filter_hex = directive(which, &hex_len);
	if (!filter_hex)
		fail("configuration has no %s line", which);
	unsigned short count;
	struct sock_filter *insns = parse_filter(filter_hex, hex_len, &count);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	apply_landlock(config);

	struct sock_fprog prog = { .len = count, .filter = insns };
	int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (listener < 0) {
		if (errno == EBUSY)
			fail("seccomp(NEW_LISTENER): %s: already running under a seccomp supervisor (nested sysvisor is not supported)", strerror(errno));
		fail("seccomp(SET_MODE_FILTER, NEW_LISTENER) with %u instructions: %s", count, strerror(errno));
	}
	free(insns);
	return listener;
}

/* One byte from `fd` ("go"); the process exits if the sender is gone: the target must not run unsupervised. */
static void await_go(int fd)
{
	char ack;
	ssize_t n;
	do
		n = read(fd, &ack, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(125);
}

static _Noreturn void exec_target(char **argv, int listener)
{
	close(listener);
	close(CONTROL_FD);
	execvp(argv[1], argv + 1);
	int err = errno;
	fprintf(stderr, "sysvisor: cannot execute %s: %s\n", argv[1], strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

/* The view fds init inherited from the launcher (which mounts and closes them). */
static void close_view_fds(void)
{
	int fd;
	for (const char *p = config; *p; p = strchr(p, '\n') + 1)
		if (strncmp(p, "view ", 5) == 0 && sscanf(p + 5, "%d", &fd) == 1)
			close(fd);
}

/*
 * pid 1 of the namespace: mounts its /proc, waits for the launcher to mount
 * the views over it, forks the program (pid 2), which enters the sandbox
 * and sends its listener fd number; init takes a copy (pidfd_getfd) for the
 * supervisor, and once the launcher says go lets the program exec, then
 * stays as its init.
 */
static _Noreturn void init_process(char **argv, int from_monitor, int to_monitor, const sigset_t *original)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);  /* the launcher gone, the namespace ends */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail("mount a /proc for the sandbox's PID namespace (proc on /proc): %s", strerror(errno));
	dprintf(to_monitor, "proc\n");
	char views[768];  /* mount_views' report and its newline */
	if (pidns_read_line(from_monitor, views, sizeof views) < 0)
		_exit(125);
	close_view_fds();
	int down[2], up[2];
	if (pipe2(down, O_CLOEXEC) < 0 || pipe2(up, O_CLOEXEC) < 0)
		fail("pipe2 between init and the program: %s", strerror(errno));
	pid_t program = fork();
	if (program < 0)
		fail("fork the program in the PID namespace: %s", strerror(errno));
	if (program == 0) {
		int listener = enter_sandbox(views);
		if (dprintf(up[1], "listener %d\n", listener) < 0)
			_exit(125);
		await_go(down[0]);
		sigprocmask(SIG_SETMASK, original, NULL);
		exec_target(argv, listener);
	}
	close(down[0]);
	close(up[1]);
	char line[64];
	int remote;
	if (pidns_read_line(up[0], line, sizeof line) >= 0 && sscanf(line, "listener %d", &remote) == 1) {
		int pidfd = (int)syscall(SYS_pidfd_open, program, 0);
		int listener = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, remote, 0);
		if (listener < 0) {
			kill(program, SIGKILL);
			fail("take the listener (fd %d) from the program with pidfd_getfd: %s", remote, strerror(errno));
		}
		close(pidfd);
		dprintf(to_monitor, "listener %d\n", listener);
		await_go(from_monitor);
		close(listener);
		close(CONTROL_FD);
		if (write(down[1], "g", 1) != 1)
			kill(program, SIGKILL);
	}
	close(down[1]);
	close(up[0]);
	close(from_monitor);
	pidns_init(program, to_monitor);
}

/*
 * The launch in a PID namespace: init (see init_process) holds the listener
 * the supervisor takes, its host pid goes in the report; the launcher then
 * stays as the monitor (pidns.c), so the supervisor's child still ends as
 * the program does.
 */
static _Noreturn void pidns_launch(char **argv, const char *ipc)
{
	sigset_t original;
	pidns_block_signals(&original);
	int down[2], up[2];
	if (pipe2(down, O_CLOEXEC) < 0 || pipe2(up, O_CLOEXEC) < 0)
		fail("pipe2 between the launcher and init: %s", strerror(errno));
	pid_t init = fork();
	if (init < 0)
		fail("fork the sandbox's init: %s", strerror(errno));
	if (init == 0) {
		close(down[1]);
		close(up[0]);
		init_process(argv, down[0], up[1], &original);
	}
	close(down[0]);
	close(up[1]);
	char line[64];
	int listener;
	if (pidns_read_line(up[0], line, sizeof line) < 0 || strcmp(line, "proc") != 0)
		pidns_monitor(init, up[0], NULL);  /* init reported why on the control socket */
	char views_report[640];
	const char *views = mount_views(views_report, sizeof views_report);
	line[0] = 0;
	if (dprintf(down[1], "%s\n", views) < 0 || pidns_read_line(up[0], line, sizeof line) < 0 ||
	    sscanf(line, "listener %d", &listener) != 1)
		pidns_monitor(init, up[0], line);  /* the program failed (it said why): its status may be that line */
	if (dprintf(CONTROL_FD, "listener %d ipc=%s\tviews=%s\tpid=private\tinit=%d\n", listener, ipc, views, (int)init) < 0)
		fail("report listener fd: %s", strerror(errno));
	await_go(CONTROL_FD);
	close(CONTROL_FD);
	if (write(down[1], "g", 1) != 1)
		kill(init, SIGKILL);
	close(down[1]);
	pidns_monitor(init, up[0], NULL);
}

int main(int argc, char **argv)
{
	/* A process with no SysV undo list (single-threaded, never cloned with
	 * CLONE_SYSVSEM): the supervisor compares others with it through kcmp. */
	if (argc == 2 && strcmp(argv[1], "--undo-reference") == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	if (argc < 2) {
		fprintf(stderr, "usage: sysvisor-launch PROGRAM [ARGS...] (run by the sysvisor supervisor, not by hand)\n");
		return 125;
	}
	struct stat control;
	if (fstat(CONTROL_FD, &control) < 0) {
		fprintf(stderr, "sysvisor-launch: no control socket on fd %d; run programs with `sysvisor run`\n", CONTROL_FD);
		return 125;
	}
	read_config();

	char ipc_report[256];
	const char *ipc = enter_ipc_namespace(ipc_report, sizeof ipc_report);
	char pid_report[256];
	const char *pid = enter_pid_namespace(pid_report, sizeof pid_report);
	if (strcmp(pid, "private") == 0)
		pidns_launch(argv, ipc);
	char views_report[640];
	const char *views = mount_views(views_report, sizeof views_report);
	int listener = enter_sandbox(views);
	if (dprintf(CONTROL_FD, "listener %d ipc=%s\tviews=%s\tpid=%s\tinit=0\n", listener, ipc, views, pid) < 0)
		fail("report listener fd: %s", strerror(errno));
	await_go(CONTROL_FD);
	exec_target(argv, listener);
}
