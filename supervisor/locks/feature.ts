// File locks at the kernel boundary: decode fcntl (F_SETLK, F_SETLKW,
// F_GETLK and the F_OFD_* trio) and flock notifications, call the
// LockRegistry (src/locks holds every rule), encode the answer. Also serves
// /proc/locks and releases locks when Linux would: at exit, and, in "exact"
// mode, when an fd closes (close, close_range, dup2/dup3 over an open fd,
// exec of close-on-exec fds).
//
// Files are keyed by (st_dev, st_ino) of a pidfd_getfd duplicate of the
// target's fd, never by path. Descriptions (OFD and flock owners) are
// identified with kcmp(KCMP_FILE) against duplicates the supervisor holds:
// see supervisor/fds.ts for the table and how "last close" is decided.
//
// POSIX release on close. Closing any fd of a file releases all the
// owner's POSIX locks on that file; the owner is the files table, shared by
// clone(CLONE_FILES) (owners.ts). Each owner remembers the files it
// POSIX-locked (a superset: entries leave on release, not on unlock), so a
// close costs a map lookup unless the process holds locks; then one stat of
// /proc/TID/fd/N says which file the fd names. Description checks run only
// when the closing fd's file has descriptions in the table.
//
// Host coherence ([locks] host = "coherent", host.ts): the registry
// shows every change of an owner's locks to the host first (its host hook),
// on a host description per owner; a host lock in the way refuses the
// request or holds it back on a helper thread. POSIX releases here close
// the process's host descriptions too.
//
// A trapped call can be cut off by a signal (see supervisor/blocking.ts,
// which makes close/dup2/... run again). fcntl and flock have a restart
// policy for the calls that wait, so the commands and operations that do not
// wait (F_SETLK, F_GETLK, F_GETFL, ..., LOCK_NB, LOCK_UN) are registered as
// repairable: Linux never fails them with EINTR. F_SETLKW, F_OFD_SETLKW and a
// waiting flock keep their EINTR, as on Linux. One case is this feature's
// own: an F_GETLK answered (its struct written) whose answer the kernel
// dropped is completed from the signal frame at rt_sigreturn.
//
// "fast" mode traps none of close/close_range/dup2/dup3/execve: POSIX locks
// then live until the process unlocks them or exits, and a description's
// locks are released when the process exits, or when another caller runs
// into them and no sandboxed fd refers to the description any more.
//
// Known limits. The supervisor's duplicate keeps a locked description open
// until the sandbox's last fd to it is seen to go: in fast mode (and for
// fds closed in ways not trapped: an io_uring ring, when a manifest allows
// io_uring) that can keep a locked pipe's write end open (no EOF) or a
// written executable busy (ETXTBSY) until the holder exits. Only fds count
// as references: a description in flight in SCM_RIGHTS, registered in an
// io_uring ring or mapped with mmap keeps its flock/OFD locks on Linux, and
// loses them here when its last fd closes. A lock call that a
// signal takes away after the registry granted it keeps the grant (the
// call, run again by completeDroppedGetlk, finds it already held); only if it is
// not run again does the program see EINTR while holding the lock.
import { frameRegs, MINUS_EINTR, returning, SC, SIGCONTEXT_OFFSET, SIGCONTEXT_SIZE } from '../../src/signals/frame.js';
import { syscallNumber } from '../../src/syscalls/table.js';
import { decodeFcntlLock, decodeFlock, type FileId, LockRegistry, type UserFlock, type Waiter } from '../../src/locks/index.js';
import {
  CLOSE_RANGE_CLOEXEC,
  F_GETLK,
  F_OFD_GETLK,
  F_OFD_SETLK,
  F_OFD_SETLKW,
  F_SETLK,
  F_SETLKW,
  F_UNLCK,
  LOCK_EX,
  LOCK_MAND,
  LOCK_NB,
  LOCK_SH,
  LOCK_UN,
  O_ACCMODE,
  O_CLOEXEC,
  O_PATH,
  SEEK_CUR,
} from '../../src/syscalls/constants.js';
import { EAGAIN, EBADF, EFAULT, EINTR, EMFILE, ENFILE, ENOLCK, ENOMEM } from '../../src/syscalls/errno.js';
import { type BlockedCall, SYS_RT_SIGRETURN } from '../blocking.js';
import { deliver } from '../deliver.js';
import { close } from '../ffi.js';
import type { FeatureModule, SupervisorContext } from '../features/contract.js';
import { ANSWERED, CONTINUE, PENDING } from '../loop/loop.js';
import { NativeRule, TidMap } from '../loop/native-rules.js';
import type { Notification } from '../loop/notification.js';
import { pidLevel, type ProcessEntry } from '../processes.js';
import { inExec, openFds, readStackPointer } from '../procfs.js';
import { flags, hex } from '../trace.js';
import { type Description, DescriptionTable, type Excluded, fileKeyOf, type OpenFileInfo, TargetFds } from '../fds.js';
import { HostLocks } from './host.js';
import { PosixOwners, sameFilesTable } from './owners.js';

const FLOCK_SIZE = 32;
/** How often an exec with close-on-exec fds is looked at until it is over. */
const EXEC_POLL_MS = 2;

const FCNTL_CMDS: Record<number, string> = {
  0: 'F_DUPFD',
  1: 'F_GETFD',
  2: 'F_SETFD',
  3: 'F_GETFL',
  4: 'F_SETFL',
  5: 'F_GETLK',
  6: 'F_SETLK',
  7: 'F_SETLKW',
  8: 'F_SETOWN',
  9: 'F_GETOWN',
  10: 'F_SETSIG',
  11: 'F_GETSIG',
  15: 'F_SETOWN_EX',
  16: 'F_GETOWN_EX',
  36: 'F_OFD_GETLK',
  37: 'F_OFD_SETLK',
  38: 'F_OFD_SETLKW',
  1024: 'F_SETLEASE',
  1025: 'F_GETLEASE',
  1026: 'F_NOTIFY',
  1030: 'F_DUPFD_CLOEXEC',
  1031: 'F_SETPIPE_SZ',
  1032: 'F_GETPIPE_SZ',
  1033: 'F_ADD_SEALS',
  1034: 'F_GET_SEALS',
};
const LOCK_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [LOCK_SH, 'LOCK_SH'],
  [LOCK_EX, 'LOCK_EX'],
  [LOCK_UN, 'LOCK_UN'],
  [LOCK_NB, 'LOCK_NB'],
  [LOCK_MAND, 'LOCK_MAND'],
];
const EXACT_OBSERVES = ['close', 'close_range', 'dup2', 'dup3', 'execve', 'execveat'] as const;
const NR_FCNTL = syscallNumber('fcntl')!;

/** The supervisor's handle on one lock call: set once the call sleeps. */
class LockToken {
  blocked: BlockedCall | null = null;
  /** Answered (or found dead) while the call that made it was still being handled. */
  done = false;
  constructor(readonly pid: number) {}
}

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

export const locksFeature: FeatureModule = {
  name: 'locks',
  emulates: ['fcntl', 'flock'],
  // rt_sigreturn repairs calls a signal cut off.
  observes: ['rt_sigreturn'],
  views: [{ path: '/proc/locks', mode: 0o444 }],
  observesWith: (settings) => (settings.locks.mode === 'exact' ? EXACT_OBSERVES : []),
  // F_GETFL, F_SETFD, F_DUPFD... never leave the kernel: only the lock commands are notified.
  observesIf: [{ name: 'fcntl', arg: 1, values: [F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW] }],
  install(ctx, enabled) {
    return new LockFeature(ctx, enabled);
  },
};

class LockFeature {
  readonly name = 'locks';
  private readonly registry: LockRegistry<LockToken>;
  private readonly fds = new TargetFds();
  private readonly descs: DescriptionTable;
  private readonly owners: PosixOwners;
  private readonly exact: boolean;
  /** [locks] host = "coherent": the host kernel holds the sandbox's locks too (null: "isolated"). */
  private readonly host: HostLocks<LockToken> | null;
  /** Calls sleeping in the registry. */
  private readonly sleepers = new Set<LockToken>();
  private readonly execs = new Map<number, PendingExec>();
  private execDeadline = Infinity;
  private readonly flockBuf = new Uint8Array(FLOCK_SIZE);
  private readonly flockView = new DataView(this.flockBuf.buffer);
  /** Calls cut off by a signal that were made to run again (see completeDroppedGetlk). */
  private restarted = 0;
  /** The last F_GETLK/F_OFD_GETLK answered per thread: where it returns to and its struct's address. */
  private readonly getlkAnswered: TidMap<{ ip: number; ptr: number }>;

  constructor(
    private readonly ctx: SupervisorContext,
    enabled: ReadonlySet<string>,
  ) {
    const { loop } = ctx;
    this.exact = ctx.config.locks.mode === 'exact';
    this.getlkAnswered = new TidMap(loop.native);
    this.descs = new DescriptionTable(this.fds, ctx.budget.locks);
    this.owners = new PosixOwners(ctx.processes);
    const host = ctx.config.locks.host === 'coherent' ? new HostLocks<LockToken>(loop, this.descs, () => this.registry, ctx.tracer) : null;
    this.host = host;
    this.registry = new LockRegistry<LockToken>(
      {
        isAlive: (w) => this.isAlive(w),
        complete: (w, result) => this.complete(w, result),
        ...(host === null
          ? {}
          : {
              host: (change, force) => host.apply(change, force),
              hostWait: (w) => host.wait(w),
              hostCancel: (w) => host.cancel(w),
            }),
      },
      ctx.config.locks.max,
    );
    if (enabled.has('fcntl')) {
      loop.on(nr('fcntl'), (n) => this.fcntl(n));
      ctx.blocked.setPolicy(nr('fcntl'), 'redispatch');
      ctx.blocked.setRepair(nr('fcntl'), (a) => Number(a[1] & 0xffffffffn) !== F_SETLKW && Number(a[1] & 0xffffffffn) !== F_OFD_SETLKW);
    }
    if (enabled.has('flock')) {
      loop.on(nr('flock'), (n) => this.flock(n));
      ctx.blocked.setPolicy(nr('flock'), 'redispatch');
      ctx.blocked.setRepair(nr('flock'), (a) => (Number(a[1] & 0xffffffffn) & (LOCK_NB | LOCK_UN)) !== 0);
    }
    if (this.exact) {
      loop.on(nr('close'), (n) => this.close(n));
      loop.on(nr('close_range'), (n) => this.closeRange(n));
      loop.on(nr('dup2'), (n) => this.dup2(n, n.int(0), n.int(1), 0));
      loop.on(nr('dup3'), (n) => this.dup2(n, n.int(0), n.int(1), n.int(2)));
      loop.on(nr('execve'), (n) => this.execve(n));
      loop.on(nr('execveat'), (n) => this.execve(n));
      for (const name of ['close', 'close_range', 'dup2', 'dup3']) loop.decideNatively(nr(name), NativeRule.Close);
    }
    const next = loop.handlerOf(SYS_RT_SIGRETURN);
    loop.on(SYS_RT_SIGRETURN, (n) => {
      this.completeDroppedGetlk(n);
      return next === undefined ? CONTINUE : next(n);
    });
    // A thread with an F_GETLK answer to complete is watched (getlkAnswered): the rest is BlockedCalls' rule.
    loop.decideNatively(SYS_RT_SIGRETURN, NativeRule.Sigreturn);
    ctx.processes.onExit((p) => this.exited(p));
    // The sandbox's /proc is that of its PID namespace, one level down, when it has one.
    const procLevel = ctx.config.init === 0 ? 0 : 1;
    ctx.files.register('/proc/locks', {
      render: () => {
        if (this.execs.size > 0) this.settleExecs();
        this.prune();
        return this.registry.procLocks((pid) => ctx.processes.pidIn(pid, procLevel));
      },
    });
    if (ctx.tracer) this.decodeForTrace(ctx);
  }

  nextDeadline(): number {
    const host = this.host === null ? Infinity : this.host.nextDeadline();
    return this.execs.size > 0 ? Math.min(host, this.execDeadline) : host;
  }

  onTimer(): void {
    this.host?.onTimer();
    if (this.execs.size === 0 || performance.now() < this.execDeadline) return;
    this.settleExecs();
    this.execDeadline = performance.now() + EXEC_POLL_MS;
  }

  usage(): Readonly<Record<string, number>> {
    return { lockRecords: this.registry.records };
  }

  /**
   * The registry's state, each blocked request with its thread and since when
   * it waits; a description some request waits on lists the processes
   * holding an fd to it (who could release its OFD or flock locks).
   */
  snapshot(): unknown {
    if (this.execs.size > 0) this.settleExecs();
    this.prune();
    const registry = this.registry.snapshot((w) =>
      w.token.blocked === null
        ? null
        : {
            tid: w.token.blocked.record.tid,
            since: performance.timeOrigin + w.token.blocked.since,
          },
    );
    const awaited = new Set(registry.waiters.flatMap((w) => [...w.blockers, ...(w.behind ? [w.behind] : [])]).map((n) => n.desc));
    return {
      mode: this.exact ? 'exact' : 'fast',
      ...registry,
      descriptions: [...this.descs.all()].map((d) => ({
        id: d.id,
        file: `${d.file.major}:${d.file.minor}:${d.file.ino}`,
        ...(awaited.has(String(d.id)) ? { holders: this.descs.holders(d) } : {}),
      })),
      sleeping: this.sleepers.size,
      pendingExecs: this.execs.size,
      host: this.host === null ? { mode: 'isolated' } : this.host.snapshot(),
      restartedAfterSignal: this.restarted,
    };
  }

  // ---- fcntl -------------------------------------------------------------

  private fcntl(n: Notification): number {
    const cmd = n.int(1);
    // Everything but the six lock commands goes to the kernel, first thing.
    if (cmd !== F_SETLK && cmd !== F_SETLKW && cmd !== F_GETLK && (cmd < F_OFD_GETLK || cmd > F_OFD_SETLKW)) return CONTINUE;
    if (this.execs.size > 0) this.settleExecs();
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null) return -EINTR; // dying: nobody will see the answer
    const info = this.fds.open(p.pidfd, n.int(0));
    if (typeof info === 'number') return info === -EMFILE || info === -ENFILE ? -ENOLCK : info;
    let keep = false;
    try {
      // An O_PATH fd passes fdget_raw but no lock command.
      if ((info.flags & O_PATH) !== 0) return -EBADF;
      const bytes = this.ctx.memory.read(n.tid, n.u64(2), FLOCK_SIZE);
      if (typeof bytes === 'number') return -EFAULT;
      this.flockBuf.set(bytes);
      const v = this.flockView;
      const fl: UserFlock = {
        type: v.getInt16(0, true),
        whence: v.getInt16(2, true),
        start: v.getBigInt64(8, true),
        len: v.getBigInt64(16, true),
        pid: v.getInt32(24, true),
      };
      const acc = info.flags & O_ACCMODE;
      const lock = decodeFcntlLock(cmd, fl, {
        pos: fl.whence === SEEK_CUR ? this.fds.position(info.fd) : 0n,
        size: info.size,
        readable: acc === 0 || acc === 2,
        writable: acc === 1 || acc === 2,
      });
      if (typeof lock === 'number') return lock;
      if (!this.ctx.loop.currentValid()) return -EINTR; // what we read may be stale (TOCTOU)
      const spec = { type: lock.type, start: lock.start, end: lock.end };

      const owner = this.owners.of(p);
      if (lock.test) {
        const ofd = lock.ofd ? (this.descs.findDup(info.fd, info.key)?.id ?? this.descs.unusedId()) : undefined;
        const who = { pid: p.tgid, owner: owner.id, ...(ofd === undefined ? {} : { ofd }) };
        this.prune();
        let found = this.registry.getLk(info.file, who, spec);
        if (found !== null && !this.exact && this.reapDead(info.key, ofd)) found = this.registry.getLk(info.file, who, spec);
        if (found === null && this.host !== null) found = this.host.probe(who, info, lock.type, lock.start, lock.end);
        const original = this.flockBuf.slice();
        if (found === null) {
          v.setInt16(0, F_UNLCK, true);
        } else {
          v.setInt16(0, found.type, true);
          v.setInt16(2, found.whence, true);
          v.setBigInt64(8, found.start, true);
          v.setBigInt64(16, found.len, true);
          // locks_translate_pid into the caller's namespace: -1 (OFD) stays, an unseen holder reads 0.
          v.setInt32(24, found.pid < 0 ? found.pid : this.ctx.processes.pidIn(found.pid, pidLevel(p)), true);
        }
        if (this.ctx.memory.write(n.tid, n.u64(2), this.flockBuf) < 0) return -EFAULT;
        // Answer here: if a signal took the call away meanwhile, put the caller's struct back, or the
        // call, run again (SA_RESTART, or completeDroppedGetlk), would read F_UNLCK and fail with EINVAL. The
        // kernel may also drop an answer SEND accepted, when a signal wakes the caller at the same time:
        // completeDroppedGetlk then completes the call with this answer rather than running it again.
        if (this.ctx.loop.answerNow(0)) this.getlkAnswered.set(n.tid, { ip: n.ip, ptr: n.u64(2) });
        else this.ctx.memory.write(n.tid, n.u64(2), original);
        return ANSWERED;
      }

      let desc: Description | undefined;
      if (lock.ofd) {
        desc = this.descs.findDup(info.fd, info.key);
        if (desc === undefined) {
          if (lock.type === F_UNLCK) return 0; // a description we never saw lock holds nothing
          // Each holds one of our fds: bounded by locks.max and the fd pool, like the kernel's lock allocation.
          const added = this.descs.size < this.ctx.config.locks.max ? this.descs.add(info.fd, info.file, info.key, p.tgid) : null;
          if (added === null) return -ENOLCK;
          desc = added;
          keep = true;
        }
      } else if (lock.type !== F_UNLCK) {
        this.owners.addFile(owner, info.key, info.file);
        this.host?.preparePosix(owner.id, info, lock.type);
      }
      const who = { pid: p.tgid, owner: owner.id, ...(desc === undefined ? {} : { ofd: desc.id }) };
      if (lock.wait) this.prune();
      const attempt = (token: LockToken) => this.registry.setLk(info.file, who, spec, lock.wait, token);
      return this.settle(n, p, info, desc, attempt);
    } finally {
      if (!keep) close(info.fd);
      this.publishHeld();
    }
  }

  // ---- flock -------------------------------------------------------------

  private flock(n: Notification): number {
    const cmd = n.uint(1);
    // sys_flock: LOCK_MAND is ignored, then the operation is checked, then the fd.
    if (cmd & LOCK_MAND) return 0;
    const checked = decodeFlock(cmd, true);
    if (typeof checked === 'number') return checked;
    if (this.execs.size > 0) this.settleExecs();
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null) return -EINTR;
    const info = this.fds.open(p.pidfd, n.int(0));
    if (typeof info === 'number') return info === -EMFILE || info === -ENFILE ? -ENOMEM : info;
    let keep = false;
    try {
      if ((info.flags & O_PATH) !== 0) return -EBADF; // fdget refuses O_PATH files
      const acc = info.flags & O_ACCMODE;
      const op = decodeFlock(cmd, acc !== 3);
      if (typeof op === 'number') return op;
      let desc = this.descs.findDup(info.fd, info.key);
      if (desc === undefined) {
        if (op.type === F_UNLCK) return 0;
        const added = this.descs.size < this.ctx.config.locks.max ? this.descs.add(info.fd, info.file, info.key, p.tgid) : null;
        if (added === null) return -ENOMEM; // flock_lock_inode's "no memory"
        desc = added;
        keep = true;
      }
      if (op.wait) this.prune();
      const d = desc;
      const attempt = (token: LockToken) => this.registry.flock(info.file, { pid: p.tgid, desc: d.id }, op.type, op.wait, token);
      return this.settle(n, p, info, desc, attempt);
    } finally {
      if (!keep) close(info.fd);
      this.publishHeld();
    }
  }

  /**
   * Run a lock request and turn the registry's answer into a handler result:
   * a number, ANSWERED (complete() already answered it), or PENDING.
   */
  private settle(
    n: Notification,
    p: ProcessEntry,
    info: OpenFileInfo,
    desc: Description | undefined,
    attempt: (token: LockToken) => number | Waiter<LockToken>,
  ): number {
    let token = new LockToken(p.tgid);
    let r = attempt(token);
    // fast mode sees no close: before refusing or sleeping, drop descriptions nobody refers to any more.
    if (!this.exact && (r === -EAGAIN || typeof r !== 'number') && this.descs.onFile(info.key).length > 0) {
      if (typeof r === 'number') {
        if (this.reapDead(info.key, desc?.id)) {
          token = new LockToken(p.tgid);
          r = attempt(token);
        }
      } else {
        this.reapDead(info.key, desc?.id); // may grant r on the spot (complete -> answerNow)
      }
    }
    if (typeof r === 'number') return r;
    if (token.done) return ANSWERED;
    const waiter = r;
    token.blocked = this.ctx.blocked.block(n, () => {
      this.sleepers.delete(token);
      this.registry.cancel(waiter);
    });
    this.sleepers.add(token);
    return PENDING;
  }

  private isAlive(w: Waiter<LockToken>): boolean {
    const t = w.token;
    if (t.blocked === null) {
      if (this.ctx.loop.currentValid()) return true;
      t.done = true;
      return false;
    }
    return this.ctx.loop.isValid(t.blocked.record.id);
  }

  /** Deliver a result: now for the notification being handled, later for a sleeper. */
  private complete(w: Waiter<LockToken>, result: number): boolean {
    const t = w.token;
    const call = t.blocked;
    if (call === null) {
      t.done = true;
    } else {
      t.blocked = null;
      this.sleepers.delete(t);
    }
    return deliver(this.ctx, call, result);
  }

  /**
   * Forget sleepers whose notification is gone (a signal handler without
   * SA_RESTART took them out): they must not count in deadlock detection
   * or show in /proc/locks.
   */
  private prune(): void {
    if (this.sleepers.size === 0) return;
    for (const t of [...this.sleepers]) {
      const call = t.blocked;
      if (call !== null && !this.ctx.loop.isValid(call.record.id)) this.ctx.blocked.died(call); // cancels
    }
  }

  // ---- releases ----------------------------------------------------------

  /**
   * Tell the native step whether a close anywhere could release a lock: while
   * none can, close/close_range/dup2/dup3 are answered without JS.
   */
  private publishHeld(): void {
    this.ctx.loop.native.locksHeld = this.descs.size > 0 || this.owners.anyHolding;
  }

  /** Does the process have lock state a close could change? */
  private interested(p: ProcessEntry): boolean {
    return this.descs.size > 0 || this.owners.holding(p) !== undefined;
  }

  private close(n: Notification): number {
    if (this.execs.size > 0) this.settleExecs();
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null || !this.interested(p)) return CONTINUE;
    const fd = n.int(0);
    this.closing(p, n.tid, [fd], (pid, f) => f === fd && sameFilesTable(pid, p.tgid));
    return CONTINUE;
  }

  private closeRange(n: Notification): number {
    if (this.execs.size > 0) this.settleExecs();
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
  private dup2(n: Notification, oldfd: number, newfd: number, flagsArg: number): number {
    if (this.execs.size > 0) this.settleExecs();
    if (oldfd === newfd || (flagsArg & ~O_CLOEXEC) !== 0) return CONTINUE;
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null || !this.interested(p)) return CONTINUE;
    if (this.fds.fileOf(n.tid, oldfd) === null) return CONTINUE; // EBADF: nothing is closed
    this.closing(p, n.tid, [newfd], (pid, f) => f === newfd && sameFilesTable(pid, p.tgid));
    return CONTINUE;
  }

  /**
   * Process `p` is about to close `fds`: release its owner's POSIX locks on
   * their files, and the locks of descriptions no other fd will refer to
   * (`excluded`: the closing fds, in every process sharing the fd table).
   */
  private closing(p: ProcessEntry, tid: number, fds: readonly number[], excluded: Excluded): void {
    const owner = this.owners.holding(p);
    const candidates: Description[] = [];
    for (const fd of fds) {
      const file = this.fds.fileOf(tid, fd);
      if (file === null) continue;
      const key = fileKeyOf(file);
      if (owner?.files.has(key)) {
        this.owners.removeFile(owner, key);
        this.registry.releasePosix(file, owner.id);
        this.host?.releasePosixFile(owner.id, key);
      }
      if (this.descs.onFile(key).length === 0) continue;
      const d = this.descs.findTarget(p.tgid, fd, key);
      if (d !== undefined && !candidates.includes(d)) candidates.push(d);
    }
    this.releaseUnreferenced(candidates, excluded, p.tgid);
    this.publishHeld();
  }

  /** Release the locks of every candidate description no sandboxed fd refers to (but the excluded ones). */
  private releaseUnreferenced(candidates: readonly Description[], excluded: Excluded | null, first: number | null = null): boolean {
    if (candidates.length === 0) return false;
    const alive = this.descs.referenced(candidates, excluded, first, (pid) => this.ctx.processes.discover(pid));
    let released = false;
    for (const d of candidates) {
      if (alive.has(d)) continue;
      this.registry.releaseDescription(d.id); // first: the host's copy is released through d.fd
      this.descs.remove(d);
      released = true;
    }
    this.publishHeld();
    return released;
  }

  /** fast mode: drop the descriptions on a file that nothing refers to any more (not `own`). */
  private reapDead(key: string, own: number | undefined): boolean {
    return this.releaseUnreferenced(
      this.descs.onFile(key).filter((d) => d.id !== own),
      null,
    );
  }

  /**
   * execve/execveat: close-on-exec fds close if the exec succeeds, which
   * the supervisor learns only afterwards. Remember the fds that matter
   * (with a duplicate each) and look again once the exec is over.
   */
  private execve(n: Notification): number {
    if (this.execs.size > 0) this.settleExecs();
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null || !this.interested(p)) return CONTINUE;
    const posix = this.owners.holding(p)?.files;
    const entries: ExecFd[] = [];
    for (const fd of openFds(p.tgid) ?? []) {
      const file = this.fds.fileOf(n.tid, fd);
      if (file === null) continue;
      const key = fileKeyOf(file);
      const isPosix = posix?.has(key) ?? false;
      if (!isPosix && this.descs.onFile(key).length === 0) continue;
      if (!this.fds.cloexec(p.tgid, fd)) continue;
      // Past the process's share of the fd pool its locks on this fd stay after the exec (until unlock or exit).
      if (this.ctx.budget.locks.take(p.tgid) !== null) continue;
      const info = this.fds.open(p.pidfd, fd);
      if (typeof info === 'number') {
        this.ctx.budget.locks.give(p.tgid);
        continue;
      }
      entries.push({ fd, dup: info.fd, file, posix: isPosix, desc: this.descs.findDup(info.fd, key) });
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
    for (const [tgid, x] of [...this.execs]) {
      const over = !inExec(x.tid);
      const candidates: Description[] = [];
      x.entries = x.entries.filter((e) => {
        if (this.fds.same(tgid, e.fd, e.dup)) {
          if (!over) return true; // not closed yet
          this.closeExecDup(tgid, e); // the exec failed: the fd stays
          return false;
        }
        const p = this.ctx.processes.processOf(tgid);
        if (p !== null) this.owners.detach(p); // the exec gave it a table of its own, whose closes these are
        const owner = p === null ? undefined : this.owners.holding(p);
        if (e.posix && owner !== undefined) {
          this.owners.removeFile(owner, fileKeyOf(e.file));
          this.registry.releasePosix(e.file, owner.id);
          this.host?.releasePosixFile(owner.id, fileKeyOf(e.file));
        }
        if (e.desc !== undefined && !candidates.includes(e.desc)) candidates.push(e.desc);
        this.closeExecDup(tgid, e);
        return false;
      });
      if (x.entries.length === 0) this.execs.delete(tgid);
      this.releaseUnreferenced(
        candidates.filter((d) => this.descs.onFile(d.key).includes(d)),
        null,
      );
    }
    this.publishHeld();
  }

  /**
   * rt_sigreturn: an F_GETLK whose answer the kernel dropped is completed
   * from the frame (the generic restart of cut-off calls is BlockedCalls').
   */
  private completeDroppedGetlk(n: Notification): void {
    const { memory } = this.ctx;
    const answered = this.getlkAnswered.get(n.tid);
    if (answered === undefined) return;
    this.getlkAnswered.delete(n.tid);
    const stack = readStackPointer(n.tid);
    if (stack === null) return;
    const at = Number(stack) + SIGCONTEXT_OFFSET;
    const sc = memory.read(n.tid, at, SIGCONTEXT_SIZE);
    if (typeof sc === 'number') return;
    const regs = frameRegs(sc);
    const cmd = Number(regs.args[1] & 0xffffffffn);
    const rip = Number(regs.rip);
    // An F_GETLK we answered (its struct is written) whose answer the kernel dropped because a signal woke
    // the caller at the same moment: the frame says EINTR, or a restart (SA_RESTART). Complete it instead.
    if (
      Number(regs.args[2]) === answered.ptr &&
      (cmd === F_GETLK || cmd === F_OFD_GETLK) &&
      ((regs.rax === MINUS_EINTR && rip === answered.ip) || (regs.rax === BigInt(NR_FCNTL) && rip === answered.ip - 2))
    ) {
      if (memory.write(n.tid, at + SC.rax, returning(sc, answered.ip, 0n)) === 0) this.restarted++;
    }
  }

  private closeExecDup(tgid: number, e: ExecFd): void {
    close(e.dup);
    this.ctx.budget.locks.give(tgid);
  }

  private exited(p: ProcessEntry): void {
    const x = this.execs.get(p.tgid);
    if (x) {
      for (const e of x.entries) this.closeExecDup(p.tgid, e);
      this.execs.delete(p.tgid);
    }
    for (const t of [...this.sleepers]) if (t.pid === p.tgid) this.sleepers.delete(t);
    for (const tid of p.threads) this.getlkAnswered.delete(tid);
    const gone = this.owners.leave(p);
    this.registry.releaseAllOfProcess(p.tgid, gone);
    if (gone !== null) this.host?.releaseOwner(gone);
    if (this.descs.size > 0) this.releaseUnreferenced([...this.descs.all()], null);
    this.publishHeld();
  }

  private decodeForTrace(ctx: SupervisorContext): void {
    const t = ctx.tracer!;
    t.decodeWith(nr('fcntl'), (a) => {
      const cmd = a.int(1);
      const name = FCNTL_CMDS[cmd] ?? String(cmd);
      const lockCmd = cmd === F_GETLK || cmd === F_SETLK || cmd === F_SETLKW || (cmd >= F_OFD_GETLK && cmd <= F_OFD_SETLKW);
      return `${a.int(0)}, ${name}, ${lockCmd ? hex(a.u64(2)) : a.u64(2)}`;
    });
    t.decodeWith(nr('flock'), (a) => `${a.int(0)}, ${flags(a.int(1), LOCK_FLAGS, (v) => String(v))}`);
    t.decodeWith(nr('close'), (a) => `${a.int(0)}`);
    t.decodeWith(nr('dup2'), (a) => `${a.int(0)}, ${a.int(1)}`);
    t.decodeWith(nr('dup3'), (a) => `${a.int(0)}, ${a.int(1)}, ${a.int(2) & O_CLOEXEC ? 'O_CLOEXEC' : a.int(2)}`);
    t.decodeWith(nr('close_range'), (a) => `${a.int(0) >>> 0}, ${a.int(1) >>> 0}, ${a.int(2) >>> 0}`);
  }
}

function nr(name: string): number {
  return syscallNumber(name)!;
}
