/**
 * `sysvisor learn`: what one observed run used -> the least-privilege
 * manifest that lets the same run pass, as commented TOML a person can review.
 *
 * Pure: the supervisor records (supervisor/learn.ts), this decides. Every
 * rule of the policy is here:
 *   - [filesystem]: each file opened, by its real path. Collapsed to its
 *     directory when it is a shared library (under /lib*, /usr/lib*,
 *     /usr/local/lib*), when DENSE or more files of one directory were used,
 *     or when it lives under /proc/PID or /dev/pts (names that change from
 *     run to run; they collapse to /proc and /dev/pts). Never collapsed to
 *     `/` or a directory just below it. A directory where the run created,
 *     removed or renamed entries is writable (Landlock checks those rights on
 *     the directory). Paths beneath another entry with the same rights are
 *     dropped. `exec` stays empty: the pinned files carry the exec right.
 *   - [exec]: every file executed and every interpreter the kernel opened for
 *     one (ELF PT_INTERP, "#!"), pinned by sha256; only_trusted = true.
 *   - [sem], [locks] max: the observed peak plus a quarter (at least 1);
 *     [process] max: twice the peak, at least the peak plus 4 (how many
 *     processes overlap depends on scheduling).
 *   - [syscalls] emulate: the base manifest's emulated calls the run made,
 *     and fcntl (only its lock commands are notified, and denying it would
 *     break every program); the others are denied with ENOSYS instead of
 *     reaching the host kernel's IPC.
 * --merge: the union of paths and pins, the larger of each limit.
 */
import { posix } from 'node:path';
import { errnoName } from '../syscalls/errno.js';
import { LIMITS, type FilesystemLists, type Manifest, type SemLimits } from './types.js';
import { ENOSYS } from '../syscalls/errno.js';

/** What a learning run observed (plain data: it crosses the worker boundary). */
export interface LearnedRun {
  /** Real paths opened, each with the strongest access seen. */
  files: Array<{ path: string; access: 'read' | 'write' }>;
  /** Directories in which the run created, removed or renamed entries. */
  changedDirs: string[];
  /** Files the run created (O_CREAT of a missing file), for the comments. */
  created: string[];
  /** Files executed, and interpreters opened for them, with their content hash. */
  execs: Array<{ path: string; sha256: string; interpreter: boolean }>;
  /** Emulated syscalls made, name -> count. */
  calls: Record<string, number>;
  /** Peak sets, peak semaphores in all sets, largest nsems, largest nsops; keys other than IPC_PRIVATE. */
  sem: { sets: number; sems: number; perSet: number; opsPerCall: number; keys: number[] };
  /** Peak lock records, and the files locked (real paths). */
  locks: { records: number; files: string[] };
  /** Peak processes alive at once. */
  processes: number;
}

/** A file counts its directory in when this many files of it were used. */
export const DENSE = 4;
const LIBRARY_DIR = /^\/(usr\/(local\/)?)?lib[^/]*\//;
const PROC_PID = /^\/proc\/\d+(\/|$)/;
const DEV_PTS = /^\/dev\/pts\//;
/** Errno of the emulable calls a learned manifest denies. */

/** Observed peak -> limit: a quarter more, at least 1. */
export function headroom(peak: number): number {
  return Math.max(1, peak + Math.ceil(peak / 4));
}

/** Observed peak of processes -> [process] max. */
export function processHeadroom(peak: number): number {
  return Math.max(2 * peak, peak + 4);
}

export interface LearnedPolicy {
  emulate: string[];
  deny: Map<string, number>;
  kill: string[];
  filesystem: FilesystemLists;
  /** Real path -> sha256 hex. */
  trusted: Map<string, string>;
  sem: SemLimits;
  locksMax: number;
  processMax: number;
  /** Why each filesystem entry is there, for the comments. */
  reasons: Map<string, string>;
}

const within = (path: string, dir: string): boolean => path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
/** `/` and the directories just below it are never granted whole. */
const tooBroad = (dir: string): boolean => posix.dirname(dir) === '/' || dir === '/';

/** The entry a used file is granted under, and why. */
function grantOf(path: string): { entry: string; why: string } {
  if (PROC_PID.test(path)) return { entry: '/proc', why: 'per-process files (their names change every run)' };
  if (DEV_PTS.test(path)) return { entry: '/dev/pts', why: 'terminals (their names change every run)' };
  const dir = posix.dirname(path);
  if (LIBRARY_DIR.test(path) && !tooBroad(dir)) return { entry: dir, why: 'library directory' };
  return { entry: path, why: 'file' };
}

/** Drop entries at or beneath an entry of `stronger`, and beneath another entry of `list` itself. */
function uncovered(list: readonly string[], stronger: readonly string[]): string[] {
  const all = [...new Set(list)].sort();
  return all.filter((p) => !stronger.some((k) => within(p, k)) && !all.some((k) => k !== p && within(p, k)));
}

function collapse(grants: ReadonlyArray<{ entry: string; why: string }>, reasons: Map<string, string>): string[] {
  const entries = new Map<string, string>();
  for (const { entry, why } of grants) entries.set(entry, why);
  const perDir = new Map<string, string[]>();
  for (const [p, why] of entries) if (why === 'file') perDir.set(posix.dirname(p), [...(perDir.get(posix.dirname(p)) ?? []), p]);
  for (const [dir, files] of perDir) {
    if (files.length < DENSE || tooBroad(dir)) continue;
    for (const f of files) entries.delete(f);
    entries.set(dir, `${files.length} files used`);
  }
  for (const [p, why] of entries) if (!reasons.has(p)) reasons.set(p, why);
  return [...entries.keys()];
}

/** The policy one run (plus, with --merge, the previous learned manifest) needs. */
export function learnPolicy(run: LearnedRun, base: Manifest, previous: Manifest | null): LearnedPolicy {
  const reasons = new Map<string, string>();
  const grants = run.files.map((f) => ({ ...grantOf(f.path), access: f.access }));
  const writeDirs = run.changedDirs.map((d) => {
    const entry = PROC_PID.test(`${d}/`) ? '/proc' : d;
    reasons.set(entry, 'entries created, removed or renamed here');
    return entry;
  });
  let write = collapse(
    grants.filter((g) => g.access === 'write'),
    reasons,
  ).concat(writeDirs);
  let read = collapse(
    grants.filter((g) => g.access === 'read'),
    reasons,
  );
  write = uncovered([...write, ...(previous?.filesystem?.write ?? [])], []);
  read = uncovered([...read, ...(previous?.filesystem?.read ?? [])], write);
  for (const p of [...(previous?.filesystem?.read ?? []), ...(previous?.filesystem?.write ?? [])]) {
    if (!reasons.has(p)) reasons.set(p, 'from the previous run (--merge)');
  }

  const trusted = new Map(previous?.exec.trusted ?? []);
  for (const e of run.execs) trusted.set(e.path, e.sha256);

  const used = new Set([...Object.keys(run.calls), 'fcntl', ...(previous?.syscalls.emulate ?? [])]);
  const emulate = base.syscalls.emulate.filter((n) => used.has(n));
  const deny = new Map([...base.syscalls.deny, ...(previous?.syscalls.deny ?? [])]);
  for (const n of emulate) deny.delete(n);
  for (const n of base.syscalls.emulate) if (!used.has(n) && !base.syscalls.kill.includes(n)) deny.set(n, ENOSYS);

  const max = (learned: number, prev: number | undefined, limit: { max: number }) => Math.min(limit.max, Math.max(learned, prev ?? 0));
  const sem: SemLimits = {
    semmsl: max(headroom(run.sem.perSet), previous?.sem.semmsl, LIMITS.semmsl),
    semmns: max(headroom(run.sem.sems), previous?.sem.semmns, LIMITS.semmns),
    semopm: max(headroom(run.sem.opsPerCall), previous?.sem.semopm, LIMITS.semopm),
    semmni: max(headroom(run.sem.sets), previous?.sem.semmni, LIMITS.semmni),
  };
  return {
    emulate,
    deny,
    kill: [...base.syscalls.kill],
    filesystem: { read, write, exec: [] },
    trusted,
    sem,
    locksMax: max(headroom(run.locks.records), previous?.locks.max, LIMITS.locksMax),
    processMax: max(processHeadroom(run.processes), previous?.process.max, LIMITS.processMax),
    reasons,
  };
}

const str = (s: string): string => JSON.stringify(s);
const inlineTable = (entries: readonly string[]): string => (entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`);
const SHOWN = 20;

function listed(items: readonly string[], none = 'none'): string {
  if (items.length === 0) return none;
  const shown = items.slice(0, SHOWN).join(', ');
  return items.length > SHOWN ? `${shown}, and ${items.length - SHOWN} more` : shown;
}

function pathArray(name: string, paths: readonly string[], reasons: ReadonlyMap<string, string>): string[] {
  if (paths.length === 0) return [`${name} = []`];
  return [`${name} = [`, ...paths.map((p) => `  ${str(p)},${reasons.has(p) ? ` # ${reasons.get(p)}` : ''}`), ']'];
}

export interface RenderOptions {
  command: readonly string[];
  status: number;
  /** The file merged with (--merge), if any. */
  mergedWith: string | null;
}

/** The learned manifest as TOML, with comments saying what was seen. */
export function renderLearned(p: LearnedPolicy, run: LearnedRun, base: Manifest, o: RenderOptions): string {
  const calls = Object.entries(run.calls).map(([n, c]) => `${n} x${c}`);
  const denied = [...p.deny].map(([n, e]) => `${n} = ${str(errnoName(e))}`);
  const interpreters = new Set(run.execs.filter((e) => e.interpreter).map((e) => e.path));
  const out = [
    `# Learned by \`sysvisor learn\` from: ${o.command.join(' ')} (exit status ${o.status})`,
    ...(o.mergedWith !== null
      ? [`# Merged with the previous ${o.mergedWith}: the union of paths and pins, the larger of each limit.`]
      : []),
    '# Least privilege for that run: review it, then `sysvisor run -m THIS.toml -- ...`.',
    '# See README "Learning a manifest" for how paths were collapsed and limits chosen.',
    'version = 1',
    '',
    '[syscalls]',
    `# Emulated calls made: ${listed(calls)}.`,
    '# fcntl stays emulated (only its lock commands reach the supervisor); the other',
    '# emulable calls the run did not make are denied (ENOSYS) rather than passed to the host.',
    `emulate = [${p.emulate.map(str).join(', ')}]`,
    `deny = ${inlineTable(denied)}`,
    `kill = [${p.kill.map(str).join(', ')}]`,
    '',
    '[filesystem]',
    `# ${run.files.length} files opened, ${run.changedDirs.length} directories changed by this run.`,
    `# Created by the run: ${listed(run.created)}.`,
    ...pathArray('read', p.filesystem.read, p.reasons),
    ...pathArray('write', p.filesystem.write, p.reasons),
    '# Nothing by path: only the pinned files below may be executed.',
    'exec = []',
    '',
    '[exec]',
    'only_trusted = true',
    '',
    '[exec.trusted]',
    ...[...p.trusted].map(([path, hash]) => `${str(path)} = "sha256:${hash}"${interpreters.has(path) ? ' # interpreter' : ''}`),
    '',
    '[env]',
    `inherit = ${base.env.inherit}`,
    ...(base.env.inherit ? [] : [`pass = [${base.env.pass.map(str).join(', ')}]`]),
    `set = ${inlineTable(Object.entries(base.env.set).map(([k, v]) => `${str(k)} = ${str(v)}`))}`,
    '',
    '[sem]',
    `# Peak: ${run.sem.sets} sets, ${run.sem.sems} semaphores, ${run.sem.perSet} per set, ${run.sem.opsPerCall} ops per call;`,
    '# each limit is that plus a quarter (at least 1).',
    `# Keys: ${listed(
      run.sem.keys.map((k) => `0x${(k >>> 0).toString(16).padStart(8, '0')}`),
      'IPC_PRIVATE only',
    )}.`,
    `semmsl = ${p.sem.semmsl}`,
    `semmns = ${p.sem.semmns}`,
    `semopm = ${p.sem.semopm}`,
    `semmni = ${p.sem.semmni}`,
    '',
    '[locks]',
    `# Peak: ${run.locks.records} lock records, plus a quarter (at least 1). Files locked: ${listed(run.locks.files)}.`,
    `mode = ${str(base.locks.mode)}`,
    `max = ${p.locksMax}`,
    '',
    '[process]',
    `# Peak: ${run.processes} processes at once; twice that, at least the peak plus 4.`,
    `max = ${p.processMax}`,
    '',
    '[ipc]',
    `persist = ${str(base.ipc.persist)}`,
    `namespace = ${str(base.ipc.namespace)}`,
  ];
  return out.join('\n') + '\n';
}
