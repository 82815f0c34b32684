// Releasing locks when Linux would: at exit, and, in "exact" mode, when an
// fd closes (close, close_range, dup2/dup3 over an open fd, exec of
// close-on-exec fds).
//
// POSIX release on close. Closing any fd of a file releases all the
// owner's POSIX locks on that file; the owner is the files table, shared by
// clone(CLONE_FILES) (owners.ts). Each owner remembers the files it
// POSIX-locked (a superset: entries leave on release, not on unlock), so a
// close costs a map lookup unless the process holds locks; then one stat of
// /proc/TID/fd/N says which file the fd names. Description checks run only
// when the closing fd's file has descriptions in the table. POSIX releases
// close the process's host descriptions too (host.ts).
//
// "fast" mode traps none of close/close_range/dup2/dup3/execve: POSIX locks
// then live until the process unlocks them or exits, and a description's
// locks are released when the process exits, or when another caller runs
// into them and no sandboxed fd refers to the description any more
// (reapDead).
//
// Known limits. The supervisor's duplicate keeps a locked description open
// until the sandbox's last fd to it is seen to go: in fast mode (and for
// fds closed in ways not trapped: an io_uring ring, when a manifest allows
// io_uring) that can keep a locked pipe's write end open (no EOF) or a
// written executable busy (ETXTBSY) until the holder exits. Only fds count
// as references: a description in flight in SCM_RIGHTS, registered in an
// io_uring ring or mapped with mmap keeps its flock/OFD locks on Linux, and
// loses them here when its last fd closes.
import type { FileId } from '../../src/locks/index.js';
import { CLOSE_RANGE_CLOEXEC, O_CLOEXEC } from '../../src/syscalls/constants.js';
import { close } from '../ffi.js';
import type { SupervisorContext } from '../features/contract.js';
import { type Description, type Excluded, fileKeyOf } from '../fds.js';
import { CONTINUE } from '../loop/loop.js';
import type { Notification } from '../loop/notification.js';
import type { ProcessEntry } from '../processes.js';
import { inExec, openFds } from '../procfs.js';
import { sameFilesTable } from './owners.js';
import type { LockTables } from './state.js';

/** How often an exec with close-on-exec fds is looked at until it is over. */
const EXEC_POLL_MS = 2;

/** An exec in flight whose close-on-exec fds matter to locks. */
interface PendingExec {
  tid: number;
  entries: ExecFd[];
}

interface ExecFd {
  fd: number;
  /** Our duplicate, to tell the same fd from one reopened under the same number. */
  dup: number;
  file: FileId;
  /** The process may hold POSIX locks on the file. */
  posix: boolean;
  desc: Description | undefined;
}

export class LockRelease {
  private readonly execs = new Map<number, PendingExec>();
  private execDeadline = Infinity;

  constructor(
    private readonly ctx: SupervisorContext,
    private readonly t: LockTables,
  ) {}

  /** Execs whose close-on-exec fds are still to be looked at. */
  get pendingExecs(): number {
    return this.execs.size;
  }

  nextDeadline(): number {
    return this.execs.size > 0 ? this.execDeadline : Infinity;
  }

  onTimer(): void {
    if (this.execs.size === 0 || performance.now() < this.execDeadline) return;
    this.settleExecs();
    this.execDeadline = performance.now() + EXEC_POLL_MS;
  }

  /** Apply the closes of the execs that have happened, before anything reads the lock state. */
  settlePendingExecs(): void {
    if (this.execs.size > 0) this.settleExecs();
  }

  /**
   * Tell the native step whether a close anywhere could release a lock: while
   * none can, close/close_range/dup2/dup3 are answered without JS.
   */
  publishHeld(): void {
    this.ctx.loop.native.locksHeld = this.t.descs.size > 0 || this.t.owners.anyHolding;
  }

  /** Does the process have lock state a close could change? */
  private interested(p: ProcessEntry): boolean {
    return this.t.descs.size > 0 || this.t.owners.holding(p) !== undefined;
  }

  close(n: Notification): number {
    this.settlePendingExecs();
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null || !this.interested(p)) return CONTINUE;
    const fd = n.int(0);
    this.closing(p, n.tid, [fd], (pid, f) => f === fd && sameFilesTable(pid, p.tgid));
    return CONTINUE;
  }

  closeRange(n: Notification): number {
    this.settlePendingExecs();
    const p = this.ctx.processes.processOf(n.tid);
    const first = n.uint(0);
    const last = n.uint(1);
    const flagsArg = n.uint(2);
    if (p === null || (flagsArg & CLOSE_RANGE_CLOEXEC) !== 0 || first > last || !this.interested(p)) return CONTINUE;
    const fds = (openFds(p.tgid) ?? []).filter((fd) => fd >= first && fd <= last);
    this.closing(p, n.tid, fds, (pid, f) => f >= first && f <= last && sameFilesTable(pid, p.tgid));
    return CONTINUE;
  }

  /** dup2/dup3 onto an open fd closes it first (when oldfd is valid and differs). */
  dup2(n: Notification, oldfd: number, newfd: number, flagsArg: number): number {
    this.settlePendingExecs();
    if (oldfd === newfd || (flagsArg & ~O_CLOEXEC) !== 0) return CONTINUE;
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null || !this.interested(p)) return CONTINUE;
    if (this.t.fds.fileOf(n.tid, oldfd) === null) return CONTINUE; // EBADF: nothing is closed
    this.closing(p, n.tid, [newfd], (pid, f) => f === newfd && sameFilesTable(pid, p.tgid));
    return CONTINUE;
  }

  /**
   * Process `p` is about to close `fds`: release its owner's POSIX locks on
   * their files, and the locks of descriptions no other fd will refer to
   * (`excluded`: the closing fds, in every process sharing the fd table).
   */
  private closing(p: ProcessEntry, tid: number, fds: readonly number[], excluded: Excluded): void {
    const { owners, descs } = this.t;
    const owner = owners.holding(p);
    const candidates: Description[] = [];
    for (const fd of fds) {
      const file = this.t.fds.fileOf(tid, fd);
      if (file === null) continue;
      const key = fileKeyOf(file);
      if (owner?.files.has(key)) {
        owners.removeFile(owner, key);
        this.t.registry.releasePosix(file, owner.id);
        this.t.host?.releasePosixFile(owner.id, key);
      }
      if (descs.onFile(key).length === 0) continue;
      const d = descs.findTarget(p.tgid, fd, key);
      if (d !== undefined && !candidates.includes(d)) candidates.push(d);
    }
    this.releaseUnreferenced(candidates, excluded, p.tgid);
    this.publishHeld();
  }

  /** Release the locks of every candidate description no sandboxed fd refers to (but the excluded ones). */
  private releaseUnreferenced(candidates: readonly Description[], excluded: Excluded | null, first: number | null = null): boolean {
    if (candidates.length === 0) return false;
    const alive = this.t.descs.referenced(candidates, excluded, first, (pid) => this.ctx.processes.discover(pid));
    let released = false;
    for (const d of candidates) {
      if (alive.has(d)) continue;
      this.t.registry.releaseDescription(d.id); // first: the host's copy is released through d.fd
      this.t.descs.remove(d);
      released = true;
    }
    this.publishHeld();
    return released;
  }

  /** fast mode: drop the descriptions on a file that nothing refers to any more (not `own`). */
  reapDead(key: string, own: number | undefined): boolean {
    return this.releaseUnreferenced(
      this.t.descs.onFile(key).filter((d) => d.id !== own),
      null,
    );
  }

  /**
   * execve/execveat: close-on-exec fds close if the exec succeeds, which
   * the supervisor learns only afterwards. Remember the fds that matter
   * (with a duplicate each) and look again once the exec is over.
   */
  execve(n: Notification): number {
    this.settlePendingExecs();
    const { fds, descs } = this.t;
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null || !this.interested(p)) return CONTINUE;
    const posix = this.t.owners.holding(p)?.files;
    const entries: ExecFd[] = [];
    for (const fd of openFds(p.tgid) ?? []) {
      const file = fds.fileOf(n.tid, fd);
      if (file === null) continue;
      const key = fileKeyOf(file);
      const isPosix = posix?.has(key) ?? false;
      if (!isPosix && descs.onFile(key).length === 0) continue;
      if (!fds.cloexec(p.tgid, fd)) continue;
      // Past the process's share of the fd pool its locks on this fd stay after the exec (until unlock or exit).
      if (this.ctx.budget.locks.take(p.tgid) !== null) continue;
      const info = fds.open(p.pidfd, fd);
      if (typeof info === 'number') {
        this.ctx.budget.locks.give(p.tgid);
        continue;
      }
      entries.push({ fd, dup: info.fd, file, posix: isPosix, desc: descs.findDup(info.fd, key) });
    }
    const old = this.execs.get(p.tgid);
    if (old) for (const e of old.entries) this.closeExecDup(p.tgid, e);
    if (entries.length > 0) {
      if (this.execs.size === 0) this.execDeadline = performance.now() + EXEC_POLL_MS;
      this.execs.set(p.tgid, { tid: n.tid, entries });
    } else {
      this.execs.delete(p.tgid);
    }
    return CONTINUE;
  }

  /** Apply the closes of execs that have happened; forget execs that failed. */
  private settleExecs(): void {
    const { owners, descs } = this.t;
    for (const [tgid, x] of [...this.execs]) {
      const over = !inExec(x.tid);
      const candidates: Description[] = [];
      x.entries = x.entries.filter((e) => {
        if (this.t.fds.same(tgid, e.fd, e.dup)) {
          if (!over) return true; // not closed yet
          this.closeExecDup(tgid, e); // the exec failed: the fd stays
          return false;
        }
        const p = this.ctx.processes.processOf(tgid);
        if (p !== null) owners.detach(p); // the exec gave it a table of its own, whose closes these are
        const owner = p === null ? undefined : owners.holding(p);
        if (e.posix && owner !== undefined) {
          owners.removeFile(owner, fileKeyOf(e.file));
          this.t.registry.releasePosix(e.file, owner.id);
          this.t.host?.releasePosixFile(owner.id, fileKeyOf(e.file));
        }
        if (e.desc !== undefined && !candidates.includes(e.desc)) candidates.push(e.desc);
        this.closeExecDup(tgid, e);
        return false;
      });
      if (x.entries.length === 0) this.execs.delete(tgid);
      this.releaseUnreferenced(
        candidates.filter((d) => descs.onFile(d.key).includes(d)),
        null,
      );
    }
    this.publishHeld();
  }

  private closeExecDup(tgid: number, e: ExecFd): void {
    close(e.dup);
    this.ctx.budget.locks.give(tgid);
  }

  /** Process `p` exited: its owner's POSIX locks go (when it was the table's last member), and descriptions nothing refers to. */
  exited(p: ProcessEntry): void {
    const x = this.execs.get(p.tgid);
    if (x) {
      for (const e of x.entries) this.closeExecDup(p.tgid, e);
      this.execs.delete(p.tgid);
    }
    const gone = this.t.owners.leave(p);
    this.t.registry.releaseAllOfProcess(p.tgid, gone);
    if (gone !== null) this.t.host?.releaseOwner(gone);
    if (this.t.descs.size > 0) this.releaseUnreferenced([...this.t.descs.all()], null);
    this.publishHeld();
  }
}
