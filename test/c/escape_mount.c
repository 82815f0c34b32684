/*
 * escape_mount DIR - changes to the mount tree from inside the sandbox: the
 * [proc] views are FUSE mounts over /proc files, and a program that removes
 * one reads the kernel's file instead of the emulation's. Under sysvisor,
 * whatever the manifest's [filesystem], Landlock refuses every one with
 * EPERM (it does for any domain that handles a filesystem right); DIR is an
 * empty directory to mount on. Natively, as root, these would change the
 * host's mounts: run it only sandboxed.
 */
#include "common.h"
#include <sys/mount.h>

int main(int argc, char **argv)
{
	setup();
	if (argc != 2)
		die("usage: escape_mount DIR");
	const char *dir = argv[1];
	CHECK("umount2(/proc/sysvipc/sem, MNT_DETACH)", umount2("/proc/sysvipc/sem", MNT_DETACH));
	CHECK("umount2(/proc/locks, MNT_DETACH)", umount2("/proc/locks", MNT_DETACH));
	CHECK("umount2(/proc/sys/kernel/sem, 0)", umount2("/proc/sys/kernel/sem", 0));
	CHECK("mount tmpfs on DIR", mount("none", dir, "tmpfs", 0, NULL));
	CHECK("bind /etc on DIR", mount("/etc", dir, NULL, MS_BIND, NULL));
	char file[PATH_MAX];
	snprintf(file, sizeof file, "%s/f", dir);
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		die("create DIR/f");
	close(fd);
	CHECK("bind DIR/f over /proc/locks", mount(file, "/proc/locks", NULL, MS_BIND, NULL));
	CHECK("remount / read-only", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	say("done");
	return 0;
}
