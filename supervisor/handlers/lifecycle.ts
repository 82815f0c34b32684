// Process lifecycle bookkeeping: clone/clone3 flags and exit_group. Every
// call is CONTINUEd (bookkeeping, never a security decision); a CONTINUEd
// call's result is never seen, so children are learnt at their first
// notification, or found by a /proc scan when it matters that they are
// known before their parent dies (a CLONE_SYSVSEM child keeps the parent's
// SEM_UNDO list alive).
import { readdirSync, readFileSync } from 'node:fs';
import { syscallNumber } from '../../src/syscalls/table.js';
import type { FeatureModule, SupervisorContext } from '../feature.js';
import { CONTINUE } from '../loop.js';
import type { Notification } from '../notification.js';

const CLONE_THREAD = 0x10000;
const CLONE_SYSVSEM = 0x40000;
const CLONE_ARGS_FLAGS_SIZE = 8;

export const lifecycleFeature: FeatureModule = {
  name: 'lifecycle',
  emulates: [],
  observes: ['clone', 'clone3', 'exit_group'],
  install(ctx) {
    ctx.loop.on(syscallNumber('clone')!, (n) => cloned(ctx, n, n.u64(0)));
    ctx.loop.on(syscallNumber('clone3')!, (n) => {
      const args = ctx.memory.read(n.tid, n.u64(0), CLONE_ARGS_FLAGS_SIZE);
      if (typeof args === 'number') return CONTINUE; // the kernel reports the EFAULT
      const view = new DataView(args.buffer, args.byteOffset, 8);
      return cloned(ctx, n, view.getUint32(0, true) + view.getUint32(4, true) * 4294967296);
    });
    ctx.loop.on(syscallNumber('exit_group')!, (n) => {
      const p = ctx.processes.processOf(n.tid);
      if (p !== null && p.sysvsemChildren > 0) {
        for (const child of childrenOf(p.tgid)) ctx.processes.discover(child);
        p.sysvsemChildren = 0;
      }
      return CONTINUE;
    });
    return { name: 'lifecycle' };
  },
};

function cloned(ctx: SupervisorContext, n: Notification, flags: number): number {
  const p = ctx.processes.processOf(n.tid);
  if (p !== null && flags % (2 * CLONE_SYSVSEM) >= CLONE_SYSVSEM) {
    p.kernelUndo = true;
    if (flags % (2 * CLONE_THREAD) < CLONE_THREAD) p.sysvsemChildren++;
  }
  return CONTINUE;
}

/** Live processes whose parent is `pid` (thread-group leaders from /proc/N/stat). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
