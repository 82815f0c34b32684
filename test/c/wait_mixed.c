/* wait_mixed FILE: a cycle of three processes across three kinds of wait.
 * The parent holds a semaphore (SEM_UNDO) and waits for B's POSIX lock on
 * byte 0 of FILE; B waits for C's flock on FILE (each opened FILE itself, so
 * their open file descriptions differ); C waits for the parent's semaphore.
 * Never ends by itself. */
#include "wait_common.h"

int main(int argc, char **argv)
{
	setup();
	if (argc != 2)
		die("usage: wait_mixed FILE");
	const char *file = argv[1];
	int id = sem_private(1);
	setval(id, 0, 1);
	xsop(id, 0, -1, SEM_UNDO); /* the parent holds the semaphore */
	int ready[2], go[2];
	xpipe(ready);
	xpipe(go);
	if (xfork() == 0) { /* B */
		die_with_parent();
		int fd = open_rw(file);
		lock_byte0(fd, F_SETLK, F_WRLCK);
		send_go(ready[1]);
		wait_go(go[0]);
		xflock(fd, LOCK_EX); /* waits for C */
		_exit(0);
	}
	if (xfork() == 0) { /* C */
		die_with_parent();
		int fd = open_rw(file);
		xflock(fd, LOCK_EX);
		send_go(ready[1]);
		wait_go(go[0]);
		xsop(id, 0, -1, 0); /* waits for the parent */
		_exit(0);
	}
	wait_go(ready[0]);
	wait_go(ready[0]);
	send_go(go[1]);
	send_go(go[1]);
	int fd = open_rw(file);
	say("semaphore -> POSIX lock -> flock -> semaphore");
	lock_byte0(fd, F_SETLKW, F_WRLCK); /* waits for B */
	die("the cycle ended");
}
