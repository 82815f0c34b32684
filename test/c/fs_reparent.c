/*
 * fs_reparent DIR - rename(2), link(2) and renameat2(RENAME_EXCHANGE) of files
 * between two directories made under DIR, and a rename within one. Landlock
 * refuses moving a file into another directory (EXDEV) in any domain whose
 * rules do not grant REFER: under a manifest without [filesystem] every one
 * must succeed, as natively.
 */
#include "common.h"
#include <sys/syscall.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static void path(char *out, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
		die("path too long");
}

int main(int argc, char **argv)
{
	setup();
	if (argc != 2)
		die("usage: fs_reparent DIR");
	char a[PATH_MAX], b[PATH_MAX], af[PATH_MAX], bf[PATH_MAX], ag[PATH_MAX], ah[PATH_MAX], bh[PATH_MAX];
	path(a, sizeof a, argv[1], "a");
	path(b, sizeof b, argv[1], "b");
	path(af, sizeof af, a, "f");
	path(bf, sizeof bf, b, "f");
	path(ag, sizeof ag, a, "g");
	path(ah, sizeof ah, a, "h");
	path(bh, sizeof bh, b, "h");
	if (mkdir(a, 0700) < 0 || mkdir(b, 0700) < 0)
		die("mkdir");
	int fd = open(af, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		die("create a/f");
	close(fd);
	CHECK("rename a/f b/f", rename(af, bf));
	CHECK("link b/f a/g", link(bf, ag));
	CHECK("rename a/g a/h (same directory)", rename(ag, ah));
	if ((fd = open(bh, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0)
		die("create b/h");
	close(fd);
	CHECK("exchange a/h b/h", syscall(SYS_renameat2, AT_FDCWD, ah, AT_FDCWD, bh, RENAME_EXCHANGE));
	say("done");
	return 0;
}
