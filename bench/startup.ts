// Start-up benchmark: what wrapping a short command costs, as whole
// processes (wall time, user+system CPU and peak RSS from wait4, measured by
// bench/build/spawn_time), and what a second Sandbox.run costs inside one
// process. References: native /bin/true, `node -e ''`, and gVisor's
// `runsc do /bin/true` when runsc is installed. The rows run round-robin, so
// a busy machine slows them alike; the table shows medians.
//
//   npm run bench                       (this table first, then the workloads)
//   node dist/bench/startup.js [--reps 11] [--compare /path/to/other/checkout]
//
// --compare adds the same sysvisor rows for another built checkout (its
// package.json's bin and exports), e.g. main, interleaved with these.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './median.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SPAWN_TIME = `${ROOT}bench/build/spawn_time`;
const RESULTS = `${ROOT}bench/results/`;
const RUNSC: readonly string[] = ['--platform=ptrace', '--network=none', ...(process.getuid?.() === 0 ? [] : ['--rootless']), 'do'];

/** A second Sandbox.run in one process, timed in that process: the child side of the "second run" rows. */
async function secondRun(api: string, out: string): Promise<void> {
  const { Sandbox, builtinManifest } = (await import(api)) as typeof import('../supervisor/index.js');
  const times: number[] = [];
  for (let i = 0; i < 2; i++) {
    const start = performance.now();
    const r = await Sandbox.run('/bin/true', [], { manifest: builtinManifest(), stdio: 'pipe' });
    times.push(performance.now() - start);
    if (r.status !== 0) throw new Error(`Sandbox.run /bin/true: status ${r.status}${r.launchError ? `: ${r.launchError}` : ''}`);
  }
  writeFileSync(out, JSON.stringify({ firstMs: times[0], secondMs: times[1] }));
}

interface Row {
  name: string;
  argv: string[];
  /** The second-run rows: where the child writes its in-process times. */
  timesFile?: string;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
  rssMiB: number;
  secondMs?: number;
}

/** The bin and API entry of a checkout, as its package.json names them. */
function entries(root: string): { bin: string; api: string } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    bin: { sysvisor: string };
    exports: { '.': string | { default: string } };
  };
  const api = pkg.exports['.'];
  return { bin: join(root, pkg.bin.sysvisor), api: join(root, typeof api === 'string' ? api : api.default) };
}

function sysvisorRows(label: string, root: string, scratch: string): Row[] {
  const { bin, api } = entries(root);
  const node = process.execPath;
  const self = fileURLToPath(import.meta.url);
  return [
    { name: `${label}sysvisor --version`, argv: [node, bin, '--version'] },
    { name: `${label}sysvisor --help`, argv: [node, bin, '--help'] },
    { name: `${label}sysvisor run -- /bin/true`, argv: [node, bin, 'run', '--', '/bin/true'] },
    {
      name: `${label}Sandbox.run x2 in one process`,
      argv: [node, self, '--second-run', api, join(scratch, `${label || 'this'}.json`)],
      timesFile: join(scratch, `${label || 'this'}.json`),
    },
  ];
}

function measure(row: Row): Sample {
  const r = spawnSync(SPAWN_TIME, row.argv, { encoding: 'utf8' });
  const [wall, user, sys, rss, status] = r.stdout.trim().split(' ').map(Number) as [number, number, number, number, number?]; // no status when spawn-time failed
  if (r.status !== 0 || status !== 0)
    throw new Error(`${row.argv.join(' ')}: exit status ${status ?? r.status}${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
  const sample: Sample = { wallMs: wall / 1000, cpuMs: (user + sys) / 1000, rssMiB: rss / 1024 };
  if (row.timesFile) sample.secondMs = (JSON.parse(readFileSync(row.timesFile, 'utf8')) as { secondMs: number }).secondMs;
  return sample;
}

function runscProblem(): string | undefined {
  if (!(process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(`${d}/runsc`))) {
    return 'runsc is not installed (Debian/Ubuntu: the "runsc" package)';
  }
  const probe = spawnSync('runsc', [...RUNSC, '/bin/true'], { encoding: 'utf8', timeout: 60_000 });
  return probe.status === 0
    ? undefined
    : `\`runsc ${RUNSC.join(' ')} /bin/true\` failed: ${(probe.stderr || probe.error?.message || '').split('\n')[0]}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--second-run') return secondRun(args[1], args[2]);
  let reps = 11;
  let compare: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--reps') reps = Number(args[++i]);
    else if (args[i] === '--compare') compare = resolve(args[++i]);
    else {
      process.stderr.write('usage: startup.js [--reps N] [--compare /path/to/other/checkout]\n');
      process.exit(2);
    }
  }
  if (!existsSync(SPAWN_TIME)) throw new Error(`${SPAWN_TIME} is missing: run \`npm run build\``);
  const scratch = mkdtempSync(join(tmpdir(), 'sysvisor-startup-bench-'));
  const rows: Row[] = [
    { name: 'native /bin/true', argv: ['/bin/true'] },
    { name: "node -e ''", argv: [process.execPath, '-e', ''] },
    ...sysvisorRows('', ROOT, scratch),
    ...(compare ? sysvisorRows('[compare] ', compare, scratch) : []),
  ];
  const runsc = runscProblem();
  if (runsc === undefined) rows.push({ name: `runsc ${RUNSC.join(' ')} /bin/true`, argv: ['runsc', ...RUNSC, '/bin/true'] });
  else process.stdout.write(`*** gVisor row skipped: ${runsc} ***\n`);

  const samples = new Map<string, Sample[]>(rows.map((r) => [r.name, []]));
  for (let i = 0; i < reps; i++) {
    process.stderr.write(`\rstart-up: round ${i + 1}/${reps}`);
    for (const row of rows) samples.get(row.name)!.push(measure(row));
  }
  process.stderr.write('\n');
  rmSync(scratch, { recursive: true, force: true });

  const stat = (name: string, key: keyof Sample) => median(samples.get(name)!.map((s) => s[key] ?? NaN));
  const lines = [
    `start-up (median of ${reps})`.padEnd(44) + 'wall ms'.padStart(9) + 'cpu ms'.padStart(9) + 'peak MiB'.padStart(10) + '  2nd run ms',
  ];
  for (const row of rows) {
    lines.push(
      row.name.padEnd(44) +
        stat(row.name, 'wallMs').toFixed(1).padStart(9) +
        stat(row.name, 'cpuMs').toFixed(1).padStart(9) +
        stat(row.name, 'rssMiB').toFixed(1).padStart(10) +
        (row.timesFile ? stat(row.name, 'secondMs').toFixed(1).padStart(12) : ''),
    );
  }
  const node = stat("node -e ''", 'wallMs');
  const run = 'sysvisor run -- /bin/true';
  const targets = [
    [`run -- /bin/true wall ${stat(run, 'wallMs').toFixed(0)} ms (target <= 200)`, stat(run, 'wallMs') <= 200],
    [`run -- /bin/true peak RSS ${stat(run, 'rssMiB').toFixed(1)} MiB (target <= 60)`, stat(run, 'rssMiB') <= 60],
    ...['--version', '--help'].map((o) => {
      const ratio = stat(`sysvisor ${o}`, 'wallMs') / node;
      return [`${o} ${ratio.toFixed(2)}x node -e '' (target <= 1.3x)`, ratio <= 1.3] as const;
    }),
    [
      `second Sandbox.run ${stat('Sandbox.run x2 in one process', 'secondMs').toFixed(1)} ms (target <= 50)`,
      stat('Sandbox.run x2 in one process', 'secondMs') <= 50,
    ],
  ] as const;
  process.stdout.write(
    `${lines.join('\n')}\n\ntargets:\n${targets.map(([text, ok]) => `  ${ok ? 'met   ' : 'MISSED'} ${text}`).join('\n')}\n`,
  );
  process.stdout.write(
    `(load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${cpus().length} CPUs: wall times on a busy machine overstate)\n`,
  );

  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    `${RESULTS}startup.json`,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        kernel: release(),
        cpus: cpus().length,
        loadavg: loadavg(),
        reps,
        gvisorSkipped: runsc ?? null,
        rows: rows.map((r) => ({ name: r.name, samples: samples.get(r.name) })),
      },
      null,
      2,
    ) + '\n',
  );
}

await main();
