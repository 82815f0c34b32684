// Text views of a supervisor state dump (the JSON of --dump-state / SIGUSR1):
// `sysvisor ipcs` (semaphores, like ipcs -s with values, waiters and undo)
// and `sysvisor ps` (the process tree and what each process holds).
import { IPC_NOWAIT, SEM_UNDO } from './sem/constants.js';
import type { SemSnapshot } from './sem/registry.js';
import type { WaitInput } from './waits/graph.js';

export interface StateDump extends WaitInput {
  processes?: Array<{ pid: number; ppid: number; name: string; threads: number[]; tasks?: number[] }>;
  sem?: SemSnapshot;
}

/** Is this plausibly a sysvisor state dump? (a clear error beats a stack trace on a foreign file) */
export function isStateDump(v: unknown): v is StateDump {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const d = v as Record<string, unknown>;
  return (
    Array.isArray(d.processes) &&
    (d.sem === undefined || (typeof d.sem === 'object' && d.sem !== null && Array.isArray((d.sem as SemSnapshot).sets)))
  );
}

const hexKey = (k: number) => '0x' + (k >>> 0).toString(16).padStart(8, '0');
const time = (sec: number) => (sec === 0 ? 'Not set' : new Date(sec * 1000).toISOString().replace('T', ' ').slice(0, 19));

function sembuf(s: { num: number; op: number; flg: number }): string {
  const flags = [(s.flg & IPC_NOWAIT) !== 0 ? 'IPC_NOWAIT' : '', (s.flg & SEM_UNDO) !== 0 ? 'SEM_UNDO' : ''].filter(Boolean);
  return `#${s.num} ${s.op > 0 ? '+' : ''}${s.op}${flags.length ? ' ' + flags.join('|') : ''}`;
}

/** `ipcs -s`, extended with what only the supervisor knows. */
export function renderIpcs(state: StateDump): string {
  const sem = state.sem;
  if (sem === undefined) return 'semaphores are not emulated in this sandbox\n';
  const lines = [
    '------ Semaphore Arrays (sysvisor) --------',
    `${'key'.padEnd(11)}${'semid'.padEnd(11)}${'owner'.padEnd(11)}${'perms'.padEnd(11)}${'nsems'.padEnd(11)}${'otime'.padEnd(21)}ctime`,
  ];
  for (const s of sem.sets) {
    lines.push(
      `${hexKey(s.perm.key).padEnd(11)}${String(s.id).padEnd(11)}${String(s.perm.uid).padEnd(11)}` +
        `${s.perm.mode.toString(8).padEnd(11)}${String(s.nsems).padEnd(11)}${time(s.otime).padEnd(21)}${time(s.ctime)}`,
    );
    lines.push(`    values ${s.values.join(' ')}    last pids ${s.pids.join(' ')}`);
    for (const w of s.waiters) {
      const timeout = w.deadlineNs === null ? '' : ' (timed)';
      lines.push(`    waiting: pid ${w.pid} [${w.sops.map(sembuf).join(', ')}] blocked at op ${w.blocking}${timeout}`);
    }
    for (const u of s.undo) if (u.adj.some((a) => a !== 0)) lines.push(`    undo: pid ${u.owner} [${u.adj.join(' ')}]`);
  }
  if (sem.sets.length === 0) lines.push('(no sets)');
  const l = sem.limits;
  lines.push(
    '',
    `limits: SEMMSL ${l.semmsl}  SEMMNS ${l.semmns}  SEMOPM ${l.semopm}  SEMMNI ${l.semmni};` +
      ` in use: ${sem.sets.length} sets, ${sem.usedSems} semaphores`,
  );
  return lines.join('\n') + '\n';
}

/** The process tree with what each process holds or waits for. */
export function renderPs(state: StateDump): string {
  const procs = state.processes ?? [];
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const parent = byPid.has(p.ppid) ? p.ppid : 0;
    children.set(parent, [...(children.get(parent) ?? []), p.pid]);
  }
  const holds = new Map<number, string[]>();
  const note = (pid: number, text: string) => holds.set(pid, [...(holds.get(pid) ?? []), text]);
  for (const s of state.sem?.sets ?? []) {
    for (const w of s.waiters) note(w.pid, `waits on sem ${s.id} [${w.sops.map(sembuf).join(', ')}]`);
    for (const u of s.undo) if (u.adj.some((a) => a !== 0)) note(u.owner, `undo on sem ${s.id} [${u.adj.join(' ')}]`);
  }
  const lines = [`${'PID'.padStart(7)} ${'PPID'.padStart(7)}  COMMAND`];
  const walk = (pid: number, depth: number) => {
    const p = byPid.get(pid)!;
    const threads = p.threads.length > 1 ? ` (${p.threads.length} threads)` : '';
    lines.push(`${String(p.pid).padStart(7)} ${String(p.ppid).padStart(7)}  ${'  '.repeat(depth)}${p.name}${threads}`);
    for (const h of holds.get(pid) ?? []) lines.push(`${' '.repeat(17)}${'  '.repeat(depth)}  ${h}`);
    for (const c of (children.get(pid) ?? []).sort((a, b) => a - b)) walk(c, depth + 1);
  };
  for (const root of (children.get(0) ?? []).sort((a, b) => a - b)) walk(root, 0);
  if (procs.length === 0) lines.push('(no live process)');
  return lines.join('\n') + '\n';
}
