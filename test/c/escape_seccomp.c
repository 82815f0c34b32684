/*
 * escape_seccomp KEY MODE - the program installs seccomp filters of its own
 * (allowed: filters stack, and the strictest action wins) or rewrites a
 * syscall under ptrace, trying to get a semaphore call past the emulation:
 *   allow    a filter returning ALLOW for everything: USER_NOTIF outranks it
 *   trace    a filter returning TRACE for the semaphore calls: outranked too
 *   listener a second filter with its own listener (to answer CONTINUE to its
 *            own semget): the kernel refuses a second listener (EBUSY)
 *   errno    a filter returning ERRNO(EPERM) for semget: it outranks
 *            USER_NOTIF, the program only restricts itself
 *   notif    a filter returning USER_NOTIF without a listener: ENOSYS
 *   ptrace   a traced child's getpid is rewritten into semget(KEY) at the
 *            syscall-entry stop; seccomp runs after that stop and sees semget
 * KEY (decimal) names the set made where it matters; the test checks that it
 * exists in the sandbox (/proc/sysvipc/sem is the supervisor's view) and
 * not on the host. Each set made is removed before exit.
 */
#include "common.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>

#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

static key_t key;

/* A filter: for syscalls in nrs[] return `hit`, for the rest ALLOW. */
static long install(const int *nrs, int n, unsigned hit, unsigned flags)
{
	struct sock_filter f[32];
	int k = 0;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n; i++)
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], (unsigned char)(n - i), 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, hit);
	struct sock_fprog prog = { .len = (unsigned short)k, .filter = f };
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* Does the supervisor's /proc/sysvipc/sem list KEY? (It lists only emulated sets.) */
static const char *listed(void)
{
	FILE *f = fopen("/proc/sysvipc/sem", "r");
	if (!f)
		return "cannot open";
	char line[512];
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (atol(line) == (long)key && line[0] != 'k')
			found = 1;
	fclose(f);
	return found ? "yes" : "no";
}

/* Make the KEY set, say whether the supervisor knows it, use it, remove it. */
static void probe(void)
{
	int id = semget(key, 1, IPC_CREAT | 0600);
	say("semget(KEY): %s", resok(id, errno));
	if (id < 0)
		return;
	track_set(id);
	say("listed in the sandbox's /proc/sysvipc/sem: %s", listed());
	CHECK("semop +1", sop1(id, 0, 1, IPC_NOWAIT));
	CHECK("GETVAL", semctl(id, 0, GETVAL));
	/* ESCAPE_KEEP=1: leave it, for the test to find in the supervisor's final state (and not on the host) */
	const char *keep = getenv("ESCAPE_KEEP");
	if (keep && !strcmp(keep, "1"))
		untrack_set(id);
	else
		sem_rm(id);
}

static const int SEMCALLS[] = { SYS_semget, SYS_semop, SYS_semtimedop, SYS_semctl };

static void mode_ptrace(void)
{
	pid_t p = xfork();
	if (p == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(90);
		raise(SIGSTOP);
		long r = syscall(SYS_getpid); /* becomes semget(KEY, 1, IPC_CREAT|0600) */
		_exit(r >= 0 && r != getpid() ? 0 : 91);
	}
	int st;
	TRY(waitpid(p, &st, 0)); /* the SIGSTOP */
	TRY(ptrace(PTRACE_SETOPTIONS, p, 0, PTRACE_O_TRACESYSGOOD));
	int rewritten = 0;
	for (int i = 0; i < 200; i++) {
		TRY(ptrace(PTRACE_SYSCALL, p, 0, 0));
		TRY(waitpid(p, &st, 0));
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (!(WIFSTOPPED(st) && WSTOPSIG(st) == (SIGTRAP | 0x80)))
			continue;
		struct user_regs_struct regs;
		TRY(ptrace(PTRACE_GETREGS, p, 0, &regs));
		if (!rewritten && regs.orig_rax == SYS_getpid) {
			regs.orig_rax = SYS_semget;
			regs.rdi = (unsigned long)key;
			regs.rsi = 1;
			regs.rdx = IPC_CREAT | 0600;
			TRY(ptrace(PTRACE_SETREGS, p, 0, &regs));
			rewritten = 1;
		}
	}
	if (!WIFEXITED(st) && !WIFSIGNALED(st)) {
		ptrace(PTRACE_DETACH, p, 0, 0);
		TRY(waitpid(p, &st, 0));
	}
	untrack_kid(p);
	say("rewrote getpid into semget: %s", yesno(rewritten));
	say("child: %s", WIFEXITED(st) ? (WEXITSTATUS(st) == 0 ? "its getpid returned a set id" : "its getpid returned a pid")
				       : "killed");
	say("listed in the sandbox's /proc/sysvipc/sem: %s", listed());
	int id = semget(key, 0, 0);
	if (id >= 0)
		sem_rm(id);
}

int main(int argc, char **argv)
{
	setup();
	if (argc != 3)
		die("usage: escape_seccomp KEY allow|trace|listener|errno|notif|ptrace");
	key = (key_t)atol(argv[1]);
	const char *m = argv[2];
	int getppid_nr[] = { SYS_getppid };
	if (!strcmp(m, "allow")) {
		CHECK("install ALLOW-everything filter", install(NULL, 0, SECCOMP_RET_ALLOW, 0));
		probe();
	} else if (!strcmp(m, "trace")) {
		CHECK("install TRACE filter for the semaphore calls", install(SEMCALLS, 4, SECCOMP_RET_TRACE, 0));
		probe();
	} else if (!strcmp(m, "listener")) {
		long fd = install(SEMCALLS, 4, SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
		say("install USER_NOTIF filter with a new listener: %s", resok(fd, errno));
		CHECK("install USER_NOTIF filter with a listener for getppid only", install(getppid_nr, 1, SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER));
		probe();
	} else if (!strcmp(m, "errno")) {
		int nr[] = { SYS_semget };
		CHECK("install ERRNO(EPERM) filter for semget", install(nr, 1, SECCOMP_RET_ERRNO | EPERM, 0));
		CHECK("semget(KEY)", semget(key, 1, IPC_CREAT | 0600));
	} else if (!strcmp(m, "notif")) {
		int nr[] = { SYS_semget };
		CHECK("install USER_NOTIF filter without a listener for semget", install(nr, 1, SECCOMP_RET_USER_NOTIF, 0));
		CHECK("semget(KEY)", semget(key, 1, IPC_CREAT | 0600));
	} else if (!strcmp(m, "ptrace")) {
		mode_ptrace();
	} else {
		die("unknown mode %s", m);
	}
	say("done");
	return 0;
}
