/* l_whence: SEEK_CUR counts from the fd's current offset (shared by dup'd
 * fds), SEEK_END from the file's size at the time of the call; l_len 0
 * runs to EOF however the file grows, a negative l_len covers the bytes
 * before l_start. F_GETLK answers in SEEK_SET terms. */
#include "lock_common.h"

static ino_t ino;

static void lock_at(const char *what, int fd, int type, int whence, off_t start, off_t len)
{
	struct flock fl = mkfl(type, whence, start, len);
	errno = 0;
	int r = fcntl(fd, F_SETLK, &fl);
	say("%s: %s", what, res(r, errno));
	show_proc_locks("  locks", ino);
}

int main(void)
{
	setup();
	name_pid(getpid(), "self");
	int fd = make_file("f", 100);
	ino = ino_of(fd);
	int dup_fd = dup(fd);

	TRY(lseek(fd, 40, SEEK_SET));
	lock_at("SEEK_CUR 0 len 5 at offset 40", fd, F_WRLCK, SEEK_CUR, 0, 5);
	lock_at("SEEK_CUR -10 len 5 at offset 40", fd, F_RDLCK, SEEK_CUR, -10, 5);
	lock_at("SEEK_CUR -41 at offset 40", fd, F_RDLCK, SEEK_CUR, -41, 1);
	lock_at("SEEK_CUR 0 len -3 at offset 40", fd, F_RDLCK, SEEK_CUR, 0, -3);
	TRY(lseek(fd, 60, SEEK_SET));
	lock_at("SEEK_CUR 0 len 2 through a dup (offset 60 shared)", dup_fd, F_WRLCK, SEEK_CUR, 0, 2);
	lock_at("SEEK_END 0 len 0 (size 100)", fd, F_WRLCK, SEEK_END, 0, 0);
	lock_at("SEEK_END -5 len 5", fd, F_RDLCK, SEEK_END, -5, 5);
	lock_at("SEEK_END -101", fd, F_RDLCK, SEEK_END, -101, 1);
	lock_at("SEEK_END 0 len -10", fd, F_UNLCK, SEEK_END, 0, -10);
	TRY(ftruncate(fd, 300));
	lock_at("SEEK_END -5 len 5 after growing to 300", fd, F_RDLCK, SEEK_END, -5, 5);
	say("probe write 5000 (beyond EOF): %s", probe("f", F_GETLK, F_WRLCK, 5000, 1));
	TRY(ftruncate(fd, 10));
	lock_at("SEEK_END 0 len 0 after shrinking to 10", fd, F_RDLCK, SEEK_END, 0, 0);
	lock_at("unlock everything", fd, F_UNLCK, SEEK_SET, 0, 0);

	int app = xopen("f", O_RDWR | O_APPEND);
	TRY(lseek(app, 3, SEEK_SET));
	lock_at("SEEK_CUR 1 len 1 on an O_APPEND fd at offset 3", app, F_WRLCK, SEEK_CUR, 1, 1);

	struct flock q = mkfl(F_WRLCK, SEEK_CUR, 0, 0);
	TRY(lseek(fd, 2, SEEK_SET));
	int r = fcntl(fd, F_GETLK, &q);
	say("F_GETLK SEEK_CUR at offset 2 (own locks): %d %s", r, tname(q.l_type));
	pid_t c = xfork();
	if (c == 0) {
		int cfd = xopen("f", O_RDWR);
		TRY(lseek(cfd, 2, SEEK_SET));
		struct flock g = mkfl(F_WRLCK, SEEK_CUR, 0, 0);
		if (fcntl(cfd, F_GETLK, &g) < 0)
			_exit(2);
		_exit(g.l_type == F_WRLCK && g.l_whence == SEEK_SET && g.l_start == 4 && g.l_len == 1 ? 0 : 1);
	}
	say("child F_GETLK SEEK_CUR from offset 2 sees SEEK_SET 4 len 1: %s", yesno(reap_code(c) == 0));
	say("done");
	return 0;
}
