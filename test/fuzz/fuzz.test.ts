// A short fuzzing pass (the long one: npm run fuzz -- --minutes N): fixed
// seeds of test/fuzz/semfuzz run natively and under sysvisor; the
// deterministic output must be identical, the supervisor must stay up
// (exit status as native, no internal error), and its state must hold
// nothing of the dead: no sleeper, undo list or lock after the chaos part's
// workers are killed, no set and no process at exit. See harness.ts.
import { existsSync } from 'node:fs';
import t from 'tap';
import { CLI, fuzzOne, NO_NAMESPACE, type FuzzCase } from './harness.js';

const CASES: FuzzCase[] = [
  // semaphores only, the default policy's emulation
  ...[1, 2, 3, 4, 5, 6].map((seed) => ({ seed, n: 400, parts: 'd' })),
  // with fcntl/flock emulated
  ...[11, 12, 13, 14].map((seed) => ({ seed, n: 400, parts: 'dl' })),
  // natively alone in a fresh IPC namespace: ids, indexes, IPC_INFO compared raw
  ...[41, 42].map((seed) => ({ seed, n: 400, parts: 'dn' })),
  // several sleepers per set: who wakes after each change
  ...[31, 32].map((seed) => ({ seed, n: 150, parts: 'dw' })),
  // chaos: processes, threads, signals, SIGKILLs (1.5 s each)
  { seed: 21, n: 3000, parts: 'c' },
  { seed: 22, n: 3000, parts: 'cl' },
];

if (!existsSync(CLI)) {
  t.fail(`${CLI} missing: run \`npx tsc -p tsconfig.json\``);
} else {
  for (const c of CASES) {
    t.test(`semfuzz ${c.seed} ${c.n} ${c.parts}`, { skip: c.parts.includes('n') ? NO_NAMESPACE : false }, async (t) => {
      const r = await fuzzOne({ ...c, timeoutMs: 50_000 });
      t.comment(`native ${r.native.ms} ms, sandboxed ${r.sandboxed.ms} ms, ${r.native.stdout.split('\n').length - 1} lines`);
      t.same(r.problems, [], 'no mismatch, supervisor healthy, nothing left');
      t.match(r.sandboxed.stdout, /\ndone\n$/, 'the fuzzer finished');
    });
  }
}
