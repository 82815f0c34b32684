// Process lifecycle bookkeeping. Every call that can create a process is
// notified: fork, vfork, clone without CLONE_THREAD (tested in BPF: threads
// never leave the kernel). clone3, whose flags are in memory, never runs: the
// filter answers ENOSYS (src/manifest/compile.ts) and C libraries fall back
// to clone. That is where [process] max is enforced: a call that would make
// the sandbox hold more processes answers EAGAIN, as fork does at pids.max
// or RLIMIT_NPROC.
//
// The result of a CONTINUEd call is never seen, so each one is *pending*
// (counted against max) until its child is learnt: at the child's own first
// notification, or by a scan SCAN_DELAY_MS later of the pids allocated since
// (/proc/sys/kernel/ns_last_pid), whichever comes first. After the scan a
// pending call that produced no live child (it failed, or the child is gone)
// stops counting. A process that never makes a notified call is so still in
// the table, in `sysvisor ps` and in dumps.
//
// A scan must not move past a pid whose fork is still in flight: the kernel
// publishes the pid (ns_last_pid, alloc_pid) before the task is attached to
// it (attach_pid, later in copy_process), and pidfd_open fails in between.
// So while a thread that made such a call may still be inside it
// (/proc/TID/syscall), the next scan starts again at the first pid that
// failed the probe, and its pending call is not dropped.
//
// clone(CLONE_SYSVSEM) matters more: the child shares its parent's SEM_UNDO
// list, which must not be applied while the child lives (supervisor/sem/feature.ts), so
// if the parent exits with calls pending, its children were reparented (to
// the nearest subreaper or init) and are looked for at once among the new
// pids whose parent is one of its known ancestors or the supervisor.
import { readFileSync } from 'node:fs';
import { nr } from '../../src/syscalls/table.js';
import type { FeatureModule } from './contract.js';
import { close, pidfdOpen } from '../ffi.js';
import { CONTINUE } from '../loop/loop.js';
import type { TaskStat } from '../../src/procfs.js';
import { listProcesses, readStat, syscallOf } from '../procfs.js';
import { CLONE_THREAD } from '../../src/syscalls/constants.js';
import { EAGAIN } from '../../src/syscalls/errno.js';

/** The child is running by then in all but pathological schedules. */
const SCAN_DELAY_MS = 2;
/** A thread on a CPU at every look for this long is computing in user space, not forking. */
const RUNNING_GRACE_MS = 50;
/** Wider ranges of new pids (or a wrap of the pid counter) fall back to a full /proc listing. */
const MAX_RANGE = 4096;

interface PendingCall {
  tgid: number;
  tid: number;
  due: number;
}

export const lifecycleFeature: FeatureModule = {
  name: 'lifecycle',
  emulates: [],
  observes: ['fork', 'vfork'],
  observesIf: [{ name: 'clone', arg: 0, mask: CLONE_THREAD, clear: true }],
  install(ctx) {
    const { processes } = ctx;
    // Each process costs a pidfd: the sandbox holds no more than the supervisor can watch.
    const max = Math.min(ctx.config.process.max, ctx.budget.processes);
    const pending: PendingCall[] = [];
    /** Threads whose creating call may still be in the kernel: tid -> the call's number and when it was made. */
    const inFlight = new Map<number, { nr: number; at: number }>();
    /** Every pid up to this one was looked at by a scan (or existed before the first call). */
    let scannedUpTo = -1;

    const creates = (tid: number, nr: number): number => {
      const p = processes.processOf(tid);
      if (p === null) return CONTINUE; // dying: its call will not create anything
      const now = performance.now();
      if (processes.processes.size + pending.length >= max) {
        // At the limit, count exactly what can be: a call whose thread has
        // left it (this thread's, for one) has its child attached, found by
        // the scan, or never will; only calls still in the kernel count.
        resolve(now, tid, true);
        if (processes.processes.size + pending.length >= max) return -EAGAIN;
      }
      if (scannedUpTo < 0) scannedUpTo = lastPid() ?? -1;
      pending.push({ tgid: p.tgid, tid, due: now + SCAN_DELAY_MS });
      inFlight.set(tid, { nr, at: now });
      return CONTINUE;
    };

    /** When the last scan ran: scans come at most every SCAN_DELAY_MS, however fast the forks. */
    let lastScan = -Infinity;
    /**
     * Learn the new children; calls of `tid`, and calls made SCAN_DELAY_MS ago
     * (any call if `all`) whose thread has left them, stop being pending.
     */
    const resolve = (now: number, tid = 0, all = false) => {
      if (!all && !pending.some((c) => c.due <= now || c.tid === tid)) return;
      lastScan = now;
      inFlight.delete(tid); // it is in a new notification: its earlier calls have returned
      for (const c of newChildren((ppid) => processes.isKnown(ppid))) processes.discover(c.pid);
      for (let i = pending.length - 1; i >= 0; i--) {
        const c = pending[i];
        if (c.tid === tid || ((all || c.due <= now) && !inFlight.has(c.tid))) pending.splice(i, 1);
      }
    };
    /** Forget the threads that have left their creating call; true if any may still be inside one. */
    const settle = (now: number): boolean => {
      for (const [tid, c] of inFlight) {
        const at = syscallOf(tid);
        if (at === c.nr || (at === 'running' && now < c.at + RUNNING_GRACE_MS)) continue;
        inFlight.delete(tid);
      }
      return inFlight.size > 0;
    };
    for (const name of ['fork', 'vfork', 'clone']) {
      const number = nr(name);
      ctx.loop.on(number, (n) => creates(n.tid, number));
    }

    processes.onNew((p) => {
      const i = pending.findIndex((c) => c.tgid === p.ppid);
      if (i >= 0) pending.splice(i, 1);
    });
    processes.onExit((p) => {
      if (!pending.some((c) => c.tgid === p.tgid)) return;
      // Orphans go to the supervisor (a subreaper) or, in a PID namespace, to the sandbox's init.
      const parents = new Set([p.tgid, process.pid, ctx.config.init]);
      for (let a = processes.processes.get(p.ppid); a !== undefined && !parents.has(a.tgid); a = processes.processes.get(a.ppid)) {
        parents.add(a.tgid);
      }
      // The scan moves past these pids for good: learn every new child, the
      // exiting process's (reparented by now) with it as their parent.
      for (const c of newChildren((ppid) => parents.has(ppid) || processes.isKnown(ppid))) {
        processes.discover(c.pid, parents.has(c.ppid) ? p : undefined);
      }
      dropPending(p.tgid);
    });

    const dropPending = (tgid: number) => {
      for (let i = pending.length - 1; i >= 0; i--) if (pending[i].tgid === tgid) pending.splice(i, 1);
    };

    /** Live processes allocated since the last scan whose parent passes `isParent`, in allocation order. */
    const newChildren = (isParent: (ppid: number) => boolean): Array<{ pid: number; ppid: number }> => {
      // Settled before the pids are read: a call seen outside the kernel here has its child attached.
      const unsettled = settle(performance.now());
      const last = lastPid();
      const from = scannedUpTo;
      if (last === null) return []; // out of fds: the children are learnt at their first call, or at the next scan
      scannedUpTo = last;
      if (from < 0) return [];
      const wanted = (s: TaskStat) => s.state !== 'Z' && s.state !== 'X' && isParent(s.ppid);
      if (last < from || last - from > MAX_RANGE) {
        const all = listProcesses();
        if (all === null) scannedUpTo = from;
        return (all ?? []).filter(wanted);
      }
      const out: Array<{ pid: number; ppid: number }> = [];
      let firstFailed = -1;
      for (let pid = from + 1; pid <= last; pid++) {
        // Most new pids are gone again (fork, exit, wait) or are threads:
        // pidfd_open tells without the cost of a failed readFileSync.
        const fd = pidfdOpen(pid);
        if (fd < 0) {
          if (firstFailed < 0) firstFailed = pid;
          continue;
        }
        close(fd);
        const s = readStat(pid);
        if (s !== null && wanted(s)) out.push({ pid, ppid: s.ppid });
      }
      if (unsettled && firstFailed > 0) scannedUpTo = firstFailed - 1;
      return out;
    };

    return {
      name: 'lifecycle',
      nextDeadline: () => (pending.length > 0 ? Math.max(pending[0].due, lastScan + SCAN_DELAY_MS) : Infinity),
      onTimer: () => {
        const now = performance.now();
        if (now >= lastScan + SCAN_DELAY_MS) resolve(now);
      },
      snapshot: () => ({ max, pendingCreations: pending.length }),
    };
  },
};

/** The last pid the kernel allocated in our pid namespace; null when it cannot be read (EMFILE). */
function lastPid(): number | null {
  try {
    return Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'latin1'));
  } catch {
    return null;
  }
}
