// ProcessTable: every process and thread the supervisor has seen, keyed by
// thread-group id, with a pidfd per process in the loop's epoll set so exit
// is seen without polling and PID reuse cannot alias a dead process.
//
// notif.pid is a thread id; the thread group comes from /proc/TID/status,
// read once per thread. Credentials are per thread in Linux and change with
// set*id(2), so they are cached per thread and dropped when the thread makes
// one of those calls (the supervisor traps them for that reason).
import { nsTgidsOf, type Credentials } from '../src/procfs.js';
import type { UndoList } from '../src/sem/undo.js';
import type { PosixOwner } from './locks/owners.js';
import { close, pidfdOpen } from './ffi.js';
import { readCredentials, readStatus, tasksOf } from './procfs.js';
import type { NotificationLoop } from './loop/loop.js';

/** Per-process state of the features, one typed field each. */
export interface ProcessFeatureState {
  /** The SysV semaphore undo list (sem/feature.ts); a clone(CLONE_SYSVSEM) child shares its parent's. */
  semUndo?: UndoList;
  /** The owner of the process's POSIX locks, its files table (locks/owners.ts). */
  posixOwner?: PosixOwner;
}

export interface ProcessEntry {
  tgid: number;
  /**
   * Its tgid in each PID namespace from the supervisor's down to its own
   * (NStgid): fixed for the process's life, read with the rest of status.
   */
  nstgid: readonly number[];
  ppid: number;
  name: string;
  pidfd: number;
  threads: Set<number>;
  /** What each feature keeps for the process. */
  readonly state: ProcessFeatureState;
  startedMs: number;
}

interface ThreadEntry {
  process: ProcessEntry;
  creds: Credentials | null;
}

export type ExitListener = (p: ProcessEntry) => void;
/**
 * A process seen for the first time; `parent` is its parent if the supervisor
 * knows it, or the exiting process it was found for (see discover).
 */
export type NewProcessListener = (p: ProcessEntry, parent: ProcessEntry | null) => void;

export class ProcessTable {
  readonly processes = new Map<number, ProcessEntry>();
  private readonly threads = new Map<number, ThreadEntry>();
  private readonly exitListeners: ExitListener[] = [];
  private readonly newListeners: NewProcessListener[] = [];
  private parentHint: ProcessEntry | null = null;

  constructor(private readonly loop: NotificationLoop) {}

  onExit(listener: ExitListener): void {
    this.exitListeners.push(listener);
  }

  onNew(listener: NewProcessListener): void {
    this.newListeners.push(listener);
  }

  /**
   * Learn a process by pid (a child found by scanning) unless it is known.
   * `parent` overrides its PPid: an orphan's real parent is gone from /proc.
   */
  discover(pid: number, parent?: ProcessEntry): ProcessEntry | null {
    if (this.threads.has(pid)) return this.processOf(pid);
    this.parentHint = parent ?? null;
    try {
      return this.processOf(pid);
    } finally {
      this.parentHint = null;
    }
  }

  isKnown(pid: number): boolean {
    return this.processes.has(pid);
  }

  /** The process a thread belongs to; learns about new threads and processes on first sight. */
  processOf(tid: number): ProcessEntry | null {
    const t = this.threads.get(tid) ?? this.learn(tid);
    return t === null ? null : t.process;
  }

  /** The process of a thread already known, without learning (for reports). */
  knownProcessOf(tid: number): ProcessEntry | null {
    return this.threads.get(tid)?.process ?? null;
  }

  credentials(tid: number): Credentials | null {
    const t = this.threads.get(tid) ?? this.learn(tid);
    if (t === null) return null;
    if (t.creds === null) t.creds = readCredentials(tid);
    return t.creds;
  }

  /** The thread changed (or may have changed) its credentials. */
  forgetCredentials(tid: number): void {
    const t = this.threads.get(tid);
    if (t) t.creds = null;
  }

  private learn(tid: number): ThreadEntry | null {
    const status = readStatus(tid);
    // A zombie (or dying) task is past its last syscall: nothing to learn, and its pidfd would fire at once.
    if (status === null || /^[ZX]/.test(status.get('State') ?? '')) return null;
    const tgid = Number(status.get('Tgid'));
    let p = this.processes.get(tgid);
    if (p === undefined) {
      const pidfd = pidfdOpen(tgid);
      if (pidfd < 0) return null; // gone already
      p = {
        tgid,
        nstgid: nsTgidsOf(status, tgid),
        ppid: Number(status.get('PPid')),
        name: status.get('Name') ?? '?',
        pidfd,
        threads: new Set(),
        state: {},
        startedMs: Date.now(),
      };
      this.processes.set(tgid, p);
      const entry = p;
      this.loop.watchFd(pidfd, () => this.exited(entry));
      const parent = this.parentHint ?? this.processes.get(p.ppid) ?? null;
      for (const l of this.newListeners) l(p, parent);
    }
    p.threads.add(tid);
    const t: ThreadEntry = { process: p, creds: null };
    this.threads.set(tid, t);
    return t;
  }

  /**
   * The pid the process `tgid` has in the PID namespace `level` levels below
   * the supervisor's, as the kernel reports a lock's holder
   * (locks_translate_pid: find_pid_ns, then pid_nr_ns): 0 when no process
   * has that pid or it is not in that namespace. A pid lives until its
   * process is reaped: one no longer in the table (a zombie, or whoever has
   * the number now, as for the kernel) is read from /proc. At level 0, the
   * supervisor's own namespace, a pid stands as it is. The sandbox's
   * processes below one level are taken to share one namespace (a program's
   * nested namespaces are not told apart).
   */
  pidIn(tgid: number, level: number): number {
    if (level === 0) return tgid;
    const known = this.processes.get(tgid);
    if (known !== undefined) return known.nstgid[level] ?? 0;
    const status = readStatus(tgid);
    return status === null ? 0 : (nsTgidsOf(status, tgid)[level] ?? 0);
  }

  /** The process image changed (execve): refresh its name. */
  renamed(tgid: number): void {
    const p = this.processes.get(tgid);
    const status = p ? readStatus(tgid) : null;
    if (p && status) p.name = status.get('Name') ?? p.name;
  }

  private exited(p: ProcessEntry): void {
    if (this.processes.get(p.tgid) !== p) return;
    this.loop.unwatchFd(p.pidfd);
    close(p.pidfd);
    this.processes.delete(p.tgid);
    for (const tid of p.threads) this.threads.delete(tid);
    for (const l of this.exitListeners) l(p);
  }

  /** Every task is gone (the listener hung up): finish every process still listed. */
  exitAll(): void {
    for (const p of [...this.processes.values()]) this.exited(p);
  }

  /** A thread (not the leader) ended; forget it so the tid can be reused. */
  threadGone(tid: number): void {
    const t = this.threads.get(tid);
    if (t && t.process.tgid !== tid) {
      t.process.threads.delete(tid);
      this.threads.delete(tid);
    }
  }

  snapshot(): object[] {
    // Names change at exec, which is not always observed: read them fresh for a dump.
    for (const p of this.processes.values()) this.renamed(p.tgid);
    return [...this.processes.values()].map((p) => ({
      pid: p.tgid,
      nspid: ownPid(p),
      ppid: p.ppid,
      name: p.name,
      threads: [...p.threads].sort((a, b) => a - b),
      tasks: tasksOf(p.tgid),
    }));
  }
}

/** Its tgid in its own PID namespace (task_tgid_vnr): what the kernel records as sempid. */
export function ownPid(p: ProcessEntry): number {
  return p.nstgid[p.nstgid.length - 1] ?? p.tgid;
}

/** The level of the PID namespace a process is in, the supervisor's being 0. */
export function pidLevel(p: ProcessEntry): number {
  return p.nstgid.length - 1;
}
