// Who waits for whom, end to end: the C programs of test/c/wait_*.c under
// sysvisor, `sysvisor waits` on a dump and on a running sandbox (text, JSON,
// DOT, rendered by Graphviz when it is installed), and the stall watchdog's
// report and kill paths. No assertion depends on speed: a deadlock lasts
// forever, and a healthy wait is healthy however slow the machine.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { WaitGraph } from '../src/waits/graph.js';
import { C_BIN, CLI, exec, sysvisor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sysvisor-waits-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const noColor = { ...process.env, NO_COLOR: '1' };
const manifest = (name: string, watchdog: string) => {
  const file = join(dir, name);
  writeFileSync(file, `version = 1\n[watchdog]\n${watchdog}`);
  return file;
};
const killAfter500ms = manifest('kill.toml', 'stall = "500ms"\naction = "kill"\n');
const reportAfter500ms = manifest('report.toml', 'stall = "500ms"\naction = "report"\n');
const killAfter1s = manifest('kill1s.toml', 'stall = "1s"\naction = "kill"\n');
const haveDot = spawnSync('dot', ['-V']).status === 0;
const NO_DOT = 'Graphviz `dot` is not installed: the DOT output was not rendered (apt-get install graphviz)';

const graphOf = async (file: string): Promise<WaitGraph> => {
  const r = await sysvisor(['waits', file, '--format', 'json']);
  if (r.status !== 0) throw new Error(`sysvisor waits ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as WaitGraph;
};

/** `sysvisor run` in the background, its output collected. */
function background(args: string[]): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  until: (what: () => boolean) => Promise<void>;
  done: Promise<number | null>;
} {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { env: noColor, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiting: Array<() => void> = [];
  const poke = () => {
    for (const w of waiting.splice(0)) w();
  };
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    poke();
  });
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    poke();
  });
  const done = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      poke();
      resolve(code);
    }),
  );
  let closed = false;
  void done.then(() => {
    closed = true;
  });
  const until = async (what: () => boolean): Promise<void> => {
    while (!what()) {
      if (closed) throw new Error(`sysvisor ended first:\n${out}\n${err}`);
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };
  return { child, out: () => out, err: () => err, until, done };
}

const count = (text: string, what: string) => text.split(what).length - 1;

t.test('a two-process semaphore cycle: the watchdog reports a deadlock and ends the sandbox with 124', async (t) => {
  const dump = join(dir, 'cycle.json');
  const r = await sysvisor(['run', '-m', killAfter500ms, '--dump-state', dump, '--', `${C_BIN}wait_semcycle`], { env: noColor });
  t.equal(r.status, 124, 'exit status 124');
  t.match(r.stdout, "each holds one semaphore and waits for the other's");
  t.match(
    r.stderr,
    /^sysvisor: deadlock: every process of the sandbox \((\d+) wait_semcycle, (\d+) wait_semcycle\) has waited in emulated IPC for [\d.]+s \(threshold 0\.5s\) with no timeout pending; only they could wake each other\n/,
  );
  t.equal(count(r.stderr, 'deadlock: every process of the sandbox ('), 1, 'reported once');
  t.match(r.stderr, `\nsysvisor: the state at the deadlock is in ${dump}.stall.json (\`sysvisor waits ${dump}.stall.json\`)\n`);
  t.match(
    r.stderr,
    /\nsysvisor: the watchdog ended the sandbox after a deadlock of 500 ms \(\[watchdog\] action = "kill"\): exit status 124\n$/,
  );
  t.notMatch(r.stderr, /killed by/, 'no "killed by SIGKILL": the watchdog said why');

  const stall = JSON.parse(readFileSync(`${dump}.stall.json`, 'utf8')) as { waits: unknown };
  const g = await graphOf(`${dump}.stall.json`);
  t.same(stall.waits, g, 'the dump carries the same graph `sysvisor waits` builds from it');
  t.equal(g.deadlock, true);
  t.equal(g.cycles.length, 1);
  t.match(g.cycles[0], { certain: true, nodes: [/^pid:\d+$/, /^pid:\d+$/] });
  t.equal(g.edges.length, 2);
  for (const e of g.edges) {
    t.match(e, { certain: true, why: 'holds SEM_UNDO credit +1, given back at its exit', resource: { kind: 'sem', op: -1, value: 0 } });
    t.ok(typeof e.since === 'number' && e.since <= g.time && g.time - e.since >= 500, 'since when it waits, at least the threshold ago');
  }
  t.same(
    (JSON.parse(readFileSync(dump, 'utf8')) as { waits: { waits: unknown[] } }).waits.waits,
    [],
    'the final dump has the graph too: nobody waits any more',
  );

  const text = await sysvisor(['waits', `${dump}.stall.json`], { env: noColor });
  const lines = text.stdout.trimEnd().split('\n');
  t.equal(lines[0], 'deadlock: every process of the sandbox waits in an emulated call, with no timeout pending');
  t.match(lines[1], /^cycle 1: (\d+) wait_semcycle -> (\d+) wait_semcycle -> \1 wait_semcycle$/);
  t.match(
    lines[2],
    /^\d+ wait_semcycle waits on semaphore \d+\[1\] -1 \(value 0\) for [\d.]+s \(since [\d:.]+\) -> \d+ \(holds SEM_UNDO credit \+1, given back at its exit\)$/,
  );
  t.match(lines[3], /^\d+ wait_semcycle waits on semaphore \d+\[0\] -1 /);
  t.equal(lines.length, 4);

  const dot = await sysvisor(['waits', `${dump}.stall.json`, '--format', 'dot']);
  t.match(dot.stdout, /^digraph waits \{\n/);
  t.equal(count(dot.stdout, ' -> '), 2);
  t.equal(count(dot.stdout, 'color="#c0392b"'), 4, 'both processes and both edges in red');
  await t.test('Graphviz renders it', { skip: haveDot ? false : NO_DOT }, async (t) => {
    const svg = await exec('dot', ['-Tsvg'], { input: dot.stdout });
    t.equal(svg.status, 0, svg.stderr);
    t.match(svg.stdout, /<svg[\s\S]*wait_semcycle[\s\S]*SEM_UNDO credit[\s\S]*<\/svg>/);
  });
});

t.test('a three-process mixed cycle (semaphore, POSIX lock, flock): report prints the graph once, the sandbox goes on', async (t) => {
  const dump = join(dir, 'mixed.json');
  const run = background(['-m', reportAfter500ms, '--dump-state', dump, '--', `${C_BIN}wait_mixed`, join(dir, 'mixed.lock')]);
  await run.until(() => run.err().includes(`is in ${dump}.stall.json`));
  t.match(run.err(), /^sysvisor: deadlock: every process of the sandbox \(\d+ wait_mixed, \d+ wait_mixed, \d+ wait_mixed\) has waited/);
  const state = JSON.parse(readFileSync(`${dump}.stall.json`, 'utf8')) as { processes: Array<{ pid: number; ppid: number }> };
  const parent = state.processes.find((p) => !state.processes.some((q) => q.pid === p.ppid))!.pid;
  const g = await graphOf(`${dump}.stall.json`);
  t.equal(g.cycles.length, 1);
  t.equal(g.cycles[0]!.nodes.length, 3);
  t.equal(g.cycles[0]!.certain, true);
  const from = (pid: number) => g.edges.find((e) => e.from === `pid:${pid}`)!;
  const b = Number(from(parent).to.slice(4));
  const c = Number(from(b).to.slice(4));
  t.match(from(parent), {
    certain: true,
    why: 'holds a POSIX WRITE lock 0-0',
    resource: { kind: 'posix', type: 'WRITE', start: '0', end: '0' },
  });
  t.match(from(b), {
    certain: true,
    why: 'holds an fd to the open file description with the flock LOCK_EX',
    resource: { kind: 'flock', type: 'WRITE' },
  });
  t.match(from(c), {
    to: `pid:${parent}`,
    certain: true,
    why: 'holds SEM_UNDO credit +1, given back at its exit',
    resource: { kind: 'sem', op: -1 },
  });
  t.equal(g.edges.length, 3, "no guess: the semaphore's other user is the waiter itself");
  const text = await sysvisor(['waits', `${dump}.stall.json`], { env: noColor });
  t.match(
    text.stdout,
    new RegExp(`^deadlock: .*\\ncycle 1: ${parent} wait_mixed -> ${b} wait_mixed -> ${c} wait_mixed -> ${parent} wait_mixed\\n`),
  );
  t.match(
    text.stdout,
    new RegExp(`\\n${b} wait_mixed waits on flock LOCK_EX on \\d+:\\d+:\\d+ for [\\d.]+s \\(since [\\d:.]+\\) -> ${c} \\(holds an fd`),
  );
  await t.test('Graphviz renders it', { skip: haveDot ? false : NO_DOT }, async (t) => {
    const dot = await sysvisor(['waits', `${dump}.stall.json`, '--format', 'dot']);
    const svg = await exec('dot', ['-Tsvg'], { input: dot.stdout });
    t.equal(svg.status, 0, svg.stderr);
    for (const label of ['flock LOCK_EX', 'POSIX WRITE lock', 'semaphore']) t.match(svg.stdout, label);
  });
  run.child.kill('SIGTERM');
  t.equal(await run.done, 143, 'the report did not end it; SIGTERM (forwarded) did');
  t.equal(count(run.err(), 'deadlock: every process of the sandbox ('), 1, 'one report for one deadlock');
});

t.test('a long but healthy wait is no stall', async (t) => {
  const r = await sysvisor(['run', '-m', killAfter1s, '--', `${C_BIN}wait_healthy`], { env: noColor });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'got 3 posts\nproducer: exit 0\ndone\n', 'the consumer slept 2 s per post, beyond the 1 s threshold: the producer ran');
  t.notMatch(r.stderr, /stall|deadlock|watchdog/);
});

t.test('a chain without a cycle, read live with --pid', async (t) => {
  const run = background(['--', `${C_BIN}wait_chain`, join(dir, 'chain.lock')]);
  const pid = run.child.pid!;
  await run.until(() => run.out().includes('C waits for B'));
  // Asked through the control socket until B and C sleep (and until the socket is there, on a loaded machine).
  let g: WaitGraph | null = null;
  for (let tries = 0; tries < 100 && (g === null || g.waits.length < 2); tries++) {
    const r = await sysvisor(['waits', '--pid', String(pid), '--format', 'json']);
    if (r.status === 0) g = JSON.parse(r.stdout) as WaitGraph;
    else t.comment(`waits --pid: ${r.stderr.trim()}`);
  }
  if (g === null) throw new Error('sysvisor waits --pid never answered');
  const parent = g.nodes.find((n) => !n.blocked)!;
  t.equal(g.nodes.filter((n) => n.blocked).length, 2, 'B and C are blocked, the parent is not (it reads stdin)');
  t.same(g.cycles, []);
  t.equal(g.deadlock, false);
  const lockWait = g.edges.find((e) => e.resource.kind === 'posix')!;
  const semWait = g.edges.find((e) => e.resource.kind === 'sem')!;
  t.match(lockWait, { to: parent.id, certain: true, why: 'holds a POSIX WRITE lock 0-0' });
  t.match(semWait, { to: lockWait.from, certain: true, why: 'holds SEM_UNDO credit +1, given back at its exit' });
  t.equal(g.edges.length, 2);

  const text = await sysvisor(['waits', '--pid', String(pid)], { env: noColor });
  const lines = text.stdout.trimEnd().split('\n');
  t.equal(lines.length, 2, 'one line per blocked process, no cycle, no deadlock');
  t.match(
    text.stdout,
    new RegExp(
      `waits on POSIX WRITE lock on \\d+:\\d+:\\d+ 0-0 for [\\d.]+s \\(since [\\d:.]+\\) -> ${parent.pid} \\(holds a POSIX WRITE lock 0-0\\)`,
    ),
  );
  const dot = await sysvisor(['waits', '--pid', String(pid), '--format', 'dot']);
  t.equal(count(dot.stdout, ' -> '), 2);
  t.notMatch(dot.stdout, /#c0392b/, 'nothing red without a cycle');
  t.match(dot.stdout, new RegExp(`"${parent.id}" \\[label="${parent.pid} wait_chain\\\\nrunning"\\]`));

  run.child.stdin!.end('go\n');
  t.equal(await run.done, 0, run.err());
  t.match(run.out(), /B: exit 0\nC: exit 0\ndone\n$/, 'the chain unwound');
});

t.test('waits: usage errors', async (t) => {
  const none = await sysvisor(['waits'], { env: noColor });
  t.equal(none.status, 2);
  t.match(none.stderr, /give a state file/);
  const format = await sysvisor(['waits', join(dir, 'cycle.json'), '--format', 'svg'], { env: noColor });
  t.equal(format.status, 2);
  t.match(format.stderr, /Invalid values/);
  const foreign = await sysvisor(['waits', killAfter500ms], { env: noColor });
  t.equal(foreign.status, 2);
  t.match(foreign.stderr, `sysvisor: cannot read state ${killAfter500ms}: `);
  t.notMatch(foreign.stderr, /\s+at /);
});
