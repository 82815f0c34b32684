/* Argument errors of the lock commands, in Linux's order: EBADF for a bad
 * or O_PATH fd (before EFAULT), EFAULT for a bad struct flock pointer,
 * EINVAL for a bad type or whence, a negative start, F_GETLK with F_UNLCK,
 * a nonzero l_pid with the OFD commands; EBADF when the access mode does
 * not allow the lock type (not for F_GETLK); EOVERFLOW past OFF_MAX; flock
 * EINVAL for a bad operation, EBADF for a bad fd, LOCK_MAND ignored. */
#include "lock_common.h"

static const char *setlk(int fd, int cmd, int type, int whence, off_t start, off_t len, pid_t pid)
{
	struct flock fl = mkfl(type, whence, start, len);
	fl.l_pid = pid;
	errno = 0;
	int r = fcntl(fd, cmd, &fl);
	return res(r, errno);
}

int main(void)
{
	setup();
	int fd = make_file("f", 100);
	int ro = xopen("f", O_RDONLY);
	int wo = xopen("f", O_WRONLY);
	int path = xopen("f", O_PATH);
	int dir = xopen(".", O_RDONLY | O_DIRECTORY);
	long huge = 0x7fffffffffffffffL;

	say("F_SETLK on fd -1: %s", setlk(-1, F_SETLK, F_WRLCK, SEEK_SET, 0, 1, 0));
	say("F_SETLK on a closed fd: %s", setlk(900, F_SETLK, F_WRLCK, SEEK_SET, 0, 1, 0));
	say("F_GETLK on a closed fd: %s", setlk(900, F_GETLK, F_WRLCK, SEEK_SET, 0, 1, 0));
	CHECK("F_SETLK on a closed fd, bad pointer", fcntl(900, F_SETLK, (struct flock *)8));
	CHECK("F_SETLK bad pointer", fcntl(fd, F_SETLK, (struct flock *)8));
	CHECK("F_GETLK bad pointer", fcntl(fd, F_GETLK, (struct flock *)8));
	CHECK("F_OFD_SETLK bad pointer", fcntl(fd, F_OFD_SETLK, (struct flock *)8));
	say("F_SETLK on O_PATH fd: %s", setlk(path, F_SETLK, F_RDLCK, SEEK_SET, 0, 1, 0));
	say("F_GETLK on O_PATH fd: %s", setlk(path, F_GETLK, F_RDLCK, SEEK_SET, 0, 1, 0));
	say("F_SETLK type 7: %s", setlk(fd, F_SETLK, 7, SEEK_SET, 0, 1, 0));
	say("F_GETLK type 7: %s", setlk(fd, F_GETLK, 7, SEEK_SET, 0, 1, 0));
	say("F_GETLK F_UNLCK: %s", setlk(fd, F_GETLK, F_UNLCK, SEEK_SET, 0, 1, 0));
	say("F_SETLK whence 3: %s", setlk(fd, F_SETLK, F_WRLCK, 3, 0, 1, 0));
	say("F_SETLK whence 3, F_UNLCK: %s", setlk(fd, F_SETLK, F_UNLCK, 3, 0, 1, 0));
	say("F_SETLK start -1: %s", setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, -1, 1, 0));
	say("F_SETLK start 5 len -6: %s", setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 5, -6, 0));
	say("F_SETLK start 5 len -5: %s", setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 5, -5, 0));
	say("F_SETLK start OFF_MAX len 2: %s", setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, huge, 2, 0));
	say("F_SETLK start OFF_MAX len 1: %s", setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, huge, 1, 0));
	say("F_SETLK SEEK_END start OFF_MAX: %s", setlk(fd, F_SETLK, F_WRLCK, SEEK_END, huge, 1, 0));
	say("F_SETLK unlock all: %s", setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0, 0));
	say("F_SETLK F_RDLCK on O_WRONLY: %s", setlk(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 1, 0));
	say("F_SETLK F_WRLCK on O_RDONLY: %s", setlk(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 1, 0));
	say("F_SETLKW F_WRLCK on O_RDONLY: %s", setlk(ro, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1, 0));
	say("F_SETLK F_UNLCK on O_RDONLY: %s", setlk(ro, F_SETLK, F_UNLCK, SEEK_SET, 0, 1, 0));
	say("F_GETLK F_WRLCK on O_RDONLY: %s", setlk(ro, F_GETLK, F_WRLCK, SEEK_SET, 0, 1, 0));
	say("F_SETLK F_RDLCK on O_RDONLY: %s", setlk(ro, F_SETLK, F_RDLCK, SEEK_SET, 0, 1, 0));
	say("F_SETLK F_WRLCK on O_WRONLY: %s", setlk(wo, F_SETLK, F_WRLCK, SEEK_SET, 10, 1, 0));
	say("F_SETLK F_RDLCK on a directory: %s", setlk(dir, F_SETLK, F_RDLCK, SEEK_SET, 0, 1, 0));
	say("F_OFD_SETLK l_pid 1: %s", setlk(fd, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1, 1));
	say("F_OFD_GETLK l_pid 1: %s", setlk(fd, F_OFD_GETLK, F_WRLCK, SEEK_SET, 0, 1, 1));
	say("F_OFD_SETLKW l_pid -1: %s", setlk(fd, F_OFD_SETLKW, F_WRLCK, SEEK_SET, 0, 1, -1));
	say("F_SETLK l_pid 1 (ignored): %s", setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 20, 1, 1));
	say("F_OFD_SETLK whence 9: %s", setlk(fd, F_OFD_SETLK, F_WRLCK, 9, 0, 1, 0));
	say("F_OFD_SETLK F_RDLCK on O_WRONLY: %s", setlk(wo, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 1, 0));
	say("F_OFD_GETLK F_UNLCK (own lock query): %s", setlk(fd, F_OFD_GETLK, F_UNLCK, SEEK_SET, 0, 1, 0));

	CHECK("flock fd -1", flock(-1, LOCK_EX));
	CHECK("flock closed fd", flock(900, LOCK_EX));
	CHECK("flock closed fd, bad op", flock(900, 0));
	CHECK("flock op 0", flock(fd, 0));
	CHECK("flock LOCK_SH|LOCK_EX", flock(fd, LOCK_SH | LOCK_EX));
	CHECK("flock op 16", flock(fd, 16));
	CHECK("flock LOCK_NB alone", flock(fd, LOCK_NB));
	CHECK("flock LOCK_MAND on a closed fd", flock(900, 32 | LOCK_EX));
	CHECK("flock O_PATH fd", flock(path, LOCK_EX));
	CHECK("flock O_PATH fd LOCK_UN", flock(path, LOCK_UN));
	CHECK("flock O_RDONLY LOCK_EX", flock(ro, LOCK_EX));
	CHECK("flock O_RDONLY LOCK_UN", flock(ro, LOCK_UN));
	CHECK("flock O_WRONLY LOCK_SH|LOCK_NB", flock(wo, LOCK_SH | LOCK_NB));
	CHECK("flock a directory", flock(dir, LOCK_EX | LOCK_NB));
	CHECK("flock LOCK_UN of an unlocked fd", flock(fd, LOCK_UN));
	say("done");
	return 0;
}
