/* One process's POSIX locks split, merge and change type as Linux does:
 * adjacent and overlapping locks of the same type coalesce, a lock of the
 * other type in the middle splits one in three, unlocking a middle piece
 * splits, a wider lock swallows narrower ones. Checked through /proc/locks
 * (kernel order) and through F_GETLK from a fresh process. */
#include "lock_common.h"

static ino_t ino;

static void step(const char *what, int type, off_t start, off_t len)
{
	CHECK(what, lk(3, F_SETLK, type, start, len));
	show_proc_locks("  locks", ino);
}

int main(void)
{
	setup();
	name_pid(getpid(), "self");
	close(3);
	int fd = make_file("f", 1000);
	if (fd != 3)
		die("expected fd 3");
	ino = ino_of(fd);

	step("write 10-19", F_WRLCK, 10, 10);
	step("write 20-29 (adjacent: merges)", F_WRLCK, 20, 10);
	step("write 5-12 (overlaps: merges)", F_WRLCK, 5, 8);
	step("read 12-14 (splits the write lock)", F_RDLCK, 12, 3);
	say("probe read 13: %s", probe("f", F_GETLK, F_RDLCK, 13, 1));
	say("probe read 11-12: %s", probe("f", F_GETLK, F_RDLCK, 11, 2));
	say("probe write 13: %s", probe("f", F_GETLK, F_WRLCK, 13, 1));
	step("read 15-16 (grows the read piece)", F_RDLCK, 15, 2);
	step("unlock 8-9 (splits the left piece)", F_UNLCK, 8, 2);
	say("probe write 8-9: %s", probe("f", F_GETLK, F_WRLCK, 8, 2));
	step("write 0-EOF over everything", F_WRLCK, 0, 0);
	step("read 100-199 inside", F_RDLCK, 100, 100);
	step("read 200-299 adjacent to the read piece", F_RDLCK, 200, 100);
	step("write 150-250 back in the middle", F_WRLCK, 150, 101);
	step("unlock 0-99", F_UNLCK, 0, 100);
	step("unlock 500-EOF", F_UNLCK, 500, 0);
	step("read 0-EOF (type change of everything)", F_RDLCK, 0, 0);
	say("probe write 999: %s", probe("f", F_GETLK, F_WRLCK, 999, 1));
	say("probe read 999: %s", probe("f", F_GETLK, F_RDLCK, 999, 1));
	step("unlock 1-EOF", F_UNLCK, 1, 0);
	step("unlock 0-0", F_UNLCK, 0, 1);
	step("unlock again (nothing there)", F_UNLCK, 0, 0);
	step("write 5 len -5 (0-4)", F_WRLCK, 5, -5);
	step("write 10-10 (gap 5-9)", F_WRLCK, 10, 1);
	step("write 5-9 fills the gap", F_WRLCK, 5, 5);
	say("done");
	return 0;
}
