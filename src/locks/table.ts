/**
 * One file's locks (the kernel's struct file_lock_context): the POSIX/OFD
 * byte-range list and the flock list, with posix_lock_inode and
 * flock_lock_inode. What spans files (record limit, deadlock detection,
 * waking and retrying) is the registry's, reached through TableEnv.
 */
import { F_UNLCK } from '../syscalls/constants.js';
import { EAGAIN, EDEADLK, ENOLCK, ENOMEM } from '../syscalls/errno.js';
import { type LockType } from './abi.js';
import { type Conflict, type FileId, flockConflict, Lock, Node, posixConflict, type Request, testConflict } from './node.js';

/** FILE_LOCK_DEFERRED: the request now waits. */
export const DEFERRED = 1;

export interface TableEnv<T> {
  /** Whether n more records fit under the sandbox's limit. */
  room(n: number): boolean;
  /** A lock entered table t. */
  added(t: LockTable<T>, l: Lock<T>): void;
  /** A lock left table t; whoever waited on it must be woken. */
  removed(t: LockTable<T>, l: Lock<T>): void;
  /** __locks_wake_up_blocks: wake every request blocked directly on n. */
  wake(n: Node<T>): void;
  /** posix_locks_deadlock: would waiting on blocker close a cycle? */
  deadlock(w: Request<T>, blocker: Lock<T>): boolean;
  /** Queue w under blocker; DEFERRED, or -noRoom when no record is left. */
  block(blocker: Lock<T>, w: Request<T>, conflict: Conflict<T>, noRoom: number): number;
  /**
   * The sandbox's rules let `n` through: make the same change on the host,
   * just before the table applies it. 0; -errno when a host lock is in the
   * way (nothing changed); DEFERRED when `waiter` now waits for the host.
   * `force` (a release, a rollback): 0 whatever the host says.
   */
  host(n: Node<T>, waiter: Request<T> | undefined, force: boolean): number;
}

/** A piece of an owner's coverage, as plain values. */
export interface Segment {
  readonly type: LockType;
  readonly start: bigint;
  readonly end: bigint;
}

export class LockTable<T> {
  /** flc_posix: POSIX and OFD locks; an owner's locks are adjacent, ordered by start. */
  readonly posix: Lock<T>[] = [];
  /** flc_flock, oldest first. */
  readonly flocks: Lock<T>[] = [];

  constructor(
    readonly file: FileId,
    private readonly env: TableEnv<T>,
  ) {}

  get empty(): boolean {
    return this.posix.length === 0 && this.flocks.length === 0;
  }

  /** posix_test_lock (F_GETLK): the first lock in list order that req runs into. */
  test(req: Node<T>): Lock<T> | undefined {
    return this.posix.find((l) => testConflict(req, l));
  }

  /**
   * posix_lock_inode: apply req for its owner, splitting, trimming, replacing
   * and merging the owner's locks so that they stay disjoint and same-type
   * neighbours coalesce. `waiter` is req itself when it may sleep (F_SETLKW);
   * `force` (rollback only) skips the conflict check and the record limit.
   * Returns 0, -errno, or DEFERRED.
   */
  setPosix(req: Node<T>, waiter?: Request<T>, force = false): number {
    const list = this.posix;
    if (req.type !== F_UNLCK && !force) {
      const fl = list.find((l) => posixConflict(req, l));
      if (fl) {
        if (!waiter) return -EAGAIN; // F_SETLK: Linux answers EAGAIN, never EACCES
        this.env.wake(waiter); // nothing may wait on us during deadlock detection
        if (this.env.deadlock(waiter, fl)) return -EDEADLK;
        return this.env.block(fl, waiter, posixConflict, ENOLCK);
      }
    }

    // Walk the owner's locks first and only note what changes, so that the
    // record limit is checked before anything moves.
    let i = list.findIndex((l) => l.owner === req.owner);
    if (i < 0) i = list.length;
    let { start, end } = req;
    let absorber: Lock<T> | undefined; // same-type lock that grows over the request
    let replaced: Lock<T> | undefined; // covered lock whose place the new lock takes
    let left: Lock<T> | undefined; // sticks out before the request: trimmed
    let right: Lock<T> | undefined; // sticks out after it: trimmed (or split with left)
    let added = false;
    const gone: Lock<T>[] = [];
    for (; i < list.length; i++) {
      const fl = list[i]!;
      if (fl.owner !== req.owner) break;
      if (fl.type === req.type) {
        // Adjacent counts too; compare with start - 1 since end + 1 may pass OFFSET_MAX.
        if (fl.end < start - 1n) continue;
        if (fl.start - 1n > end) break;
        if (fl.start < start) start = fl.start;
        if (fl.end > end) end = fl.end;
        if (added) gone.push(fl);
        else [absorber, added] = [fl, true];
      } else {
        if (fl.end < start) continue;
        if (fl.start > end) break;
        if (req.type === F_UNLCK) added = true;
        if (fl.start < start) left = fl;
        if (fl.end > end) {
          right = fl;
          break;
        }
        if (fl.start >= start) {
          if (!added) [replaced, added] = [fl, true];
          gone.push(fl);
        }
      }
    }
    if (!added && req.type === F_UNLCK) return 0; // nothing of ours there
    const stop = list[i];
    const split = right !== undefined && left === right;
    const fresh = absorber === undefined && req.type !== F_UNLCK;
    const need = (fresh ? 1 : 0) + (split ? 1 : 0) - gone.length;
    if (!force && need > 0 && !this.env.room(need)) return -ENOLCK; // "no luck": no record to allocate
    const host = this.env.host(req, waiter, force);
    if (host !== 0) return host;

    let lock = absorber;
    for (const fl of gone) {
      if (fl === replaced) lock = this.insertPosix(this.fromRequest(req, start, end), fl);
      this.removePosix(fl);
    }
    if (!added) lock = this.insertPosix(this.fromRequest(req, start, end), stop);
    if (lock) [lock.start, lock.end] = [start, end];
    if (right) {
      if (split) {
        left = this.insertPosix(copy(right), lock ?? right);
      }
      right.start = end + 1n;
      this.env.wake(right);
    }
    if (left) {
      left.end = start - 1n;
      this.env.wake(left);
    }
    return 0;
  }

  /**
   * flock_lock_inode. Conversion is not atomic: the description's old lock
   * is dropped (waking its waiters) before the new one is looked for, so a
   * conversion that fails with LOCK_NB, or waits, has lost the old lock.
   */
  setFlock(req: Node<T>, waiter?: Request<T>, force = false): number {
    const own = this.flocks.find((l) => l.owner === req.owner);
    if (own) {
      if (own.type === req.type) return 0;
      this.flocks.splice(this.flocks.indexOf(own), 1);
      this.env.removed(this, own);
    }
    // The host drops the old lock in the same call that asks for the new one,
    // as flock_lock_inode does; only when that call is not made is it dropped alone.
    const dropOnHost = (): void => {
      if (own) this.env.host(unlockOf(req), undefined, true);
    };
    if (req.type === F_UNLCK) {
      dropOnHost();
      return 0;
    }
    if (!force) {
      const fl = this.flocks.find((l) => flockConflict(req, l));
      if (fl) {
        dropOnHost();
        if (!waiter) return -EAGAIN; // LOCK_NB: EWOULDBLOCK
        return this.env.block(fl, waiter, flockConflict, ENOMEM);
      }
      // flock_lock_inode reports a failed lock allocation as ENOMEM, not ENOLCK.
      if (!this.env.room(1)) {
        dropOnHost();
        return -ENOMEM;
      }
    }
    const host = this.env.host(req, waiter, force);
    if (host !== 0) return host;
    const l = this.fromRequest(req, req.start, req.end);
    this.flocks.push(l);
    this.env.added(this, l);
    return 0;
  }

  /** The owner's POSIX/OFD coverage within [start, end]. */
  segments(owner: string, start: bigint, end: bigint): Segment[] {
    return this.posix
      .filter((l) => l.owner === owner && l.end >= start && l.start <= end)
      .map((l) => ({ type: l.type, start: l.start > start ? l.start : start, end: l.end < end ? l.end : end }));
  }

  /** The type of the description's flock lock, if it holds one. */
  flockType(owner: string): LockType | undefined {
    return this.flocks.find((l) => l.owner === owner)?.type;
  }

  /** locks_copy_lock + locks_move_blocks: a new lock that inherits the request's waiters. */
  private fromRequest(req: Node<T>, start: bigint, end: bigint): Lock<T> {
    const l = new Lock<T>(req.kind, req.type, start, end, req.owner, req.pid, req.desc, req.file);
    for (const w of req.blocked) w.blocker = l;
    l.blocked.push(...req.blocked.splice(0));
    return l;
  }

  private insertPosix(l: Lock<T>, before: Lock<T> | undefined): Lock<T> {
    this.posix.splice(before ? this.posix.indexOf(before) : this.posix.length, 0, l);
    this.env.added(this, l);
    return l;
  }

  private removePosix(l: Lock<T>): void {
    this.posix.splice(this.posix.indexOf(l), 1);
    this.env.removed(this, l);
  }
}

const unlockOf = <T>(n: Node<T>): Node<T> => new Node<T>(n.kind, F_UNLCK, n.start, n.end, n.owner, n.pid, n.desc, n.file);

const copy = <T>(l: Lock<T>): Lock<T> => new Lock<T>(l.kind, l.type, l.start, l.end, l.owner, l.pid, l.desc, l.file);
