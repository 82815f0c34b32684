// Long fuzzing runs: node dist/test/fuzz/run.js [--minutes M] [--n N] [--seed S] [--jobs J] [--no-locks] [--no-chaos]
//
// Seeds S, S+1, ... run until M minutes have passed (default 5). Every seed
// runs the deterministic part (with file locks on odd seeds unless
// --no-locks, wake-up scenarios on every third seed, and on even seeds, as
// root, the native run alone in a fresh IPC namespace so that ids and
// IPC_INFO are compared raw); every fourth seed also runs the chaos part. Prints one line
// per mismatch or problem, a progress line every 30 s, and a summary;
// exits 1 if any seed failed. A failing seed is reproduced with
//   node dist/test/fuzz/run.js --seed S --count 1 --n N
// or by hand: test/fuzz/build/semfuzz S N dl  (natively and under `sysvisor run`).
import { ensureBuilt, fuzzOne, NO_NAMESPACE, type FuzzCase } from './harness.js';

interface Args {
  minutes: number;
  n: number;
  seed: number;
  jobs: number;
  count: number;
  locks: boolean;
  chaos: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { minutes: 5, n: 1500, seed: Date.now() % 1_000_000, jobs: 2, count: Infinity, locks: true, chaos: true };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      const x = Number(argv[++i]);
      if (!Number.isFinite(x)) throw new Error(`${k} needs a number`);
      return x;
    };
    if (k === '--minutes') a.minutes = v();
    else if (k === '--n') a.n = v();
    else if (k === '--seed') a.seed = v();
    else if (k === '--jobs') a.jobs = Math.max(1, v());
    else if (k === '--count') a.count = v();
    else if (k === '--no-locks') a.locks = false;
    else if (k === '--no-chaos') a.chaos = false;
    else if (k === '--help' || k === '-h') {
      process.stdout.write(
        'usage: node dist/test/fuzz/run.js [--minutes M] [--n N] [--seed S] [--count C] [--jobs J] [--no-locks] [--no-chaos]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function caseFor(a: Args, seed: number): FuzzCase {
  let parts = 'd';
  if (a.locks && seed % 2 === 1) parts += 'l';
  if (seed % 3 === 2) parts += 'w';
  if (seed % 2 === 0 && !NO_NAMESPACE) parts += 'n';
  if (a.chaos && seed % 4 === 0) parts += 'c';
  // chaos takes n/2000 s: keep it to a second or two inside a long run
  return { seed, n: a.n, parts, timeoutMs: 180_000 };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  ensureBuilt();
  const start = Date.now();
  const end = start + a.minutes * 60_000;
  let next = a.seed;
  let iterations = 0;
  let calls = 0;
  let chaosRuns = 0;
  const failed: Array<{ seed: number; parts: string; problems: string[] }> = [];
  let lastReport = Date.now();
  process.stdout.write(`semfuzz: seeds from ${a.seed}, ${a.n} calls each, ${a.jobs} at a time, for ${a.minutes} min\n`);
  if (NO_NAMESPACE) process.stdout.write(`semfuzz: no native runs in a fresh IPC namespace: ${NO_NAMESPACE}\n`);

  const worker = async () => {
    while (Date.now() < end && next < a.seed + a.count) {
      const c = caseFor(a, next++);
      const r = await fuzzOne(c);
      iterations++;
      calls += c.n;
      if (c.parts.includes('c')) chaosRuns++;
      if (r.problems.length > 0) {
        failed.push({ seed: c.seed, parts: c.parts, problems: r.problems });
        process.stdout.write(`MISMATCH seed ${c.seed} (semfuzz ${c.seed} ${c.n} ${c.parts}):\n  ${r.problems.join('\n  ')}\n`);
      }
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        process.stdout.write(
          `  ${Math.round((Date.now() - start) / 1000)} s: ${iterations} seeds, ${calls} deterministic calls, ${chaosRuns} chaos runs, ${failed.length} failing\n`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: a.jobs }, worker));
  process.stdout.write(
    `semfuzz: ${iterations} iterations (seeds ${a.seed}..${next - 1}), ${calls} deterministic calls, ${chaosRuns} chaos runs, ` +
      `${failed.length} mismatches in ${Math.round((Date.now() - start) / 1000)} s\n`,
  );
  for (const f of failed) process.stdout.write(`  seed ${f.seed} (${f.parts}): ${f.problems[0]?.split('\n')[0]}\n`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

await main();
