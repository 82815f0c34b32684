/* wait_chain FILE: a chain of waits without a cycle. The parent holds a
 * POSIX lock on byte 0 of FILE and reads a line from stdin; B holds a
 * semaphore (SEM_UNDO) and waits for the parent's lock; C waits for B's
 * semaphore. The line releases the chain: everyone ends, exit 0. */
#include "wait_common.h"

int main(int argc, char **argv)
{
	setup();
	alarm(120); /* the test reads the graph before it writes the line */
	if (argc != 2)
		die("usage: wait_chain FILE");
	int fd = open_rw(argv[1]);
	lock_byte0(fd, F_SETLK, F_WRLCK);
	int id = sem_private(1);
	setval(id, 0, 1);
	int ready[2];
	xpipe(ready);
	pid_t b = xfork();
	if (b == 0) {
		alarm(120);
		die_with_parent();
		xsop(id, 0, -1, SEM_UNDO);
		send_go(ready[1]);
		int own = open_rw(argv[1]);
		lock_byte0(own, F_SETLKW, F_WRLCK); /* waits for the parent */
		_exit(0);                           /* the exit gives the semaphore back */
	}
	wait_go(ready[0]);
	pid_t c = xfork();
	if (c == 0) {
		alarm(120);
		die_with_parent();
		xsop(id, 0, -1, 0); /* waits for B */
		_exit(0);
	}
	say("C waits for B, B waits for the parent, the parent reads stdin");
	char line[64];
	if (read(0, line, sizeof line) < 0)
		die("read stdin");
	close(fd); /* releases the lock */
	say("B: exit %d", reap_code(b));
	say("C: exit %d", reap_code(c));
	sem_rm(id);
	say("done");
	return 0;
}
