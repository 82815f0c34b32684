/* OFD locks belong to the open file description: fds from dup() and from
 * fork() share them, a second open() of the same file (even in the same
 * process) conflicts with them, as do the process's own POSIX locks. They
 * are released when the description's last fd closes, wherever that fd
 * lives, and not by closing other fds or by exit while another process
 * still has the description. F_GETLK shows an OFD owner as pid -1;
 * F_OFD_GETLK with F_UNLCK finds the description's own lock. */
#include "lock_common.h"

static ino_t ino;

static const char *ofd(int fd, int cmd, int type, off_t start, off_t len)
{
	struct flock fl = mkfl(type, SEEK_SET, start, len);
	errno = 0;
	int r = fcntl(fd, cmd, &fl);
	return res(r, errno);
}

int main(void)
{
	setup();
	name_pid(getpid(), "parent");
	int fd1 = make_file("f", 100);
	ino = ino_of(fd1);

	say("-- one description, other opens");
	say("F_OFD_SETLK write 0-9 via fd1: %s", ofd(fd1, F_OFD_SETLK, F_WRLCK, 0, 10));
	int fd2 = xopen("f", O_RDWR);
	say("F_OFD_SETLK write 5 via a second open: %s", ofd(fd2, F_OFD_SETLK, F_WRLCK, 5, 1));
	say("F_OFD_SETLK read 5 via a second open: %s", ofd(fd2, F_OFD_SETLK, F_RDLCK, 5, 1));
	say("F_SETLK write 5 (POSIX, same process): %s", ofd(fd2, F_SETLK, F_WRLCK, 5, 1));
	say("F_GETLK via the second open: %s", getlk_str(fd2, F_GETLK, F_WRLCK, 0, 0));
	say("F_OFD_GETLK via the second open: %s", getlk_str(fd2, F_OFD_GETLK, F_WRLCK, 0, 0));
	say("F_OFD_GETLK via fd1: %s", getlk_str(fd1, F_OFD_GETLK, F_WRLCK, 0, 0));
	say("F_OFD_GETLK F_UNLCK via fd1 (own lock): %s", getlk_str(fd1, F_OFD_GETLK, F_UNLCK, 0, 0));
	say("F_OFD_GETLK F_UNLCK via the second open: %s", getlk_str(fd2, F_OFD_GETLK, F_UNLCK, 0, 0));
	say("F_SETLK write 50 (POSIX) then F_OFD_GETLK via fd1: %s %s", ofd(fd2, F_SETLK, F_WRLCK, 50, 1),
	    getlk_str(fd1, F_OFD_GETLK, F_WRLCK, 40, 20));
	show_proc_locks("  locks", ino);
	CHECK("close(second open) (drops the POSIX lock only)", close(fd2));
	show_proc_locks("  locks", ino);

	say("-- dup shares the description");
	int fd3 = dup(fd1);
	say("F_OFD_SETLK read 5 via the dup (type change): %s", ofd(fd3, F_OFD_SETLK, F_RDLCK, 5, 1));
	show_proc_locks("  locks", ino);
	CHECK("close(fd1)", close(fd1));
	show_proc_locks("  after closing fd1", ino);
	CHECK("close(dup) (the last fd)", close(fd3));
	show_proc_locks("  after closing the dup", ino);
	say("  probe write 0-EOF: %s", probe("f", F_GETLK, F_WRLCK, 0, 0));

	say("-- fork shares the description");
	int fd4 = xopen("f", O_RDWR);
	say("F_OFD_SETLK write 20-29: %s", ofd(fd4, F_OFD_SETLK, F_WRLCK, 20, 10));
	int rep[2], go[2];
	xpipe(rep);
	xpipe(go);
	pid_t c = xfork();
	if (c == 0) {
		RCHECK(rep[1], "child F_OFD_SETLK write 25 (same owner)", ({
			struct flock f = mkfl(F_WRLCK, SEEK_SET, 25, 1);
			fcntl(fd4, F_OFD_SETLK, &f);
		}));
		RCHECK(rep[1], "child F_OFD_SETLK unlock 20-24", ({
			struct flock f = mkfl(F_UNLCK, SEEK_SET, 20, 5);
			fcntl(fd4, F_OFD_SETLK, &f);
		}));
		send_line(rep[1], "end");
		wait_go(go[0]);
		_exit(0);
	}
	name_pid(c, "child");
	relay_lines(rep[0], "  ");
	show_proc_locks("  locks", ino);
	CHECK("parent close(fd4) (the child still has it)", close(fd4));
	show_proc_locks("  after the parent's close", ino);
	say("  probe write 25: %s", probe("f", F_GETLK, F_WRLCK, 25, 1));
	send_go(go[1]);
	reap_ok(c);
	show_proc_locks("  after the child exited", ino);

	say("-- a sleeper wakes when the last fd closes");
	struct worker a, b;
	worker_start(&a, "A", "f");
	worker_start(&b, "B", "f");
	wlk(&a, "F_OFD_SETLK", F_OFD_SETLK, F_WRLCK, 0, 1);
	wlk_async(&b, F_OFD_SETLKW, F_WRLCK, 0, 1);
	wait_waiters(ino, 1);
	show_proc_locks("  B waits", ino);
	worker_send(&a, "c");
	say("A close: %s", worker_result(&a));
	say("B's F_OFD_SETLKW: %s", worker_result(&b));
	show_proc_locks("  now", ino);
	wlk_async(&a, F_OFD_SETLKW, F_WRLCK, 0, 1);
	say("A's F_OFD_SETLKW on its closed fd: %s", worker_result(&a));
	wlk(&b, "F_OFD_SETLK", F_OFD_SETLK, F_UNLCK, 0, 0);
	worker_stop(&a);
	worker_stop(&b);
	say("done");
	return 0;
}
