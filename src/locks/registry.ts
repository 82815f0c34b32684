/**
 * All file locks of the sandbox: one LockTable per (dev, ino), the record
 * limit, POSIX deadlock detection across files, and the waking and retrying
 * of blocked requests. Replies to blocked callers go through LockHooks.
 */
import { F_UNLCK, F_WRLCK, SEEK_SET } from '../syscalls/constants.js';
import { ENOLCK, ENOMEM } from '../syscalls/errno.js';
import { type LockType, OFFSET_MAX, type Range, type UserFlock } from './abi.js';
import {
  type Conflict,
  type DescId,
  descOwner,
  type FileId,
  fileKey,
  flockConflict,
  insertBlock,
  type Lock,
  type LockKind,
  Node,
  posixConflict,
  posixOwner,
  Request,
  type Waiter,
  waitTree,
} from './node.js';
import { type PidTranslation, renderProcLocks } from './proc.js';
import { DEFERRED, LockTable, type Segment, type TableEnv } from './table.js';

/** `instanceof Request` alone narrows a Waiter<T> to Request<any>: this keeps the T. */
const isRequest = <T>(w: Waiter<T>): w is Request<T> => w instanceof Request;

/**
 * How the registry answers waiters. Both run inside whichever registry call
 * cleared the way (setLk, flock, a release, cancel); in rare flock cases that
 * is the very call that returned the waiter, so look replies up by token.
 */
export interface LockHooks<T> {
  /** Whether the waiter's caller still waits (its notification is valid); dead ones are dropped. */
  isAlive(w: Waiter<T>): boolean;
  /** Answer a waiter: 0 or -errno. False when the answer could not be delivered: a grant is undone. */
  complete(w: Waiter<T>, result: number): boolean;
  /**
   * Host coherence (absent: the sandbox's locks are its own). Make `change`
   * on the host just before the registry applies it: 0, or -errno when a
   * host lock is in the way (the host is then unchanged). `force` (releases,
   * rollbacks): the registry applies the change whatever this returns.
   */
  host?(change: LockChange, force: boolean): number;
  /** Wait, off the caller's thread, until the host lock in w's way goes; then call hostDone(w). False: no helper left. */
  hostWait?(w: Waiter<T>): boolean;
  /** w no longer waits (interrupted, its process gone): stop its host wait. */
  hostCancel?(w: Waiter<T>): void;
}

/** One owner's locks on a file about to change: type F_UNLCK releases [start, end]. */
export interface LockChange extends Range {
  readonly kind: LockKind;
  readonly type: LockType;
  /** posixOwner(pid) or descOwner(desc): see ownerNumber. */
  readonly owner: string;
  readonly file: FileId;
}

/** Who calls fcntl: the process, and for F_OFD_* the open file description. */
export interface FcntlCaller {
  readonly pid: number;
  /**
   * The POSIX lock owner: Linux's is the files table, which clone(CLONE_FILES)
   * shares between processes. Default: the process (pid).
   */
  readonly owner?: number;
  readonly ofd?: DescId;
}

/** Who calls flock(): the process and the open file description. */
export interface FlockCaller {
  readonly pid: number;
  readonly desc: DescId;
}

export interface LockSpec extends Range {
  readonly type: LockType;
}

export interface NodeSnapshot {
  readonly kind: LockKind;
  readonly type: 'READ' | 'WRITE';
  readonly start: string;
  readonly end: string;
  readonly pid: number;
  readonly desc?: string;
}

export interface LockSnapshot extends NodeSnapshot {
  /** Blocked requests, depth first as in /proc/locks; depth 1 waits on the lock itself. */
  readonly waiters: (NodeSnapshot & { readonly depth: number })[];
}

export interface FileSnapshot {
  readonly major: number;
  readonly minor: number;
  readonly ino: string;
  readonly posix: LockSnapshot[];
  readonly flock: LockSnapshot[];
}

/** A blocked request and what it waits for. */
export interface WaiterSnapshot extends NodeSnapshot, Partial<LockWaiterInfo> {
  /** The file, as "major:minor:ino". */
  readonly file: string;
  /** The applied locks in its way: their owners must release them. */
  readonly blockers: NodeSnapshot[];
  /** The request it is queued behind (__locks_insert_block), which goes first; null when it waits on a lock. */
  readonly behind: NodeSnapshot | null;
}

/** What the supervisor knows of a blocked request beyond the registry: its thread and since when it waits (epoch ms). */
export interface LockWaiterInfo {
  readonly tid: number;
  readonly since: number;
}

export interface LocksSnapshot {
  readonly max: number;
  readonly records: number;
  readonly files: FileSnapshot[];
  /** Every blocked request, oldest first. */
  readonly waiters: WaiterSnapshot[];
}

/** posix_locks_deadlock gives up after this many hops (and then says "no deadlock"). */
const MAX_DEADLK_ITERATIONS = 10;

export class LockRegistry<T> {
  private readonly files = new Map<string, LockTable<T>>();
  /** Tables holding locks of each owner, with counts: releases start here. */
  private readonly owned = new Map<string, Map<LockTable<T>, number>>();
  /** blocked_hash: requests blocked under a POSIX lock, by owner, latest last. */
  private readonly blockedBy = new Map<string, Request<T>[]>();
  /** Blocked or woken requests not answered yet. */
  private readonly pending = new Set<Request<T>>();
  /** Woken requests, retried in wake order. */
  private readonly woken: Request<T>[] = [];
  /**
   * Descriptions closed while one of their requests was pending. The kernel
   * keeps such a file alive until the request returns, then drops its locks.
   */
  private readonly closing = new Set<string>();
  private readonly touched = new Set<LockTable<T>>();
  private readonly env: TableEnv<T>;
  private draining = false;
  private seq = 0;
  /** Applied locks plus blocked requests: each is a struct file_lock in Linux. */
  private count = 0;

  constructor(
    private readonly hooks: LockHooks<T>,
    /** Records (locks and blocked requests) the sandbox may hold. */
    readonly max = 65536,
  ) {
    this.env = {
      room: (n) => this.count + n <= this.max,
      added: (t, l) => this.added(t, l),
      removed: (t, l) => this.removed(t, l),
      wake: (n) => this.wake(n),
      deadlock: (w, blocker) => this.deadlock(w, blocker),
      block: (blocker, w, conflict, noRoom) => this.block(blocker, w, conflict, noRoom),
      host: (n, w, force) => this.host(n, w, force),
    };
  }

  /** Records in use (locks plus blocked requests). */
  get records(): number {
    return this.count;
  }

  /** F_SETLK(W) / F_OFD_SETLK(W) on an absolute range: 0, -errno, or a Waiter answered later. */
  setLk(file: FileId, who: FcntlCaller, lock: LockSpec, wait: boolean, token: T): number | Waiter<T> {
    const [kind, owner] = fcntlOwner(who);
    const r = new Request<T>(kind, lock.type, lock.start, lock.end, owner, who.pid, who.ofd, file, token);
    const rc = this.table(file).setPosix(r, wait ? r : undefined);
    this.settle();
    return rc === DEFERRED ? r : rc;
  }

  /**
   * F_GETLK / F_OFD_GETLK: the first lock in the way, as struct flock, or null
   * when there is none (the caller then sets l_type = F_UNLCK and leaves the
   * rest of the user's struct alone, as Linux does).
   */
  getLk(file: FileId, who: FcntlCaller, lock: LockSpec): UserFlock | null {
    const [kind, owner] = fcntlOwner(who);
    const probe = new Node<T>(kind, lock.type, lock.start, lock.end, owner, who.pid, who.ofd, file);
    const l = this.files.get(fileKey(file))?.test(probe);
    if (!l) return null;
    return {
      type: l.type,
      whence: SEEK_SET,
      start: l.start,
      len: l.end === OFFSET_MAX ? 0n : l.end - l.start + 1n,
      pid: l.kind === 'ofd' ? -1 : l.pid, // an OFD lock has no owning process
    };
  }

  /** flock(): 0, -errno, or a Waiter answered later. */
  flock(file: FileId, who: FlockCaller, type: LockType, wait: boolean, token: T): number | Waiter<T> {
    const r = new Request<T>('flock', type, 0n, OFFSET_MAX, descOwner(who.desc), who.pid, who.desc, file, token);
    const rc = this.table(file).setFlock(r, wait ? r : undefined);
    this.settle();
    return rc === DEFERRED ? r : rc;
  }

  /** Any fd of the file closed under the owner (FcntlCaller.owner ?? pid): all its POSIX locks on the file go. */
  releasePosix(file: FileId, owner: number): void {
    const t = this.files.get(fileKey(file));
    if (t) t.setPosix(unlockAll('posix', posixOwner(owner), t.file));
    this.settle();
  }

  /**
   * The process exited: its waiters are dropped unanswered, and the POSIX
   * locks of `owner` go (null: the owner lives on in another process).
   */
  releaseAllOfProcess(pid: number, owner: number | null = pid): void {
    for (const w of [...this.pending]) if (w.pid === pid) this.drop(w);
    if (owner !== null) {
      const key = posixOwner(owner);
      for (const t of [...(this.owned.get(key)?.keys() ?? [])]) t.setPosix(unlockAll('posix', key, t.file));
    }
    this.settle();
  }

  /** The description's last fd closed (locks_remove_file): its OFD and flock locks go. */
  releaseDescription(desc: DescId): void {
    const owner = descOwner(desc);
    this.releaseOwner(owner);
    for (const w of this.pending) if (w.owner === owner) this.closing.add(owner);
    this.settle();
  }

  /** The host wait of w is over (the host lock went, or the wait failed): retry w. */
  hostDone(w: Waiter<T>): void {
    if (!isRequest(w) || w.state !== 'host') return;
    w.state = 'woken';
    this.count--;
    this.woken.push(w);
    this.settle();
  }

  /** The POSIX (no ofd) or OFD locks of the caller on the file within [start, end]. */
  coverage(file: FileId, who: FcntlCaller, start: bigint, end: bigint): Segment[] {
    return this.files.get(fileKey(file))?.segments(fcntlOwner(who)[1], start, end) ?? [];
  }

  /** The type of the description's flock lock on the file, if it holds one. */
  flockHeld(file: FileId, desc: DescId): LockType | undefined {
    return this.files.get(fileKey(file))?.flockType(descOwner(desc));
  }

  /** The waiter was interrupted: forget it without answering. */
  cancel(w: Waiter<T>): void {
    if (isRequest(w) && this.pending.has(w)) this.drop(w);
    this.settle();
  }

  /** /proc/locks, as the kernel prints it from one CPU's list (newest first). */
  procLocks(pidOf?: PidTranslation): string {
    const all: Lock<T>[] = [];
    for (const t of this.files.values()) all.push(...t.flocks, ...t.posix);
    return renderProcLocks(
      all.sort((a, b) => b.seq - a.seq),
      pidOf,
    );
  }

  /** The whole state as plain data; `info` adds what the supervisor knows of each blocked request. */
  snapshot(info?: (w: Waiter<T>) => LockWaiterInfo | null): LocksSnapshot {
    const waiters: WaiterSnapshot[] = [];
    for (const w of this.pending) {
      if (w.state !== 'blocked') continue;
      const t = this.files.get(fileKey(w.file));
      const inWay =
        w.kind === 'flock' ? (t?.flocks ?? []).filter((l) => flockConflict(w, l)) : (t?.posix ?? []).filter((l) => posixConflict(w, l));
      waiters.push({
        ...node(w),
        file: fileKey(w.file),
        blockers: inWay.map(node),
        behind: w.blocker instanceof Request ? node(w.blocker) : null,
        ...info?.(w),
      });
    }
    const files = [...this.files.values()].map((t) => ({
      major: t.file.major,
      minor: t.file.minor,
      ino: String(t.file.ino),
      posix: t.posix.map(snap),
      flock: t.flocks.map(snap),
    }));
    return { max: this.max, records: this.count, files, waiters };
  }

  private table(file: FileId): LockTable<T> {
    const key = fileKey(file);
    let t = this.files.get(key);
    if (!t) {
      t = new LockTable<T>(file, this.env);
      this.files.set(key, t);
      this.touched.add(t);
    }
    return t;
  }

  private added(t: LockTable<T>, l: Lock<T>): void {
    l.seq = ++this.seq;
    this.count++;
    let m = this.owned.get(l.owner);
    if (!m) this.owned.set(l.owner, (m = new Map<LockTable<T>, number>()));
    m.set(t, (m.get(t) ?? 0) + 1);
  }

  private removed(t: LockTable<T>, l: Lock<T>): void {
    this.count--;
    const m = this.owned.get(l.owner)!;
    const n = m.get(t)! - 1;
    if (n > 0) m.set(t, n);
    else if (m.delete(t) && m.size === 0) this.owned.delete(l.owner);
    this.touched.add(t);
    this.wake(l);
  }

  private block(blocker: Lock<T>, w: Request<T>, conflict: Conflict<T>, noRoom: number): number {
    if (!this.env.room(1)) return -noRoom;
    const under = insertBlock(blocker, w, conflict);
    this.count++;
    this.pending.add(w);
    // Only requests under a POSIX (not OFD) node enter blocked_hash.
    if (under.kind === 'posix') {
      const list = this.blockedBy.get(w.owner);
      if (list) list.push(w);
      else this.blockedBy.set(w.owner, [w]);
    }
    this.wake(w); // requests that queued behind w may not conflict with its new blocker
    return DEFERRED;
  }

  private host(n: Node<T>, w: Request<T> | undefined, force: boolean): number {
    const rc = this.hooks.host === undefined ? 0 : this.hooks.host(n, force);
    if (rc === 0 || force) return 0;
    if (w === undefined) return rc;
    // A request waiting for the host is a record, as a blocked one is.
    if (!this.env.room(1)) return w.kind === 'flock' ? -ENOMEM : -ENOLCK;
    if (this.hooks.hostWait?.(w) !== true) return -ENOLCK;
    this.count++;
    this.pending.add(w);
    w.state = 'host';
    this.wake(w); // requests queued behind w no longer have it in their way
    return DEFERRED;
  }

  /** Detach every request blocked directly on n and queue it for a retry. */
  private wake(n: Node<T>): void {
    for (const w of n.blocked.splice(0)) {
      this.unhash(w);
      w.blocker = null;
      w.state = 'woken';
      this.count--;
      this.woken.push(w);
    }
  }

  private unhash(w: Request<T>): void {
    const list = this.blockedBy.get(w.owner);
    const i = list ? list.indexOf(w) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.blockedBy.delete(w.owner);
  }

  /**
   * posix_locks_deadlock: follow "owner of the lock in the way waits for ..."
   * and report a cycle back to w's owner, within MAX_DEADLK_ITERATIONS hops.
   */
  private deadlock(w: Request<T>, blocker: Lock<T>): boolean {
    if (w.kind === 'ofd') return false; // an OFD owner is no thread: Linux does not try
    let i = 0;
    for (let n = this.waitingFor(blocker); n; n = this.waitingFor(n)) {
      if (i++ > MAX_DEADLK_ITERATIONS) return false;
      if (n.owner === w.owner) return true;
    }
    return false;
  }

  /** what_owner_is_waiting_for: the root of the tree holding n's owner's latest hashed request. */
  private waitingFor(n: Node<T>): Node<T> | undefined {
    const list = this.blockedBy.get(n.owner);
    let r: Node<T> | undefined = list?.[list.length - 1];
    while (r instanceof Request && r.blocker) r = r.blocker;
    return r;
  }

  /** Retry woken requests, oldest wake first, until none is left. */
  private settle(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let w = this.woken.shift(); w; w = this.woken.shift()) this.retry(w);
    } finally {
      this.draining = false;
    }
    for (const t of this.touched) if (t.empty) this.files.delete(fileKey(t.file));
    this.touched.clear();
  }

  private retry(w: Request<T>): void {
    if (w.state !== 'woken') return; // cancelled while queued
    if (!this.hooks.isAlive(w)) return this.finish(w);
    const t = this.table(w.file);
    const flock = w.kind === 'flock';
    const before = flock ? t.flockType(w.owner) : t.segments(w.owner, w.start, w.end);
    const rc = flock ? t.setFlock(w, w) : t.setPosix(w, w);
    if (rc === DEFERRED) return;
    const closed = this.closing.has(w.owner);
    this.finish(w);
    if (rc < 0) {
      this.hooks.complete(w, rc);
    } else if (!this.hooks.complete(w, 0)) {
      this.rollback(t, w, before);
    } else if (closed) {
      this.releaseOwner(w.owner); // the deferred fput of a closed description
    }
  }

  /** Undo a lock whose grant never reached its caller: the owner's locks return to `before`. */
  private rollback(t: LockTable<T>, w: Request<T>, before: LockType | undefined | Segment[]): void {
    if (Array.isArray(before)) {
      if (sameSegments(t.segments(w.owner, w.start, w.end), before)) return;
      t.setPosix(new Node<T>(w.kind, F_UNLCK, w.start, w.end, w.owner, w.pid, w.desc, w.file), undefined, true);
      for (const s of before) t.setPosix(new Node<T>(w.kind, s.type, s.start, s.end, w.owner, w.pid, w.desc, w.file), undefined, true);
    } else if (t.flockType(w.owner) !== before) {
      t.setFlock(unlockAll('flock', w.owner, w.file), undefined, true);
      if (before !== undefined) t.setFlock(new Node<T>('flock', before, 0n, OFFSET_MAX, w.owner, w.pid, w.desc, w.file), undefined, true);
    }
  }

  private releaseOwner(owner: string): void {
    for (const t of [...(this.owned.get(owner)?.keys() ?? [])]) {
      t.setPosix(unlockAll('ofd', owner, t.file));
      t.setFlock(unlockAll('flock', owner, t.file));
    }
  }

  /** Take a pending request out of the trees without answering it. */
  private drop(w: Request<T>): void {
    if (w.state === 'blocked') {
      const b = w.blocker!.blocked;
      b.splice(b.indexOf(w), 1);
      this.unhash(w);
      w.blocker = null;
      this.count--;
    } else if (w.state === 'host') {
      this.count--;
      this.hooks.hostCancel?.(w);
    }
    this.finish(w);
  }

  /** locks_delete_block: w is done; whatever still waits on it retries. */
  private finish(w: Request<T>): void {
    w.state = 'done';
    this.pending.delete(w);
    this.wake(w);
    if (this.closing.has(w.owner) && ![...this.pending].some((p) => p.owner === w.owner)) this.closing.delete(w.owner);
  }
}

/** F_OFD_* locks belong to the description, the others to the process. */
const fcntlOwner = (who: FcntlCaller): [LockKind, string] =>
  who.ofd === undefined ? ['posix', posixOwner(who.owner ?? who.pid)] : ['ofd', descOwner(who.ofd)];

const unlockAll = <T>(kind: LockKind, owner: string, file: FileId): Node<T> =>
  new Node<T>(kind, F_UNLCK, 0n, OFFSET_MAX, owner, 0, undefined, file);

const sameSegments = (a: Segment[], b: Segment[]): boolean =>
  a.length === b.length && a.every((s, i) => s.type === b[i]!.type && s.start === b[i]!.start && s.end === b[i]!.end);

const node = <T>(n: Node<T>): NodeSnapshot => ({
  kind: n.kind,
  type: n.type === F_WRLCK ? 'WRITE' : 'READ',
  start: String(n.start),
  end: n.end === OFFSET_MAX ? 'EOF' : String(n.end),
  pid: n.pid,
  ...(n.desc === undefined ? {} : { desc: String(n.desc) }),
});

const snap = <T>(l: Lock<T>): LockSnapshot => ({
  ...node(l),
  waiters: [...waitTree(l)].map(([w, depth]) => ({ ...node(w), depth })),
});
