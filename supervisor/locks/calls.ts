// The lock calls: decode fcntl (F_SETLK, F_SETLKW, F_GETLK and the F_OFD_*
// trio) and flock notifications, call the LockRegistry (src/locks holds
// every rule), encode the answer, and keep the calls that sleep.
//
// Files are keyed by (st_dev, st_ino) of a pidfd_getfd duplicate of the
// target's fd, never by path. Descriptions (OFD and flock owners) are
// identified with kcmp(KCMP_FILE) against duplicates the supervisor holds:
// see supervisor/fds.ts for the table and how "last close" is decided.
//
// A lock call that a signal takes away after the registry granted it keeps
// the grant (the call, run again, finds it already held); only if it is not
// run again does the program see EINTR while holding the lock.
import { decodeFcntlLock, decodeFlock, FLOCK_SIZE, readFlock, type Waiter, writeFlock } from '../../src/locks/index.js';
import {
  F_GETLK,
  F_OFD_GETLK,
  F_OFD_SETLKW,
  F_SETLK,
  F_SETLKW,
  F_UNLCK,
  LOCK_MAND,
  O_ACCMODE,
  O_PATH,
  SEEK_CUR,
} from '../../src/syscalls/constants.js';
import { EAGAIN, EBADF, EFAULT, EINTR, EMFILE, ENFILE, ENOLCK, ENOMEM } from '../../src/syscalls/errno.js';
import { deliver } from '../deliver.js';
import { close } from '../ffi.js';
import type { SupervisorContext } from '../features/contract.js';
import type { Description, OpenFileInfo } from '../fds.js';
import { ANSWERED, CONTINUE, PENDING } from '../loop/loop.js';
import type { Notification } from '../loop/notification.js';
import { pidLevel, type ProcessEntry } from '../processes.js';
import type { DroppedGetlks } from './dropped-getlk.js';
import type { LockRelease } from './release.js';
import { LockToken, type LockTables } from './state.js';

export class LockCalls {
  /** Calls sleeping in the registry. */
  private readonly sleepers = new Set<LockToken>();
  private readonly flockBuf = new Uint8Array(FLOCK_SIZE);
  private readonly flockView = new DataView(this.flockBuf.buffer);

  constructor(
    private readonly ctx: SupervisorContext,
    private readonly t: LockTables,
    private readonly release: LockRelease,
    private readonly getlks: DroppedGetlks,
  ) {}

  get sleeping(): number {
    return this.sleepers.size;
  }

  // ---- fcntl -------------------------------------------------------------

  fcntl(n: Notification): number {
    const cmd = n.int(1);
    // Everything but the six lock commands goes to the kernel, first thing.
    if (cmd !== F_SETLK && cmd !== F_SETLKW && cmd !== F_GETLK && (cmd < F_OFD_GETLK || cmd > F_OFD_SETLKW)) return CONTINUE;
    this.release.settlePendingExecs();
    const { registry, descs, owners, host } = this.t;
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null) return -EINTR; // dying: nobody will see the answer
    const info = this.t.fds.open(p.pidfd, n.int(0));
    if (typeof info === 'number') return info === -EMFILE || info === -ENFILE ? -ENOLCK : info;
    let keep = false;
    try {
      // An O_PATH fd passes fdget_raw but no lock command.
      if ((info.flags & O_PATH) !== 0) return -EBADF;
      const bytes = this.ctx.memory.read(n.tid, n.u64(2), FLOCK_SIZE);
      if (typeof bytes === 'number') return -EFAULT;
      this.flockBuf.set(bytes);
      const v = this.flockView;
      const fl = readFlock(v);
      const acc = info.flags & O_ACCMODE;
      const lock = decodeFcntlLock(cmd, fl, {
        pos: fl.whence === SEEK_CUR ? this.t.fds.position(info.fd) : 0n,
        size: info.size,
        readable: acc === 0 || acc === 2,
        writable: acc === 1 || acc === 2,
      });
      if (typeof lock === 'number') return lock;
      if (!this.ctx.loop.currentValid()) return -EINTR; // what we read may be stale (TOCTOU)
      const spec = { type: lock.type, start: lock.start, end: lock.end };

      const owner = owners.of(p);
      if (lock.test) {
        const ofd = lock.ofd ? (descs.findDup(info.fd, info.key)?.id ?? descs.unusedId()) : undefined;
        const who = { pid: p.tgid, owner: owner.id, ...(ofd === undefined ? {} : { ofd }) };
        this.prune();
        let found = registry.getLk(info.file, who, spec);
        if (found !== null && !this.t.exact && this.release.reapDead(info.key, ofd)) found = registry.getLk(info.file, who, spec);
        if (found === null && host !== null) found = host.probe(who, info, lock.type, lock.start, lock.end);
        const original = this.flockBuf.slice();
        if (found === null) {
          v.setInt16(0, F_UNLCK, true);
        } else {
          // locks_translate_pid into the caller's namespace: -1 (OFD) stays, an unseen holder reads 0.
          writeFlock(v, { ...found, pid: found.pid < 0 ? found.pid : this.ctx.processes.pidIn(found.pid, pidLevel(p)) });
        }
        if (this.ctx.memory.write(n.tid, n.u64(2), this.flockBuf) < 0) return -EFAULT;
        // Answer here: if a signal took the call away meanwhile, put the caller's struct back, or the
        // call, run again (SA_RESTART, or completeDroppedGetlk), would read F_UNLCK and fail with EINVAL. The
        // kernel may also drop an answer SEND accepted, when a signal wakes the caller at the same time:
        // completeDroppedGetlk then completes the call with this answer rather than running it again.
        if (this.ctx.loop.answerNow(0)) this.getlks.remember(n.tid, n.ip, n.u64(2));
        else this.ctx.memory.write(n.tid, n.u64(2), original);
        return ANSWERED;
      }

      let desc: Description | undefined;
      if (lock.ofd) {
        desc = descs.findDup(info.fd, info.key);
        if (desc === undefined) {
          if (lock.type === F_UNLCK) return 0; // a description we never saw lock holds nothing
          // Each holds one of our fds: bounded by locks.max and the fd pool, like the kernel's lock allocation.
          const added = descs.size < this.ctx.config.locks.max ? descs.add(info.fd, info.file, info.key, p.tgid) : null;
          if (added === null) return -ENOLCK;
          desc = added;
          keep = true;
        }
      } else if (lock.type !== F_UNLCK) {
        owners.addFile(owner, info.key, info.file);
        host?.preparePosix(owner.id, info, lock.type);
      }
      const who = { pid: p.tgid, owner: owner.id, ...(desc === undefined ? {} : { ofd: desc.id }) };
      if (lock.wait) this.prune();
      const attempt = (token: LockToken) => registry.setLk(info.file, who, spec, lock.wait, token);
      return this.settle(n, p, info, desc, attempt);
    } finally {
      if (!keep) close(info.fd);
      this.release.publishHeld();
    }
  }

  // ---- flock -------------------------------------------------------------

  flock(n: Notification): number {
    const cmd = n.uint(1);
    // sys_flock: LOCK_MAND is ignored, then the operation is checked, then the fd.
    if (cmd & LOCK_MAND) return 0;
    const checked = decodeFlock(cmd, true);
    if (typeof checked === 'number') return checked;
    this.release.settlePendingExecs();
    const { descs } = this.t;
    const p = this.ctx.processes.processOf(n.tid);
    if (p === null) return -EINTR;
    const info = this.t.fds.open(p.pidfd, n.int(0));
    if (typeof info === 'number') return info === -EMFILE || info === -ENFILE ? -ENOMEM : info;
    let keep = false;
    try {
      if ((info.flags & O_PATH) !== 0) return -EBADF; // fdget refuses O_PATH files
      const acc = info.flags & O_ACCMODE;
      const op = decodeFlock(cmd, acc !== 3);
      if (typeof op === 'number') return op;
      let desc = descs.findDup(info.fd, info.key);
      if (desc === undefined) {
        if (op.type === F_UNLCK) return 0;
        const added = descs.size < this.ctx.config.locks.max ? descs.add(info.fd, info.file, info.key, p.tgid) : null;
        if (added === null) return -ENOMEM; // flock_lock_inode's "no memory"
        desc = added;
        keep = true;
      }
      if (op.wait) this.prune();
      const d = desc;
      const attempt = (token: LockToken) => this.t.registry.flock(info.file, { pid: p.tgid, desc: d.id }, op.type, op.wait, token);
      return this.settle(n, p, info, desc, attempt);
    } finally {
      if (!keep) close(info.fd);
      this.release.publishHeld();
    }
  }

  // ---- sleepers ----------------------------------------------------------

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
    if (!this.t.exact && (r === -EAGAIN || typeof r !== 'number') && this.t.descs.onFile(info.key).length > 0) {
      if (typeof r === 'number') {
        if (this.release.reapDead(info.key, desc?.id)) {
          token = new LockToken(p.tgid);
          r = attempt(token);
        }
      } else {
        this.release.reapDead(info.key, desc?.id); // may grant r on the spot (complete -> answerNow)
      }
    }
    if (typeof r === 'number') return r;
    if (token.done) return ANSWERED;
    const waiter = r;
    token.blocked = this.ctx.blocked.block(n, () => {
      this.sleepers.delete(token);
      this.t.registry.cancel(waiter);
    });
    this.sleepers.add(token);
    return PENDING;
  }

  /** The registry's isAlive hook: is the call that made `w` still there to be answered? */
  isAlive(w: Waiter<LockToken>): boolean {
    const t = w.token;
    if (t.blocked === null) {
      if (this.ctx.loop.currentValid()) return true;
      t.done = true;
      return false;
    }
    return this.ctx.loop.isValid(t.blocked.record.id);
  }

  /** Deliver a result: now for the notification being handled, later for a sleeper. */
  complete(w: Waiter<LockToken>, result: number): boolean {
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
  prune(): void {
    if (this.sleepers.size === 0) return;
    for (const t of [...this.sleepers]) {
      const call = t.blocked;
      if (call !== null && !this.ctx.loop.isValid(call.record.id)) this.ctx.blocked.died(call); // cancels
    }
  }

  /** Process `p` exited: its sleepers are gone with it. */
  exited(p: ProcessEntry): void {
    for (const t of [...this.sleepers]) if (t.pid === p.tgid) this.sleepers.delete(t);
  }
}
