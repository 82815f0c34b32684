// koffi bindings to libc: every syscall the supervisor makes goes through
// here. Synchronous calls only (an async koffi call costs ~50 µs). Pointers are
// passed as plain numbers (addresses from koffi.address) or koffi allocations.
import { fileURLToPath } from 'node:url';
import koffi, { type LibraryHandle } from 'koffi';
import { AT_EMPTY_PATH, AT_FDCWD } from '../src/syscalls/constants.js';

const libc = koffi.load('libc.so.6');

/** The raw syscall(2) entry with six integer arguments; returns -1 and sets errno on failure. */
export const syscall6 = libc.func('long syscall(long nr, long a, long b, long c, long d, long e, long f)') as (
  nr: number,
  a: number | bigint,
  b: number | bigint,
  c: number | bigint,
  d: number | bigint,
  e: number | bigint,
  f: number | bigint,
) => number;

export const ioctl = libc.func('int ioctl(int fd, unsigned long req, void *arg)') as (fd: number, req: number, arg: unknown) => number;
/** ioctl whose third argument travels by value (SECCOMP_IOCTL_NOTIF_SET_FLAGS). */
export const ioctlValue = libc.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']) as (
  fd: number,
  req: number,
  arg: number,
) => number;
export const epollCreate1 = libc.func('int epoll_create1(int flags)') as (flags: number) => number;
export const epollCtl = libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)') as (
  epfd: number,
  op: number,
  fd: number,
  ev: unknown,
) => number;
export const close = libc.func('int close(int fd)') as (fd: number) => number;
export const read = libc.func('long read(int fd, void *buf, unsigned long n)') as (fd: number, buf: unknown, n: number) => number;
export const write = libc.func('long write(int fd, void *buf, unsigned long n)') as (fd: number, buf: unknown, n: number) => number;
export const eventfd = libc.func('int eventfd(unsigned int initval, int flags)') as (init: number, flags: number) => number;
export const processVmReadv = libc.func(
  'long process_vm_readv(int pid, void *liov, unsigned long liovcnt, void *riov, unsigned long riovcnt, unsigned long flags)',
) as (pid: number, liov: unknown, lcnt: number, riov: unknown, rcnt: number, flags: number) => number;
export const processVmWritev = libc.func(
  'long process_vm_writev(int pid, void *liov, unsigned long liovcnt, void *riov, unsigned long riovcnt, unsigned long flags)',
) as (pid: number, liov: unknown, lcnt: number, riov: unknown, rcnt: number, flags: number) => number;
export const prctl = libc.func('int prctl(int option, unsigned long a, unsigned long b, unsigned long c, unsigned long d)') as (
  option: number,
  a: number,
  b: number,
  c: number,
  d: number,
) => number;
export const memfdCreate = libc.func('int memfd_create(const char *name, unsigned int flags)') as (name: string, flags: number) => number;
export const pipe2 = libc.func('int pipe2(_Out_ int *fds, int flags)') as (fds: number[], flags: number) => number;
export const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)') as (fd: number, cmd: number, arg: number) => number;
/** fcntl(2) with a pointer argument (struct flock for F_OFD_SETLK / F_OFD_GETLK). */
export const fcntlPtr = libc.func('fcntl', 'int', ['int', 'int', 'void *']) as (fd: number, cmd: number, arg: unknown) => number;
export const flock = libc.func('int flock(int fd, int op)') as (fd: number, op: number) => number;
export const lseek = libc.func('long lseek(int fd, long off, int whence)') as (fd: number, off: number, whence: number) => number;
/** statx(2) into a native struct statx (STATX.SIZE bytes); 0 or -1 with errno. */
export const statx = libc.func('int statx(int dirfd, const char *path, int flags, unsigned int mask, void *buf)') as (
  dirfd: number,
  path: string,
  flags: number,
  mask: number,
  buf: unknown,
) => number;
export const openPath = libc.func('int open(const char *path, int flags)') as (path: string, flags: number) => number;
/** The *at calls: every file the supervisor creates is named relative to a directory it opened once (see safe-file.ts). */
export const openat = libc.func('int openat(int dirfd, const char *path, int flags, ...)') as (
  dirfd: number,
  path: string,
  flags: number,
  modeType: 'uint32',
  mode: number,
) => number;
export const mkdirat = libc.func('int mkdirat(int dirfd, const char *path, uint32_t mode)') as (
  dirfd: number,
  path: string,
  mode: number,
) => number;
export const renameat2 = libc.func(
  'int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)',
) as (oldDir: number, oldPath: string, newDir: number, newPath: string, flags: number) => number;
export const linkat = libc.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)') as (
  oldDir: number,
  oldPath: string,
  newDir: number,
  newPath: string,
  flags: number,
) => number;
export const unlinkat = libc.func('int unlinkat(int dirfd, const char *path, int flags)') as (
  dirfd: number,
  path: string,
  flags: number,
) => number;
export const getsockopt = libc.func('int getsockopt(int fd, int level, int name, void *value, _Inout_ uint32_t *length)') as (
  fd: number,
  level: number,
  name: number,
  value: Uint8Array,
  length: number[],
) => number;
/** openat2(2) with struct open_how { u64 flags, mode, resolve }; the fd, or -errno. Paths up to PATH_MAX bytes. */
const openHow = allocNative(24);
const openatPath = allocNative(4097);
export function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  const bytes = Buffer.from(path);
  if (bytes.length >= openatPath.bytes.length) return -36; // ENAMETOOLONG
  openatPath.bytes.set(bytes);
  openatPath.bytes[bytes.length] = 0;
  openHow.view.setBigUint64(0, BigInt(flags), true);
  openHow.view.setBigUint64(8, 0n, true);
  openHow.view.setBigUint64(16, BigInt(resolve), true);
  const fd = syscall6(SYS.openat2, dirfd, openatPath.address, openHow.address, 24, 0, 0);
  return fd < 0 ? -errno() : fd;
}
export const RESOLVE = { NO_MAGICLINKS: 0x02, BENEATH: 0x08, IN_ROOT: 0x10 } as const;
/** x86_64 struct stat: st_dev u64 @0, st_ino u64 @8, st_mode u32 @24, st_size i64 @48. */
export const STAT_SIZE = 144;
/**
 * struct statx: u16 stx_mode @28, u64 stx_ino @32, u64 stx_size @40, u32 stx_dev_major @136, stx_dev_minor @140.
 * DONT_SYNC: the attributes the kernel has, without asking a network or FUSE
 * server (the [proc] views are served by the thread that would ask).
 */
export const STATX = {
  SIZE: 256,
  AT_FDCWD,
  AT_EMPTY_PATH,
  AT_STATX_DONT_SYNC: 0x4000,
  BASIC_STATS: 0x7ff,
  MODE: 28,
  INO: 32,
  FILE_SIZE: 40,
  DEV_MAJOR: 136,
  DEV_MINOR: 140,
} as const;

/** supervisor/loop/step.c's sv_step: SEND (optional) + epoll_wait + RECV + a read ahead in one native call. */
export type StepFn = (loop: unknown) => number;

const STEP_LIBRARY = fileURLToPath(new URL('../../supervisor/build/libsysvisor-step.so', import.meta.url));

/** The project's own native libraries, loaded once per thread; a missing one says how to build it. */
const builtLibraries = new Map<string, LibraryHandle>();
function builtLibrary(path: string): LibraryHandle {
  let lib = builtLibraries.get(path);
  if (lib === undefined) {
    try {
      lib = koffi.load(path);
    } catch (err) {
      throw new Error(`cannot load ${path} (run \`npm run build\`): ${(err as Error).message}`);
    }
    builtLibraries.set(path, lib);
  }
  return lib;
}

/** Loaded by the loop's thread only; built by `make -C supervisor`. */
export function loadStep(): StepFn {
  return builtLibrary(STEP_LIBRARY).func('int sv_step(void *loop)') as StepFn;
}

/** supervisor/loop/step.c's sv_stack_pointer: the stack pointer of a thread sitting in a syscall, or -1. */
export type StackPointerFn = (tid: number) => number | bigint;

/** Loaded by the loop's thread only, beside the step (it shares the step's open /proc/TID/syscall files). */
export function loadStackPointer(): StackPointerFn {
  return builtLibrary(STEP_LIBRARY).func('int64_t sv_stack_pointer(int32_t tid)') as StackPointerFn;
}

/** supervisor/locks/hostwait.c: blocking host lock calls on helper threads (see there). */
export interface HostWaitLib {
  init(eventfd: number): number;
  start(fd: number, op: number, type: number, start: bigint, len: bigint): number;
  cancel(id: number): void;
  collect(out: unknown, max: number): number;
}

const HOSTWAIT = fileURLToPath(new URL('../../supervisor/build/libsysvisor-hostwait.so', import.meta.url));

/** Loaded by the loop's thread when locks are host-coherent. */
export function loadHostWait(): HostWaitLib {
  const lib = builtLibrary(HOSTWAIT);
  return {
    init: lib.func('int sv_hw_init(int efd)') as HostWaitLib['init'],
    start: lib.func('int sv_hw_start(int fd, int op, int type, long long start, long long len)') as HostWaitLib['start'],
    cancel: lib.func('void sv_hw_cancel(int id)') as HostWaitLib['cancel'],
    collect: lib.func('int sv_hw_collect(void *out, int max)') as HostWaitLib['collect'],
  };
}

/**
 * The epoll fd of the main thread's event loop (libuv's uv_backend_fd of
 * uv_default_loop, both exported by the node binary): readable whenever
 * Node has events to serve there (a signal, a child's exit, a message).
 */
export function mainEventLoopFd(): number {
  const node = koffi.load(null);
  const loop = node.func('void *uv_default_loop(void)')() as unknown;
  return node.func('int uv_backend_fd(void *loop)')(loop) as number;
}

export function errno(): number {
  return koffi.errno();
}

/** Native memory that the kernel reads and writes, with a typed view for JS. */
export interface NativeBuffer {
  ptr: unknown;
  address: number;
  bytes: Uint8Array;
  view: DataView;
}

export function allocNative(size: number): NativeBuffer {
  const ptr: unknown = koffi.alloc('uint8_t', size);
  const ab = koffi.view(ptr, size);
  return { ptr, address: Number(koffi.address(ptr)), bytes: new Uint8Array(ab), view: new DataView(ab) };
}

export const SYS = {
  kill: 62,
  pidfd_open: 434,
  pidfd_getfd: 438,
  pidfd_send_signal: 424,
  kcmp: 312,
  getdents64: 217,
  tgkill: 234,
  openat2: 437,
} as const;

export function pidfdOpen(pid: number): number {
  return syscall6(SYS.pidfd_open, pid, 0, 0, 0, 0, 0);
}

export function pidfdGetfd(pidfd: number, fd: number): number {
  return syscall6(SYS.pidfd_getfd, pidfd, fd, 0, 0, 0, 0);
}

export const EPOLL = { CTL_ADD: 1, CTL_DEL: 2, IN: 0x1, OUT: 0x4, ERR: 0x8, HUP: 0x10, CLOEXEC: 0x80000 } as const;
export const PR_SET_CHILD_SUBREAPER = 36;
export const PR_SET_DUMPABLE = 4;
export const waitid = libc.func('int waitid(int idtype, int id, void *infop, int options)') as (
  idtype: number,
  id: number,
  infop: unknown,
  options: number,
) => number;
export const P_PID = 1;
export const WEXITED = 4;
export const WNOHANG = 1;
