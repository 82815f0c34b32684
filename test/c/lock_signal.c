/* Signals and a sleeping F_SETLKW / F_OFD_SETLKW / flock: a handler
 * without SA_RESTART makes the call fail with EINTR (and the request is
 * gone: the lock is not taken later); with SA_RESTART, and after
 * SIGSTOP+SIGCONT, Linux restarts the call, which sleeps again and gets
 * the lock when it is released. A blocked signal does not interrupt. A
 * handler may take other locks meanwhile. */
#include "lock_common.h"

enum { M_RESTART, M_NORESTART, M_STOPCONT, M_BLOCKED, M_HANDLER_LOCK, M_RETRY };
enum { K_POSIX, K_OFD, K_FLOCK };

static ino_t ino;
static int rep[2], sig[2];
static volatile sig_atomic_t handled;
static int g_fd;

static void on_usr1(int s)
{
	(void)s;
	int e = errno;
	handled++;
	if (write(sig[1], "h", 1) != 1)
		_exit(97);
	errno = e;
}

static void on_usr1_lock(int s)
{
	(void)s;
	int e = errno;
	struct flock fl = mkfl(F_WRLCK, SEEK_SET, 80, 1);
	if (fcntl(g_fd, F_SETLK, &fl) == 0)
		handled++;
	if (write(sig[1], "h", 1) != 1)
		_exit(97);
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

static int lock_call(int kind, int fd)
{
	if (kind == K_FLOCK)
		return flock(fd, LOCK_EX);
	struct flock fl = mkfl(F_WRLCK, SEEK_SET, 0, 10);
	return fcntl(fd, kind == K_OFD ? F_OFD_SETLKW : F_SETLKW, &fl);
}

static void child(int mode, int kind)
{
	int fd = xopen("f", O_RDWR);
	g_fd = fd;
	switch (mode) {
	case M_RESTART: case M_RETRY: set_handler(on_usr1, SA_RESTART); break;
	case M_NORESTART: set_handler(on_usr1, 0); break;
	case M_HANDLER_LOCK: set_handler(on_usr1_lock, SA_RESTART); break;
	case M_BLOCKED: {
		set_handler(on_usr1, SA_RESTART);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		sigprocmask(SIG_BLOCK, &s, NULL);
		break;
	}
	}
	char m[128];
	int r, e, eintr = 0;
	if (mode == M_RETRY) {
		set_handler(on_usr1, 0);
		while ((r = lock_call(kind, fd)) < 0 && errno == EINTR) {
			eintr++;
			send_line(rep[1], "EINTR, retrying");
		}
	} else {
		r = lock_call(kind, fd);
	}
	e = errno;
	snprintf(m, sizeof m, "%s handled %d eintr %d", res(r, e), (int)handled, eintr);
	send_line(rep[1], m);
	for (;;) /* keep the fd and the lock until the parent kills us */
		pause();
}

static void run(const char *label, int mode, int kind, int holder)
{
	char buf[128];
	pid_t c = xfork();
	if (c == 0)
		child(mode, kind);
	name_pid(c, "child");
	wait_waiters(ino, 1);
	char h;
	switch (mode) {
	case M_STOPCONT: {
		int st;
		kill(c, SIGSTOP);
		if (waitpid(c, &st, WUNTRACED) < 0 || !WIFSTOPPED(st))
			die("child did not stop");
		kill(c, SIGCONT);
		break;
	}
	case M_BLOCKED:
		kill(c, SIGUSR1);
		msleep(50);
		break;
	default:
		kill(c, SIGUSR1);
		if (read(sig[0], &h, 1) != 1)
			die("handler byte");
	}
	if (mode == M_NORESTART) {
		say("%s: %s", label, recv_line(rep[0], buf, sizeof buf));
		say("%s: waiters now %d", label, (wait_waiters(ino, 0), 0));
	} else if (mode == M_RETRY) {
		say("%s: %s", label, recv_line(rep[0], buf, sizeof buf));
		wait_waiters(ino, 1);
		say("%s: sleeps again", label);
	} else {
		wait_waiters(ino, 1);
		say("%s: still sleeping", label);
	}
	/* release */
	if (kind == K_FLOCK)
		TRY(flock(holder, LOCK_UN));
	else if (kind == K_OFD) {
		struct flock fl = mkfl(F_UNLCK, SEEK_SET, 0, 0);
		TRY(fcntl(holder, F_OFD_SETLK, &fl));
	} else
		TRY(lk(holder, F_SETLK, F_UNLCK, 0, 0));
	if (mode != M_NORESTART)
		say("%s: %s", label, recv_line(rep[0], buf, sizeof buf));
	show_proc_locks("  locks", ino);
	kill(c, SIGKILL);
	reap(c);
	for (int i = 0; i < 10000 && proc_locks_count(ino, NULL) > 0; i++)
		msleep(1);
	/* take the lock again for the next round */
	if (kind == K_FLOCK)
		TRY(flock(holder, LOCK_EX));
	else if (kind == K_OFD) {
		struct flock fl = mkfl(F_WRLCK, SEEK_SET, 0, 10);
		TRY(fcntl(holder, F_OFD_SETLK, &fl));
	} else
		TRY(lk(holder, F_SETLK, F_WRLCK, 0, 10));
}

int main(void)
{
	setup();
	name_pid(getpid(), "parent");
	int fd = make_file("f", 100);
	ino = ino_of(fd);
	xpipe(rep);
	xpipe(sig);

	TRY(lk(fd, F_SETLK, F_WRLCK, 0, 10));
	run("F_SETLKW, SA_RESTART handler", M_RESTART, K_POSIX, fd);
	run("F_SETLKW, handler without SA_RESTART", M_NORESTART, K_POSIX, fd);
	run("F_SETLKW, SIGSTOP+SIGCONT", M_STOPCONT, K_POSIX, fd);
	run("F_SETLKW, blocked SIGUSR1", M_BLOCKED, K_POSIX, fd);
	run("F_SETLKW, handler taking a lock", M_HANDLER_LOCK, K_POSIX, fd);
	run("F_SETLKW, retry loop without SA_RESTART", M_RETRY, K_POSIX, fd);
	TRY(lk(fd, F_SETLK, F_UNLCK, 0, 0));

	int ofd = xopen("f", O_RDWR);
	struct flock o = mkfl(F_WRLCK, SEEK_SET, 0, 10);
	TRY(fcntl(ofd, F_OFD_SETLK, &o));
	run("F_OFD_SETLKW, SA_RESTART handler", M_RESTART, K_OFD, ofd);
	run("F_OFD_SETLKW, handler without SA_RESTART", M_NORESTART, K_OFD, ofd);
	close(ofd);

	int ffd = xopen("f", O_RDWR);
	TRY(flock(ffd, LOCK_EX));
	run("flock, SA_RESTART handler", M_RESTART, K_FLOCK, ffd);
	run("flock, handler without SA_RESTART", M_NORESTART, K_FLOCK, ffd);
	run("flock, SIGSTOP+SIGCONT", M_STOPCONT, K_FLOCK, ffd);
	close(ffd);
	say("done");
	return 0;
}
