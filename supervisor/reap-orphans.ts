// The sandbox's orphans, reparented to this process when it is a child
// subreaper (RunOptions.subreaper), are reaped here on SIGCHLD.
import { readFileSync } from 'node:fs';
import { allocNative, P_PID, waitid, WEXITED, WNOHANG } from './ffi.js';
import { listProcesses, readStat } from './procfs.js';

const REAP_RETRY_MS = 100;

/**
 * Reap the zombies of orphans reparented to us (as subreaper), leaving alone
 * the children Node itself waits for (`mine`). A zombie keeps the seccomp
 * filter referenced, so an unreaped one would keep the sandbox from ending.
 */
export function reapOrphans(mine: ReadonlySet<number>): void {
  const children = ourChildren();
  if (children === null) {
    // out of fds for a moment: SIGCHLD is not sent again for this zombie, so look again
    setTimeout(() => reapOrphans(mine), REAP_RETRY_MS);
    return;
  }
  const info = allocNative(128);
  for (const pid of children) {
    if (!mine.has(pid) && readStat(pid)?.state === 'Z') waitid(P_PID, pid, info.ptr, WEXITED | WNOHANG);
  }
}

/**
 * This process's children. Orphans are reparented to the thread group leader,
 * so its /proc children list (CONFIG_PROC_CHILDREN) has them all: one read
 * instead of a stat of every process on the machine, which only kernels
 * without that file pay.
 */
function ourChildren(): number[] | null {
  let list: string;
  try {
    list = readFileSync(`/proc/self/task/${process.pid}/children`, 'latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EMFILE' || code === 'ENFILE') return null;
    return (
      listProcesses()
        ?.filter((p) => p.ppid === process.pid)
        .map((p) => p.pid) ?? null
    );
  }
  return list
    .split(' ')
    .filter((pid) => pid !== '')
    .map(Number);
}
