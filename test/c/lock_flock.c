/* flock(2): shared and exclusive whole-file locks per open file
 * description. Separate opens conflict (also within one process), dup and
 * fork share the lock, LOCK_UN from any sharer releases it, the last close
 * releases it. Conversion is not atomic: the old lock is dropped before
 * the new one is tried, so a failed LOCK_EX|LOCK_NB upgrade leaves no lock
 * and a sleeping upgrade lets others in. flock and fcntl locks ignore each
 * other. */
#include "lock_common.h"

static ino_t ino;

int main(void)
{
	setup();
	name_pid(getpid(), "parent");
	int fd1 = make_file("f", 100);
	ino = ino_of(fd1);
	int fd2 = xopen("f", O_RDONLY);

	say("-- one process, two opens");
	CHECK("flock(fd1, LOCK_SH)", flock(fd1, LOCK_SH));
	CHECK("flock(fd2, LOCK_SH)", flock(fd2, LOCK_SH));
	CHECK("flock(fd2, LOCK_EX|LOCK_NB)", flock(fd2, LOCK_EX | LOCK_NB));
	show_proc_locks("  after the failed upgrade (fd2 lost its lock)", ino);
	CHECK("flock(fd1, LOCK_EX|LOCK_NB) (now alone)", flock(fd1, LOCK_EX | LOCK_NB));
	CHECK("flock(fd2, LOCK_SH|LOCK_NB)", flock(fd2, LOCK_SH | LOCK_NB));
	CHECK("flock(fd1, LOCK_EX) again", flock(fd1, LOCK_EX));
	CHECK("flock(fd1, LOCK_SH) (downgrade)", flock(fd1, LOCK_SH));
	CHECK("flock(fd2, LOCK_SH|LOCK_NB)", flock(fd2, LOCK_SH | LOCK_NB));
	show_proc_locks("  two shared locks", ino);
	CHECK("flock(fd2, LOCK_UN)", flock(fd2, LOCK_UN));
	CHECK("flock(fd2, LOCK_UN) again", flock(fd2, LOCK_UN));
	CHECK("fcntl write lock 0-EOF via fd1 (independent of flock)", lk(fd1, F_SETLK, F_WRLCK, 0, 0));
	say("  probe F_SETLK write 0: %s", probe("f", F_SETLK, F_WRLCK, 0, 1));
	CHECK("fcntl unlock", lk(fd1, F_SETLK, F_UNLCK, 0, 0));

	say("-- dup shares, the last close releases");
	int d = dup(fd1);
	CHECK("flock(dup, LOCK_EX) (same description: converts)", flock(d, LOCK_EX));
	show_proc_locks("  locks", ino);
	CHECK("close(fd1)", close(fd1));
	show_proc_locks("  after closing fd1", ino);
	CHECK("flock(fd2, LOCK_SH|LOCK_NB)", flock(fd2, LOCK_SH | LOCK_NB));
	CHECK("close(dup)", close(d));
	show_proc_locks("  after closing the dup", ino);
	CHECK("flock(fd2, LOCK_SH|LOCK_NB)", flock(fd2, LOCK_SH | LOCK_NB));
	CHECK("flock(fd2, LOCK_UN)", flock(fd2, LOCK_UN));

	say("-- fork shares");
	fd1 = xopen("f", O_RDWR);
	CHECK("flock(fd1, LOCK_EX)", flock(fd1, LOCK_EX));
	int rep[2], go[2];
	xpipe(rep);
	xpipe(go);
	pid_t c = xfork();
	if (c == 0) {
		RCHECK(rep[1], "child flock(inherited, LOCK_EX|LOCK_NB)", flock(fd1, LOCK_EX | LOCK_NB));
		int own = open("f", O_RDONLY);
		RCHECK(rep[1], "child flock(own open, LOCK_SH|LOCK_NB)", flock(own, LOCK_SH | LOCK_NB));
		RCHECK(rep[1], "child flock(inherited, LOCK_UN)", flock(fd1, LOCK_UN));
		RCHECK(rep[1], "child flock(own open, LOCK_SH|LOCK_NB)", flock(own, LOCK_SH | LOCK_NB));
		send_line(rep[1], "end");
		wait_go(go[0]);
		_exit(0);
	}
	name_pid(c, "child");
	relay_lines(rep[0], "  ");
	show_proc_locks("  locks", ino);
	CHECK("flock(fd1, LOCK_EX|LOCK_NB)", flock(fd1, LOCK_EX | LOCK_NB));
	send_go(go[1]);
	reap_ok(c);
	show_proc_locks("  after the child exited", ino);
	CHECK("flock(fd1, LOCK_EX|LOCK_NB)", flock(fd1, LOCK_EX | LOCK_NB));
	CHECK("close(fd1)", close(fd1));

	say("-- sleepers");
	struct worker a, b, w;
	worker_start(&a, "A", "f");
	worker_start(&b, "B", "f");
	worker_start(&w, "W", "f");
	worker_send(&a, "k %d", LOCK_SH);
	say("A LOCK_SH: %s", worker_result(&a));
	worker_send(&b, "k %d", LOCK_SH);
	say("B LOCK_SH: %s", worker_result(&b));
	worker_send(&a, "k %d", LOCK_EX); /* sleeps behind B, having dropped its LOCK_SH */
	wait_waiters(ino, 1);
	show_proc_locks("  A sleeps in its upgrade", ino);
	worker_send(&b, "k %d", LOCK_EX | LOCK_NB);
	say("B LOCK_EX|LOCK_NB (A's shared lock is gone): %s", worker_result(&b));
	wait_waiters(ino, 1); /* A, woken when B dropped its shared lock, sleeps again */
	show_proc_locks("  B upgraded", ino);
	worker_send(&w, "k %d", LOCK_SH);
	wait_waiters(ino, 2);
	show_proc_locks("  A and W sleep", ino);
	worker_send(&b, "k %d", LOCK_UN);
	say("B LOCK_UN: %s", worker_result(&b));
	say("A LOCK_EX: %s", worker_result(&a));
	wait_waiters(ino, 1);
	show_proc_locks("  A holds it, W sleeps", ino);
	worker_send(&a, "c");
	say("A close: %s", worker_result(&a));
	say("W LOCK_SH: %s", worker_result(&w));
	worker_send(&b, "k %d", LOCK_EX);
	wait_waiters(ino, 1);
	worker_stop(&w);
	say("B LOCK_EX after W exited: %s", worker_result(&b));
	show_proc_locks("  now", ino);
	worker_stop(&a);
	worker_stop(&b);
	show_proc_locks("  at the end", ino);
	say("done");
	return 0;
}
