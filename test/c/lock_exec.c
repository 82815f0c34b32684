/* exec closes close-on-exec fds: if one names a file the process holds
 * POSIX locks on, they are all released; locks through fds that stay open
 * survive exec. A description whose last fd was close-on-exec loses its
 * OFD and flock locks. An exec that fails changes nothing. */
#include "lock_common.h"

static ino_t ino;
static int rep[2], go[2], gc[2];

/* The exec'd image: report, then obey the parent: 'c' closes fd, 'x' exits. */
static int after_exec(int rfd, int gfd, int fd)
{
	send_line(rfd, "execed");
	for (;;) {
		char c;
		if (read(gfd, &c, 1) != 1)
			_exit(3);
		if (c == 'x')
			_exit(0);
		if (c == 'c') {
			close(fd);
			send_line(rfd, "closed");
		}
	}
}

static void exec_self(int fd, const char *path)
{
	char a[16], b[16], c[16];
	snprintf(a, sizeof a, "%d", rep[1]);
	snprintf(b, sizeof b, "%d", go[0]);
	snprintf(c, sizeof c, "%d", fd);
	execl(path, "lock_exec", "after-exec", a, b, c, (char *)NULL);
}

enum { POSIX_CLOEXEC, POSIX_KEEP, POSIX_MIXED, OFD_CLOEXEC, OFD_KEEP, FLOCK_CLOEXEC, FLOCK_SHARED, EXEC_FAILS };

static void scenario(const char *label, int kind)
{
	char line[64];
	say("-- %s", label);
	pid_t c = xfork();
	if (c == 0) {
		int cloexec = kind == POSIX_CLOEXEC || kind == OFD_CLOEXEC || kind == FLOCK_CLOEXEC || kind == FLOCK_SHARED ||
			      kind == EXEC_FAILS;
		int fd = xopen("f", O_RDWR | (cloexec ? O_CLOEXEC : 0));
		if (kind == POSIX_MIXED)
			xopen("f", O_RDWR | O_CLOEXEC);
		if (kind == OFD_CLOEXEC || kind == OFD_KEEP) {
			struct flock o = mkfl(F_WRLCK, SEEK_SET, 0, 10);
			if (fcntl(fd, F_OFD_SETLK, &o) < 0)
				die("ofd");
		} else if (kind == FLOCK_CLOEXEC || kind == FLOCK_SHARED) {
			if (flock(fd, LOCK_EX) < 0)
				die("flock");
		} else if (lk(fd, F_SETLK, F_WRLCK, 0, 10) < 0) {
			die("lock");
		}
		if (kind == FLOCK_SHARED) {
			/* A grandchild keeps the description open across the exec. */
			pid_t g = fork();
			if (g == 0) {
				wait_go(gc[0]);
				_exit(0);
			}
		}
		send_line(rep[1], "locked");
		wait_go(go[0]);
		exec_self(fd, kind == EXEC_FAILS ? "/nonexistent/lock_exec" : "/proc/self/exe");
		send_line(rep[1], "exec failed");
		wait_go(go[0]);
		_exit(0);
	}
	name_pid(c, "child");
	recv_line(rep[0], line, sizeof line);
	show_proc_locks("  before exec", ino);
	send_go(go[1]);
	say("  child: %s", recv_line(rep[0], line, sizeof line));
	show_proc_locks("  after exec", ino);
	say("  probe write 0-9: %s", probe("f", F_GETLK, F_WRLCK, 0, 10));
	if (kind == POSIX_KEEP || kind == OFD_KEEP) {
		if (write(go[1], "c", 1) != 1)
			die("write");
		say("  child: %s", recv_line(rep[0], line, sizeof line));
		show_proc_locks("  after the exec'd image closed the fd", ino);
	}
	if (kind == FLOCK_SHARED)
		send_go(gc[1]); /* the grandchild exits */
	if (kind == EXEC_FAILS)
		send_go(go[1]);
	else if (write(go[1], "x", 1) != 1)
		die("write");
	reap_ok(c);
	for (int i = 0; i < 10000 && proc_locks_count(ino, NULL) > 0; i++)
		msleep(1); /* the grandchild's exit */
	show_proc_locks("  after exit", ino);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "after-exec") == 0)
		return after_exec(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	setup();
	int fd = make_file("f", 100);
	ino = ino_of(fd);
	close(fd);
	xpipe(rep);
	xpipe(go);
	xpipe(gc);
	scenario("POSIX lock through a close-on-exec fd", POSIX_CLOEXEC);
	scenario("POSIX lock through an fd that stays open", POSIX_KEEP);
	scenario("POSIX lock, a second fd is close-on-exec", POSIX_MIXED);
	scenario("OFD lock, only fd close-on-exec", OFD_CLOEXEC);
	scenario("OFD lock, fd stays open", OFD_KEEP);
	scenario("flock, only fd close-on-exec", FLOCK_CLOEXEC);
	scenario("flock, close-on-exec but shared with a grandchild", FLOCK_SHARED);
	scenario("exec fails", EXEC_FAILS);
	say("done");
	return 0;
}
