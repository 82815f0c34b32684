/* Closing any fd of a file releases all the process's POSIX locks on that
 * file (close, close_range, dup2/dup3 over it, a thread's close), not the
 * locks on other files, and not OFD locks; an fd of another file or a bad
 * fd releases nothing. A forked child inherits the fds but not the locks:
 * it sees the parent's locks as someone else's, and its close of the
 * inherited fd leaves them alone. A waiter sleeping on a released lock
 * wakes up. */
#include "lock_common.h"
#include <pthread.h>
#include <sys/syscall.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif

static ino_t ino;
static int g_fd;

static void lock_some(int fd)
{
	if (lk(fd, F_SETLK, F_WRLCK, 0, 10) < 0 || lk(fd, F_SETLK, F_RDLCK, 20, 10) < 0)
		die("lock_some");
}

static void *thread_close(void *arg)
{
	(void)arg;
	close(g_fd);
	return NULL;
}

int main(void)
{
	setup();
	name_pid(getpid(), "parent");
	int fd = make_file("f", 100);
	ino = ino_of(fd);
	int other = make_file("g", 10);

	say("-- close of another fd of the same file");
	lock_some(fd);
	int fd2 = xopen("f", O_RDONLY);
	show_proc_locks("  before", ino);
	CHECK("close(other file's fd)", close(other));
	show_proc_locks("  after closing g", ino);
	CHECK("close(bad fd)", close(987));
	show_proc_locks("  after a bad close", ino);
	CHECK("close(second fd of f)", close(fd2));
	show_proc_locks("  after closing the second fd", ino);
	say("  probe write 0-EOF: %s", probe("f", F_GETLK, F_WRLCK, 0, 0));

	say("-- dup2 and dup3 over an fd of the file");
	lock_some(fd);
	other = xopen("g", O_RDWR);
	int d = dup(fd);
	CHECK("dup2(fd, fd)", dup2(fd, fd) == fd ? 0 : -1);
	show_proc_locks("  after dup2(fd, fd)", ino);
	CHECK("dup2(bad, dup of f)", dup2(987, d));
	show_proc_locks("  after a failing dup2", ino);
	CHECK("dup2(g, dup of f)", dup2(other, d) == d ? 0 : -1);
	show_proc_locks("  after dup2 over the dup", ino);
	lock_some(fd);
	d = dup(fd);
	CHECK("dup3(g, dup of f, O_CLOEXEC)", dup3(other, d, O_CLOEXEC) == d ? 0 : -1);
	show_proc_locks("  after dup3", ino);
	close(d);
	lock_some(fd);
	CHECK("dup2(f, g's fd) (closes g, not f)", dup2(fd, other) == other ? 0 : -1);
	show_proc_locks("  after dup2 of f over g", ino);
	CHECK("close(the new dup of f)", close(other));
	show_proc_locks("  after closing it", ino);

	say("-- close_range");
	lock_some(fd);
	d = dup(fd);
	CHECK("close_range(d, d, CLOSE_RANGE_CLOEXEC)", syscall(SYS_close_range, d, d, CLOSE_RANGE_CLOEXEC));
	show_proc_locks("  after setting cloexec", ino);
	CHECK("close_range(d, ~0U, 0)", syscall(SYS_close_range, d, ~0U, 0));
	show_proc_locks("  after closing the range", ino);

	say("-- a thread closes an fd");
	lock_some(fd);
	g_fd = dup(fd);
	pthread_t th;
	if (pthread_create(&th, NULL, thread_close, NULL) != 0)
		die("pthread_create");
	pthread_join(th, NULL);
	show_proc_locks("  after the thread's close", ino);

	say("-- OFD locks stay, POSIX locks go");
	int ofd = xopen("f", O_RDWR);
	struct flock o = mkfl(F_WRLCK, SEEK_SET, 50, 5);
	CHECK("F_OFD_SETLK 50-54", fcntl(ofd, F_OFD_SETLK, &o));
	lock_some(fd);
	d = dup(fd);
	CHECK("close(dup)", close(d));
	show_proc_locks("  after the close", ino);
	o.l_type = F_UNLCK;
	CHECK("F_OFD_SETLK unlock", fcntl(ofd, F_OFD_SETLK, &o));
	close(ofd);

	say("-- fork: the child has the fds, not the locks");
	lock_some(fd);
	int rep[2], go[2];
	xpipe(rep);
	xpipe(go);
	pid_t c = xfork();
	if (c == 0) {
		RCHECK(rep[1], "child F_SETLK write 5 on the inherited fd", lk(fd, F_SETLK, F_WRLCK, 5, 1));
		RCHECK(rep[1], "child F_SETLK unlock 0-EOF", lk(fd, F_SETLK, F_UNLCK, 0, 0));
		RCHECK(rep[1], "child F_SETLK read 40", lk(fd, F_SETLK, F_RDLCK, 40, 1));
		struct flock q = mkfl(F_WRLCK, SEEK_SET, 0, 0);
		fcntl(fd, F_GETLK, &q);
		send_line(rep[1], q.l_pid == getppid() ? "child F_GETLK sees the parent's lock: yes" : "child F_GETLK sees the parent's lock: no");
		RCHECK(rep[1], "child close(inherited fd)", close(fd));
		send_line(rep[1], "end");
		wait_go(go[0]);
		_exit(0);
	}
	name_pid(c, "child");
	relay_lines(rep[0], "  ");
	show_proc_locks("  after the child's close", ino);
	send_go(go[1]);
	reap_ok(c);
	show_proc_locks("  after the child exited", ino);

	say("-- a waiter wakes when a close releases");
	struct worker w;
	worker_start(&w, "worker", "f");
	wlk_async(&w, F_SETLKW, F_WRLCK, 0, 1);
	wait_waiters(ino, 1);
	d = dup(fd);
	CHECK("close(dup)", close(d));
	say("  worker's F_SETLKW: %s", worker_result(&w));
	show_proc_locks("  now", ino);
	worker_stop(&w);
	say("done");
	return 0;
}
