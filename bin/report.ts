// The --stats report printed at exit.
import type { ChalkInstance } from 'chalk';
import type { RunResult } from '../supervisor/index.js';

export function renderStats(result: RunResult, color: ChalkInstance, name: (nr: number) => string): string {
  const rows = [...result.stats].sort((a, b) => b.count - a.count);
  const total = rows.reduce((s, r) => s + r.count, 0);
  const lines = [
    color.bold(`sysvisor stats: ${total} notifications answered, SYNC_WAKE_UP ${result.syncWakeUp ? 'on' : 'off'}, exit status ${result.status}`),
  ];
  if (result.procViews !== undefined) {
    const fuse = result.procViews === 'fuse' ? `, ${result.viewRequests ?? 0} FUSE requests answered` : '';
    lines.push(`/proc views: ${result.procViews}${fuse}`);
  }
  if (rows.length === 0) return lines.join('\n') + '\n';
  lines.push(color.dim(`${'syscall'.padEnd(14)}${'count'.padStart(10)}${'p50 µs'.padStart(10)}${'p99 µs'.padStart(10)}${'max µs'.padStart(10)}`));
  for (const r of rows) {
    lines.push(`${name(r.nr).padEnd(14)}${String(r.count).padStart(10)}${r.p50us.toFixed(1).padStart(10)}`
      + `${r.p99us.toFixed(1).padStart(10)}${r.maxus.toFixed(1).padStart(10)}`);
  }
  // The answer leaves with the next wait (shims/fastpath.c): what the program
  // waits is this plus one kernel round trip, which `npm run bench` measures.
  lines.push(color.dim('(time in the supervisor, from RECV until the answer is ready; calls that blocked are not included;'));
  lines.push(color.dim(' the program also waits one notification round trip, ~5 µs here: `npm run bench`, floor column)'));
  return lines.join('\n') + '\n';
}
