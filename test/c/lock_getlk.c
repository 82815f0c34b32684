/* F_GETLK reports the first conflicting lock exactly (type, l_whence 0,
 * start, len with 0 meaning "to EOF", pid of the holding process, also when
 * a thread took it), leaves every other field alone when nothing conflicts,
 * never reports the caller's own locks, and sees readers as compatible. */
#include "lock_common.h"
#include <pthread.h>

static int rep[2], go[2];
static int tfd;

static void *thread_lock(void *arg)
{
	(void)arg;
	if (lk(tfd, F_SETLK, F_WRLCK, 32, 3) < 0)
		die("thread lock");
	return NULL;
}

/* A child that takes one lock on its own open of "f" and waits. */
static pid_t holder(const char *name, int type, off_t start, off_t len)
{
	pid_t c = xfork();
	if (c == 0) {
		int fd = xopen("f", O_RDWR);
		RCHECK(rep[1], name, lk(fd, F_SETLK, type, start, len));
		send_line(rep[1], "end");
		wait_go(go[0]);
		_exit(0);
	}
	name_pid(c, name);
	relay_lines(rep[0], "");
	return c;
}

int main(void)
{
	setup();
	name_pid(getpid(), "parent");
	int fd = make_file("f", 100);
	xpipe(rep);
	xpipe(go);

	struct flock fl = mkfl(F_WRLCK, SEEK_CUR, 7, 3);
	fl.l_pid = 12345;
	CHECK("F_GETLK on an unlocked file", fcntl(fd, F_GETLK, &fl));
	say("  fields: type %s whence %d start %lld len %lld pid kept %s", tname(fl.l_type), fl.l_whence,
	    (long long)fl.l_start, (long long)fl.l_len, yesno(fl.l_pid == 12345));

	pid_t a = holder("child A", F_WRLCK, 10, 10);
	pid_t b = holder("child B", F_RDLCK, 0, 5);
	pid_t c = holder("child C", F_WRLCK, 40, 0);

	say("write 0-EOF: %s", getlk_str(fd, F_GETLK, F_WRLCK, 0, 0));
	say("write 0-4: %s", getlk_str(fd, F_GETLK, F_WRLCK, 0, 5));
	say("read 0-4: %s", getlk_str(fd, F_GETLK, F_RDLCK, 0, 5));
	say("read 0-14: %s", getlk_str(fd, F_GETLK, F_RDLCK, 0, 15));
	say("write 19-19: %s", getlk_str(fd, F_GETLK, F_WRLCK, 19, 1));
	say("write 20-39: %s", getlk_str(fd, F_GETLK, F_WRLCK, 20, 20));
	say("read 1000-1000: %s", getlk_str(fd, F_GETLK, F_RDLCK, 1000, 1));
	say("write at SEEK_END-1 (size 100): %s", ({
		struct flock e = mkfl(F_WRLCK, SEEK_END, -1, 1);
		fcntl(fd, F_GETLK, &e) < 0 ? res(-1, errno) : fl_str(&e);
	}));

	/* Own locks never conflict with the caller. */
	CHECK("parent write lock 25-29", lk(fd, F_SETLK, F_WRLCK, 25, 5));
	say("parent asks about 25-29: %s", getlk_str(fd, F_GETLK, F_WRLCK, 25, 5));
	say("child probe about 25-29: %s", probe("f", F_GETLK, F_RDLCK, 25, 5));

	/* A lock a thread takes belongs to the process. */
	tfd = fd;
	pthread_t th;
	if (pthread_create(&th, NULL, thread_lock, NULL) != 0)
		die("pthread_create");
	pthread_join(th, NULL);
	say("probe of the thread's lock: %s", probe("f", F_GETLK, F_RDLCK, 33, 1));
	say("parent asks about the thread's lock: %s", getlk_str(fd, F_GETLK, F_WRLCK, 33, 1));

	for (int i = 0; i < 3; i++)
		send_go(go[1]);
	reap_ok(a);
	reap_ok(b);
	reap_ok(c);
	say("after the children exit, write 0-EOF: %s", getlk_str(fd, F_GETLK, F_WRLCK, 0, 0));
	say("done");
	return 0;
}
