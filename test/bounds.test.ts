// Resource bounds and load. The programs are in test/fuzz/ (built by its
// Makefile; built here if missing).
//
// Memory is measured on the sysvisor process itself (VmRSS/VmHWM of the CLI,
// from /proc, sampled every 50 ms): the supervisor's loop runs in a worker
// thread of that process, so its RSS is what the emulation costs. Sampling
// process.memoryUsage() through the in-process Sandbox API would mix the
// tap runner's own heap in and miss the worker's native buffers.
//
// Sizes stay small enough for `npm test` (< 60 s for the file); set
// SYSVISOR_BOUNDS_BIG=1 for a million-call storm, 64 x 10k load and more
// rounds of waiters.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { CLI, ROOT } from './helpers.js';

const BIG = process.env.SYSVISOR_BOUNDS_BIG === '1';
const FUZZ = join(ROOT, 'test', 'fuzz');
const BIN = join(FUZZ, 'build');
const MB = 1024 * 1024;

// ---------------------------------------------------------------------------
// helpers

function ensureBuilt(): void {
  const progs = ['semlimits', 'semstorm', 'semwaiters', 'semload', 'procmax'];
  const stale = progs.some((p) => !existsSync(join(BIN, p)) || statSync(join(FUZZ, `${p}.c`)).mtimeMs > statSync(join(BIN, p)).mtimeMs);
  if (!stale) return;
  const r = spawnSync('make', ['-s', '-C', FUZZ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make -C test/fuzz failed:\n${r.stdout}${r.stderr}`);
}

const dir = mkdtempSync(join(tmpdir(), 'sysvisor-bounds-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A manifest file with these sections (TOML text after `version = 1`). */
function manifest(name: string, body: string): string {
  const file = join(dir, `${name}.toml`);
  writeFileSync(file, `version = 1\n${body}\n`);
  return file;
}
const WITH_LOCKS = '[syscalls]\nemulate = ["semget", "semop", "semtimedop", "semctl", "fcntl", "flock"]\n';

interface Mem {
  rss: number;
  hwm: number;
}

/** VmRSS and VmHWM of a process, in bytes. */
function memOf(pid: number): Mem | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    // a zombie has no memory lines
    return Number.isFinite(rss) && Number.isFinite(hwm) ? { rss, hwm } : null;
  } catch {
    return null;
  }
}

interface Watched {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Largest VmHWM seen: the supervisor's peak RSS. */
  peak: number;
  /** RSS at each hold, by the label the program printed. */
  atHold: Map<string, number>;
  /** State dumps taken at each hold. */
  dumps: Map<string, StateDump>;
  final: StateDump | null;
  ms: number;
}

interface StateDump {
  processes: Array<{ pid: number }>;
  sem?: { usedSems: number; sets: Array<{ waiters: unknown[]; undo: unknown[] }> };
  locks?: { records: number; sleeping: number };
}

/**
 * `sysvisor run -m manifest --dump-state F -- prog args`, sampling the
 * supervisor's memory; whenever the program prints "holding: LABEL" and
 * waits on stdin, take its RSS and a state dump (SIGUSR1), then let it go on.
 */
function runWatched(m: string, prog: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<Watched> {
  const dump = join(dir, `state-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const child = spawn(process.execPath, [CLI, 'run', '-m', m, '--dump-state', dump, '--', join(BIN, prog), ...args], {
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...env },
    });
    const pid = child.pid!;
    let stdout = '';
    let stderr = '';
    let peak = 0;
    let seen = 0;
    const atHold = new Map<string, number>();
    const dumps = new Map<string, StateDump>();
    const sample = () => {
      const mem = memOf(pid);
      if (mem) peak = Math.max(peak, mem.hwm, mem.rss);
    };
    const sampler = setInterval(sample, 50);
    const holds: string[] = [];
    let busy = false;
    const serve = async () => {
      if (busy) return;
      busy = true;
      while (holds.length > 0) {
        const label = holds.shift()!;
        const mem = memOf(pid);
        if (mem) atHold.set(label, mem.rss);
        sample();
        const before = existsSync(dump) ? statSync(dump).mtimeMs : 0;
        process.kill(pid, 'SIGUSR1');
        for (let i = 0; i < 400; i++) {
          await new Promise((r) => setTimeout(r, 25));
          if (existsSync(dump) && statSync(dump).mtimeMs !== before) {
            try {
              dumps.set(label, JSON.parse(readFileSync(dump, 'utf8')) as StateDump);
              break;
            } catch {
              /* being written */
            }
          }
        }
        child.stdin.write('x');
      }
      busy = false;
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const found = [...stdout.matchAll(/^holding: (.*)$/gm)];
      for (const f of found.slice(seen)) holds.push(f[1]!);
      seen = found.length;
      void serve();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      clearInterval(sampler);
      let final: StateDump | null = null;
      try {
        final = JSON.parse(readFileSync(dump, 'utf8')) as StateDump;
      } catch {
        /* none */
      }
      resolve({ status, signal, stdout, stderr, peak, atHold, dumps, final, ms: Date.now() - start });
    });
  });
}

function healthy(t: Test, r: Watched): void {
  t.equal(r.signal, null, 'sysvisor not killed');
  t.equal(r.status, 0, `exit status 0${r.stderr.trim() ? ` (stderr: ${r.stderr.trim().slice(0, 500)})` : ''}`);
  t.notMatch(r.stderr, /internal error|supervisor loop/, 'no internal error');
  t.match(r.stdout, /\ndone\n$/, 'the program ran to its end');
}

/** Nothing of the run is left in the final state. */
function empty(t: Test, s: StateDump | null): void {
  t.ok(s, 'a final state dump');
  if (!s) return;
  t.same(s.processes, [], 'no process left in the table');
  // Every manifest here emulates semaphores and locks: both sections must be there.
  t.equal(s.sem?.sets.length, 0, 'no semaphore set left');
  t.equal(s.sem?.usedSems, 0, 'no semaphore counted');
  t.equal(s.locks?.records, 0, 'no lock record left');
}

const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;

ensureBuilt();

// ---------------------------------------------------------------------------
// [sem] limits, compared with Linux in a fresh IPC namespace with the same
// /proc/sys/kernel/sem.

const LIMITS: Array<[number, number, number, number]> = [
  [10, 45, 5, 8],
  [250, 32000, 32, 128],
  [1, 1, 1, 1],
];
/** Why Linux cannot be asked (a fresh IPC namespace needs CAP_SYS_ADMIN), or false. */
const unshared = spawnSync('unshare', ['--ipc', 'true'], { encoding: 'utf8' });
const NO_NAMESPACE: string | false =
  unshared.status === 0 ? false : `unshare --ipc failed: ${unshared.error?.message ?? unshared.stderr.trim()}`;

for (const [msl, mns, opm, mni] of LIMITS) {
  t.test(`[sem] ${msl} ${mns} ${opm} ${mni}: EINVAL/ENOSPC/E2BIG at the same edges as Linux`, async (t) => {
    const m = manifest(`limits-${msl}-${mni}`, `[sem]\nsemmsl = ${msl}\nsemmns = ${mns}\nsemopm = ${opm}\nsemmni = ${mni}`);
    const r = await runWatched(m, 'semlimits', []);
    healthy(t, r);
    t.match(r.stdout, /then ENOSPC/);
    empty(t, r.final);
    await t.test('output equals Linux with the same limits', { skip: NO_NAMESPACE }, async (t) => {
      const native = spawnSync(
        'unshare',
        ['--ipc', 'sh', '-c', `echo ${msl} ${mns} ${opm} ${mni} > /proc/sys/kernel/sem && exec ${join(BIN, 'semlimits')}`],
        { encoding: 'utf8', cwd: dir },
      );
      t.equal(native.status, 0, `the native run in a new IPC namespace ran (stderr: ${native.stderr.trim()})`);
      t.equal(r.stdout, native.stdout);
    });
  });
}

// ---------------------------------------------------------------------------
// What a semaphore costs the supervisor.

t.test('memory per semaphore', async (t) => {
  const sets = 64;
  const nsems = 32000;
  const r = await runWatched(manifest('fill', ''), 'semstorm', ['fill', String(sets), String(nsems)], { SEMSTORM_HOLD: '1' });
  healthy(t, r);
  const before = r.atHold.get('before')!;
  const after = r.atHold.get('filled')!;
  const per = (after - before) / (sets * nsems);
  t.comment(
    `${sets * nsems} semaphores: RSS ${mb(before)} -> ${mb(after)}, ${per.toFixed(1)} bytes per semaphore (values, pids, otimes: 16 B)`,
  );
  t.ok(per < 48, `under 48 bytes per semaphore (${per.toFixed(1)})`);
  t.equal(r.dumps.get('filled')?.sem?.usedSems, sets * nsems, 'the state counts them');
  empty(t, r.final);
});

// ---------------------------------------------------------------------------
// A storm of calls within and beyond the limits: memory must not grow with
// the number of calls.

t.test('a storm of semaphore and lock calls, within and beyond the limits', async (t) => {
  const m = manifest('storm', `${WITH_LOCKS}[sem]\nsemmsl = 250\nsemmns = 32000\nsemopm = 32\nsemmni = 128\n[locks]\nmax = 1000`);
  const small = BIG ? 100_000 : 30_000;
  const large = BIG ? 1_500_000 : 300_000;
  const a = await runWatched(m, 'semstorm', [String(small), 'l']);
  healthy(t, a);
  const b = await runWatched(m, 'semstorm', [String(large), 'l'], {}, 300_000);
  healthy(t, b);
  t.match(b.stdout, /ENOSPC seen: yes; ENOLCK seen: yes/, 'the limits were reached (semmni, locks.max)');
  t.comment(`peak supervisor RSS: ${mb(a.peak)} after ${small} calls (${a.ms} ms), ${mb(b.peak)} after ${large} calls (${b.ms} ms)`);
  t.ok(b.peak - a.peak < 48 * MB, `10x the calls cost less than 48 MB more (${mb(b.peak - a.peak)})`);
  empty(t, b.final);
});

// ---------------------------------------------------------------------------
// Many sleepers at once, several rounds: bounded while they sleep, nothing
// left once they are gone.

const ROUNDS = BIG ? 10 : 3;
const SLEEPERS = BIG ? 1000 : 200;
t.test(`${SLEEPERS} processes asleep at once (semop, semtimedop, F_SETLKW), woken and killed, ${ROUNDS} rounds`, async (t) => {
  const rounds = ROUNDS;
  const P = SLEEPERS;
  const r = await runWatched(
    manifest('waiters', WITH_LOCKS),
    'semwaiters',
    [String(P), String(rounds), 'l'],
    { SEMWAITERS_HOLD: '1' },
    300_000,
  );
  healthy(t, r);
  const lines = r.stdout.split('\n');
  const asleep = lines.filter((l) => /semaphore sleepers counted/.test(l));
  t.equal(asleep.length, rounds);
  for (const l of asleep) {
    const [, n, of] = /(\d+) semaphore sleepers counted \(of (\d+)\)/.exec(l)!;
    t.equal(n, of, `every semaphore sleeper counted: ${l}`);
  }
  const ends = lines.filter((x) => /woken or killed/.test(x));
  t.equal(ends.length, rounds, 'one "woken or killed" line per round');
  for (const l of ends) {
    t.match(l, /woken or killed: (\d+) of \1, lock sleepers that got the lock: (\d+) of \2, other ends: 0; ncnt 0, zcnt 0$/, l);
  }
  const sleeping = r.dumps.get('everybody asleep');
  t.ok(sleeping, 'state while everybody sleeps');
  if (sleeping) {
    const waiters = sleeping.sem!.sets.reduce((n, s) => n + s.waiters.length, 0);
    t.comment(
      `while asleep: ${sleeping.processes.length} processes in the table, ${waiters} semaphore waiters, ${sleeping.locks?.sleeping} lock sleepers`,
    );
    t.equal(sleeping.processes.length, P + 1, 'every sleeper is in the process table');
  }
  for (let i = 1; i <= rounds; i++) {
    const s = r.dumps.get(`round ${i} over`);
    t.ok(s, `state after round ${i}`);
    if (!s) continue;
    t.equal(s.processes.length, 1, `round ${i}: only the program itself is left`);
    t.equal(s.sem?.sets.length, 0, `round ${i}: no set`);
    t.equal(s.locks?.sleeping, 0, `round ${i}: no lock sleeper`);
    t.equal(s.locks?.records, 0, `round ${i}: no lock record`);
  }
  const first = r.atHold.get('round 1 over')!;
  const last = r.atHold.get(`round ${rounds} over`)!;
  const asleepRss = r.atHold.get('everybody asleep')!;
  t.comment(
    `supervisor RSS: ${mb(asleepRss)} with ${P} asleep, ${mb(first)} after round 1, ${mb(last)} after round ${rounds}; peak ${mb(r.peak)}`,
  );
  t.ok(last - first < 24 * MB, `rounds do not accumulate memory (${mb(last - first)})`);
  t.ok(r.peak < 400 * MB, `peak under 400 MB (${mb(r.peak)})`);
  empty(t, r.final);
});

// [process] max: fork, vfork and clone beyond it fail with EAGAIN
// (as at pids.max); threads are not processes; an exit frees a place, and
// so does a fork whose child already came and went once its thread has
// left the call (not only 2 ms later). The children only sleep, so the
// table knows them from the fork scan alone.
t.test("[process] max bounds the sandbox's processes and the process table", async (t) => {
  const m = manifest('procmax', '[process]\nmax = 20');
  // Ten rounds to the limit: a scan that ran while a fork was in flight in
  // the kernel used to lose its child, and the sandbox got a 21st process.
  const r = await runWatched(m, 'procmax', ['60', '10'], { PROCMAX_HOLD: '1' });
  healthy(t, r);
  t.equal(
    r.stdout,
    [
      ...Array<string>(10).fill('fork: 19 children, then EAGAIN'),
      'holding: full',
      'vfork at the limit: EAGAIN',
      'posix_spawn at the limit: EAGAIN',
      'pthread_create at the limit: ok',
      'fork after one child ended: ok',
      "fork right after another thread's child came and went: ok",
      'done',
      '',
    ].join('\n'),
  );
  const s = r.dumps.get('full');
  t.equal(s?.processes.length, 20, 'the table holds the program and its 19 sleeping children');
  empty(t, r.final);
});

// ---------------------------------------------------------------------------
// Load: 64 processes hammering one set (and a lock) while being SIGKILLed.

t.test('load: 64 workers, random SIGKILLs, nothing lost', async (t) => {
  const ops = BIG ? 10_000 : 1_000;
  const kills = BIG ? 300 : 40;
  const r = await runWatched(manifest('load', WITH_LOCKS), 'semload', ['64', String(ops), String(kills), 'l'], {}, 300_000);
  healthy(t, r);
  t.notMatch(r.stdout, /: no$/m, 'every check says yes');
  t.match(r.stdout, /^sleepers left: 0$/m);
  t.match(r.stdout, /^locks left: none$/m);
  t.comment(
    `${/semload: (\d+) kills/.exec(r.stderr)?.[1]} kills, ${64 * ops} pair increments in ${r.ms} ms; peak supervisor RSS ${mb(r.peak)}`,
  );
  empty(t, r.final);
});
