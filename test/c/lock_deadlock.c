/* EDEADLK: an F_SETLKW that would close a cycle of processes each waiting
 * for a lock the next one holds fails at once, in a 2-process and a
 * 3-process ring; only the request closing the cycle fails and the others
 * keep waiting. F_SETLK never reports EDEADLK (EAGAIN). */
#include "lock_common.h"

int main(void)
{
	setup();
	int fd = make_file("f", 100);
	ino_t ino = ino_of(fd);
	struct worker a, b, c;
	worker_start(&a, "A", "f");
	worker_start(&b, "B", "f");
	worker_start(&c, "C", "f");

	say("-- two processes");
	wlk(&a, "F_SETLK", F_SETLK, F_WRLCK, 0, 1);
	wlk(&b, "F_SETLK", F_SETLK, F_WRLCK, 1, 1);
	wlk_async(&a, F_SETLKW, F_WRLCK, 1, 1);
	wait_waiters(ino, 1);
	say("A waits for B");
	wlk(&b, "F_SETLK", F_SETLK, F_WRLCK, 0, 1);
	wlk(&b, "F_SETLKW", F_SETLKW, F_WRLCK, 0, 1);
	wlk(&b, "F_SETLKW", F_SETLKW, F_RDLCK, 0, 10);
	show_proc_locks("  locks", ino);
	wlk(&b, "F_SETLK", F_SETLK, F_UNLCK, 1, 1);
	say("A's F_SETLKW F_WRLCK 1+1: %s", worker_result(&a));
	wlk(&a, "F_SETLK", F_SETLK, F_UNLCK, 0, 0);

	say("-- three processes");
	wlk(&a, "F_SETLK", F_SETLK, F_WRLCK, 0, 1);
	wlk(&b, "F_SETLK", F_SETLK, F_WRLCK, 1, 1);
	wlk(&c, "F_SETLK", F_SETLK, F_WRLCK, 2, 1);
	wlk_async(&a, F_SETLKW, F_WRLCK, 1, 1);
	wait_waiters(ino, 1);
	wlk_async(&b, F_SETLKW, F_WRLCK, 2, 1);
	wait_waiters(ino, 2);
	say("A waits for B, B waits for C");
	wlk(&c, "F_SETLKW", F_SETLKW, F_WRLCK, 0, 1);
	wlk(&c, "F_SETLKW (other range, no cycle)", F_SETLKW, F_WRLCK, 50, 1);
	show_proc_locks("  locks", ino);
	wlk(&c, "F_SETLK", F_SETLK, F_UNLCK, 2, 1);
	say("B's F_SETLKW F_WRLCK 2+1: %s", worker_result(&b));
	wlk(&b, "F_SETLK", F_SETLK, F_UNLCK, 1, 1);
	say("A's F_SETLKW F_WRLCK 1+1: %s", worker_result(&a));
	show_proc_locks("  locks", ino);

	say("-- a reader waiting behind a writer is part of the cycle");
	wlk(&a, "F_SETLK", F_SETLK, F_UNLCK, 0, 0);
	wlk(&b, "F_SETLK", F_SETLK, F_UNLCK, 0, 0);
	wlk(&c, "F_SETLK", F_SETLK, F_UNLCK, 0, 0);
	wlk(&a, "F_SETLK", F_SETLK, F_RDLCK, 10, 1);
	wlk(&b, "F_SETLK", F_SETLK, F_RDLCK, 10, 1);
	wlk(&b, "F_SETLK", F_SETLK, F_WRLCK, 20, 1);
	wlk_async(&a, F_SETLKW, F_WRLCK, 20, 1);
	wait_waiters(ino, 1);
	wlk(&b, "F_SETLKW (upgrade under A's read lock)", F_SETLKW, F_WRLCK, 10, 1);
	wlk(&b, "F_SETLK", F_SETLK, F_UNLCK, 20, 1);
	say("A's F_SETLKW F_WRLCK 20+1: %s", worker_result(&a));

	worker_stop(&a);
	worker_stop(&b);
	worker_stop(&c);
	show_proc_locks("after exit", ino);
	say("done");
	return 0;
}
