/**
 * The SysV semaphore registry of one IPC namespace: ids and keys, semget,
 * semop/semtimedop, semctl, SEM_UNDO at exit, limits, timeouts and snapshots.
 * Every check sits here in Linux's order (ipc/sem.c, ipc/util.c) with its errno;
 * set.ts holds the wake-up machinery.
 */
import {
  GETALL,
  GETNCNT,
  GETPID,
  GETVAL,
  GETZCNT,
  IPC_CREAT,
  IPC_EXCL,
  IPC_INFO,
  IPC_MIN_CYCLE,
  IPC_PRIVATE,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  IPCID_SEQ_MAX,
  IPCMNI,
  IPCMNI_SHIFT,
  S_IRUGO,
  S_IRWXUGO,
  S_IWUGO,
  SEM_INFO,
  SEM_MAX_NSEMS,
  SEM_MAX_NSOPS,
  SEM_STAT,
  SEM_STAT_ANY,
  SEM_UNDO,
  SEMAEM,
  SEMMAP,
  SEMMNU,
  SEMUME,
  SEMUSZ,
  SEMVMX,
  SETALL,
  SETVAL,
} from './constants.js';
import { E2BIG, EACCES, EAGAIN, EEXIST, EFBIG, EINVAL, ENOENT, ENOMEM, ENOSPC, EPERM, ERANGE } from '../syscalls/errno.js';
import { ipcperms, isOwner } from './perm.js';
import type { PersistedSet } from './persist.js';
import { SemSet } from './set.js';
import type { SemBuf, SemCaller, SemClock, SemctlIO, SemHooks, SemidDs, SemInfo, SemLimits } from './types.js';
import { UndoEntry, type UndoList } from './undo.js';
import { SemWaiter } from './waiter.js';

/** One set as IPC_STAT shows it, plus its id and table index (for /proc/sysvipc/sem). */
export interface SemSetStat extends SemidDs {
  id: number;
  index: number;
}

/** JSON-serialisable state of the whole registry. */
export interface SemSnapshot {
  limits: SemLimits;
  /** Semaphores in all sets. */
  usedSems: number;
  sets: Array<
    SemSetStat & {
      values: number[];
      pids: number[];
      /** Sleepers in wake-up scan order: global lists, then per semaphore. */
      waiters: Array<{ pid: number; sops: SemBuf[]; blocking: number; deadlineNs: string | null } & Partial<SemWaiterInfo>>;
      /** SEM_UNDO adjustments held for this set, by owning UndoList. */
      undo: Array<{ owner: number; adj: number[] }>;
      /** Live processes that called semop on the set (candidates to change it), ascending. */
      users: number[];
    }
  >;
}

/** What the supervisor knows of a sleeping semop beyond the registry: its thread and times (epoch ms). */
export interface SemWaiterInfo {
  tid: number;
  /** When it started sleeping. */
  since: number;
  /** When its timeout expires (semtimedop), or null. */
  deadline: number | null;
}

/** Range of the int values of /proc/sys/kernel/sem. */
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

/** What a change by `c` records as sempid: its tgid in its own PID namespace. */
const sempidOf = (c: SemCaller): number => c.sempid ?? c.pid;

/**
 * All semaphore sets of one sandbox. Results are Linux syscall results:
 * a non-negative value, or -errno. T is the supervisor's token for a waiter.
 */
export class SemRegistry<T> {
  private limits: SemLimits;
  /** Sets by table index. */
  private readonly sets = new Map<number, SemSet<T>>();
  /** Sets by key (never IPC_PRIVATE). */
  private readonly keys = new Map<number, SemSet<T>>();
  private usedSems = 0;
  /** ipc_ids.seq, .last_idx, .max_idx and the idr's cyclic cursor. */
  private seq = 0;
  private lastIdx = -1;
  private maxIdx = -1;
  private nextIdx = 0;
  /** Waiters with a timeout; entries no longer queued are pruned lazily. */
  private readonly timed = new Set<SemWaiter<T>>();
  private waiterSeq = 0;
  /** Packed operations of the semop being handled (num, op, flg each); a waiter gets a copy. */
  private ops = new Int32Array(3 * 8);
  /** The success semop() last left to the caller to deliver (hooks.deferImmediate), for undeliverable(). */
  private deferredSet: SemSet<T> | null = null;
  private deferredAdj: Int16Array | null = null;
  private deferredEnd = 0;
  private deferredOtime = 0;

  /**
   * @param limits initial /proc/sys/kernel/sem values (copied)
   * @param hooks liveness test and reply delivery for sleeping semops
   * @param clock time sources for timeouts and otime/ctime
   */
  constructor(
    limits: SemLimits,
    private readonly hooks: SemHooks<T>,
    private readonly clock: SemClock,
  ) {
    this.limits = { ...limits };
  }

  /** The current limits (a copy). */
  getLimits(): SemLimits {
    return { ...this.limits };
  }

  /**
   * Applies limits parsed from a /proc/sys/kernel/sem write. Returns 0, or
   * -ERANGE when semmni is outside [0, IPCMNI]: then, as in Linux's
   * proc_ipc_sem_dointvec, semmni keeps its old value but the other three
   * take the new ones. -EINVAL if a value is not a 32-bit integer.
   */
  setLimits(l: SemLimits): number {
    for (const v of [l.semmsl, l.semmns, l.semopm, l.semmni]) {
      if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) return -EINVAL;
    }
    const semmni = this.limits.semmni;
    this.limits = { semmsl: l.semmsl, semmns: l.semmns, semopm: l.semopm, semmni: l.semmni };
    if (l.semmni < 0 || l.semmni > IPCMNI) {
      this.limits.semmni = semmni;
      return -ERANGE;
    }
    return 0;
  }

  /** ipc_obtain_object_check(): the set an id names, or null (EINVAL) for a free slot or stale sequence. */
  private lookup(semid: number): SemSet<T> | null {
    const set = this.sets.get(semid & (IPCMNI - 1));
    return set && set.perm.seq === semid >> IPCMNI_SHIFT ? set : null;
  }

  /**
   * semget(2): returns the id of the set for `key`, creating it under
   * IPC_CREAT (always for IPC_PRIVATE) with mode semflg & 0777. `key` is
   * a key_t (int); larger values are taken modulo 2^32.
   */
  semget(c: SemCaller, key: number, nsems: number, semflg: number): number {
    key |= 0;
    if (nsems < 0 || nsems > this.limits.semmsl) return -EINVAL;
    if (key === IPC_PRIVATE) return this.newary(c, key, nsems, semflg);
    const set = this.keys.get(key);
    if (!set) return semflg & IPC_CREAT ? this.newary(c, key, nsems, semflg) : -ENOENT;
    if (semflg & IPC_CREAT && semflg & IPC_EXCL) return -EEXIST;
    if (nsems > set.nsems) return -EINVAL;
    if (!ipcperms(c, set.perm, semflg)) return -EACCES;
    return set.id;
  }

  /** newary() + ipc_addid(). */
  private newary(c: SemCaller, key: number, nsems: number, semflg: number): number {
    if (!nsems) return -EINVAL;
    if (this.usedSems + nsems > this.limits.semmns) return -ENOSPC;
    if (nsems > SEM_MAX_NSEMS) return -ENOMEM;
    if (this.sets.size >= Math.min(this.limits.semmni, IPCMNI)) return -ENOSPC;
    const idx = this.allocIndex();
    if (idx < 0) return -ENOSPC;
    const perm = { key, uid: c.uid, gid: c.gid, cuid: c.uid, cgid: c.gid, mode: semflg & S_IRWXUGO, seq: this.seq };
    const set = new SemSet<T>(this.seq * IPCMNI + idx, idx, perm, nsems, this.hooks, this.clock);
    this.sets.set(idx, set);
    if (key !== IPC_PRIVATE) this.keys.set(key, set);
    if (idx > this.maxIdx) this.maxIdx = idx;
    this.usedSems += nsems;
    return set.id;
  }

  /**
   * ipc_idr_alloc(): the lowest free index at or after the cursor within a
   * window of max(in_use * 3/2, 64) slots, wrapping to 0; the sequence number
   * grows whenever the index does not exceed the previous one.
   */
  private allocIndex(): number {
    const end = Math.min(Math.max(Math.floor((this.sets.size * 3) / 2), IPC_MIN_CYCLE), IPCMNI);
    let idx = this.firstFree(this.nextIdx, end);
    if (idx < 0 && this.nextIdx > 0) idx = this.firstFree(0, end);
    if (idx < 0) return -1;
    this.nextIdx = idx + 1;
    if (idx <= this.lastIdx && ++this.seq >= IPCID_SEQ_MAX) this.seq = 0;
    this.lastIdx = idx;
    return idx;
  }

  private firstFree(from: number, end: number): number {
    for (let i = from; i < end; i++) if (!this.sets.has(i)) return i;
    return -1;
  }

  /**
   * The checks of semtimedop(2) that precede reading the sembuf array
   * (after the timeout pointer is copied): 0, -EINVAL, -E2BIG, or -ENOMEM
   * beyond the emulator's SEM_MAX_NSOPS. nsops is the unsigned syscall argument.
   */
  checkSemop(nsops: number): number {
    // do_semtimedop(): E2BIG first, the id is only checked after the array is copied.
    if (nsops > this.limits.semopm >>> 0) return -E2BIG;
    if (nsops < 1) return -EINVAL;
    if (nsops > SEM_MAX_NSOPS) return -ENOMEM;
    return 0;
  }

  /**
   * semop(2)/semtimedop(2) after the caller's memory was read. Linux's order
   * around it: EFAULT for the timeout pointer, then checkSemop(), then
   * EFAULT for the sembuf array, then EINVAL for a bad timeout value
   * (timespecToNs), then the checks here: EINVAL for the id, EFBIG, EACCES.
   *
   * Returns -errno when the call fails at once (the supervisor replies), 0
   * when it succeeded at once and hooks.deferImmediate left the reply to the
   * caller (see undeliverable()), or a SemWaiter whose reply goes through
   * hooks.complete(): state "completed" if it succeeded at once (already
   * delivered), "cancelled" if that delivery failed and the operation was
   * undone, "queued" if it sleeps. A queued waiter ends through a wake-up,
   * IPC_RMID (EIDRM), expire() (EAGAIN) or cancel().
   *
   * @param undo the caller's SEM_UNDO list
   * @param timeoutNs relative timeout (semtimedop), null to sleep without limit
   * @param token opaque value handed back in hooks
   */
  semop(c: SemCaller, undo: UndoList, semid: number, sops: readonly SemBuf[], timeoutNs: bigint | null, token: T): number | SemWaiter<T> {
    this.deferredSet = null;
    const bad = this.checkSemop(sops.length);
    if (bad) return bad;
    if (semid < 0) return -EINVAL; // __do_semtimedop()
    const end = 3 * sops.length;
    if (this.ops.length < end) this.ops = new Int32Array(end);
    const ops = this.ops;
    let max = 0;
    let undos = false;
    let alter = false;
    for (let i = 0; i < sops.length; i++) {
      const s = sops[i]!;
      const num = s.num & 0xffff;
      const op = (s.op << 16) >> 16;
      const flg = (s.flg << 16) >> 16;
      ops[3 * i] = num;
      ops[3 * i + 1] = op;
      ops[3 * i + 2] = flg;
      if (num > max) max = num;
      if (flg & SEM_UNDO) undos = true;
      if (op !== 0) alter = true;
    }
    // Linux looks up (and creates) the undo entry before any other check.
    let entry: UndoEntry | null = null;
    if (undos) {
      const e = this.findAllocUndo(undo, semid);
      if (typeof e === 'number') return e;
      entry = e;
    }
    const set = this.lookup(semid);
    if (!set) return -EINVAL;
    if (max >= set.nsems) return -EFBIG;
    if (!ipcperms(c, set.perm, alter ? S_IWUGO : S_IRUGO)) return -EACCES;
    set.users.add(c.pid);
    const adj = entry ? entry.adj : null;
    const r = set.perform(ops, end, adj, sempidOf(c));
    if (r < 0) return r;
    if (r === 0) {
      if (this.hooks.deferImmediate === true && set.idle) {
        // With no sleeper to wake, what remains of the commit is otime; nobody sees it before the reply.
        this.deferredSet = set;
        this.deferredAdj = adj;
        this.deferredEnd = end;
        this.deferredOtime = set.otimeOf(ops[0]!);
        set.setOtime(ops);
        return 0;
      }
      const w = new SemWaiter(token, c.pid, semid, ops.slice(0, end), alter, entry, null, this.waiterSeq++, sempidOf(c));
      w.state = 'completed';
      if (!this.hooks.complete(w, 0)) {
        set.rollback(w.ops, end, adj);
        w.state = 'cancelled';
        return w;
      }
      if (alter) set.update(w.ops, true);
      else set.setOtime(w.ops);
      set.settle();
      return w;
    }
    // A zero timeout expires before anyone could wake the caller.
    if (timeoutNs !== null && timeoutNs <= 0n) return -EAGAIN;
    const deadline = timeoutNs === null ? null : this.clock.monoNs() + timeoutNs;
    const w = new SemWaiter(token, c.pid, semid, ops.slice(0, end), alter, entry, deadline, this.waiterSeq++, sempidOf(c));
    w.blocking = r - 1;
    set.enqueue(w);
    if (deadline !== null) this.timed.add(w);
    return w;
  }

  /**
   * The reply to the success semop() just returned 0 for could not be
   * delivered (the task was interrupted): undo it exactly (values,
   * adjustments, sempids, otime), as if it never ran. Call it before anything
   * else touches the registry.
   */
  undeliverable(): void {
    const set = this.deferredSet;
    if (set === null) return;
    this.deferredSet = null;
    set.rollback(this.ops, this.deferredEnd, this.deferredAdj);
    set.restoreOtime(this.ops[0]!, this.deferredOtime);
  }

  /** find_alloc_undo(): the list's entry for semid (now most recently used), created if the id is valid. */
  private findAllocUndo(list: UndoList, semid: number): UndoEntry | number {
    let e = list.entries.get(semid);
    if (e) {
      list.entries.delete(semid);
      list.entries.set(semid, e);
      return e;
    }
    const set = this.lookup(semid);
    if (!set) return -EINVAL;
    e = new UndoEntry(list, semid, new Int16Array(set.nsems));
    list.entries.set(semid, e);
    set.undos.add(e);
    return e;
  }

  /**
   * The waiter's notification became invalid (signal, exit): removes it
   * without reply and without effect. Returns false if it was not queued.
   */
  cancel(w: SemWaiter<T>): boolean {
    if (w.state !== 'queued') return false;
    const set = this.lookup(w.semid)!;
    set.unlink(w);
    w.state = 'cancelled';
    this.timed.delete(w);
    set.settle();
    return true;
  }

  /** The earliest monotonic deadline of a queued waiter, or null. */
  nextDeadline(): bigint | null {
    let next: bigint | null = null;
    for (const w of this.timed) {
      if (w.state !== 'queued') this.timed.delete(w);
      else if (next === null || w.deadline! < next) next = w.deadline;
    }
    return next;
  }

  /**
   * Fails every queued waiter whose deadline is at or before nowNs with
   * EAGAIN, earliest deadline first. Returns how many expired.
   */
  expire(nowNs: bigint = this.clock.monoNs()): number {
    const due: SemWaiter<T>[] = [];
    for (const w of this.timed) {
      if (w.state !== 'queued') this.timed.delete(w);
      else if (w.deadline! <= nowNs) due.push(w);
    }
    due.sort((a, b) => (a.deadline! < b.deadline! ? -1 : a.deadline! > b.deadline! ? 1 : a.seq - b.seq));
    for (const w of due) {
      const set = this.lookup(w.semid)!;
      set.unlink(w);
      this.timed.delete(w);
      w.state = 'completed';
      w.result = -EAGAIN;
      this.hooks.complete(w, -EAGAIN);
      set.settle();
    }
    return due.length;
  }

  /**
   * exit_sem(): a process holding `list` exited. When it was the last
   * holder, each adjustment is added to its semaphore (most recently used
   * set first), clamped to [0, SEMVMX]; changed semaphores get sempid `pid`
   * (the exiting process's tgid in its own PID namespace), otime is set, and
   * sleepers that can now proceed are completed.
   */
  exitUndo(list: UndoList, pid: number): void {
    if (list.refs <= 0 || --list.refs > 0) return;
    const entries = [...list.entries.values()].reverse();
    list.entries.clear();
    for (const e of entries) {
      const set = this.lookup(e.semid);
      if (!set) continue;
      set.undos.delete(e);
      for (let i = 0; i < set.nsems; i++) {
        if (!e.adj[i]) continue;
        set.vals[i] = Math.min(Math.max(set.vals[i]! + e.adj[i]!, 0), SEMVMX);
        set.pids[i] = pid;
      }
      set.update(null, true);
      set.settle();
    }
  }

  /**
   * semctl(2). `val` is the low 32 bits of the argument as a signed int
   * (the SETVAL value); everything passed by pointer goes through `io`.
   */
  semctl(c: SemCaller, semid: number, semnum: number, cmd: number, val: number, io: SemctlIO): number {
    if (semid < 0) return -EINVAL;
    switch (cmd) {
      case IPC_INFO:
      case SEM_INFO:
        return this.info(cmd, io);
      case IPC_STAT:
      case SEM_STAT:
      case SEM_STAT_ANY:
        return this.stat(c, semid, cmd, io);
      case GETALL:
      case GETVAL:
      case GETPID:
      case GETNCNT:
      case GETZCNT:
      case SETALL:
        return this.main(c, semid, semnum, cmd, io);
      case SETVAL:
        return this.setval(c, semid, semnum, val);
      case IPC_SET: {
        const ds = io.readSemid();
        return typeof ds === 'number' ? ds : this.down(c, semid, ds);
      }
      case IPC_RMID:
        return this.down(c, semid, null);
      default:
        return -EINVAL;
    }
  }

  /** semctl_info(): SEM_INFO reports sets and semaphores in use; returns the highest used index or 0. */
  private info(cmd: number, io: SemctlIO): number {
    const l = this.limits;
    const sem = cmd === SEM_INFO;
    const info: SemInfo = {
      semmap: SEMMAP,
      semmni: l.semmni,
      semmns: l.semmns,
      semmnu: SEMMNU,
      semmsl: l.semmsl,
      semopm: l.semopm,
      semume: SEMUME,
      semusz: sem ? this.sets.size : SEMUSZ,
      semvmx: SEMVMX,
      semaem: sem ? this.usedSems : SEMAEM,
    };
    const r = io.writeSeminfo(info);
    if (r < 0) return r;
    const maxIdx = this.sets.size === 0 ? -1 : this.sets.size === IPCMNI ? IPCMNI - 1 : this.maxIdx;
    return Math.max(maxIdx, 0);
  }

  /** semctl_stat(): SEM_STAT* take a table index and return the full id; SEM_STAT_ANY skips the read check. */
  private stat(c: SemCaller, semid: number, cmd: number, io: SemctlIO): number {
    const set = cmd === IPC_STAT ? this.lookup(semid) : (this.sets.get(semid & (IPCMNI - 1)) ?? null);
    if (!set) return -EINVAL;
    if (cmd !== SEM_STAT_ANY && !ipcperms(c, set.perm, S_IRUGO)) return -EACCES;
    const r = io.writeSemid(this.semid64(set));
    if (r < 0) return r;
    return cmd === IPC_STAT ? 0 : set.id;
  }

  private semid64(set: SemSet<T>): SemidDs {
    return { perm: { ...set.perm }, otime: set.otime, ctime: set.ctime, nsems: set.nsems };
  }

  /** semctl_main(): permission before the semnum range; SETALL reads, then range-checks, all values. */
  private main(c: SemCaller, semid: number, semnum: number, cmd: number, io: SemctlIO): number {
    const set = this.lookup(semid);
    if (!set) return -EINVAL;
    if (!ipcperms(c, set.perm, cmd === SETALL ? S_IWUGO : S_IRUGO)) return -EACCES;
    if (cmd === GETALL) return io.writeValues(Uint16Array.from(set.vals));
    if (cmd === SETALL) {
      const v = io.readValues(set.nsems);
      if (typeof v === 'number') return v;
      for (let i = 0; i < set.nsems; i++) if ((v[i]! & 0xffff) > SEMVMX) return -ERANGE;
      for (let i = 0; i < set.nsems; i++) {
        set.vals[i] = v[i]! & 0xffff;
        set.pids[i] = sempidOf(c);
      }
      for (const e of set.undos) e.adj.fill(0);
      set.ctime = set.now();
      set.update(null, false);
      set.settle();
      return 0;
    }
    if (semnum < 0 || semnum >= set.nsems) return -EINVAL;
    switch (cmd) {
      case GETVAL:
        return set.vals[semnum]!;
      case GETPID:
        return set.pids[semnum]!;
      case GETNCNT:
        return set.count(semnum, false);
      default:
        return set.count(semnum, true);
    }
  }

  /** semctl_setval(): the value range is checked before the id. */
  private setval(c: SemCaller, semid: number, semnum: number, val: number): number {
    if (val > SEMVMX || val < 0) return -ERANGE;
    const set = this.lookup(semid);
    if (!set) return -EINVAL;
    if (semnum < 0 || semnum >= set.nsems) return -EINVAL;
    if (!ipcperms(c, set.perm, S_IWUGO)) return -EACCES;
    for (const e of set.undos) e.adj[semnum] = 0;
    set.vals[semnum] = val;
    set.pids[semnum] = sempidOf(c);
    set.ctime = set.now();
    set.update(null, false);
    set.settle();
    return 0;
  }

  /** semctl_down(): IPC_RMID (ds null) and IPC_SET, for the owner, creator or CAP_SYS_ADMIN. */
  private down(c: SemCaller, semid: number, ds: SemidDs | null): number {
    const set = this.lookup(semid);
    if (!set) return -EINVAL;
    if (!isOwner(c, set.perm)) return -EPERM;
    if (!ds) {
      this.freeary(set);
      return 0;
    }
    // ipc_update_perm(): (uid_t)-1 is not a valid id.
    const uid = ds.perm.uid >>> 0;
    const gid = ds.perm.gid >>> 0;
    if (uid === 0xffffffff || gid === 0xffffffff) return -EINVAL;
    set.perm.uid = uid;
    set.perm.gid = gid;
    set.perm.mode = (set.perm.mode & ~S_IRWXUGO) | (ds.perm.mode & S_IRWXUGO);
    set.ctime = set.now();
    return 0;
  }

  /** freeary(): undo entries vanish, sleepers fail with EIDRM, the id and key are released. */
  private freeary(set: SemSet<T>): void {
    for (const e of set.undos) e.list.entries.delete(e.semid);
    set.undos.clear();
    set.failAll();
    this.sets.delete(set.index);
    if (this.keys.get(set.perm.key) === set) this.keys.delete(set.perm.key);
    this.usedSems -= set.nsems;
    if (set.index === this.maxIdx) {
      let i = set.index - 1;
      while (i >= 0 && !this.sets.has(i)) i--;
      this.maxIdx = i;
    }
  }

  /**
   * Recreate sets saved by a previous run ([ipc] persist), with their ids,
   * keys, permissions, values, pids and times. Call on an empty registry,
   * with sets checked by decodePersisted(). New ids continue after them.
   */
  restore(sets: readonly PersistedSet[]): void {
    for (const p of sets) {
      const idx = p.id & (IPCMNI - 1);
      const seq = p.id >> IPCMNI_SHIFT;
      const perm = { key: p.key, uid: p.uid, gid: p.gid, cuid: p.cuid, cgid: p.cgid, mode: p.mode, seq };
      const set = new SemSet<T>(p.id, idx, perm, p.values.length, this.hooks, this.clock);
      set.vals.set(p.values);
      set.pids.set(p.pids);
      set.restoreTimes(p.otime, p.ctime);
      this.sets.set(idx, set);
      if (p.key !== IPC_PRIVATE) this.keys.set(p.key, set);
      this.usedSems += set.nsems;
      if (idx > this.maxIdx) this.maxIdx = idx;
      if (idx >= this.lastIdx) {
        this.lastIdx = idx;
        this.nextIdx = idx + 1;
      }
      if (seq > this.seq) this.seq = seq;
    }
  }

  /** Every set as IPC_STAT shows it, by table index (the order of /proc/sysvipc/sem). */
  list(): SemSetStat[] {
    return [...this.sets.values()].sort((a, b) => a.index - b.index).map((s) => ({ id: s.id, index: s.index, ...this.semid64(s) }));
  }

  /** The process exited: it no longer counts among the sets' users. */
  forgetUser(pid: number): void {
    for (const set of this.sets.values()) set.users.delete(pid);
  }

  /** Sets and semaphores in use. */
  usage(): { sets: number; sems: number } {
    return { sets: this.sets.size, sems: this.usedSems };
  }

  /** The whole state as plain JSON data; `info` adds what the supervisor knows of each sleeper. */
  snapshot(info?: (w: SemWaiter<T>) => SemWaiterInfo | null): SemSnapshot {
    return {
      limits: this.getLimits(),
      usedSems: this.usedSems,
      sets: this.list().map((st) => {
        const s = this.sets.get(st.index)!;
        return {
          ...st,
          values: [...s.vals],
          pids: [...s.pids],
          waiters: [...s.waiters()].map((w) => ({
            pid: w.pid,
            sops: w.sops(),
            blocking: w.blocking,
            deadlineNs: w.deadline === null ? null : w.deadline.toString(),
            ...info?.(w),
          })),
          undo: [...s.undos].map((e) => ({ owner: e.list.owner, adj: [...e.adj] })),
          users: [...s.users].sort((a, b) => a - b),
        };
      }),
    };
  }
}
