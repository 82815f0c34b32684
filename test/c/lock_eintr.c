/* close, dup2, dup3, the fcntl commands that do not wait (F_SETLK,
 * F_GETLK, F_GETFL) and flock with LOCK_NB or LOCK_UN never fail with EINTR
 * on Linux, and close always frees the fd, even while signals whose handler
 * lacks SA_RESTART keep arriving (a shell's SIGCHLD). Under sysvisor these
 * calls are notified and a signal can cut one off: they must still behave
 * as on Linux. */
#include "lock_common.h"

static volatile sig_atomic_t handled;

static void on_usr1(int s)
{
	(void)s;
	handled++;
}

static void run(const char *label, int sa_flags, int fd)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = sa_flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die("sigaction");
	handled = 0;
	int stop[2];
	xpipe(stop);
	pid_t parent = getpid();
	pid_t c = xfork();
	if (c == 0) {
		close(stop[1]);
		if (fcntl(stop[0], F_SETFL, O_NONBLOCK) < 0)
			die("nonblock");
		char x;
		while (read(stop[0], &x, 1) < 0 && errno == EAGAIN) {
			kill(parent, SIGUSR1);
			usleep(20);
		}
		_exit(0);
	}
	close(stop[0]);

	int close_eintr = 0, close_fail = 0, left_open = 0, dup_eintr = 0, dup_fail = 0, lk_eintr = 0, lk_fail = 0;
	for (int i = 0; i < 3000 || handled < 20; i++) {
		int d = dup(0);
		if (d < 0)
			die("dup");
		int r = dup2(fd, d); /* closes d's /dev/null first */
		if (r < 0)
			*(errno == EINTR ? &dup_eintr : &dup_fail) += 1;
		r = dup3(0, d, O_CLOEXEC);
		if (r < 0)
			*(errno == EINTR ? &dup_eintr : &dup_fail) += 1;
		r = close(d);
		if (r < 0)
			*(errno == EINTR ? &close_eintr : &close_fail) += 1;
		if (fcntl(d, F_GETFD) >= 0)
			left_open++;
		struct flock q = mkfl(F_WRLCK, SEEK_SET, 0, 1);
		long rs[] = { lk(fd, F_SETLK, F_WRLCK, 0, 1), fcntl(fd, F_GETLK, &q), fcntl(fd, F_GETFL),
			      flock(fd, LOCK_EX | LOCK_NB), flock(fd, LOCK_UN) };
		for (unsigned k = 0; k < sizeof rs / sizeof rs[0]; k++)
			if (rs[k] < 0)
				*(errno == EINTR ? &lk_eintr : &lk_fail) += 1;
		if (i > 1000000)
			die("no signals arrive");
	}
	close(stop[1]);
	reap_ok(c);
	say("%s: signals handled meanwhile: %s", label, yesno(handled > 0));
	say("%s: close failed with EINTR: %d, otherwise: %d", label, close_eintr, close_fail);
	say("%s: dup2/dup3 failed with EINTR: %d, otherwise: %d", label, dup_eintr, dup_fail);
	say("%s: fds left open after close: %d", label, left_open);
	say("%s: F_SETLK/F_GETLK/F_GETFL/flock LOCK_NB/LOCK_UN failed with EINTR: %d, otherwise: %d", label, lk_eintr,
	    lk_fail);
}

int main(void)
{
	setup();
	int fd = make_file("f", 10);
	if (lk(fd, F_SETLK, F_WRLCK, 0, 1) < 0) /* the process holds a lock: closes do real work */
		die("lock");
	run("handler without SA_RESTART", 0, fd);
	run("handler with SA_RESTART", SA_RESTART, fd);
	say("done");
	return 0;
}
