/* POSIX locks belong to the files table (fl_owner is current->files), not
 * to the process: a child made by clone(CLONE_FILES) without CLONE_THREAD
 * shares the parent's lock owner. Its locks and the parent's are one set:
 * neither conflicts with the other, F_GETLK does not report them to each
 * other, a close of any fd of the file in either releases them all, and a
 * sharer's exit releases nothing while the table lives on in the other.
 * An exec gives the sharer a table of its own (unshare_files): its
 * close-on-exec fds close there and release nothing of the shared locks.
 * A close is also the last close of a description for flock even while the
 * sharer's table (the same table) still listed the fd before the close.
 * A third process (a fork, with a table of its own) watches. */
#include "lock_common.h"
#include <sched.h>
#include <sys/syscall.h>

static int rep[2], go[2];

/* clone(CLONE_FILES) with fork semantics for memory (no CLONE_VM). The child
 * must close nothing it did not open: the fd table is the parent's too. */
static pid_t clone_files(void)
{
	fflush(stdout);
	fflush(stderr);
	long p = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0L, 0L, 0L, 0L);
	if (p < 0)
		die("clone(CLONE_FILES | SIGCHLD)");
	if (p == 0) {
		g_is_child = 1;
		g_nkids = 0;
		alarm(20);
	}
	return (pid_t)p;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return 0; /* the exec'd sharer */
	setup();
	name_pid(getpid(), "parent");
	int fd = make_file("f", 100);
	ino_t ino = ino_of(fd);
	xpipe(rep);
	xpipe(go);

	say("-- the sharer's locks are the parent's");
	CHECK("parent F_SETLK write 0-9", lk(fd, F_SETLK, F_WRLCK, 0, 10));
	pid_t c = clone_files();
	if (c == 0) {
		struct flock q = mkfl(F_WRLCK, SEEK_SET, 0, 0);
		RCHECK(rep[1], "sharer F_GETLK write 0-EOF", fcntl(fd, F_GETLK, &q));
		send_line(rep[1], q.l_type == F_UNLCK ? "sharer sees: F_UNLCK" : "sharer sees: a lock");
		RCHECK(rep[1], "sharer F_SETLK write 5-5 (inside the parent's lock)", lk(fd, F_SETLK, F_WRLCK, 5, 1));
		RCHECK(rep[1], "sharer F_SETLK read 20-29", lk(fd, F_SETLK, F_RDLCK, 20, 10));
		send_line(rep[1], "end");
		wait_go(go[0]);
		int fd2 = open("f", O_RDONLY);
		if (fd2 < 0)
			die("sharer open f");
		RCHECK(rep[1], "sharer close(its own second fd of f)", close(fd2));
		send_line(rep[1], "end");
		wait_go(go[0]);
		RCHECK(rep[1], "sharer F_SETLK write 40-49", lk(fd, F_SETLK, F_WRLCK, 40, 10));
		send_line(rep[1], "end");
		_exit(0);
	}
	name_pid(c, "sharer");
	relay_lines(rep[0], "  ");
	show_proc_locks("  locks", ino);
	say("  third process F_GETLK write 0-EOF: %s", probe("f", F_GETLK, F_WRLCK, 0, 0));
	say("  third process F_SETLK write 0-9: %s", probe("f", F_SETLK, F_WRLCK, 0, 10));

	say("-- a close in the sharer releases them all");
	send_go(go[1]);
	relay_lines(rep[0], "  ");
	show_proc_locks("  locks", ino);
	say("  third process F_GETLK write 0-EOF: %s", probe("f", F_GETLK, F_WRLCK, 0, 0));
	say("  third process F_SETLK write 0-9: %s", probe("f", F_SETLK, F_WRLCK, 0, 10));

	say("-- the sharer's exit releases nothing: the table lives on in the parent");
	send_go(go[1]);
	relay_lines(rep[0], "  ");
	/* Read while the sharer is a zombie (WNOWAIT): once its pid is freed, a
	 * PID namespace other than the initial one (the sandbox's, as root)
	 * leaves its lock out of /proc/locks (locks_show), the initial one shows
	 * the stale pid. The third process's EAGAIN shows the lock outlives it. */
	siginfo_t exited;
	if (waitid(P_PID, (id_t)c, &exited, WEXITED | WNOWAIT) < 0)
		die("waitid(sharer, WNOWAIT)");
	show_proc_locks("  after the sharer exited", ino);
	reap_ok(c);
	say("  third process F_SETLK write 40-49: %s", probe("f", F_SETLK, F_WRLCK, 40, 10));
	int d = dup(fd);
	CHECK("parent close(dup of f)", close(d));
	show_proc_locks("  after the parent's close", ino);
	say("  third process F_SETLK write 40-49: %s", probe("f", F_SETLK, F_WRLCK, 40, 10));

	say("-- an exec in the sharer closes its close-on-exec fds in a table of its own");
	CHECK("parent F_SETLK write 60-69", lk(fd, F_SETLK, F_WRLCK, 60, 10));
	int ce = open("f", O_RDONLY | O_CLOEXEC);
	if (ce < 0)
		die("open f O_CLOEXEC");
	c = clone_files();
	if (c == 0) {
		execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
		die("execl /proc/self/exe");
	}
	name_pid(c, "sharer");
	reap_ok(c);
	show_proc_locks("  after the sharer's exec and exit", ino);
	say("  third process F_SETLK write 60-69: %s", probe("f", F_SETLK, F_WRLCK, 60, 10));
	CHECK("parent close(the close-on-exec fd)", close(ce));
	say("  third process F_SETLK write 60-69: %s", probe("f", F_SETLK, F_WRLCK, 60, 10));

	say("-- flock: the parent's close is the last one with a sharer alive");
	int g = make_file("g", 10);
	CHECK("parent flock(g, LOCK_EX)", flock(g, LOCK_EX));
	c = clone_files();
	if (c == 0) {
		wait_go(go[0]);
		_exit(0);
	}
	name_pid(c, "sharer");
	CHECK("parent close(g)", close(g));
	int g2 = xopen("g", O_RDWR);
	CHECK("parent flock(new open of g, LOCK_EX | LOCK_NB)", flock(g2, LOCK_EX | LOCK_NB));
	close(g2);
	send_go(go[1]);
	reap_ok(c);
	say("done");
	return 0;
}
