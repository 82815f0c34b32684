// Calls that act on other processes and that the kernel permits by uid alone
// (no ptrace check, so Landlock's scoping does not cover them): prlimit64,
// setpriority, ioprio_set and sched_set{affinity,scheduler,param,attr}.
// Run as the supervisor's uid, a program could lower the supervisor's
// RLIMIT_NOFILE (it then cannot open a pidfd or a /proc file) or RLIMIT_CPU
// (the kernel kills it), renice it or pin it to one CPU -- or do the same to
// any process of the host. They reach only the sandbox's processes: a call
// naming a process, process group or user with a member outside the sandbox
// answers EPERM, as for another user's process; the others run in the kernel
// (CONTINUE). Calls on the caller itself (pid 0) are tested in BPF and never
// leave the kernel.
//
// In the sandbox's PID namespace the kernel looks a pid up there, where only
// the sandbox's processes and its init (pid 1, ours) are: the pid needs no
// check but init's. A process group or a user still reaches outside (the
// caller's own group is the supervisor's), so those checks stay.
//
// The check and the kernel's lookup are not atomic: a pid that left the
// sandbox could be taken by a host process in between, which needs the pid
// counter to wrap within one round trip.
import { nr } from '../../src/syscalls/table.js';
import type { FeatureModule } from './contract.js';
import { CONTINUE } from '../loop/loop.js';
import { pidLevel, type ProcessTable } from '../processes.js';
import { listProcesses, readIds, readStat } from '../procfs.js';
import { EPERM, ESRCH } from '../../src/syscalls/errno.js';

const PID_ANY = 0xffffffff;
/** setpriority's and ioprio_set's `which`, shifted to one scale: process, group, user. */
const PRIO = { PROCESS: 0, PGRP: 1, USER: 2 } as const;
const IOPRIO_WHO_PROCESS = 1;

type Reach = 'sandbox' | 'outside' | 'gone';

export const reachFeature: FeatureModule = {
  name: 'reach',
  emulates: [],
  observes: ['setpriority', 'ioprio_set'],
  observesIf: ['prlimit64', 'sched_setaffinity', 'sched_setscheduler', 'sched_setparam', 'sched_setattr'].map((name) => ({
    name,
    arg: 0,
    mask: PID_ANY,
  })),
  install(ctx) {
    const { processes } = ctx;
    const answer = (r: Reach): number => (r === 'sandbox' ? CONTINUE : r === 'gone' ? -ESRCH : -EPERM);
    /** Where `pid`, as the caller names it, is: null if the caller is not in a PID namespace of the sandbox's. */
    const inNamespace = (tid: number, pid: number): Reach | null => {
      if (ctx.config.init === 0) return null;
      const p = processes.processOf(tid);
      if (p === null) return 'gone';
      const level = pidLevel(p);
      if (level === 0) return null;
      return level === 1 && pid === 1 ? 'outside' : 'sandbox';
    };
    const reachOf = (tid: number, pid: number): Reach => inNamespace(tid, pid) ?? processReach(processes, pid);
    const byPid = (n: { tid: number; int(i: number): number }) => {
      const pid = n.int(0);
      return pid < 0 ? CONTINUE : answer(reachOf(n.tid, pid)); // no process has a negative pid: the kernel fails it
    };
    for (const name of ['prlimit64', 'sched_setaffinity', 'sched_setscheduler', 'sched_setparam', 'sched_setattr']) {
      ctx.loop.on(nr(name), byPid);
    }
    const byWhich = (tid: number, which: number, who: number): number => {
      if (who < 0 || which < PRIO.PROCESS || which > PRIO.USER) return CONTINUE; // the kernel answers ESRCH or EINVAL
      if (which === PRIO.PROCESS) return who === 0 ? CONTINUE : answer(reachOf(tid, who));
      if (which === PRIO.PGRP) {
        return answer(who === 0 ? groupReach(processes, readStat(tid)?.pgrp ?? -1) : (inNamespace(tid, who) ?? groupReach(processes, who)));
      }
      return answer(userReach(processes, who === 0 ? (readIds(tid)?.uid ?? -1) : who));
    };
    ctx.loop.on(nr('setpriority'), (n) => byWhich(n.tid, n.int(0), n.int(1)));
    ctx.loop.on(nr('ioprio_set'), (n) => byWhich(n.tid, n.int(0) - IOPRIO_WHO_PROCESS, n.int(1)));
    return { name: 'reach' };
  },
};

/** Whether the process of thread `pid` is one of the sandbox's: known, or a descendant of a known one not yet learnt. */
function processReach(processes: ProcessTable, pid: number): Reach {
  const ids = readIds(pid);
  if (ids === null) return 'gone';
  for (let p = ids.tgid, hops = 0; p > 1 && hops < 4096; hops++) {
    if (processes.isKnown(p)) return 'sandbox';
    const s = readStat(p);
    if (s === null) return 'outside';
    p = s.ppid;
  }
  return 'outside';
}

/** Every process of group `pgrp` must be the sandbox's; an empty group is gone (ESRCH). */
function groupReach(processes: ProcessTable, pgrp: number): Reach {
  const all = listProcesses();
  if (all === null) return 'outside'; // cannot tell: refuse
  return membersReach(
    processes,
    all.filter((s) => s.pgrp === pgrp).map((s) => s.pid),
  );
}

/** Every process of real uid `uid` must be the sandbox's (for root, never). */
function userReach(processes: ProcessTable, uid: number): Reach {
  const all = listProcesses();
  if (all === null) return 'outside'; // cannot tell: refuse
  return membersReach(
    processes,
    all.map((s) => s.pid).filter((pid) => readIds(pid)?.uid === uid),
  );
}

function membersReach(processes: ProcessTable, members: readonly number[]): Reach {
  if (members.length === 0) return 'gone';
  return members.every((pid) => processReach(processes, pid) === 'sandbox') ? 'sandbox' : 'outside';
}
