// The --stats report printed at exit.
import type { ChalkInstance } from 'chalk';
import type { RunResult } from '../supervisor/index.js';

export function renderStats(result: RunResult, color: ChalkInstance, name: (nr: number) => string): string {
  const rows = [...result.stats].sort((a, b) => b.count - a.count);
  const total = rows.reduce((s, r) => s + r.count, 0);
  const lines = [
    color.bold(
      `sysvisor stats: ${total} notifications answered, SYNC_WAKE_UP ${result.syncWakeUp ? 'on' : 'off'}, exit status ${result.status}`,
    ),
  ];
  if (result.procViews !== undefined) {
    const fuse = result.procViews === 'fuse' ? `, ${result.viewRequests ?? 0} FUSE requests answered` : '';
    lines.push(`/proc views: ${result.procViews}${fuse}`);
  }
  if (rows.length === 0) return lines.join('\n') + '\n';
  lines.push(
    color.dim(
      `${'syscall'.padEnd(14)}${'count'.padStart(10)}${'in C'.padStart(10)}${'p50 µs'.padStart(10)}${'p99 µs'.padStart(10)}${'max µs'.padStart(10)}` +
        'sends p50'.padStart(11),
    ),
  );
  for (const r of rows) {
    lines.push(
      `${name(r.nr).padEnd(14)}${String(r.count).padStart(10)}${String(r.native).padStart(10)}${r.p50us.toFixed(1).padStart(10)}` +
        `${r.p99us.toFixed(1).padStart(10)}${r.maxus.toFixed(1).padStart(10)}${(r.sends > 0 ? r.sendP50us.toFixed(1) : '-').padStart(11)}`,
    );
  }
  const rings = rows.find((r) => name(r.nr) === 'io_uring_setup');
  if (rings !== undefined) {
    // Counted when notified: the supervisor never sees whether the kernel then refused one.
    lines.push(
      color.yellow(
        `io_uring rings created: ${rings.count} (io_uring_setup calls let through); what a ring does is not seen by the supervisor`,
      ),
    );
  }
  // The answer leaves with the next wait (supervisor/loop/step.c): what the program
  // waits is this plus one kernel round trip, which `npm run bench` measures.
  lines.push(color.dim('(in C: answered by the native step without JavaScript, not timed; time in the supervisor, from RECV'));
  lines.push(color.dim(' until the answer is ready, for the others; calls that blocked are counted, not timed;'));
  lines.push(
    color.dim(' the program also waits one notification round trip, not measured by a run: `npm run bench` measures it, floor column;'),
  );
  lines.push(color.dim(' sends p50: answers a handler sent itself (the caller before the sleepers it wakes, a grant), left out'));
  lines.push(color.dim(" of the time before: the task woken there may take the loop's CPU until it blocks or is preempted)"));
  const host = hostLocks(result.state);
  if (host !== null) {
    lines.push(`locks: host-coherent; ${host.conflicts} refused by a host lock, ${host.waitedForHost} waited for one`);
    const n = host.sandboxOnlyFiles.length;
    if (n > 0)
      lines.push(
        color.yellow(
          `locks: ${n} file${n === 1 ? '' : 's'} held in the sandbox only (the host refused them): ${host.sandboxOnlyFiles.join(' ')}`,
        ),
      );
  }
  return lines.join('\n') + '\n';
}

interface HostLockStats {
  conflicts: number;
  waitedForHost: number;
  sandboxOnlyFiles: string[];
}

/** The locks feature's host-coherence counters in a final state, if it ran coherent. */
function hostLocks(state: unknown): HostLockStats | null {
  const host = (state as { locks?: { host?: { mode?: string } } } | null)?.locks?.host;
  return host?.mode === 'coherent' ? (host as HostLockStats & { mode: string }) : null;
}
