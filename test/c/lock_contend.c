/* Two processes contend for POSIX record locks: F_SETLK refuses a
 * conflicting lock with EAGAIN (never EACCES on Linux), readers share,
 * disjoint ranges do not conflict; F_SETLKW sleeps until the holder
 * unlocks (or exits) and then holds the lock. */
#include "lock_common.h"

static int rep[2], go[2];

int main(void)
{
	setup();
	name_pid(getpid(), "parent");
	int fd = make_file("f", 100);
	ino_t ino = ino_of(fd);
	xpipe(rep);
	xpipe(go);

	CHECK("parent write lock 0-9", lk(fd, F_SETLK, F_WRLCK, 0, 10));
	CHECK("parent read lock 50-59", lk(fd, F_SETLK, F_RDLCK, 50, 10));

	pid_t c = xfork();
	if (c == 0) {
		int cfd = open("f", O_RDWR);
		if (cfd < 0)
			die("child open");
		RCHECK(rep[1], "child F_SETLK write 5", lk(cfd, F_SETLK, F_WRLCK, 5, 1));
		RCHECK(rep[1], "child F_SETLK read 9", lk(cfd, F_SETLK, F_RDLCK, 9, 1));
		RCHECK(rep[1], "child F_SETLK write 0-EOF", lk(cfd, F_SETLK, F_WRLCK, 0, 0));
		RCHECK(rep[1], "child F_SETLK write 10-19 (disjoint)", lk(cfd, F_SETLK, F_WRLCK, 10, 10));
		RCHECK(rep[1], "child F_SETLK read 50-54 (readers share)", lk(cfd, F_SETLK, F_RDLCK, 50, 5));
		RCHECK(rep[1], "child F_SETLK write 55 (parent reads there)", lk(cfd, F_SETLK, F_WRLCK, 55, 1));
		send_line(rep[1], "end");
		wait_go(go[0]);
		/* The parent holds 0-9: sleep until it unlocks. */
		RCHECK(rep[1], "child F_SETLKW write 0-4", lk(cfd, F_SETLKW, F_WRLCK, 0, 5));
		send_line(rep[1], "end");
		wait_go(go[0]);
		/* The parent's read lock 50-59 is in the way: sleep until it unlocks everything. */
		RCHECK(rep[1], "child F_SETLKW write 50-52", lk(cfd, F_SETLKW, F_WRLCK, 50, 3));
		send_line(rep[1], "end");
		wait_go(go[0]);
		_exit(0);
	}
	name_pid(c, "child");
	relay_lines(rep[0], "");

	send_go(go[1]);
	wait_waiters(ino, 1);
	say("child sleeps in F_SETLKW: yes");
	show_proc_locks("while child waits", ino);
	say("parent probe of 0-4 (fresh process): %s", probe("f", F_GETLK, F_WRLCK, 0, 5));
	CHECK("parent unlocks 0-9", lk(fd, F_SETLK, F_UNLCK, 0, 10));
	relay_lines(rep[0], "");
	say("after wake-up, probe 0-9: %s", probe("f", F_GETLK, F_WRLCK, 0, 10));
	CHECK("parent F_SETLK write 3 (child holds it)", lk(fd, F_SETLK, F_WRLCK, 3, 1));
	say("parent F_GETLK 0-9: %s", getlk_str(fd, F_GETLK, F_WRLCK, 0, 10));

	send_go(go[1]);
	wait_waiters(ino, 1);
	show_proc_locks("child waits on the read lock", ino);
	CHECK("parent unlocks everything", lk(fd, F_SETLK, F_UNLCK, 0, 0));
	relay_lines(rep[0], "");
	show_proc_locks("after the second wake-up", ino);

	/* A holder that exits releases: the parent sleeps on the child's lock. */
	send_go(go[1]);
	CHECK("parent F_SETLKW write 50 (child exits)", lk(fd, F_SETLKW, F_WRLCK, 50, 1));
	reap_ok(c);
	show_proc_locks("after the child exited", ino);
	say("done");
	return 0;
}
