/*
 * escape_mount DIR - changes to the mount tree from inside the sandbox: the
 * [proc] views are FUSE mounts over /proc files, and a program that removes
 * one, or reaches /proc through a detached copy of it, reads the kernel's
 * file instead of the emulation's. Under sysvisor, whatever the manifest's
 * [filesystem], every attempt fails with EPERM: Landlock refuses mount,
 * umount, bind and remount to any domain that handles a filesystem right,
 * and the filter refuses the calls Landlock has no hook for (open_tree with
 * OPEN_TREE_CLONE, fsopen, fspick, fsmount, open_tree_attr, mount_setattr)
 * and a new mount or IPC namespace (unshare, clone; clone3 is ENOSYS).
 * DIR is an empty directory to mount on. Natively, as root, these would
 * change the host's mounts: run it only sandboxed.
 */
#include "common.h"
#include <sched.h>
#include <sys/mount.h>
#include <sys/vfs.h>
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

/* struct clone_args (linux/sched.h), the fields up to tls. */
struct sv_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

/* The result of a call that forks a child which only exits: -1 (errno kept), or 0 once the child is reaped. */
static long reaped(long pid)
{
	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return -1;
	reap_ok((pid_t)pid);
	return 0;
}

static long child_with(unsigned long flags)
{
	return reaped(syscall(SYS_clone, flags, 0, 0, 0, 0));
}

static long clone3_child(struct sv_clone_args *a)
{
	return reaped(syscall(SYS_clone3, a, sizeof *a));
}

/* Whether the file at `path` is on a FUSE mount (the views are). */
static int is_fuse(const char *path)
{
	struct statfs sf;
	if (statfs(path, &sf) < 0)
		die("statfs %s", path);
	return sf.f_type == 0x65735546; /* FUSE_SUPER_MAGIC */
}

/* 0 if `path` opens with `flags` (closed at once), else -1. */
static long opened(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

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
	 * A mount namespace the program made keeps its mounts alive through any fd
	 * into it, detached from one another once it dies: a /proc kept that way
	 * no longer crosses the views. The filter refuses making one, and answers
	 * clone3, whose flags it cannot see, ENOSYS (C libraries fall back to clone).
	 */
	CHECK("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
	CHECK("unshare(CLONE_NEWUSER|CLONE_NEWNS)", unshare(CLONE_NEWUSER | CLONE_NEWNS));
	CHECK("clone(CLONE_NEWNS)", child_with(CLONE_NEWNS | SIGCHLD));
	struct sv_clone_args ns = { .flags = CLONE_NEWNS, .exit_signal = SIGCHLD };
	CHECK("clone3(CLONE_NEWNS)", clone3_child(&ns));
	struct sv_clone_args plain = { .exit_signal = SIGCHLD };
	CHECK("clone3 (a plain fork)", clone3_child(&plain));
	CHECK_OK("clone without CLONE_NEWNS (a plain fork)", child_with(SIGCHLD));
	/* A new IPC namespace has a /proc/sys/kernel/sem of its own, which the view does not cover. */
	CHECK("unshare(CLONE_NEWIPC)", unshare(CLONE_NEWIPC));
	CHECK("clone(CLONE_NEWIPC)", child_with(CLONE_NEWIPC | SIGCHLD));
	say("/proc/sys/kernel/sem after them: %s", is_fuse("/proc/sys/kernel/sem") ? "the view" : "the kernel's");
	/* Root keeps its capabilities: only [filesystem] rules keep host-wide settings out of reach (opened, never written). */
	CHECK("open /proc/sys/kernel/core_pattern for writing", opened("/proc/sys/kernel/core_pattern", O_WRONLY | O_APPEND));
	say("done");
	return 0;
}
