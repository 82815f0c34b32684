/*
 * escape_mount DIR - changes to the mount tree from inside the sandbox: the
 * [proc] views are FUSE mounts over /proc files, and a program that removes
 * one, or reaches /proc through a detached copy of it, reads the kernel's
 * file instead of the emulation's. Under sysvisor, whatever the manifest's
 * [filesystem], every attempt fails with EPERM: Landlock refuses mount,
 * umount, bind and remount to any domain that handles a filesystem right,
 * and the filter refuses the calls Landlock has no hook for (open_tree with
 * OPEN_TREE_CLONE, fsopen, fspick, fsmount, open_tree_attr, mount_setattr);
 * a /proc kept from a mount namespace that died is refused at open (EACCES).
 * DIR is an empty directory to mount on. Natively, as root, these would
 * change the host's mounts: run it only sandboxed.
 */
#include "common.h"
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 1
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 1
#endif
#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467
#endif

/* struct mount_attr (linux/mount.h), which older headers lack. */
struct sv_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

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
	/* The new mount API: a detached copy of /proc would show the files the views cover. */
	long tree = CHECK("open_tree(/proc, OPEN_TREE_CLONE)", syscall(SYS_open_tree, AT_FDCWD, "/proc", OPEN_TREE_CLONE | O_CLOEXEC));
	if (tree >= 0)
		CHECK("openat(the clone, sysvipc/sem)", openat((int)tree, "sysvipc/sem", O_RDONLY | O_CLOEXEC));
	CHECK("open_tree(/proc, OPEN_TREE_NAMESPACE)", syscall(SYS_open_tree, AT_FDCWD, "/proc", 2 | O_CLOEXEC));
	long path_fd = CHECK_OK("open_tree(/proc) without the clone flag (an O_PATH fd)", syscall(SYS_open_tree, AT_FDCWD, "/proc", O_CLOEXEC));
	if (path_fd >= 0)
		close((int)path_fd);
	struct sv_mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	CHECK("open_tree_attr(/proc, OPEN_TREE_CLONE)",
	      syscall(SYS_open_tree_attr, AT_FDCWD, "/proc", OPEN_TREE_CLONE | O_CLOEXEC, &attr, sizeof attr));
	CHECK("fsopen(proc)", syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC));
	CHECK("fspick(/proc)", syscall(SYS_fspick, AT_FDCWD, "/proc", 0));
	CHECK("fsmount(-1)", syscall(SYS_fsmount, -1, 0, 0));
	CHECK("mount_setattr(/proc/locks, read-only)",
	      syscall(SYS_mount_setattr, AT_FDCWD, "/proc/locks", 0, &attr, sizeof attr));
	/*
	 * A mount namespace that dies detaches its mounts from one another: a /proc
	 * kept open from it no longer crosses the views. Landlock's walk up the
	 * path on open, which stops at that detached root, refuses the opens
	 * (EACCES): the reason the domain of a manifest without [filesystem]
	 * still handles every right.
	 */
	if (unshare(CLONE_NEWNS) < 0)
		die("unshare(CLONE_NEWNS)");
	int kept = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (kept < 0)
		die("open /proc");
	if (unshare(CLONE_NEWNS) < 0)
		die("unshare(CLONE_NEWNS) again");
	CHECK("dead namespace's /proc: open sysvipc/sem", openat(kept, "sysvipc/sem", O_RDONLY | O_CLOEXEC));
	CHECK("dead namespace's /proc: open locks", openat(kept, "locks", O_RDONLY | O_CLOEXEC));
	CHECK("dead namespace's /proc: open sys/kernel/sem for writing", openat(kept, "sys/kernel/sem", O_WRONLY | O_CLOEXEC));
	say("done");
	return 0;
}
