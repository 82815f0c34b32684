/*
 * What the supervisor is asked about, by kind of call: fcntl commands that
 * are not lock commands, opens of ordinary files and of a served /proc file,
 * closes with and without a POSIX lock held in the process. The output is
 * the same natively and sandboxed; test/notify.test.ts checks the counts
 * the supervisor reports for each phase.
 */
#include "common.h"

#define ROUNDS 1000
#define LOCKED_CLOSES 100

int main(void)
{
	setup();
	int fd = TRY(open("file", O_RDWR | O_CREAT, 0600));
	int flags = 0, ok = 1;
	for (int i = 0; i < ROUNDS; i++) {
		flags = fcntl(fd, F_GETFL);
		ok &= fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
		ok &= fcntl(fd, F_SETFL, flags) == 0;
	}
	yes("F_GETFL/F_SETFL/F_SETFD work", ok);
	ok = 1;
	for (int i = 0; i < ROUNDS; i++) {
		int f = open("/dev/null", O_RDONLY);
		ok &= f >= 0 && close(f) == 0;
	}
	yes("open and close of an ordinary file work", ok);
	int locks = open("/proc/locks", O_RDONLY);
	yes("/proc/locks opens", locks >= 0);
	close(locks);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	CHECK("F_SETLK", fcntl(fd, F_SETLK, &fl));
	ok = 1;
	for (int i = 0; i < LOCKED_CLOSES; i++) {
		int f = open("/dev/null", O_RDONLY);
		ok &= f >= 0 && close(f) == 0;
	}
	yes("closes while a lock is held work", ok);
	fl.l_type = F_UNLCK;
	CHECK("F_SETLK unlock", fcntl(fd, F_SETLK, &fl));
	say("done");
	return 0;
}
