// Host coherence of the sandbox's file locks ([locks] host = "coherent"):
// every lock the registry grants is also held on the host kernel, and a
// host lock in the way refuses (or holds back) the sandbox's request. The
// registry stays the leader; this is its LockHooks.host/hostWait/hostCancel.
//
// One host description per lock owner, so that the host kernel applies each
// owner's requests exactly as it would the owner's own (splits, merges,
// downgrades, the non-atomic flock conversion, a blocked request beside
// its owner's other calls):
//  - an OFD or flock owner is a sandboxed open file description: its locks
//    go on that very description, through the duplicate the description
//    table holds (F_OFD_SETLK, flock). The sandbox never locks natively (the
//    calls are trapped), so what the kernel holds there is ours to set.
//  - a POSIX owner is a process: its locks on a file go, as OFD locks, on a
//    description the supervisor opens for that (process, file) pair. It is
//    opened by reopening the supervisor's own pidfd_getfd duplicate through
//    /proc/self/fd/N: that magic link resolves to the very file the
//    duplicate holds (nd_jump_link, no path walk), so no link or rename the
//    program plants can redirect it; the (dev, ino) is checked again after.
//    Only regular files and directories are reopened (a FIFO or a device
//    would see an open of its own: a writer that never closes, a side
//    effect), with O_NONBLOCK so that a lease break fails instead of
//    blocking the loop. The access mode is the duplicate's (O_RDWR when it
//    is write-only: OFD read locks need FMODE_READ); a write lock on a
//    read-only one reopens O_RDWR and carries the read locks over first.
//    The description goes when the process's POSIX locks on the file are
//    released (a close, exit).
// The host sees OFD locks (pid -1 in F_GETLK and /proc/locks) where the
// sandbox has POSIX ones; the ranges are the sandbox's.
//
// A request the host refuses: EAGAIN for F_SETLK / LOCK_NB; F_SETLKW and a
// waiting flock wait on a helper thread (hostwait.c) doing the
// blocking call on the same description, so the kernel queues it with the
// host's own waiters; when it returns the registry retries the request (the
// host part is then already held). An interrupted waiter's helper is
// signalled until it gives up; whatever it took anyway is given back.
//
// A file that cannot be mirrored (not reopenable, refused by the host with
// anything but a conflict) keeps sandbox-only locks: one warning per file,
// counted in the state dump and --stats.
import { EACCES, EAGAIN, errnoName } from '../../src/syscalls/errno.js';
import {
  type FcntlCaller,
  type FileId,
  type LockChange,
  type LockRegistry,
  type LockType,
  FLOCK_SIZE,
  OFFSET_MAX,
  ownerNumber,
  readFlock,
  type UserFlock,
  type Waiter,
  writeFlock,
} from '../../src/locks/index.js';
import {
  F_OFD_GETLK,
  F_OFD_SETLK,
  F_RDLCK,
  F_UNLCK,
  F_WRLCK,
  LOCK_EX,
  LOCK_NB,
  LOCK_SH,
  LOCK_UN,
  O_ACCMODE,
  O_CLOEXEC,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  SEEK_SET,
} from '../../src/syscalls/constants.js';
import {
  allocNative,
  close,
  errno,
  eventfd,
  fcntlPtr,
  flock,
  loadHostWait,
  openPath,
  read,
  STATX,
  statx,
  type HostWaitLib,
  type NativeBuffer,
} from '../ffi.js';
import type { NotificationLoop } from '../loop/loop.js';
import type { Tracer } from '../trace.js';
import { type DescriptionTable, fileKeyOf, fileOfStatx, type OpenFileInfo } from '../fds.js';

const REOPEN_FLAGS = O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
const EFD_NONBLOCK_CLOEXEC = O_NONBLOCK | O_CLOEXEC;
/** hostwait.c operations. */
const OP_OFD = 0;
const OP_FLOCK = 1;
/** A cancel signal can land before the helper sleeps: repeat it this often until the helper is back. */
const CANCEL_REPEAT_MS = 1;
const COLLECT_MAX = 64;

/** The description a process's POSIX locks on one file are held on. */
interface PosixHost {
  fd: number;
  readable: boolean;
  writable: boolean;
}

interface HostWait<T> {
  readonly w: Waiter<T>;
  cancelled: boolean;
}

export class HostLocks<T> {
  /** pid -> file key -> its POSIX host description. */
  private readonly posix = new Map<number, Map<string, PosixHost>>();
  private readonly waits = new Map<number, HostWait<T>>();
  private readonly jobOf = new Map<Waiter<T>, number>();
  private readonly cancelling = new Set<number>();
  private cancelDeadline = Infinity;
  /** Files whose locks stay in the sandbox (warned once each). */
  private readonly refused = new Set<string>();
  /** The last POSIX host description looked up: a process locking one file asks for it on every call. */
  private lastPosix: { pid: number; file: FileId; fd: number } | null = null;
  /** Requests the host refused (EAGAIN answered, or waited for). */
  private conflicts = 0;
  private waited = 0;
  private readonly flockBuf: NativeBuffer = allocNative(FLOCK_SIZE);
  private readonly stat: NativeBuffer = allocNative(STATX.SIZE);
  private readonly collectBuf: NativeBuffer = allocNative(COLLECT_MAX * 8);
  private readonly eventBuf: NativeBuffer = allocNative(8);
  private readonly lib: HostWaitLib;
  private readonly efd: number;

  constructor(
    loop: NotificationLoop,
    private readonly descs: DescriptionTable,
    private readonly registry: () => LockRegistry<T>,
    private readonly tracer: Tracer | null,
  ) {
    this.lib = loadHostWait();
    this.efd = eventfd(0, EFD_NONBLOCK_CLOEXEC);
    if (this.efd < 0) throw new Error(`eventfd: errno ${errno()}`);
    const rc = this.lib.init(this.efd);
    if (rc < 0) throw new Error(`host lock helpers: sigaction: ${errnoName(-rc)}`);
    loop.watchFd(this.efd, () => this.collect());
  }

  // ---- the registry's hooks ----------------------------------------------

  /** LockHooks.host: the same change on the owner's host description. */
  apply(c: LockChange, force: boolean): number {
    const fd = this.fdOf(c.kind, ownerNumber(c.owner), c.file);
    if (fd < 0) return 0; // not mirrored: warned when it was refused
    const rc = c.kind === 'flock' ? this.flockOn(fd, c.type, true) : this.ofd(fd, F_OFD_SETLK, c.type, c.start, c.end);
    if (rc === 0) return 0;
    if (rc === -EAGAIN || rc === -EACCES) {
      if (force) this.refuse(c.file, 'a host lock is in the way of a lock given back');
      else this.conflicts++;
      return rc;
    }
    this.refuse(c.file, c.kind === 'flock' ? `flock: ${errnoName(-rc)}` : `F_OFD_SETLK: ${errnoName(-rc)}`);
    return 0;
  }

  /** LockHooks.hostWait: the blocking call, on a helper thread. */
  wait(w: Waiter<T>): boolean {
    const fd = this.fdOf(w.kind, ownerOf(w), w.file);
    if (fd < 0) return false;
    const id =
      w.kind === 'flock'
        ? this.lib.start(fd, OP_FLOCK, w.type === F_WRLCK ? LOCK_EX : LOCK_SH, 0n, 0n)
        : this.lib.start(fd, OP_OFD, w.type, w.start, lengthOf(w.start, w.end));
    if (id < 0) return false;
    this.waits.set(id, { w, cancelled: false });
    this.jobOf.set(w, id);
    this.waited++;
    this.tracer?.event(w.pid, `${w.kind === 'flock' ? 'flock' : 'fcntl'} waits for a host lock on ${fileKeyOf(w.file)}`);
    return true;
  }

  /** LockHooks.hostCancel. */
  cancel(w: Waiter<T>): void {
    const id = this.jobOf.get(w);
    if (id === undefined) return;
    this.jobOf.delete(w);
    this.waits.get(id)!.cancelled = true;
    this.lib.cancel(id);
    if (this.cancelling.size === 0) this.cancelDeadline = performance.now() + CANCEL_REPEAT_MS;
    this.cancelling.add(id);
  }

  // ---- what the fcntl handler asks --------------------------------------

  /**
   * Before a POSIX lock of type `type` by lock owner `owner` (a files table:
   * see owners.ts) through `info`: make sure the owner has a host
   * description of the file that can hold it.
   */
  preparePosix(owner: number, info: OpenFileInfo, type: LockType): void {
    let files = this.posix.get(owner);
    const had = files?.get(info.key);
    if (had !== undefined && (type === F_WRLCK ? had.writable : had.readable)) return;
    if (this.refused.has(info.key)) return;
    const fmt = info.mode & S_IFMT;
    if (fmt !== S_IFREG && fmt !== S_IFDIR) return this.refuse(info.file, 'not a regular file or directory');
    const acc = info.flags & O_ACCMODE;
    // A read-only duplicate gives a read-only description until a write lock needs both.
    const modes = had !== undefined ? [O_RDWR] : acc === O_WRONLY ? [O_RDWR, O_WRONLY] : [acc];
    let fd = -1;
    let mode = -1;
    let why = '';
    for (const m of modes) {
      fd = this.reopen(info, m);
      if (fd >= 0) {
        mode = m;
        break;
      }
      why = `reopen ${m === O_RDWR ? 'O_RDWR' : m === O_WRONLY ? 'O_WRONLY' : 'O_RDONLY'}: ${errnoName(-fd)}`;
    }
    if (fd < 0) return this.refuse(info.file, why);
    const host: PosixHost = { fd, readable: mode !== O_WRONLY, writable: mode !== O_RDONLY };
    if (had !== undefined) {
      // Read locks first on the new description (readers share), then the old one goes: no gap.
      for (const s of this.registry().coverage(info.file, { pid: owner, owner }, 0n, OFFSET_MAX)) {
        if (s.type === F_RDLCK) this.ofd(fd, F_OFD_SETLK, F_RDLCK, s.start, s.end);
      }
      close(had.fd);
      this.lastPosix = null;
    }
    if (files === undefined) this.posix.set(owner, (files = new Map<string, PosixHost>()));
    files.set(info.key, host);
  }

  /**
   * F_GETLK / F_OFD_GETLK found nothing in the sandbox: what the host says,
   * as the kernel reports it (l_pid of a POSIX holder, -1 for OFD), or null.
   */
  probe(who: FcntlCaller, info: OpenFileInfo, type: LockType, start: bigint, end: bigint): UserFlock | null {
    if (type === F_UNLCK) return null; // F_OFD_GETLK F_UNLCK asks about the caller's own locks
    // A POSIX caller's own locks are on its host description: probe from there so that they do not count.
    const fd = who.ofd === undefined ? (this.posix.get(who.owner ?? who.pid)?.get(info.key)?.fd ?? info.fd) : info.fd;
    if (this.ofd(fd, F_OFD_GETLK, type, start, end) < 0) return null;
    const v = this.flockBuf.view;
    if (v.getInt16(0, true) === F_UNLCK) return null;
    return readFlock(v);
  }

  /** The owner's POSIX locks on the file were released: its host description goes. */
  releasePosixFile(owner: number, key: string): void {
    const files = this.posix.get(owner);
    const h = files?.get(key);
    if (h === undefined) return;
    close(h.fd);
    this.lastPosix = null;
    files!.delete(key);
    if (files!.size === 0) this.posix.delete(owner);
  }

  /** The owner's files table is gone (its locks are released): every host description of it goes. */
  releaseOwner(owner: number): void {
    for (const h of this.posix.get(owner)?.values() ?? []) close(h.fd);
    this.posix.delete(owner);
    this.lastPosix = null;
  }

  nextDeadline(): number {
    return this.cancelling.size > 0 ? this.cancelDeadline : Infinity;
  }

  onTimer(): void {
    if (this.cancelling.size === 0 || performance.now() < this.cancelDeadline) return;
    for (const id of this.cancelling) this.lib.cancel(id);
    this.cancelDeadline = performance.now() + CANCEL_REPEAT_MS;
  }

  snapshot(): object {
    return {
      mode: 'coherent',
      conflicts: this.conflicts,
      waitedForHost: this.waited,
      waiting: this.waits.size,
      sandboxOnlyFiles: [...this.refused],
    };
  }

  // ---- internals ---------------------------------------------------------

  /** The host description of an owner: `id` is the pid (POSIX) or the description id. -1: none. */
  private fdOf(kind: LockChange['kind'], id: number, file: FileId): number {
    if (kind !== 'posix') return this.descs.get(id)?.fd ?? -1;
    const last = this.lastPosix;
    if (
      last !== null &&
      last.pid === id &&
      last.file.ino === file.ino &&
      last.file.major === file.major &&
      last.file.minor === file.minor
    ) {
      return last.fd;
    }
    const fd = this.posix.get(id)?.get(fileKeyOf(file))?.fd ?? -1;
    if (fd >= 0) this.lastPosix = { pid: id, file, fd };
    return fd;
  }

  /** open("/proc/self/fd/DUP") with access mode `mode`, checked to be the same file; the fd or -errno. */
  private reopen(info: OpenFileInfo, mode: number): number {
    const fd = openPath(`/proc/self/fd/${info.fd}`, mode | REOPEN_FLAGS);
    if (fd < 0) return -errno();
    if (
      statx(fd, '', STATX.AT_EMPTY_PATH | STATX.AT_STATX_DONT_SYNC, STATX.BASIC_STATS, this.stat.ptr) < 0 ||
      fileKeyOf(fileOfStatx(this.stat.view)) !== info.key
    ) {
      close(fd);
      return -EACCES;
    }
    return fd;
  }

  /** F_OFD_SETLK / F_OFD_GETLK of [start, end] through the shared struct flock: 0 or -errno. */
  private ofd(fd: number, cmd: number, type: LockType, start: bigint, end: bigint): number {
    const v = this.flockBuf.view;
    writeFlock(v, { type, whence: SEEK_SET, start, len: lengthOf(start, end), pid: 0 }); // l_pid must be 0 for OFD commands
    return fcntlPtr(fd, cmd, this.flockBuf.ptr) < 0 ? -errno() : 0;
  }

  private flockOn(fd: number, type: LockType, nonBlocking: boolean): number {
    const op = type === F_UNLCK ? LOCK_UN : (type === F_WRLCK ? LOCK_EX : LOCK_SH) | (nonBlocking ? LOCK_NB : 0);
    return flock(fd, op) < 0 ? -errno() : 0;
  }

  private refuse(file: FileId, why: string): void {
    const key = fileKeyOf(file);
    if (this.refused.has(key)) return;
    this.refused.add(key);
    const text = `locks on file ${key} stay in the sandbox, invisible to the host (${why})`;
    process.stderr.write(`sysvisor: warning: ${text}\n`);
    this.tracer?.event(process.pid, text);
  }

  /** Helper threads that finished: retry their waiters, give back what nobody wants. */
  private collect(): void {
    read(this.efd, this.eventBuf.ptr, 8);
    const out = new Int32Array(this.collectBuf.bytes.buffer, this.collectBuf.bytes.byteOffset, COLLECT_MAX * 2);
    for (let n = this.lib.collect(this.collectBuf.ptr, COLLECT_MAX); n > 0; n = this.lib.collect(this.collectBuf.ptr, COLLECT_MAX)) {
      for (let i = 0; i < n; i++) {
        const id = out[2 * i];
        const result = out[2 * i + 1];
        const job = this.waits.get(id);
        if (job === undefined) continue;
        this.waits.delete(id);
        this.cancelling.delete(id);
        if (!job.cancelled) {
          this.jobOf.delete(job.w);
          this.registry().hostDone(job.w);
        }
        if (result === 0) this.giveBack(job.w);
      }
    }
  }

  /**
   * A helper took w's lock on the host: set the owner's host locks over w's
   * range back to what the registry holds for it (all of it when w was
   * granted). Downgrades and unlocks, which cannot fail, but for the write
   * lock a helper's read request converted.
   */
  private giveBack(w: Waiter<T>): void {
    const registry = this.registry();
    const fd = this.fdOf(w.kind, ownerOf(w), w.file);
    if (fd < 0) return;
    if (w.kind === 'flock') {
      this.flockOn(fd, registry.flockHeld(w.file, w.desc!) ?? F_UNLCK, true);
      return;
    }
    const who: FcntlCaller = w.kind === 'posix' ? { pid: w.pid } : { pid: w.pid, ofd: w.desc };
    let at = w.start;
    for (const s of registry.coverage(w.file, who, w.start, w.end)) {
      if (s.start > at) this.ofd(fd, F_OFD_SETLK, F_UNLCK, at, s.start - 1n);
      // A helper's read lock downgraded a write lock the owner keeps: taking it back can meet a host reader.
      if (s.type !== w.type && this.ofd(fd, F_OFD_SETLK, s.type, s.start, s.end) < 0) {
        this.refuse(w.file, 'a host lock took the place of a write lock given back');
      }
      at = s.end === OFFSET_MAX ? OFFSET_MAX : s.end + 1n;
      if (s.end === OFFSET_MAX) return;
    }
    if (at <= w.end) this.ofd(fd, F_OFD_SETLK, F_UNLCK, at, w.end);
  }
}

/** struct flock's l_len for [start, end]: 0 runs to EOF. */
const lengthOf = (start: bigint, end: bigint): bigint => (end === OFFSET_MAX ? 0n : end - start + 1n);

/** The id of the owner a waiter belongs to: its pid (POSIX) or its description. */
const ownerOf = <T>(w: Waiter<T>): number => ownerNumber(w.owner);

/** (dev, ino) of a struct stat. */
