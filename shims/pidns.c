/*
 * The monitor and init of a sandbox in a PID namespace of its own.
 *
 * The program cannot be pid 1 itself: the kernel drops every signal sent to
 * a namespace's init that has no handler for it (SIGNAL_UNKILLABLE), so a
 * forwarded SIGTERM would not end it. Init (pid 1) and the monitor (the
 * launcher, the supervisor's child, outside the namespace) wait for signals
 * with sigwaitinfo and pass on those a process sent (si_code <= 0: kill,
 * sigqueue, tgkill). Those from the kernel, a terminal's SIGINT for one,
 * reach the whole process group, the program with it: passing them on too
 * would deliver them twice.
 */
#define _GNU_SOURCE
#include "pidns.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Faults stay with the task that caused them; job control keeps its default (a stopped terminal stops us too). */
static const int UNFORWARDED[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGTSTP, SIGTTIN, SIGTTOU };

void pidns_block_signals(sigset_t *original)
{
	sigset_t forwarded;
	sigfillset(&forwarded);
	for (size_t i = 0; i < sizeof UNFORWARDED / sizeof UNFORWARDED[0]; i++)
		sigdelset(&forwarded, UNFORWARDED[i]);
	signal(SIGCHLD, SIG_DFL);  /* ignored, exits would queue no SIGCHLD */
	sigprocmask(SIG_BLOCK, &forwarded, original);
}

int pidns_read_line(int fd, char *line, size_t len)
{
	size_t used = 0;
	while (used + 1 < len) {
		ssize_t n = read(fd, line + used, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (line[used] == '\n') {
			line[used] = 0;
			return (int)used;
		}
		used++;
	}
	return -1;
}

/* The next blocked signal; a signal a process sent goes on to `to` (if any). Returns the signal. */
static int next_signal(pid_t to)
{
	sigset_t blocked;
	sigprocmask(SIG_BLOCK, NULL, &blocked);
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&blocked, &info);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD && info.si_code <= 0 && to > 0)
			kill(to, sig);
		return sig;
	}
}

/*
 * Init and the monitor keep none of the program's stdio: the supervisor
 * looks for the holders of a locked description among its descendants, and
 * a copy here would keep an OFD or flock lock on the program's stdout alive.
 */
static void drop_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++)
		close(fd);
}

_Noreturn void pidns_init(pid_t program, int to_monitor)
{
	int status = 0;
	drop_stdio();
	for (;;) {
		if (next_signal(program) != SIGCHLD)
			continue;
		for (;;) {
			int st;
			pid_t done = waitpid(-1, &st, WNOHANG);
			if (done > 0) {
				if (done == program) {
					status = st;
					program = 0;
				}
				continue;
			}
			if (done < 0 && errno == ECHILD) {
				dprintf(to_monitor, "status %d\n", status);
				_exit(0);
			}
			break;
		}
	}
}

/* End as a process with wait status `st` did: the same exit code, or the same signal (without a core file). */
static _Noreturn void end_as(int st)
{
	if (WIFEXITED(st))
		_exit(WEXITSTATUS(st));
	int sig = WTERMSIG(st);
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	raise(sig);
	sigset_t only;
	sigemptyset(&only);
	sigaddset(&only, sig);
	sigprocmask(SIG_UNBLOCK, &only, NULL);
	_exit(128 + sig);
}

_Noreturn void pidns_monitor(pid_t init, int from_init, const char *read)
{
	int st;
	drop_stdio();
	for (;;) {
		if (next_signal(init) == SIGCHLD && waitpid(init, &st, WNOHANG) == init)
			break;
	}
	char line[64];
	int reported;
	if (read && sscanf(read, "status %d", &reported) == 1)
		end_as(reported);
	while (pidns_read_line(from_init, line, sizeof line) >= 0)
		if (sscanf(line, "status %d", &reported) == 1)
			end_as(reported);
	end_as(st);
}
