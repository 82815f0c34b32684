// Benchmark runner: every workload natively, under the C floor supervisor
// (bench/floor.c), under sysvisor (Sandbox.run in this process) and under
// gVisor (`runsc --platform=ptrace`, when installed), each a few times; prints
// one table of medians and the targets, writes bench/results/latest.json and
// the table as a chart, bench/results/latest.svg.
//
//   npm run bench                 ~4 min
//   npm run bench -- --quick      ~1 min
//   node dist/bench/run.js --only w_noop --modes floor,sysvisor --reps 7
//   npm run bench -- --wait-quiet  (on a shared machine: before each workload,
//                                  wait up to 2 min for the CPUs to be idle)
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { builtinManifest, manifestFromText, Sandbox, type Manifest } from '../supervisor/index.js';
import { chartSvg, type ChartSeries } from './chart.js';
import { median } from './median.js';
import { realPrograms, realTable, type RealRow } from './real.js';

const BENCH = fileURLToPath(new URL('../../bench/', import.meta.url));
const BUILD = `${BENCH}build/`;
const RESULTS = `${BENCH}results/`;

type Mode = 'native' | 'floor' | 'sysvisor' | 'gvisor';
const MODES: readonly Mode[] = ['native', 'floor', 'sysvisor', 'gvisor'];
const SERIES: Record<Mode, ChartSeries> = {
  native: { name: 'native', color: '#4c78a8' },
  floor: { name: 'C floor', color: '#a0a0a0' },
  sysvisor: { name: 'sysvisor', color: '#f58518' },
  gvisor: { name: 'gVisor (ptrace)', color: '#54a24b' },
};

interface Workload {
  /** The row's name (and, unless `bin` says otherwise, the program in bench/build/). */
  name: string;
  /** The program, when several rows run the same one (e.g. under different manifests). */
  bin?: string;
  what: string;
  /** Iterations of the calibration run: a few tens of ms in the slowest mode. */
  pilot: number;
  /**
   * How the C floor runs it: 'sem' with its semaphore emulation, 'plain' answering
   * every notification ENOSYS, 'none' not at all (the floor does not notify the
   * workload's calls, so it would measure nothing comparable: the cell says n/a).
   */
  floor: 'sem' | 'plain' | 'none';
  /** sysvisor's manifest for this row as TOML text (keys left out get the defaults); default: the built-in policy. */
  manifest?: string;
  /** sysvisor serves the measured calls itself (semaphores, file locks): the row counts for the "faster than gVisor" target. */
  emulated?: boolean;
}

const FAST_LOCKS = 'version = 1\n[locks]\nmode = "fast"\n';
const NOTIFY_VIEWS = 'version = 1\n[proc]\nviews = "notify"\n';
const ISOLATED_LOCKS = 'version = 1\n[locks]\nhost = "isolated"\n';

/** w_open under every [locks] mode and [proc] views mode: what opening files costs in each. */
const OPEN_MODES = (['exact', 'fast'] as const).flatMap((locks) => (['auto', 'notify', 'off'] as const).map((views) => ({ locks, views })));
const openRow = (locks: string, views: string) => `w_open (${locks}, ${views})`;
const OPEN_ROWS: readonly Workload[] = OPEN_MODES.map(({ locks, views }): Workload => ({
  name: openRow(locks, views),
  bin: 'w_open',
  what:
    `open + close of a regular file, per pair; close ${locks === 'exact' ? 'notified (answered in C while no lock is held)' : 'not notified'}, ` +
    `open ${views === 'notify' ? 'notified (answered in C unless it may name a served file)' : `not notified${views === 'auto' ? ' (FUSE views as root)' : ''}`}`,
  pilot: 4_000,
  floor: 'none',
  manifest: `version = 1\n[locks]\nmode = "${locks}"\n[proc]\nviews = "${views}"\n`,
}));
/** The rows whose open is not notified (as root: views auto means FUSE). */
const OPEN_NOT_NOTIFIED = [
  'w_close',
  'w_close (fast)',
  ...OPEN_MODES.filter(({ views }) => views !== 'notify').map(({ locks, views }) => openRow(locks, views)),
];

const WORKLOADS: readonly Workload[] = [
  { name: 'w_getpid', what: 'getpid(2), allowed by the filter (never notified)', pilot: 2_000, floor: 'plain' },
  { name: 'w_noop', what: 'semctl(-1, 0, GETVAL): notified, answered at once', pilot: 4_000, floor: 'plain', emulated: true },
  { name: 'w_semop', what: 'uncontended semop -1/+1, per call', pilot: 4_000, floor: 'sem', emulated: true },
  {
    name: 'w_semop4',
    what: '4 processes each doing uncontended semop on a set of its own, wall clock per call (aggregate throughput)',
    pilot: 4_000,
    floor: 'sem',
    emulated: true,
  },
  { name: 'w_pingpong', what: '2 processes alternating through 2 semaphores, per hand-off', pilot: 2_000, floor: 'sem', emulated: true },
  {
    name: 'w_mutex4',
    what: '4 processes contending for a SEM_UNDO mutex, per acquire+release',
    pilot: 2_000,
    floor: 'sem',
    emulated: true,
  },
  {
    name: 'w_accept',
    what: '8 prefork workers: SEM_UNDO accept mutex around ~0.1 us, ~2 us of work outside, per request',
    pilot: 2_000,
    floor: 'sem',
    emulated: true,
  },
  {
    name: 'w_semtimeout',
    what: 'semtimedop with a 100 us timeout that expires (EAGAIN), per call',
    pilot: 100,
    floor: 'sem',
    emulated: true,
  },
  {
    name: 'w_semtimedpp',
    what: 'w_pingpong waiting with semtimedop (10 s timeout, never expires), per hand-off',
    pilot: 2_000,
    floor: 'sem',
    emulated: true,
  },
  {
    name: 'w_lock',
    what: 'uncontended fcntl F_SETLK write-lock/unlock of byte 0, per fcntl call',
    pilot: 4_000,
    floor: 'none',
    emulated: true,
  },
  {
    name: 'w_lock (isolated)',
    bin: 'w_lock',
    what: 'w_lock with [locks] host = "isolated" (no host copy of the locks)',
    pilot: 4_000,
    floor: 'none',
    manifest: ISOLATED_LOCKS,
    emulated: true,
  },
  {
    name: 'w_lockpp',
    what: '2 processes passing a baton through 3 whole-file F_SETLKW locks, per hand-off',
    pilot: 2_000,
    floor: 'none',
    emulated: true,
  },
  {
    name: 'w_lockpp (isolated)',
    bin: 'w_lockpp',
    what: 'w_lockpp with [locks] host = "isolated"',
    pilot: 2_000,
    floor: 'none',
    manifest: ISOLATED_LOCKS,
    emulated: true,
  },
  {
    name: 'w_close',
    what: 'open("/dev/null") + close, per pair; [locks] mode = "exact" (close notified, answered in C while no lock is held); [proc] views "auto" (fuse as root: open not notified)',
    pilot: 4_000,
    floor: 'none',
  },
  {
    name: 'w_close (fast)',
    bin: 'w_close',
    what: 'w_close with [locks] mode = "fast" (close not notified)',
    pilot: 4_000,
    floor: 'none',
    manifest: FAST_LOCKS,
  },
  {
    name: 'w_close (notify)',
    bin: 'w_close',
    what: 'w_close with [proc] views = "notify" (every open notified, answered in C unless it may name a served file)',
    pilot: 4_000,
    floor: 'none',
    manifest: NOTIFY_VIEWS,
  },
  ...OPEN_ROWS,
  {
    name: 'w_fcntl',
    what: 'fcntl F_GETFL + F_SETFL on a socket, per call (fcntl is notified only for lock commands)',
    pilot: 4_000,
    floor: 'none',
  },
  {
    name: 'w_signal',
    what: 'kill(self, SIGUSR1) + handler + rt_sigreturn, per signal (rt_sigreturn answered by the native step)',
    pilot: 4_000,
    floor: 'none',
  },
  { name: 'w_forkexit', what: 'fork + child _exit(0) + waitpid, per fork', pilot: 100, floor: 'none' },
  { name: 'w_forkexec', what: 'fork + child execve("/bin/true") + waitpid, per fork', pilot: 40, floor: 'none' },
  // Nothing notified: the machine's cost of waking another process, which every notification pays twice.
  { name: 'w_wake', what: '2 processes alternating through 2 pipes, per hand-off', pilot: 2_000, floor: 'none' },
  { name: 'w_wake1', what: 'w_wake with both pinned to one CPU, per hand-off', pilot: 2_000, floor: 'none' },
];

/** The default policy (policies/default.toml): the four semaphore calls emulated, nothing denied. */
function policy(): Manifest {
  const m = builtinManifest();
  for (const s of ['semget', 'semop', 'semtimedop', 'semctl']) {
    if (!m.syscalls.emulate.includes(s)) throw new Error(`the default manifest does not emulate ${s}`);
  }
  return m;
}
const POLICY = policy();
/** Each row's sysvisor manifest, parsed once (a bad text fails the run at start). */
const MANIFESTS = new Map<string, Manifest>(
  WORKLOADS.map((w) => [w.name, w.manifest === undefined ? POLICY : manifestFromText(w.manifest, `${w.name} manifest`)]),
);

const MAX_ITERATIONS = 100_000_000;
/** A run that takes longer is killed: a hung workload (or sandbox) must not hang the bench. */
const RUN_TIMEOUT_MS = 120_000;

/**
 * gVisor's command line: the ptrace platform (needs no KVM; the kvm platform hangs in this
 * nested VM), no network, `--rootless` when not root (`runsc do` wants root otherwise).
 */
const RUNSC: readonly string[] = ['--platform=ptrace', '--network=none', ...(process.getuid?.() === 0 ? [] : ['--rootless']), 'do'];
const RUNSC_HINT = 'install gVisor\'s runsc to get it (Debian/Ubuntu: the "runsc" package; https://gvisor.dev/docs/user_guide/install/)';

interface Options {
  quick: boolean;
  reps: number;
  /** Seconds each measured loop aims for; a run under 2/3 of it is resized and repeated. */
  target: number;
  only: Set<string> | null;
  modes: Mode[];
  waitQuiet: boolean;
}

interface Sample {
  iterations: number;
  nsPerOp: number;
  seconds: number;
}

interface Cell {
  median: number | null;
  samples: Sample[];
  error?: string;
  /** sysvisor only: the loop's own service time per notified syscall (RECV returned -> SEND returned). */
  service?: { nr: number; count: number; p50us: number; p99us: number }[];
  syncWakeUp?: boolean;
}

interface Row {
  workload: string;
  what: string;
  native: Cell;
  floor: Cell;
  sysvisor: Cell;
  gvisor: Cell;
  sysvisorOverFloor: number | null;
  sysvisorOverNative: number | null;
  floorOverNative: number | null;
  /** How many times faster sysvisor is than gVisor. */
  gvisorOverSysvisor: number | null;
}

class RunError extends Error {}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const waitQuiet = argv.includes('--wait-quiet');
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    if (i >= 0) return argv[i + 1];
    const eq = argv.find((a) => a.startsWith(`${flag}=`));
    return eq?.slice(flag.length + 1);
  };
  const only = value('--only');
  const modes = value('--modes');
  const reps = value('--reps');
  for (const a of argv) {
    if (a.startsWith('--') && !['--quick', '--only', '--modes', '--reps', '--wait-quiet'].includes(a.split('=')[0])) {
      process.stderr.write(`usage: run.js [--quick] [--wait-quiet] [--only w_a,w_b] [--modes native,floor,sysvisor,gvisor] [--reps N]\n`);
      process.exit(2);
    }
  }
  return {
    quick,
    reps: reps ? Math.max(1, Number(reps)) : quick ? 3 : 5,
    target: quick ? 0.2 : 0.45,
    only: only ? new Set(only.split(',')) : null,
    modes: modes ? (modes.split(',') as Mode[]).filter((m) => MODES.includes(m)) : [...MODES],
    waitQuiet,
  };
}

/** Busy and total jiffies of all CPUs (/proc/stat). */
function cpuTimes(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Wait until the CPUs were >= 90% idle for 2 s in a row, at most `maxSeconds`. Returns the seconds waited, or -1. */
async function waitQuiet(maxSeconds: number): Promise<number> {
  const t0 = performance.now();
  let calm = 0;
  while ((performance.now() - t0) / 1000 < maxSeconds) {
    const a = cpuTimes();
    await sleep(1000);
    const b = cpuTimes();
    calm = b.busy - a.busy <= 0.1 * (b.total - a.total) ? calm + 1 : 0;
    if (calm >= 2) return (performance.now() - t0) / 1000;
  }
  return -1;
}

function parse(stdout: string): number {
  const m = /^ns_per_op\s+([0-9.eE+-]+)\s*$/m.exec(stdout);
  if (!m) throw new RunError(`no "ns_per_op" line in the output: ${JSON.stringify(stdout.slice(0, 200))}`);
  return Number(m[1]);
}

function tail(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

function runProcess(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1 << 20, timeout: RUN_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err?.killed) reject(new RunError(`killed after ${RUN_TIMEOUT_MS / 1000} s`));
      else if (err) reject(new RunError(`exit ${err.code ?? err.signal}: ${tail(stderr) || err.message}`));
      else resolve(stdout);
    });
  });
}

async function measure(w: Workload, mode: Mode, iterations: number, cell: Cell): Promise<number> {
  const bin = BUILD + (w.bin ?? w.name);
  const n = String(iterations);
  if (mode === 'native') return parse(await runProcess(bin, [n]));
  if (mode === 'floor') return parse(await runProcess(BUILD + 'floor', [...(w.floor === 'sem' ? ['--sem'] : []), '--', bin, n]));
  if (mode === 'gvisor') return parse(await runProcess('runsc', [...RUNSC, bin, n]));
  const r = await Sandbox.run(bin, [n], { manifest: MANIFESTS.get(w.name) ?? POLICY, stdio: 'pipe' });
  if (r.launchError) throw new RunError(`sysvisor could not start: ${r.launchError}`);
  if (r.status !== 0) throw new RunError(`exit ${r.status}: ${tail(r.stderr?.toString() ?? '')}`);
  cell.syncWakeUp = r.syncWakeUp;
  cell.service = r.stats.filter((s) => s.count > 1).map(({ nr, count, p50us, p99us }) => ({ nr, count, p50us, p99us }));
  return parse(r.stdout?.toString() ?? '');
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0];
}

function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b > 0 ? a / b : null;
}

function iterationsFor(nsPerOp: number, target: number, pilot: number): number {
  return Math.min(MAX_ITERATIONS, Math.max(pilot, Math.ceil((target * 1e9) / Math.max(nsPerOp, 1))));
}

async function benchWorkload(w: Workload, opts: Options): Promise<Row> {
  const cells: Record<Mode, Cell> = {
    native: { median: null, samples: [] },
    floor: { median: null, samples: [] },
    sysvisor: { median: null, samples: [] },
    gvisor: { median: null, samples: [] },
  };
  const iterations = new Map<Mode, number>();
  const active = MODES.filter((m) => opts.modes.includes(m) && !(m === 'floor' && w.floor === 'none'));
  for (const m of MODES) if (!active.includes(m)) cells[m].error = m === 'floor' && w.floor === 'none' ? 'not applicable' : 'not run';
  // Calibrate each mode with a short pilot run.
  for (const m of active) {
    try {
      const ns = await measure(w, m, w.pilot, cells[m]);
      iterations.set(m, iterationsFor(ns, opts.target, w.pilot));
    } catch (err) {
      cells[m].error = firstLine((err as Error).message);
    }
  }
  // Round-robin the modes so that drift on the machine hits them alike.
  for (let rep = 0, retries = 0; rep < opts.reps; rep++) {
    for (const m of active) {
      const n = iterations.get(m);
      if (n === undefined || cells[m].samples.length > rep) continue;
      try {
        const ns = await measure(w, m, n, cells[m]);
        const seconds = (ns * n) / 1e9;
        if (seconds < (opts.target * 2) / 3 && n < MAX_ITERATIONS && retries < 10) {
          // The pilot overestimated the cost: size up and measure again.
          iterations.set(m, iterationsFor(ns, opts.target, w.pilot));
          retries++;
          rep--;
          break;
        }
        cells[m].samples.push({ iterations: n, nsPerOp: ns, seconds });
      } catch (err) {
        cells[m].error = firstLine((err as Error).message);
        iterations.delete(m);
      }
    }
  }
  for (const m of MODES) {
    const c = cells[m];
    if (c.samples.length > 0 && c.error === undefined) c.median = median(c.samples.map((s) => s.nsPerOp));
  }
  return {
    workload: w.name,
    what: w.what,
    ...cells,
    sysvisorOverFloor: ratio(cells.sysvisor.median, cells.floor.median),
    sysvisorOverNative: ratio(cells.sysvisor.median, cells.native.median),
    floorOverNative: ratio(cells.floor.median, cells.native.median),
    gvisorOverSysvisor: ratio(cells.gvisor.median, cells.sysvisor.median),
  };
}

function fmtNs(c: Cell): string {
  if (c.median === null) return c.error === 'not run' ? '-' : c.error === 'not applicable' ? 'n/a' : 'failed';
  return c.median >= 100 ? c.median.toFixed(0) : c.median.toFixed(1);
}

function fmtRatio(r: number | null): string {
  return r === null ? '-' : `${r.toFixed(2)}x`;
}

function table(rows: Row[], withGvisor: boolean): string {
  const head = ['workload', 'native ns/op', 'floor ns/op', 'sysvisor ns/op', 'sysvisor/floor', 'sysvisor/native'];
  if (withGvisor) head.push('gvisor ns/op', 'gvisor/sysvisor');
  const body = rows.map((r) => [
    r.workload,
    fmtNs(r.native),
    fmtNs(r.floor),
    fmtNs(r.sysvisor),
    fmtRatio(r.sysvisorOverFloor),
    fmtRatio(r.sysvisorOverNative),
    ...(withGvisor ? [fmtNs(r.gvisor), fmtRatio(r.gvisorOverSysvisor)] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols: string[]) => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

interface Target {
  name: string;
  ok: boolean | null;
  text: string;
}

function opsPerSecond(c: Cell): string {
  return c.median === null ? '-' : `${(1e6 / c.median).toFixed(0)}k calls/s`;
}

function targets(rows: Row[]): Target[] {
  const out: Target[] = [];
  const check = (name: string, value: number | null, atMost: boolean, limit: number, text: string) =>
    out.push({ name, ok: value === null ? null : atMost ? value <= limit : value >= limit, text });
  const row = (name: string, f: (r: Row) => void) => {
    const r = rows.find((x) => x.workload === name);
    if (r) f(r);
  };
  row('w_getpid', (r) =>
    check(
      'getpid',
      r.sysvisorOverNative,
      true,
      1.05,
      `getpid (w_getpid): sysvisor ${fmtRatio(r.sysvisorOverNative)} native (target <= 1.05x; the C floor is ${fmtRatio(r.floorOverNative)} native)`,
    ),
  );
  row('w_noop', (r) =>
    check(
      'notified round trip',
      r.sysvisorOverFloor,
      true,
      1.3,
      `notified round trip (w_noop): sysvisor ${fmtRatio(r.sysvisorOverFloor)} floor (target <= 1.30x)`,
    ),
  );
  row('w_semop', (r) =>
    check(
      'semop',
      r.sysvisorOverFloor,
      true,
      1.2,
      `uncontended semop (w_semop): sysvisor ${fmtRatio(r.sysvisorOverFloor)} floor (target <= 1.20x)`,
    ),
  );
  for (const name of ['w_pingpong', 'w_mutex4']) {
    row(name, (r) =>
      check(name, r.sysvisorOverNative, true, 1.0, `${name}: sysvisor ${fmtRatio(r.sysvisorOverNative)} native (target <= 1.00x)`),
    );
  }
  for (const name of OPEN_NOT_NOTIFIED) {
    row(name, (r) =>
      check(
        name,
        r.sysvisorOverNative,
        true,
        1.2,
        `open+close where open is not notified (${name}): sysvisor ${fmtRatio(r.sysvisorOverNative)} native (target <= 1.20x)`,
      ),
    );
  }
  row('w_fcntl', (r) =>
    check(
      'w_fcntl',
      r.sysvisorOverNative,
      true,
      1.05,
      `non-lock fcntl (w_fcntl): sysvisor ${fmtRatio(r.sysvisorOverNative)} native (target <= 1.05x)`,
    ),
  );
  row('w_signal', (r) => {
    const share = ratio(r.native.median, r.sysvisor.median);
    check('w_signal', share, false, 0.5, `signals (w_signal): sysvisor ${fmtRatio(share)} native signals/s (target >= 0.50x)`);
  });
  row('w_semop4', (r) => {
    const share = ratio(r.floor.median, r.sysvisor.median);
    check(
      '4-process throughput',
      share,
      false,
      0.9,
      `4-process semop throughput (w_semop4): sysvisor ${opsPerSecond(r.sysvisor)} = ${fmtRatio(share)} the floor's ${opsPerSecond(r.floor)} (target >= 0.90x)`,
    );
  });
  for (const r of rows) {
    if (!WORKLOADS.find((w) => w.name === r.workload)?.emulated || r.gvisor.error === 'not run') continue;
    check(
      `gvisor ${r.workload}`,
      r.gvisorOverSysvisor,
      false,
      8,
      `faster than gVisor (${r.workload}): gVisor ${fmtNs(r.gvisor)} ns/op = ${fmtRatio(r.gvisorOverSysvisor)} sysvisor (target >= 8x)`,
    );
  }
  return out;
}

function realTargets(real: readonly RealRow[]): Target[] {
  const out: Target[] = [];
  for (const server of real.filter((r) => r.unit === 'requests/s')) {
    const floor = server.floorShare === null ? '' : `; the C floor reaches ${fmtRatio(server.floorShare)}`;
    out.push({
      name: `real server (${server.name})`,
      ok: server.share === null ? null : server.share >= 0.85,
      text: `real server (${server.name}): sysvisor ${server.share === null ? '-' : fmtRatio(server.share)} native requests/s (target >= 0.85x${floor})`,
    });
  }
  const writers = real.find((r) => r.unit === 's');
  const slowdown = writers?.share ? 1 / writers.share : null;
  if (writers)
    out.push({
      name: 'sqlite writers',
      ok: slowdown === null ? null : slowdown <= 1.3,
      text: `sqlite writers: sysvisor ${slowdown === null ? '-' : fmtRatio(slowdown)} native time (target <= 1.30x)`,
    });
  return out;
}

/** Why gVisor cannot run the workloads here, or undefined when it can. */
async function gvisorProblem(): Promise<string | undefined> {
  if (!(process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(`${d}/runsc`)))
    return `runsc is not installed; ${RUNSC_HINT}`;
  try {
    parse(await runProcess('runsc', [...RUNSC, `${BUILD}w_getpid`, '1']));
    return undefined;
  } catch (err) {
    return `\`runsc ${RUNSC.join(' ')} ${BUILD}w_getpid 1\` failed: ${firstLine((err as Error).message)}`;
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(BUILD + 'floor') || WORKLOADS.some((w) => !existsSync(BUILD + (w.bin ?? w.name)))) {
    execFileSync('make', ['-s', '-C', BENCH], { stdio: 'inherit' });
  }
  // --only names rows or programs: `--only w_close` runs both w_close rows; `real` the real programs.
  const chosen = WORKLOADS.filter((w) => opts.only === null || opts.only.has(w.name) || opts.only.has(w.bin ?? w.name));
  const withReal = opts.only === null || opts.only.has('real');
  if (chosen.length === 0 && !withReal) throw new Error(`no workload matches --only ${[...(opts.only ?? [])].join(',')}`);
  const gvisorSkipped = opts.modes.includes('gvisor') ? await gvisorProblem() : undefined;
  const skipLine = `*** gVisor column skipped: ${gvisorSkipped} ***`;
  if (gvisorSkipped !== undefined) {
    opts.modes = opts.modes.filter((m) => m !== 'gvisor');
    process.stderr.write(`bench: ${skipLine}\n`);
  }
  const loadBefore = loadavg()[0];
  const started = performance.now();
  const rows: Row[] = [];
  const quietWaits: Record<string, number> = {};
  for (const w of chosen) {
    if (opts.waitQuiet) {
      process.stderr.write(`bench: waiting for the machine to be idle ...`);
      const waited = await waitQuiet(120);
      quietWaits[w.name] = waited;
      process.stderr.write(waited < 0 ? ' still busy after 120 s, measuring anyway\n' : ` ${waited.toFixed(0)} s\n`);
    }
    process.stderr.write(`bench: ${w.name} ...`);
    const t0 = performance.now();
    rows.push(await benchWorkload(w, opts));
    process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  let real: RealRow[] = [];
  if (withReal && opts.modes.includes('native') && opts.modes.includes('sysvisor')) {
    process.stderr.write('bench: real programs ...');
    const t0 = performance.now();
    real = await realPrograms(
      { manifest: POLICY, fastLocks: manifestFromText(FAST_LOCKS, 'fast locks manifest'), floor: BUILD + 'floor' },
      opts,
    );
    process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const seconds = (performance.now() - started) / 1000;
  const loadAfter = loadavg()[0];

  if (gvisorSkipped !== undefined) process.stdout.write(`\n${skipLine}\n`);
  if (rows.length > 0) process.stdout.write(`\n${table(rows, opts.modes.includes('gvisor'))}\n\n`);
  if (real.length > 0) process.stdout.write(`${realTable(real)}\n\n`);
  const checks = [...targets(rows), ...realTargets(real)];
  process.stdout.write(`targets: ${checks.filter((t) => t.ok).length} of ${checks.length} met\n`);
  for (const t of checks) process.stdout.write(`${t.ok === null ? 'N/A ' : t.ok ? 'PASS' : 'MISS'} ${t.text}\n`);
  const notes = rows.flatMap((r) =>
    MODES.filter((m) => r[m].error && r[m].error !== 'not run' && r[m].error !== 'not applicable').map(
      (m) => `  ${r.workload} ${m}: ${r[m].error}`,
    ),
  );
  if (notes.length > 0) process.stdout.write(`\nnot measured:\n${notes.join('\n')}\n`);
  process.stdout.write(
    `\n${opts.reps} runs per cell, median; ${seconds.toFixed(1)} s in all; load average ${loadBefore.toFixed(2)} -> ${loadAfter.toFixed(2)} on ${cpus().length} CPUs\n`,
  );
  // The benchmark itself keeps about one CPU busy; more than that is someone else's work skewing the numbers.
  if (Math.max(loadBefore, loadAfter) > 1.5) {
    process.stdout.write('warning: the machine was busy with other work during the run; the numbers are noisy\n');
  }

  mkdirSync(RESULTS, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    machine: { kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', node: process.version },
    options: { quick: opts.quick, reps: opts.reps, targetSeconds: opts.target, waitQuiet: opts.waitQuiet },
    gvisor: { command: `runsc ${RUNSC.join(' ')}`, skipped: gvisorSkipped ?? null },
    seconds,
    loadAverage: { before: loadBefore, after: loadAfter },
    ...(opts.waitQuiet ? { quietWaitSeconds: quietWaits } : {}),
    rows,
    real,
    targets: checks,
  };
  writeResult('latest.json', JSON.stringify(json, null, 2) + '\n');
  const shown = MODES.filter((m) => opts.modes.includes(m));
  writeResult(
    'latest.svg',
    chartSvg(
      'sysvisor bench: ns per operation',
      `${json.date.slice(0, 10)}, Linux ${release()}, ${cpus().length} CPUs; median of ${opts.reps} runs${gvisorSkipped === undefined ? '' : '; gVisor skipped'}`,
      shown.map((m) => SERIES[m]),
      rows.map((r) => ({ label: r.workload, values: shown.map((m) => r[m].median ?? fmtNs(r[m])) })),
    ),
  );
}

/** Write a file under bench/results/ whole or not at all. */
function writeResult(name: string, text: string): void {
  const tmp = `${RESULTS}${name}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, RESULTS + name);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
