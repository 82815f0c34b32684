/*
 * wait_common.h - helpers for the wait_*.c programs: processes that wait for
 * each other on purpose, for the wait-for graph and the stall watchdog
 * (test/waits.test.ts). They are no differential tests: most never end by
 * themselves (the watchdog or the test ends them), so their names keep them
 * out of the differential harness's prefixes.
 */
#ifndef SYSVISOR_TEST_WAIT_COMMON_H
#define SYSVISOR_TEST_WAIT_COMMON_H

#include "common.h"
#include <sys/file.h>
#include <sys/prctl.h>

/* In a child: die with the parent, so that ending the parent ends the test. */
H void die_with_parent(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		die("prctl(PR_SET_PDEATHSIG)");
	if (getppid() != g_main_pid)
		_exit(0); /* the parent is gone already */
}

H int open_rw(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open(%s)", path);
	return fd;
}

/* fcntl lock of byte 0 (F_SETLK or F_SETLKW) that must succeed. */
H void lock_byte0(int fd, int cmd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	if (fcntl(fd, cmd, &fl) < 0)
		die("fcntl(cmd=%d, type=%d, byte 0)", cmd, type);
}

H void xflock(int fd, int op)
{
	if (flock(fd, op) < 0)
		die("flock(op=%d)", op);
}

#endif
