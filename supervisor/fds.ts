// The target's file descriptors as the file-lock code needs them: which file
// (st_dev, st_ino) an fd names, with its access mode, offset and size; which
// open file description it refers to; and whether any sandboxed process
// still refers to a description.
//
// Description identity. OFD and flock locks belong to the open file
// description (struct file). The kernel compares two descriptions with
// kcmp(KCMP_FILE); nothing in /proc names one uniquely. The supervisor keeps
// a table of the descriptions that took an OFD or flock lock, each with a
// duplicate made by pidfd_getfd: the duplicate is the representative kcmp
// compares against, and, because it holds a reference, a description in the
// table can never be freed and its address reused for another one while the
// table still names it. The price: the target's last close no longer frees
// the description, so "last close" is decided here instead, by looking for
// any other reference in the sandbox's fd tables (referenced()). Only the
// descriptions in the table pay for that, and only when one of their fds is
// closed (or a process exits, or execs with close-on-exec fds).
//
// A description enters the table at its first OFD or flock lock request and
// leaves when no sandboxed fd refers to it any more (not when its locks are
// released: the next request would only add it again), so the table is
// bounded by what the sandbox keeps open, by locks.max, and by the fd pool
// (fd-budget.ts) of the supervisor's duplicates. "Sandboxed" is
// every descendant of the supervisor (sandboxPids()); a process found
// holding a reference that the process table has not met yet is learnt
// then, so its exit is seen.
import type { FileId } from '../src/locks/index.js';
import type { FdPool } from './fd-budget.js';
import { allocNative, close, errno, fcntl, lseek, pidfdGetfd, STATX, statx, SYS, syscall6 } from './ffi.js';
import { fdCloexec, openFds, sandboxPids } from './procfs.js';
import { F_GETFL, KCMP_FILE, SEEK_CUR } from '../src/syscalls/constants.js';
import { EBADF } from '../src/syscalls/errno.js';

/** The supervisor's pid: kcmp compares the target's fds with its own duplicates. */
const SELF = process.pid;

/** What statx and F_GETFL say about a duplicate of a target fd. */
export interface OpenFileInfo {
  /** Our duplicate (pidfd_getfd): the same open file description. */
  fd: number;
  file: FileId;
  key: string;
  size: bigint;
  /** st_mode (file type and permissions). */
  mode: number;
  /** f_flags (O_ACCMODE, O_PATH, ...). */
  flags: number;
}

/** A description that holds (or held) OFD or flock locks. */
export interface Description {
  readonly id: number;
  /** Our duplicate: keeps the description alive and answers kcmp. */
  readonly fd: number;
  readonly file: FileId;
  readonly key: string;
  /** The process whose lock request entered it: the fd pool charges it. */
  readonly owner: number;
}

export const fileKeyOf = (f: FileId): string => `${f.major}:${f.minor}:${f.ino}`;

export class TargetFds {
  // Read with AT_STATX_DONT_SYNC: the kernel's own attributes, as its lock code
  // uses them (i_size for SEEK_END), and never a request to a FUSE server, which
  // for the [proc] views is this very thread (proc-fuse.ts).
  private readonly stat = allocNative(STATX.SIZE);

  /**
   * Duplicate fd `fd` of the process behind `pidfd` and describe it; the
   * caller closes `info.fd`. -EBADF when the target has no such fd.
   */
  open(pidfd: number, fd: number): OpenFileInfo | number {
    if (fd < 0) return -EBADF;
    const dup = pidfdGetfd(pidfd, fd);
    if (dup < 0) return -errno();
    if (statx(dup, '', STATX.AT_EMPTY_PATH | STATX.AT_STATX_DONT_SYNC, STATX.BASIC_STATS, this.stat.ptr) < 0) {
      const e = errno();
      close(dup);
      return -e;
    }
    const file = this.fileId();
    const flags = fcntl(dup, F_GETFL, 0);
    return {
      fd: dup,
      file,
      key: fileKeyOf(file),
      size: this.stat.view.getBigUint64(STATX.FILE_SIZE, true),
      mode: this.stat.view.getUint16(STATX.MODE, true),
      flags,
    };
  }

  /** The current offset of an open file description (through our duplicate); 0 where there is none (pipes). */
  position(dup: number): bigint {
    const pos = lseek(dup, 0, SEEK_CUR);
    return pos < 0 ? 0n : BigInt(pos);
  }

  /** The file that fd `fd` of thread `tid` names, or null when it is not open. */
  fileOf(tid: number, fd: number): FileId | null {
    if (statx(STATX.AT_FDCWD, `/proc/${tid}/fd/${fd}`, STATX.AT_STATX_DONT_SYNC, STATX.BASIC_STATS, this.stat.ptr) < 0) return null;
    return this.fileId();
  }

  /** Does fd `fd` of process `pid` refer to the description our fd `ours` refers to? */
  same(pid: number, fd: number, ours: number): boolean {
    return syscall6(SYS.kcmp, pid, SELF, KCMP_FILE, fd, ours, 0) === 0;
  }

  /** Close-on-exec flag of a target fd, from /proc/PID/fdinfo. */
  cloexec(pid: number, fd: number): boolean {
    return fdCloexec(pid, fd);
  }

  private fileId(): FileId {
    return fileOfStatx(this.stat.view);
  }
}

/** An fd that is about to close and must not count as a reference. */
export type Excluded = (pid: number, fd: number) => boolean;

export class DescriptionTable {
  private nextId = 1;
  private readonly byId = new Map<number, Description>();
  private readonly byFile = new Map<string, Description[]>();

  constructor(
    private readonly fds: TargetFds,
    private readonly pool: FdPool,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  all(): IterableIterator<Description> {
    return this.byId.values();
  }

  get(id: number): Description | undefined {
    return this.byId.get(id);
  }

  onFile(key: string): readonly Description[] {
    return this.byFile.get(key) ?? [];
  }

  /** The known description our duplicate `dup` refers to. */
  findDup(dup: number, key: string): Description | undefined {
    for (const d of this.onFile(key)) if (syscall6(SYS.kcmp, SELF, SELF, KCMP_FILE, dup, d.fd, 0) === 0) return d;
    return undefined;
  }

  /** The known description fd `fd` of process `pid` refers to. */
  findTarget(pid: number, fd: number, key: string): Description | undefined {
    for (const d of this.onFile(key)) if (this.fds.same(pid, fd, d.fd)) return d;
    return undefined;
  }

  /**
   * Enter a description for process `owner`; the table now owns `dup`. Null
   * (and `dup` still the caller's) when the fd pool refuses: past the
   * process's share or the pool's.
   */
  add(dup: number, file: FileId, key: string, owner: number): Description | null {
    if (this.pool.take(owner) !== null) return null;
    const d: Description = { id: this.nextId++, fd: dup, file, key, owner };
    this.byId.set(d.id, d);
    const list = this.byFile.get(key);
    if (list) list.push(d);
    else this.byFile.set(key, [d]);
    return d;
  }

  /** An id no description has: for probes by a description that holds nothing. */
  unusedId(): number {
    return this.nextId++;
  }

  remove(d: Description): void {
    if (!this.byId.delete(d.id)) return;
    const list = this.byFile.get(d.key)!;
    list.splice(list.indexOf(d), 1);
    if (list.length === 0) this.byFile.delete(d.key);
    close(d.fd);
    this.pool.give(d.owner);
  }

  /** The sandboxed processes holding an fd to the description, ascending (for the wait-for graph: a walk of every fd table). */
  holders(d: Description): number[] {
    return sandboxPids()
      .filter((pid) => (openFds(pid) ?? []).some((fd) => this.fds.same(pid, fd, d.fd)))
      .sort((a, b) => a - b);
  }

  /**
   * Which of `candidates` some sandboxed process still refers to through an
   * fd, not counting the fds `excluded` names (they are being closed).
   * `first` is looked at before the rest (the closing process: a dup'd fd
   * there is the common case and spares walking the sandbox). `found` is
   * told about every process holding a reference (to learn it).
   */
  referenced(
    candidates: readonly Description[],
    excluded: Excluded | null,
    first: number | null,
    found: (pid: number) => void,
  ): Set<Description> {
    const alive = new Set<Description>();
    if (candidates.length === 0) return alive;
    const look = (pid: number): boolean => {
      const fds = openFds(pid);
      if (fds === null) {
        // cannot tell: keep every candidate rather than release a lock still in use
        for (const d of candidates) alive.add(d);
        return true;
      }
      for (const fd of fds) {
        if (excluded !== null && excluded(pid, fd)) continue;
        for (const d of candidates) {
          if (alive.has(d) || !this.fds.same(pid, fd, d.fd)) continue;
          alive.add(d);
          found(pid);
          if (alive.size === candidates.length) return true;
        }
      }
      return false;
    };
    if (first !== null && look(first)) return alive;
    for (const pid of sandboxPids()) if (pid !== first && look(pid)) return alive;
    return alive;
  }
}

/** The (device, inode) a struct statx names. */
export function fileOfStatx(v: DataView): FileId {
  return { major: v.getUint32(STATX.DEV_MAJOR, true), minor: v.getUint32(STATX.DEV_MINOR, true), ino: v.getBigUint64(STATX.INO, true) };
}
