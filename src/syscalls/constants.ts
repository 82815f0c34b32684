/**
 * The x86_64 Linux argument constants the project reads or passes, with their
 * Linux names (uapi asm-generic/fcntl.h, linux/fcntl.h, linux/kcmp.h, ...).
 * The one place they are defined: code imports them from here.
 */

// open(2) flags (asm-generic/fcntl.h, octal as there)
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

// *at(2) (linux/fcntl.h)
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_RECURSIVE = 0x8000;

// fcntl(2) commands
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_GETLK = 5;
export const F_SETLK = 6;
export const F_SETLKW = 7;
export const F_OFD_GETLK = 36;
export const F_OFD_SETLK = 37;
export const F_OFD_SETLKW = 38;

// struct flock l_type
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

// flock(2) operations
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const LOCK_MAND = 32;

// lseek(2) and struct flock l_whence
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

// st_mode file types
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

/** close_range(2) flag: mark close-on-exec instead of closing. */
export const CLOSE_RANGE_CLOEXEC = 4;
/** memfd_create(2) flag. */
export const MFD_CLOEXEC = 1;
/** renameat2(2) flag. */
export const RENAME_NOREPLACE = 1;
/** clone(2) flag: a thread of the caller's process. */
export const CLONE_THREAD = 0x10000;
/** clone(2)/unshare(2) flags: a new mount namespace, a new IPC namespace. */
export const CLONE_NEWNS = 0x20000;
export const CLONE_NEWIPC = 0x8000000;

// kcmp(2) types (linux/kcmp.h)
export const KCMP_FILE = 0;
export const KCMP_FILES = 2;
export const KCMP_SYSVSEM = 6;

/**
 * The open_tree(2) flags that only open a path (linux/mount.h, linux/fcntl.h):
 * every other bit makes a detached copy of the mount (OPEN_TREE_CLONE) or, on
 * newer kernels, a new mount namespace (OPEN_TREE_NAMESPACE).
 */
export const OPEN_TREE_PATH_ONLY = O_CLOEXEC | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_SYMLINK_NOFOLLOW | AT_RECURSIVE;

/** Socket options (asm-generic/socket.h): the peer's credentials and pidfd of a unix socket. */
export const SOL_SOCKET = 1;
export const SO_PEERCRED = 17;
export const SO_PEERPIDFD = 77;
