/*
 * exec_via - execs the exec checks must resolve as the program's, not the
 * supervisor's:
 *
 *   exec_via chroot JAIL PATH   chroot(JAIL), chdir("/"), execve(PATH)
 *   exec_via fd FILE            open(FILE), execve("/proc/self/fd/N")
 *   exec_via link LINK FILE     FILE opened as fd 0, execve(LINK): LINK is a
 *                               symlink to /dev/fd/0
 *
 * The executed program gets no arguments. If the exec fails, prints
 * "execve: ERRNO-NAME" and exits 126 (like a shell).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case ELOOP: return "ELOOP";
	case EPERM: return "EPERM";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	char path[64];
	const char *target;
	if (argc == 4 && strcmp(argv[1], "chroot") == 0) {
		if (chroot(argv[2]) < 0 || chdir("/") < 0) {
			printf("chroot %s: %s\n", argv[2], errname(errno));
			return 99;
		}
		target = argv[3];
	} else if (argc == 3 && strcmp(argv[1], "fd") == 0) {
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0) {
			printf("open %s: %s\n", argv[2], errname(errno));
			return 99;
		}
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		target = path;
	} else if (argc == 4 && strcmp(argv[1], "link") == 0) {
		int fd = open(argv[3], O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0) {
			printf("open %s as fd 0: %s\n", argv[3], errname(errno));
			return 99;
		}
		target = argv[2];
	} else {
		fprintf(stderr, "usage: exec_via chroot JAIL PATH | fd FILE | link LINK FILE\n");
		return 2;
	}
	char *args[] = { (char *)target, NULL };
	execve(target, args, environ);
	printf("execve: %s\n", errname(errno));
	return 126;
}
