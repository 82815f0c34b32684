// Start-up: `--version` and `--help` load nothing but the bin itself, and the
// loop's thread kept between runs serves each Sandbox.run afresh; the CLI
// reaps orphans from its /proc children list.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Sandbox } from '../supervisor/sandbox.js';
import { CLI, exec, policy, ROOT } from './helpers.js';

t.test('--version and --help run from the bin alone: no supervisor, manifest or koffi code', async (t) => {
  // A copy of the bundle's entry file with nothing beside it: no other chunk, no node_modules.
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-startup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'dist', 'bundle'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  const alone = join(dir, 'dist', 'bundle', 'sysvisor.js');
  copyFileSync(CLI, alone);
  const version = await exec(process.execPath, [alone, '--version']);
  t.equal(version.status, 0, version.stderr);
  t.equal(version.stdout, (await exec(process.execPath, [CLI, '--version'])).stdout);
  const help = await exec(process.execPath, [alone, '--help']);
  t.equal(help.status, 0, help.stderr);
  t.match(help.stdout, 'sysvisor run');
  const runHelp = await exec(process.execPath, [alone, 'run', '--help']);
  t.equal(runHelp.status, 0, runHelp.stderr);
  t.match(runHelp.stdout, '--manifest');
  // The control: what needs the rest of the bundle fails in this copy.
  const run = await exec(process.execPath, [alone, 'run', '--', '/bin/true']);
  t.not(run.status, 0);
  t.match(run.stderr, /Cannot find module|ERR_MODULE_NOT_FOUND/);
});

t.test('a second Sandbox.run in the process starts from a clean state', async (t) => {
  const first = await Sandbox.run('/bin/sh', ['-c', 'ipcmk -S 2 >/dev/null && ipcs -s'], { manifest: policy(), stdio: 'pipe' });
  t.equal(first.status, 0, String(first.stderr));
  t.match(first.stdout?.toString(), /^0x[0-9a-f]+ +0 +\S+ +644 +2 *$/m, 'the first run made a set');
  const second = await Sandbox.run('/bin/sh', ['-c', 'ipcs -s'], { manifest: policy(), stdio: 'pipe' });
  t.equal(second.status, 0, String(second.stderr));
  t.notMatch(second.stdout?.toString(), /^0x/m, 'the second run sees none of it');
  t.same((second.state as { sem: { sets: unknown[] } }).sem.sets, []);
});

t.test("the kept thread sets up each run's own recorder: a learning run learns, the runs around it do not", async (t) => {
  const before = await Sandbox.run('/bin/echo', ['before'], { manifest: policy(), stdio: 'pipe' });
  t.equal(before.learned, undefined, 'no recorder in a plain run');
  const learning = await Sandbox.run('/bin/echo', ['learning'], { manifest: policy(), stdio: 'pipe', learn: true });
  t.equal(learning.status, 0, String(learning.stderr));
  t.ok(
    learning.learned?.execs.some((e) => e.path.endsWith('/echo')),
    'the learning run on the kept thread recorded its exec',
  );
  const after = await Sandbox.run('/bin/echo', ['after'], { manifest: policy(), stdio: 'pipe' });
  t.equal(after.stdout?.toString(), 'after\n');
  t.equal(after.learned, undefined, 'the recorder did not outlive its run');
});

t.test('runs at once each get a thread; a failed launch leaves the next run working', async (t) => {
  const both = await Promise.all(['one', 'two'].map((word) => Sandbox.run('/bin/echo', [word], { manifest: policy(), stdio: 'pipe' })));
  t.same(
    both.map((r) => r.stdout?.toString()),
    ['one\n', 'two\n'],
  );
  const missing = await Sandbox.run('/nonexistent/program', [], { manifest: policy(), stdio: 'pipe' });
  t.not(missing.status, 0);
  const after = await Sandbox.run('/bin/echo', ['after'], { manifest: policy(), stdio: 'pipe' });
  t.equal(after.stdout?.toString(), 'after\n');
});

t.test('the thread kept idle does not keep the process alive', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-startup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'twice.mjs');
  writeFileSync(
    script,
    `import { Sandbox, builtinManifest } from ${JSON.stringify(join(ROOT, 'dist', 'bundle', 'index.js'))};
Sandbox.warmUp();
for (const word of ['first', 'second']) {
  const r = await Sandbox.run('/bin/echo', [word], { manifest: builtinManifest(), stdio: 'pipe' });
  process.stdout.write(r.stdout);
}
`,
  );
  const r = await exec(process.execPath, [script], { timeoutMs: 120_000 });
  t.equal(r.signal, null, 'exited by itself, not killed at the timeout');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'first\nsecond\n');
});

t.test('orphans reparented to the CLI are reaped while the sandbox runs (from its /proc children list)', async (t) => {
  // The subshell of $(...) exits at once: its sleep ends as an orphan of sysvisor (a subreaper).
  // /proc/PID stays while it is a zombie; the sandbox waits for it to go (never, if nobody reaps it).
  const script = 'pid=$(sleep 0.2 >/dev/null 2>&1 & echo $!); while [ -e /proc/$pid ]; do sleep 0.1; done; echo reaped';
  const r = await exec(process.execPath, [CLI, 'run', '--', '/bin/sh', '-c', script], { timeoutMs: 60_000 });
  t.equal(r.signal, null, 'ended by itself, not killed at the timeout');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'reaped\n');
});

t.test(
  "mainThreadLoop: the loop runs on the main thread (no thread more during the run), and Node's timers still run meanwhile",
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sysvisor-startup-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'threads.mjs');
    // The program asks three times in a row for a file that a timer of this process creates: once it runs,
    // nothing but the timer wakes Node's event loop, so the run ends only if the timer runs during it.
    // The worker-thread run after it is the control: its loop's thread shows in /proc/self/task.
    writeFileSync(
      script,
      `import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Sandbox, builtinManifest } from ${JSON.stringify(join(ROOT, 'dist', 'bundle', 'index.js'))};
await readFile('/proc/self/stat'); // libuv's thread pool starts now, not during a run
const threads = () => readdirSync('/proc/self/task').length;
const program = 'for i in 0 1 2; do : > "$0.ask$i"; while [ ! -e "$0.answer$i" ]; do sleep 0.01; done; done';
const out = {};
for (const [name, mainThreadLoop] of [['main', true], ['worker', false]]) {
  const base = ${JSON.stringify(dir)} + '/' + name;
  const before = threads();
  let during = -1;
  let i = 0;
  const poll = setInterval(() => {
    if (!existsSync(base + '.ask' + i)) return;
    during = threads();
    writeFileSync(base + '.answer' + i, '');
    if (++i === 3) clearInterval(poll);
  }, 5);
  const r = await Sandbox.run('/bin/sh', ['-c', program, base], { manifest: builtinManifest(), stdio: 'pipe', mainThreadLoop });
  out[name] = { status: r.status, before, during };
}
process.stdout.write(JSON.stringify(out));
`,
    );
    const r = await exec(process.execPath, [script], { timeoutMs: 120_000 });
    t.equal(r.signal, null, 'ended by itself: the timer ran during the run');
    t.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<'main' | 'worker', { status: number; before: number; during: number }>;
    t.equal(out.main.status, 0);
    t.equal(out.main.during, out.main.before, 'no thread was started for the loop');
    t.equal(out.worker.status, 0);
    t.ok(
      out.worker.during > out.worker.before,
      `the control: a worker-thread run has a thread more (${out.worker.before} -> ${out.worker.during})`,
    );
  },
);
