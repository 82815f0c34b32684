// Process lifecycle bookkeeping. New processes are learnt at their first
// notification (the result of a CONTINUEd clone is never seen). The one
// clone that matters before that is clone(CLONE_SYSVSEM) of a process: the
// child shares its parent's SEM_UNDO list, which must not be applied while
// the child lives, so the child must be known before the parent can exit.
// Only those clones are notified (the flag is tested in BPF: fork and
// threads never leave the kernel, and cannot be cut off by a signal in a
// round trip); shortly after one, the parent's children are looked up.
//
// If the parent exits first, its children were reparented (to the nearest
// subreaper or init): they are looked for among the children of the
// parent's known ancestors and of the supervisor, before its exit is applied.
//
// clone3 cannot be filtered on its flags (they are in memory); a clone3
// child with CLONE_SYSVSEM is still recognised at its first notification
// (kcmp KCMP_SYSVSEM, see handlers/sem.ts), only not before.
import { syscallNumber } from '../../src/syscalls/table.js';
import type { FeatureModule } from '../feature.js';
import { listProcesses } from '../processes.js';
import { CONTINUE } from '../loop.js';

const CLONE_THREAD = 0x10000;
const CLONE_SYSVSEM = 0x40000;
/** The child is running by then in all but pathological schedules. */
const SCAN_DELAY_MS = 2;

export const lifecycleFeature: FeatureModule = {
  name: 'lifecycle',
  emulates: [],
  observes: [],
  observesIf: [{ name: 'clone', arg: 0, mask: CLONE_SYSVSEM }],
  install(ctx) {
    /** tgid -> when to look for its new children. */
    const scans = new Map<number, number>();
    ctx.loop.on(syscallNumber('clone')!, (n) => {
      const p = ctx.processes.processOf(n.tid);
      const flags = n.uint(0);
      if (p !== null && (flags & CLONE_SYSVSEM) !== 0 && (flags & CLONE_THREAD) === 0) {
        scans.set(p.tgid, performance.now() + SCAN_DELAY_MS);
      }
      return CONTINUE;
    });
    ctx.processes.onExit((p) => {
      if (!scans.delete(p.tgid)) return;
      const parents = new Set([p.tgid, process.pid]);
      for (let a = ctx.processes.processes.get(p.ppid); a !== undefined && !parents.has(a.tgid); a = ctx.processes.processes.get(a.ppid)) {
        parents.add(a.tgid);
      }
      for (const child of childrenOf(parents)) if (!ctx.processes.isKnown(child)) ctx.processes.discover(child, p);
    });
    return {
      name: 'lifecycle',
      nextDeadline: () => {
        let next = Infinity;
        for (const t of scans.values()) next = Math.min(next, t);
        return next;
      },
      onTimer: () => {
        const now = performance.now();
        for (const [tgid, due] of scans) {
          if (due > now) continue;
          scans.delete(tgid);
          for (const child of childrenOf(new Set([tgid]))) ctx.processes.discover(child);
        }
      },
    };
  },
};

/** Live processes whose parent is one of `parents`. */
function childrenOf(parents: ReadonlySet<number>): number[] {
  return listProcesses().filter((p) => parents.has(p.ppid)).map((p) => p.pid);
}
