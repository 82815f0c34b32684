/*
 * exec_at - execveat(2) in its three forms, for the exec policy tests:
 *
 *   exec_at dir DIR NAME     execveat(open(DIR, O_PATH|O_DIRECTORY), NAME, ..., 0)
 *   exec_at fd FILE          execveat(open(FILE, O_PATH), "", ..., AT_EMPTY_PATH)
 *   exec_at nofollow DIR NAME   execveat(dirfd, NAME, ..., AT_SYMLINK_NOFOLLOW)
 *
 * The executed program gets no arguments. If the exec fails, prints
 * "execveat: ERRNO-NAME" and exits 126 (like a shell).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case ELOOP: return "ELOOP";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case ENOTDIR: return "ENOTDIR";
	case EPERM: return "EPERM";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	int fd;
	const char *name;
	int flags;
	if (argc == 4 && (strcmp(argv[1], "dir") == 0 || strcmp(argv[1], "nofollow") == 0)) {
		fd = open(argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
		name = argv[3];
		flags = strcmp(argv[1], "nofollow") == 0 ? AT_SYMLINK_NOFOLLOW : 0;
	} else if (argc == 3 && strcmp(argv[1], "fd") == 0) {
		fd = open(argv[2], O_PATH | O_CLOEXEC);
		name = "";
		flags = AT_EMPTY_PATH;
	} else {
		fprintf(stderr, "usage: exec_at dir DIR NAME | fd FILE | nofollow DIR NAME\n");
		return 2;
	}
	if (fd < 0) {
		printf("open: %s\n", errname(errno));
		return 99;
	}
	char *args[] = { (char *)name, NULL };
	syscall(SYS_execveat, fd, name, args, environ, flags);
	printf("execveat: %s\n", errname(errno));
	return 126;
}
