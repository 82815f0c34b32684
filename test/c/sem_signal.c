/* Signals and a blocked semop: Linux never restarts semop/semtimedop, so a
 * handled signal gives EINTR even with SA_RESTART; so does SIGSTOP+SIGCONT
 * without any handler (signal(7)). Blocked and ignored signals do not
 * interrupt. After EINTR the waiter is gone (GETNCNT 0, a later post is not
 * consumed), and calling semop again from the same place blocks again. */
#include "common.h"

enum { M_RESTART, M_NORESTART, M_STOPCONT, M_BLOCKED, M_IGNORED, M_SIGCHLD,
       M_HANDLER_SEMOP, M_TIMED_RESTART, M_TIMED_STOPCONT, M_ZERO_RESTART,
       M_RETRY_LOOP };

static int id;
static int rfd[2], gofd[2];
static volatile sig_atomic_t handled;

static void on_usr1(int s) { (void)s; handled++; }

static void on_usr1_semop(int s)
{
	(void)s;
	int e = errno;
	struct sembuf b = { 1, 1, IPC_NOWAIT };
	if (semop(id, &b, 1) == 0)
		handled++;
	errno = e;
}

static void set_handler(void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die("sigaction");
}

static void child(int mode)
{
	int r, e;
	struct sembuf b = { 0, -1, 0 };
	struct timespec ts = { 10, 0 };
	char m[128];
	switch (mode) {
	case M_RESTART: case M_TIMED_RESTART: case M_ZERO_RESTART: case M_RETRY_LOOP:
		set_handler(on_usr1, SA_RESTART); break;
	case M_NORESTART: set_handler(on_usr1, 0); break;
	case M_HANDLER_SEMOP: set_handler(on_usr1_semop, SA_RESTART); break;
	case M_BLOCKED: {
		set_handler(on_usr1, SA_RESTART);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		sigprocmask(SIG_BLOCK, &s, NULL);
		break;
	}
	case M_IGNORED: signal(SIGUSR1, SIG_IGN); break;
	case M_SIGCHLD: {
		signal(SIGCHLD, SIG_DFL);
		pid_t g = fork();
		if (g == 0) { msleep(100); _exit(0); }
		if (g < 0) die("fork");
		break;
	}
	}
	if (mode == M_ZERO_RESTART)
		b.sem_op = 0, b.sem_num = 1;
	if (mode == M_RETRY_LOOP) {
		int eintr = 0;
		while ((r = semop(id, &b, 1)) < 0 && errno == EINTR) {
			eintr++;
			send_line(rfd[1], "EINTR, retrying");
		}
		e = errno;
		snprintf(m, sizeof m, "%s after %d EINTR, handled %d", res(r, e), eintr, (int)handled);
		send_line(rfd[1], m);
		_exit(0);
	}
	if (mode == M_TIMED_RESTART || mode == M_TIMED_STOPCONT)
		r = semtimedop(id, &b, 1, &ts);
	else
		r = semop(id, &b, 1);
	e = errno;
	snprintf(m, sizeof m, "%s handled %d", res(r, e), (int)handled);
	send_line(rfd[1], m);
	if (mode == M_SIGCHLD)
		while (wait(NULL) > 0)
			;
	wait_go(gofd[0]); /* stay alive while the parent checks the set */
	_exit(0);
}

static void run(const char *label, int mode)
{
	char buf[128];
	int zero = (mode == M_ZERO_RESTART);
	if (zero)
		setval(id, 1, 1);
	pid_t c = xfork();
	if (c == 0)
		child(mode);
	if (zero)
		wait_zcnt(id, 1, 1);
	else
		wait_ncnt(id, 0, 1);
	switch (mode) {
	case M_STOPCONT: case M_TIMED_STOPCONT: {
		int st;
		kill(c, SIGSTOP);
		if (waitpid(c, &st, WUNTRACED) < 0 || !WIFSTOPPED(st))
			die("child did not stop");
		kill(c, SIGCONT);
		break;
	}
	case M_SIGCHLD:
		msleep(300);
		break;
	default:
		kill(c, SIGUSR1);
	}
	if (mode == M_BLOCKED || mode == M_IGNORED || mode == M_SIGCHLD) {
		msleep(50);
		say("%s: still waiting: ncnt %d", label, getncnt(id, 0));
		xsop(id, 0, 1, 0);
	}
	if (mode == M_RETRY_LOOP) {
		say("%s: %s", label, recv_line(rfd[0], buf, sizeof buf));
		wait_ncnt(id, 0, 1);
		say("%s: blocked again: ncnt %d", label, getncnt(id, 0));
		xsop(id, 0, 1, 0);
	}
	say("%s: %s", label, recv_line(rfd[0], buf, sizeof buf));
	say("%s: after: ncnt %d zcnt %d", label, getncnt(id, 0), getzcnt(id, 1));
	if (mode != M_BLOCKED && mode != M_IGNORED && mode != M_SIGCHLD && mode != M_RETRY_LOOP) {
		/* the interrupted waiter must not take a later post */
		xsop(id, 0, 1, 0);
		msleep(20);
		say("%s: value after a later post: %d", label, getval(id, 0));
		setval(id, 0, 0);
	}
	say("%s: values %d %d", label, getval(id, 0), getval(id, 1));
	setval(id, 1, 0);
	send_go(gofd[1]);
	reap_ok(c);
}

int main(void)
{
	setup();
	id = sem_private(2);
	xpipe(rfd);
	xpipe(gofd);
	run("SA_RESTART handler", M_RESTART);
	run("handler without SA_RESTART", M_NORESTART);
	run("SIGSTOP+SIGCONT", M_STOPCONT);
	run("blocked SIGUSR1", M_BLOCKED);
	run("ignored SIGUSR1", M_IGNORED);
	run("SIGCHLD default", M_SIGCHLD);
	run("handler doing semop", M_HANDLER_SEMOP);
	run("semtimedop SA_RESTART", M_TIMED_RESTART);
	run("semtimedop SIGSTOP+SIGCONT", M_TIMED_STOPCONT);
	run("zero-wait SA_RESTART", M_ZERO_RESTART);
	run("retry loop SA_RESTART", M_RETRY_LOOP);
	sem_rm(id);
	say("done");
	return 0;
}
