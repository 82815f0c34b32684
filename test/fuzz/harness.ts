// The fuzz harness: build test/fuzz/build/semfuzz if needed, run one seed
// natively and under sysvisor, compare the deterministic output, and check
// the supervisor's health and state (see semfuzz.c for what the program does).
//
// A sandboxed run is healthy when the CLI's exit status is the program's
// (0), stderr holds no "internal error" / "supervisor loop" report, and the
// final --dump-state shows no process and no semaphore set left. A chaos run
// also takes a live dump while the program holds after reaping its workers:
// then no sleeper, undo list or lock may belong to a dead process.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStat } from '../../supervisor/procfs.js';
import { runInGroup as run, type Outcome } from '../helpers.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FUZZ_DIR = join(ROOT, 'test', 'fuzz');
export const SEMFUZZ = join(FUZZ_DIR, 'build', 'semfuzz');
export const CLI = join(ROOT, 'dist', 'bundle', 'sysvisor.js');
/** Why part n (the native run in a fresh IPC namespace, which needs CAP_SYS_ADMIN) cannot run here, or false. */
export const NO_NAMESPACE: string | false = process.getuid?.() === 0 ? false : 'a fresh IPC namespace (part n) needs root';

/** Build the fuzz target when it is missing or older than its sources. */
export function ensureBuilt(): void {
  const sources = [join(FUZZ_DIR, 'semfuzz.c'), join(ROOT, 'test', 'c', 'common.h')];
  const stale = !existsSync(SEMFUZZ) || sources.some((s) => statSync(s).mtimeMs > statSync(SEMFUZZ).mtimeMs);
  if (!stale) return;
  const r = spawnSync('make', ['-s', '-C', FUZZ_DIR], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make -C test/fuzz failed:\n${r.stdout}${r.stderr}`);
}

/** A manifest file emulating the semaphore calls, and fcntl/flock too when `locks`. */
export function manifestFile(dir: string, locks: boolean): string {
  const file = join(dir, locks ? 'fuzz-locks.toml' : 'fuzz-sem.toml');
  const emulate = ['semget', 'semop', 'semtimedop', 'semctl', ...(locks ? ['fcntl', 'flock'] : [])];
  writeFileSync(file, `version = 1\n[syscalls]\nemulate = ${JSON.stringify(emulate)}\n`);
  return file;
}

export interface FuzzCase {
  seed: number;
  n: number;
  /** Letters for semfuzz: d (deterministic), c (chaos), l (locks), w (wake-up scenarios), n (native run in a fresh IPC namespace: ids compared raw). */
  parts: string;
  timeoutMs?: number;
}

export interface FuzzResult {
  native: Outcome;
  sandboxed: Outcome;
  /** Human-readable problems; empty when the seed passed. */
  problems: string[];
  /** The first differing line, if the outputs differ. */
  diff: string | null;
  /** The live state taken while a chaos run held (null if none was taken). */
  heldState: StateDump | null;
  finalState: StateDump | null;
}

export interface StateDump {
  processes: Array<{ pid: number; ppid: number; name: string; threads: number[] }>;
  sem?: {
    usedSems: number;
    sets: Array<{ id: number; waiters: Array<{ pid: number }>; undo: Array<{ owner: number }> }>;
  };
  locks?: {
    records: number;
    sleeping: number;
    files: Array<{ posix: unknown[]; flock: unknown[] }>;
  };
}

/** First line where two outputs differ, "line N: native | sandboxed". */
export function firstDifference(a: string, b: string): string | null {
  if (a === b) return null;
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}:\n  native:    ${x[i] ?? '<end>'}\n  sandboxed: ${y[i] ?? '<end>'}`;
  }
  return 'outputs differ';
}

/** Problems in a sandboxed run's stderr that mean the supervisor misbehaved. */
export function supervisorComplaints(stderr: string): string[] {
  const bad = [/internal error/i, /supervisor loop (failed|exited)/i, /SandboxError/, /Uncaught|TypeError|RangeError/];
  return stderr.split('\n').filter((l) => bad.some((re) => re.test(l)));
}

/** Invariants of a live dump taken after every worker died; `main` is the fuzzer's own pid. */
export function heldStateProblems(s: StateDump): string[] {
  const problems: string[] = [];
  const live = new Set(s.processes.map((p) => p.pid));
  if (s.processes.length !== 1) {
    const now = s.processes.map((p) => `${p.pid}: ${procState(p.pid)}`).join(', ');
    problems.push(
      `held: ${s.processes.length} processes in the table, expected the fuzzer alone: ${JSON.stringify(s.processes)} (now in /proc: ${now})`,
    );
  }
  for (const set of s.sem?.sets ?? []) {
    if (set.waiters.length > 0)
      problems.push(`held: set ${set.id} still has ${set.waiters.length} sleeper(s): pids ${set.waiters.map((w) => w.pid).join(',')}`);
    for (const u of set.undo) if (!live.has(u.owner)) problems.push(`held: set ${set.id} keeps an undo list of dead process ${u.owner}`);
  }
  if (s.locks) {
    if (s.locks.sleeping !== 0) problems.push(`held: ${s.locks.sleeping} lock sleepers`);
    for (const f of s.locks.files)
      if (f.posix.length + f.flock.length > 0) problems.push(`held: locks left on a file: ${JSON.stringify(f)}`);
  }
  return problems;
}

/** "S, ppid 12" from /proc/PID/stat, or "gone". */
function procState(pid: number): string {
  const s = readStat(pid);
  return s === null ? 'gone' : `${s.state}, ppid ${s.ppid}`;
}

/** Invariants of the dump at exit. */
export function finalStateProblems(s: StateDump): string[] {
  const problems: string[] = [];
  if (s.processes.length !== 0) problems.push(`final: processes left: ${JSON.stringify(s.processes)}`);
  if ((s.sem?.sets.length ?? 0) !== 0) problems.push(`final: ${s.sem!.sets.length} semaphore set(s) left`);
  if ((s.sem?.usedSems ?? 0) !== 0) problems.push(`final: usedSems ${s.sem!.usedSems}`);
  if (s.locks && s.locks.records !== 0) problems.push(`final: ${s.locks.records} lock records left`);
  return problems;
}

function readState(file: string): StateDump | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StateDump;
  } catch {
    return null;
  }
}

/** Run one case natively and under sysvisor and judge it. */
export async function fuzzOne(c: FuzzCase): Promise<FuzzResult> {
  ensureBuilt();
  if (c.parts.includes('n') && NO_NAMESPACE) throw new Error(`semfuzz ${c.seed} ${c.n} ${c.parts}: ${NO_NAMESPACE}`);
  const dir = mkdtempSync(join(tmpdir(), `semfuzz-${c.seed}-`));
  try {
    const locks = c.parts.includes('l');
    const manifest = manifestFile(dir, locks);
    const chaos = c.parts.includes('c');
    const timeoutMs = c.timeoutMs ?? 120_000;
    const env = { ...process.env, SEMFUZZ_HOLD: chaos ? '1' : '0' };
    const args = [String(c.seed), String(c.n), c.parts];
    const nativeCwd = join(dir, 'native');
    const sandCwd = join(dir, 'sandboxed');
    for (const d of [nativeCwd, sandCwd]) spawnSync('mkdir', ['-p', d]);

    // 'n': natively alone in a fresh IPC namespace, as the sandbox's registry starts
    const native = c.parts.includes('n')
      ? await run('unshare', ['--ipc', '--', SEMFUZZ, ...args], { cwd: nativeCwd, env, timeoutMs })
      : await run(SEMFUZZ, args, { cwd: nativeCwd, env, timeoutMs });
    const leftovers = native.pid === undefined || c.parts.includes('n') ? [] : leftoverKeyedSets(c.seed, native.pid);

    const dump = join(dir, 'state.json');
    // Set inside the chaos callback: `as` keeps TS from narrowing it to null here.
    let heldState = null as StateDump | null;
    let holding = false;
    const sandboxed = await run(process.execPath, [CLI, 'run', '-m', manifest, '--dump-state', dump, '--', SEMFUZZ, ...args], {
      cwd: sandCwd,
      env,
      timeoutMs,
      onStdout: !chaos
        ? undefined
        : (text, child) => {
            if (holding || !text.includes('chaos: holding\n')) return;
            holding = true;
            void (async () => {
              // Ask the running supervisor for its state (SIGUSR1 -> --dump-state file), then release the program.
              // A grandchild SIGKILLed with its worker (PDEATHSIG) may still be dying, or its exit not yet
              // seen by the loop: as semfuzz itself does for sleepers, ask again for up to 2 s.
              try {
                const until = Date.now() + 2000;
                for (;;) {
                  rmSync(dump, { force: true });
                  process.kill(child.pid!, 'SIGUSR1');
                  let s: StateDump | null = null;
                  for (let i = 0; i < 200 && s === null; i++) {
                    await new Promise((r) => setTimeout(r, 25));
                    s = readState(dump);
                  }
                  heldState = s;
                  if (s === null || heldStateProblems(s).length === 0 || Date.now() > until) break;
                  await new Promise((r) => setTimeout(r, 100));
                }
              } finally {
                child.stdin!.end('x');
              }
            })();
          },
    });
    const finalState = readState(dump);

    const problems: string[] = [];
    if (native.timedOut) problems.push('native run timed out');
    if (native.status !== 0) problems.push(`native run: exit ${native.status} signal ${native.signal}\n${native.stderr}`);
    if (leftovers.length > 0) problems.push(`native run left keyed sets on the host:\n${leftovers.join('\n')}`);
    if (sandboxed.timedOut) problems.push('sandboxed run timed out (hang?)');
    if (sandboxed.status !== native.status || sandboxed.signal !== native.signal) {
      problems.push(`sandboxed run: exit ${sandboxed.status} signal ${sandboxed.signal} (native: ${native.status} ${native.signal})`);
    }
    for (const l of supervisorComplaints(sandboxed.stderr)) problems.push(`supervisor stderr: ${l}`);
    const diff = firstDifference(native.stdout, sandboxed.stdout);
    if (diff !== null) problems.push(`output differs at ${diff}`);
    if (chaos) {
      if (heldState === null) problems.push('no live state dump while the chaos part held');
      else problems.push(...heldStateProblems(heldState));
    }
    if (finalState === null) problems.push('no final state dump');
    else problems.push(...finalStateProblems(finalState));
    return { native, sandboxed, problems, diff, heldState, finalState };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The keys semfuzz derives from its seed and pid (keys[0..3] and the chaos key; see semfuzz.c). */
export function fuzzKeys(seed: number, pid: number): number[] {
  const mix = Number((BigInt(seed) * 2654435761n + BigInt(pid) * 40503n) & 0xfffc00n);
  return [1, 5, 9, 13, 3].map((low) => 0x5f000000 | mix | low | 0);
}

/** Host semaphore sets with one of the keys a native run used: it must have removed them all. */
export function leftoverKeyedSets(seed: number, pid: number): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/sysvipc/sem', 'utf8');
  } catch {
    return [];
  }
  const keys = new Set(fuzzKeys(seed, pid));
  return text
    .split('\n')
    .slice(1)
    .filter((l) => keys.has(Number.parseInt(l.trim().split(/\s+/)[0] ?? '', 10)));
}
