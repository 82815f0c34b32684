/**
 * One semaphore set and its sleepers, with Linux's wake-up machinery
 * (ipc/sem.c: perform_atomic_semop, update_queue, wake_const_ops,
 * do_smart_update, count_semcnt, freeary).
 *
 * Queues, as in Linux: a single-sop operation waits on its semaphore's
 * pending list (alter or const); a multi-sop ("complex") operation waits on
 * the set's global list. While complex operations wait, single-sop alter
 * operations are merged into the global alter list so that FIFO order holds
 * across them; settle() moves them back once no complex operation is left.
 */
import { IPC_NOWAIT, SEM_UNDO, SEMAEM, SEMVMX } from './constants.js';
import { EAGAIN, EIDRM, ERANGE } from '../syscalls/errno.js';
import type { IpcPerm, SemClock, SemHooks } from './types.js';
import type { UndoEntry } from './undo.js';
import { type SemWaiter, WaitList } from './waiter.js';

/** Keys of a per-semaphore list map in index order. */
function sortedKeys(m: Map<number, unknown>): number[] {
  return [...m.keys()].sort((a, b) => a - b);
}

/** Outcomes of attempt(). */
const BLOCKED = 0;
const DONE = 1;
const FAILED = 2;
const DROPPED = 3;

/** @internal A live semaphore set. Only SemRegistry uses it. */
export class SemSet<T> {
  /** Current values. */
  readonly vals: Int32Array;
  /** sempid of each semaphore: tgid of the last process that changed it. */
  readonly pids: Int32Array;
  /** Per-semaphore candidates for sem_otime, as Linux keeps them; otime is their maximum. */
  private readonly otimes: Float64Array;
  /** sem_ctime. */
  ctime: number;
  /** Complex alter operations, plus single-sop ones while merged. */
  readonly pendingAlter = new WaitList<T>();
  /** Complex wait-for-zero-only operations. */
  readonly pendingConst = new WaitList<T>();
  /** Single-sop alter operations by semaphore (created on first use). */
  private readonly semAlter = new Map<number, WaitList<T>>();
  /** Single-sop wait-for-zero operations by semaphore (created on first use). */
  private readonly semConst = new Map<number, WaitList<T>>();
  /** Number of queued complex operations. */
  private complexCount = 0;
  /** Number of queued operations, on any list. */
  private queued = 0;
  /** Every undo entry for this set, to clear (SETVAL, SETALL) or drop (IPC_RMID). */
  readonly undos = new Set<UndoEntry>();
  /** Processes that called semop on the set (tgids; forgotten at exit): who may change it, for the wait-for graph. */
  readonly users = new Set<number>();
  /** sempid values overwritten by the last successful perform(), for rollback(). */
  private pidLog = new Int32Array(8);

  constructor(
    readonly id: number,
    readonly index: number,
    readonly perm: IpcPerm,
    readonly nsems: number,
    private readonly hooks: SemHooks<T>,
    private readonly clock: SemClock,
  ) {
    this.vals = new Int32Array(nsems);
    this.pids = new Int32Array(nsems);
    this.otimes = new Float64Array(nsems);
    this.ctime = this.now();
  }

  /** sem_otime: the latest successful semop, 0 if none. */
  get otime(): number {
    let t = 0;
    for (const o of this.otimes) if (o > t) t = o;
    return t;
  }

  /** No operation sleeps on the set: a change to its values wakes nobody. */
  get idle(): boolean {
    return this.queued === 0;
  }

  /** The sem_otime candidate of semaphore num, to put back with restoreOtime(). */
  otimeOf(num: number): number {
    return this.otimes[num]!;
  }

  restoreOtime(num: number, otime: number): void {
    this.otimes[num] = otime;
  }

  /** Times of a set restored from a previous run. */
  restoreTimes(otime: number, ctime: number): void {
    this.otimes.fill(0);
    if (this.nsems > 0) this.otimes[0] = otime;
    this.ctime = ctime;
  }

  /** Wall-clock seconds, as ktime_get_real_seconds(). */
  now(): number {
    return Math.floor(this.clock.realSec());
  }

  /**
   * perform_atomic_semop(): applies packed ops (the first `end` entries of
   * `ops`) in array order, all or nothing. Returns 0 (committed, sempid set),
   * -EAGAIN, -ERANGE, or 1 + the index of the operation that must sleep.
   * Later ops see earlier ones' effect, so one array may e.g. decrement and
   * re-increment one semaphore.
   */
  perform(ops: Int32Array, end: number, adj: Int16Array | null, pid: number): number {
    const vals = this.vals;
    let i = 0;
    let result = 0;
    for (; i < end; i += 3) {
      const num = ops[i]!;
      const op = ops[i + 1]!;
      const flg = ops[i + 2]!;
      const cur = vals[num]!;
      if ((op === 0 && cur !== 0) || cur + op < 0) {
        result = flg & IPC_NOWAIT ? -EAGAIN : 1 + i / 3;
        break;
      }
      if (cur + op > SEMVMX) {
        result = -ERANGE;
        break;
      }
      if (flg & SEM_UNDO) {
        // The adjustment is a short: [-SEMAEM - 1, SEMAEM].
        const u = adj![num]! - op;
        if (u < -SEMAEM - 1 || u > SEMAEM) {
          result = -ERANGE;
          break;
        }
        adj![num] = u;
      }
      vals[num] = cur + op;
    }
    if (result !== 0) {
      for (i -= 3; i >= 0; i -= 3) this.unapply(ops, i, adj);
      return result;
    }
    const n = end / 3;
    if (this.pidLog.length < n) this.pidLog = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      const num = ops[3 * j]!;
      this.pidLog[j] = this.pids[num]!;
      this.pids[num] = pid;
    }
    return 0;
  }

  /** Undoes the perform() that just returned 0 for these ops: values, adjustments, sempids. */
  rollback(ops: Int32Array, end: number, adj: Int16Array | null): void {
    for (let i = end - 3; i >= 0; i -= 3) {
      this.unapply(ops, i, adj);
      this.pids[ops[i]!] = this.pidLog[i / 3]!;
    }
  }

  private unapply(ops: Int32Array, i: number, adj: Int16Array | null): void {
    const num = ops[i]!;
    const op = ops[i + 1]!;
    this.vals[num] = this.vals[num]! - op;
    if (ops[i + 2]! & SEM_UNDO) adj![num] = adj![num]! + op;
  }

  /** Records a successful operation in sem_otime (set_semotime). */
  setOtime(ops: Int32Array | null): void {
    this.otimes[ops ? ops[0]! : 0] = this.now();
  }

  /** Queues a sleeping semop as do_semtimedop() does. */
  enqueue(q: SemWaiter<T>): void {
    this.queued++;
    if (q.ops.length === 3) {
      const num = q.ops[0]!;
      if (!q.alter) this.list(this.semConst, num).push(q);
      else if (this.complexCount) this.pendingAlter.push(q);
      else this.list(this.semAlter, num).push(q);
      return;
    }
    if (!this.complexCount) this.mergeQueues();
    (q.alter ? this.pendingAlter : this.pendingConst).push(q);
    this.complexCount++;
  }

  private list(m: Map<number, WaitList<T>>, num: number): WaitList<T> {
    let l = m.get(num);
    if (!l) m.set(num, (l = new WaitList<T>()));
    return l;
  }

  /** Takes q off its queue (unlink_queue). */
  unlink(q: SemWaiter<T>): void {
    q.list!.remove(q);
    this.queued--;
    if (q.ops.length > 3) this.complexCount--;
  }

  /** merge_queues(): each semaphore's alter list goes to the global head, in index order, so the last index ends up first. */
  private mergeQueues(): void {
    for (const i of sortedKeys(this.semAlter)) this.pendingAlter.spliceFront(this.semAlter.get(i)!);
  }

  /**
   * unmerge_queues(), run where Linux drops the set lock: with no complex
   * operation left, single-sop alter waiters return to their semaphores.
   */
  settle(): void {
    if (this.complexCount) return;
    let next: SemWaiter<T> | null;
    for (let q = this.pendingAlter.head; q; q = next) {
      next = q.next;
      this.pendingAlter.remove(q);
      this.list(this.semAlter, q.ops[0]!).push(q);
    }
  }

  /** Removes a dead waiter without reply. */
  private drop(q: SemWaiter<T>): void {
    this.unlink(q);
    q.state = 'cancelled';
  }

  /**
   * Tries one sleeper. A success is delivered before anything else happens,
   * so that an undeliverable one (a dead sleeper) is rolled back without
   * touching other waiters; asking isAlive first would cost every live
   * sleeper a check that the delivery makes anyway.
   */
  private attempt(q: SemWaiter<T>): number {
    const adj = q.undo ? q.undo.adj : null;
    const r = this.perform(q.ops, q.ops.length, adj, q.sempid);
    if (r > 0) {
      q.blocking = r - 1;
      return BLOCKED;
    }
    this.unlink(q);
    q.state = 'completed';
    if (r < 0) {
      q.result = r;
      this.hooks.complete(q, r);
      return FAILED;
    }
    if (this.hooks.complete(q, 0)) return DONE;
    this.rollback(q.ops, q.ops.length, adj);
    q.state = 'cancelled';
    return DROPPED;
  }

  /** wake_const_ops(): retries every waiter of a wait-for-zero list; true if one succeeded. */
  private wakeConst(list: WaitList<T> | undefined): boolean {
    let done = false;
    let next: SemWaiter<T> | null;
    for (let q = list ? list.head : null; q; q = next) {
      next = q.next;
      if (this.attempt(q) === DONE) done = true;
    }
    return done;
  }

  /**
   * do_smart_wakeup_zero(): wakes wait-for-zero sleepers of every semaphore
   * the ops touched (all if ops is null) that is now zero, then the complex
   * ones if any semaphore was zero.
   */
  private wakeupZero(ops: Int32Array | null): boolean {
    let done = false;
    let gotZero = false;
    const n = ops ? ops.length / 3 : this.nsems;
    for (let i = 0; i < n; i++) {
      const num = ops ? ops[3 * i]! : i;
      if (this.vals[num] === 0) {
        gotZero = true;
        if (this.wakeConst(this.semConst.get(num))) done = true;
      }
    }
    if (gotZero && this.wakeConst(this.pendingConst)) done = true;
    return done;
  }

  /**
   * update_queue(): retries alter sleepers of one semaphore (or the global
   * list for -1) in FIFO order. After a success the scan restarts from the
   * head when complex operations are involved (check_restart); a per-semaphore
   * scan stops once the value is 0, since only decrements sleep there.
   */
  private updateQueue(semnum: number): boolean {
    const list = semnum < 0 ? this.pendingAlter : this.semAlter.get(semnum);
    if (!list) return false;
    let done = false;
    let restart = true;
    while (restart) {
      restart = false;
      let next: SemWaiter<T> | null;
      for (let q = list.head; q; q = next) {
        next = q.next;
        if (semnum >= 0 && this.vals[semnum] === 0) break;
        if (this.attempt(q) !== DONE) continue;
        done = true;
        this.wakeupZero(q.ops);
        if (this.pendingAlter.head || q.ops.length > 3) {
          restart = true;
          break;
        }
      }
    }
    return done;
  }

  /**
   * do_smart_update(): after values changed (ops that ran, or null for
   * SETVAL/SETALL/exit), completes every sleeper that now can, and sets
   * otime if one did or `otime` is true.
   */
  update(ops: Int32Array | null, otime: boolean): void {
    if (this.wakeupZero(ops)) otime = true;
    if (this.pendingAlter.head) {
      if (this.updateQueue(-1)) otime = true;
    } else if (!ops) {
      for (let i = 0; i < this.nsems; i++) if (this.updateQueue(i)) otime = true;
    } else {
      // Only increments can let single-sop decrements proceed.
      for (let i = 0; i < ops.length; i += 3) {
        if (ops[i + 1]! > 0 && this.updateQueue(ops[i]!)) otime = true;
      }
    }
    if (otime) this.setOtime(ops);
  }

  /**
   * count_semcnt(): sleepers waiting for semaphore num to grow (zero=false)
   * or to be zero (zero=true). A complex operation counts only for the
   * operation it last blocked on. Dead waiters are dropped, not counted.
   */
  count(num: number, zero: boolean): number {
    let n = 0;
    let next: SemWaiter<T> | null;
    const count = (q: SemWaiter<T>): void => {
      if (this.hooks.isAlive(q)) n++;
      else this.drop(q);
    };
    for (let q = (zero ? this.semConst : this.semAlter).get(num)?.head ?? null; q; q = next) {
      next = q.next;
      count(q);
    }
    const lists = zero ? [this.pendingAlter, this.pendingConst] : [this.pendingAlter];
    for (const l of lists) {
      for (let q = l.head; q; q = next) {
        next = q.next;
        const b = 3 * q.blocking;
        if (q.ops[b] !== num) continue;
        const op = q.ops[b + 1]!;
        if (zero ? op === 0 : op < 0) count(q);
      }
    }
    this.settle();
    return n;
  }

  /** freeary(): fails every sleeper with EIDRM, in Linux's order. */
  failAll(): void {
    const fail = (l: WaitList<T> | undefined): void => {
      let next: SemWaiter<T> | null;
      for (let q = l ? l.head : null; q; q = next) {
        next = q.next;
        this.unlink(q);
        q.state = 'completed';
        q.result = -EIDRM;
        this.hooks.complete(q, -EIDRM);
      }
    };
    fail(this.pendingConst);
    fail(this.pendingAlter);
    const nums = new Set([...this.semConst.keys(), ...this.semAlter.keys()]);
    for (const i of [...nums].sort((a, b) => a - b)) {
      fail(this.semConst.get(i));
      fail(this.semAlter.get(i));
    }
  }

  /** Every queued waiter: global lists first, then per semaphore (for snapshots). */
  *waiters(): Generator<SemWaiter<T>> {
    const lists = [this.pendingAlter, this.pendingConst];
    for (const i of sortedKeys(this.semAlter)) lists.push(this.semAlter.get(i)!);
    for (const i of sortedKeys(this.semConst)) lists.push(this.semConst.get(i)!);
    for (const l of lists) for (let q = l.head; q; q = q.next) yield q;
  }
}
