// The sysvisor command line as a user meets it: help, version, manifest
// errors with exact messages, --trace, --stats, --dump-state, ipcs/ps views.
import { spawn } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { C_BIN, CLI, exec, ROOT, sysvisor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sysvisor-cli-'));
const manifest = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const noColor = { ...process.env, NO_COLOR: '1' };

t.test('--help and --version', async (t) => {
  const help = await sysvisor(['--help']);
  t.equal(help.status, 0);
  for (const cmd of ['run', 'manifest check', 'ipcs', 'ps', 'waits']) t.match(help.stdout, `sysvisor ${cmd}`);
  const version = await sysvisor(['--version']);
  t.equal(version.stdout.trim(), (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version);
});

t.test('usage errors exit 2 with a message, never a stack trace', async (t) => {
  const none = await sysvisor(['run'], { env: noColor });
  t.equal(none.status, 2);
  t.equal(none.stderr, 'sysvisor: nothing to run: give a command after --, e.g. `sysvisor run -- /bin/true`\n');
  const unknown = await sysvisor(['frobnicate'], { env: noColor });
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /^sysvisor: Unknown argument: frobnicate\n/);
  t.notMatch(unknown.stderr, /\s+at /);
});

t.test('manifest errors name file, line and key', async (t) => {
  const cases: Array<[string, string, string]> = [
    [
      'unknown-key.toml',
      'version = 1\n[syscalls]\nemulate = ["semop"]\nemulat = []\n',
      'unknown-key.toml:4: syscalls.emulat: unknown key (did you mean "emulate"?)',
    ],
    ['wrong-type.toml', 'version = 1\n[sem]\nsemmsl = "many"\n', 'wrong-type.toml:3: sem.semmsl: expected an integer, got string'],
    [
      'bad-syscall.toml',
      'version = 1\n[syscalls]\nemulate = ["semget", "semop", "semtimedop", "semctl"]\ndeny = { ptracee = "EPERM" }\n',
      'bad-syscall.toml:4: syscalls.deny.ptracee: unknown syscall "ptracee" (did you mean "ptrace"?)',
    ],
    [
      'bad-errno.toml',
      'version = 1\n[syscalls]\ndeny = { ptrace = "EPRM" }\n',
      'bad-errno.toml:3: syscalls.deny.ptrace: unknown errno "EPRM" (did you mean "EPERM"?)',
    ],
    ['no-version.toml', '[env]\ninherit = true\n', 'no-version.toml:1: version: missing (this reader understands version = 1)'],
  ];
  for (const [name, text, message] of cases) {
    const file = manifest(name, text);
    const check = await sysvisor(['manifest', 'check', file], { env: noColor });
    t.equal(check.status, 2, `${name}: exit 2`);
    t.equal(check.stderr, `sysvisor: ${join(dir, message)}\n`, `${name}: exact message`);
    const run = await sysvisor(['run', '-m', file, '--', '/bin/true'], { env: noColor });
    t.equal(run.status, 2, `${name}: run refuses it too`);
  }
  const missing = await sysvisor(['run', '-m', join(dir, 'nope.toml'), '--', '/bin/true'], { env: noColor });
  t.equal(missing.status, 2);
  t.match(missing.stderr, /^sysvisor: cannot read manifest .*nope\.toml: ENOENT/);
});

t.test('manifest check summarises shipped policies, --bpf disassembles', async (t) => {
  for (const p of ['default', 'strict', 'ltp', 'example']) {
    const r = await sysvisor(['manifest', 'check', `${ROOT}policies/${p}.toml`]);
    t.equal(r.status, 0, `${p}.toml is valid`);
    t.match(r.stdout, /syscalls:\s+emulate/);
  }
  const bpf = await sysvisor(['manifest', 'check', '--bpf', `${ROOT}policies/default.toml`]);
  t.match(bpf.stdout, /USER_NOTIF/);
  t.match(bpf.stdout, /KILL_PROCESS/);
});

t.test('--trace decodes notified syscalls and results', async (t) => {
  const r = await sysvisor(['run', '--trace', '--', `${C_BIN}sem_get`], { env: noColor });
  t.equal(r.status, 0);
  t.match(r.stderr, /\[\d+\] semget\(IPC_PRIVATE, 2, IPC_CREAT\|0600\) = \d+\n/);
  t.match(r.stderr, /semget\(0x[0-9a-f]+, 3, IPC_CREAT\|IPC_EXCL\|0600\) = -1 EEXIST\n/);
  t.match(r.stderr, /semget\(0x[0-9a-f]+, 0, 0\) = -1 ENOENT\n/);
  t.match(r.stderr, /semctl\(\d+, 0, IPC_RMID, 0x0\) = 0\n/);
  t.notMatch(r.stderr, /openat\(/, 'the /proc views are mounted: no open is notified');
  t.notOk(r.stderr.includes('\x1b['), 'no colour with NO_COLOR');
  const notify = join(dir, 'notify.toml');
  writeFileSync(notify, 'version = 1\n[proc]\nviews = "notify"\n');
  const opens = await sysvisor(['run', '-m', notify, '--trace=all', '--', `${C_BIN}sem_get`], { env: noColor });
  t.match(
    opens.stderr,
    /openat\(AT_FDCWD, "[^"]+", 0x[0-9a-f]+\) = <continued to the kernel>\n/,
    '--trace=all shows the calls continued to the kernel',
  );
  const answered = await sysvisor(['run', '-m', notify, '--trace', '--', `${C_BIN}sem_get`], { env: noColor });
  t.equal(answered.status, 0);
  t.match(answered.stderr, /semget\(IPC_PRIVATE, 2, IPC_CREAT\|0600\) = \d+\n/);
  t.notMatch(answered.stderr, /continued to the kernel/, '--trace alone shows only what the supervisor answered');
  const wrong = await sysvisor(['run', '--trace=some', '--', '/bin/true'], { env: noColor });
  t.equal(wrong.status, 2);
  t.match(wrong.stderr, /^sysvisor: --trace: expected --trace or --trace=all, got "--trace=some"\n/);
  const file = join(dir, 'trace.txt');
  const toFile = await sysvisor(['run', '--trace-file', file, '--', `${C_BIN}sem_get`]);
  t.equal(toFile.status, 0);
  t.match(readFileSync(file, 'utf8'), /semget\(IPC_PRIVATE/);
  t.notMatch(toFile.stderr, /semget\(/);
});

t.test('--stats reports counts per syscall', async (t) => {
  const r = await sysvisor(['run', '--stats', '--', `${ROOT}shims/build/demo`], { env: noColor });
  t.equal(r.status, 0);
  t.match(r.stdout, /counter = 2000 \(expected 2000\): ok/);
  t.match(r.stderr, /sysvisor stats: \d+ notifications answered/);
  const row = /^semtimedop\s+(\d+)\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(?:[\d.]+|-)$/m.exec(r.stderr) ?? /^semop\s+(\d+)/m.exec(r.stderr);
  t.ok(row, 'a semop row');
  t.ok(Number(row![1]) >= 1000, 'most of the 4002 semops answered inline');
  t.match(
    r.stderr,
    /one notification round trip, not measured by a run: `npm run bench` measures it/,
    'no round-trip figure that was not measured',
  );
  t.notMatch(r.stderr, /µs here/);
});

t.test('--dump-state writes JSON that ipcs and ps render', async (t) => {
  const file = join(dir, 'state.json');
  const r = await sysvisor(['run', '--dump-state', file, '--', '/bin/sh', '-c', 'ipcmk -S 3 >/dev/null && ipcmk -S 1 >/dev/null']);
  t.equal(r.status, 0);
  const state = JSON.parse(readFileSync(file, 'utf8')) as { sem: { sets: Array<{ nsems: number }> } };
  t.equal(state.sem.sets.length, 2);
  t.same(
    state.sem.sets.map((s) => s.nsems),
    [3, 1],
  );
  const ipcs = await sysvisor(['ipcs', file]);
  t.equal(ipcs.status, 0);
  t.match(ipcs.stdout, /in use: 2 sets, 4 semaphores/);
  const bad = await sysvisor(['ipcs', manifest('not-state.json', '{"x": 1}')]);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /is not a sysvisor state dump/);
});

t.test('ps/ipcs/waits --pid of a process that is not a sysvisor sandbox touch nothing', async (t) => {
  // No signal, no file: a pid without a control socket is refused, whatever it is.
  const env = { ...noColor, XDG_RUNTIME_DIR: mkdtempSync(join(dir, 'runtime-')) };
  const bystander = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => bystander.kill('SIGKILL'));
  const pid = bystander.pid!;
  for (const command of ['ps', 'ipcs', 'waits']) {
    const r = await sysvisor([command, '--pid', String(pid)], { env });
    t.equal(r.status, 2, `${command}: exit 2`);
    t.match(
      r.stderr,
      new RegExp(
        `^sysvisor: process ${pid} \\(sleep\\) is not a sysvisor sandbox of this user \\(no control socket \\S+/sysvisor/${pid}\\.sock\\): nothing was sent to it\\n$`,
      ),
      `${command}: says why`,
    );
  }
  t.equal(bystander.exitCode, null, 'the bystander is still running');
  t.equal(bystander.signalCode, null);
});

/** A `sysvisor run` in the background: its pid (the supervisor's), its stdout so far, and its end. */
function background(args: readonly string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const until = async (what: () => boolean) => {
    while (!what() && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  };
  return { child, done, until, out: () => out, err: () => err };
}

t.test('the control socket: ps lists a running sandbox, --pid reads it, nothing is left after', async (t) => {
  const runtime = mkdtempSync(join(dir, 'runtime-'));
  const tmp = mkdtempSync(join(dir, 'tmp-'));
  const env = { ...noColor, XDG_RUNTIME_DIR: runtime, TMPDIR: tmp };
  const dump = join(mkdtempSync(join(dir, 'dump-')), 'state.json');
  // With --dump-state too: the socket answers whatever the dump's file is.
  const run = background(['--dump-state', dump, '--', '/bin/sh', '-c', 'ipcmk -S 2 >/dev/null && echo ready && read x'], env);
  t.teardown(() => run.child.kill('SIGKILL'));
  const pid = run.child.pid!;
  const socket = join(runtime, 'sysvisor', `${pid}.sock`);
  await run.until(() => run.out().includes('ready') && existsSync(socket));
  const st = lstatSync(socket);
  t.ok(st.isSocket(), 'a socket named for the supervisor');
  t.equal(st.mode & 0o777, 0o600, 'mode 0600');
  t.equal(st.uid, process.getuid!(), 'owned by the user');
  t.equal(lstatSync(join(runtime, 'sysvisor')).mode & 0o777, 0o700, 'in a private directory');

  const list = await sysvisor(['ps'], { env });
  t.equal(list.status, 0, list.stderr);
  t.match(list.stdout, /^\s*PID\s+UPTIME\s+PROCESSES\s+PROGRAM\n/);
  t.match(
    list.stdout,
    new RegExp(`\\n\\s*${pid}\\s+\\d\\d:\\d\\d\\s+[1-9]\\d*\\s+/bin/sh -c ipcmk -S 2`),
    'the running sandbox: pid, uptime, processes, program',
  );
  const ipcs = await sysvisor(['ipcs', '--pid', String(pid)], { env });
  t.equal(ipcs.status, 0, ipcs.stderr);
  t.match(ipcs.stdout, /in use: 1 sets, 2 semaphores/, 'the state, read through the socket');
  const ps = await sysvisor(['ps', '--pid', String(pid)], { env });
  t.equal(ps.status, 0, ps.stderr);
  t.match(ps.stdout, /\bsh\b/);
  const waits = await sysvisor(['waits', '--pid', String(pid), '--format', 'json'], { env });
  t.equal(waits.status, 0, waits.stderr);
  t.same((JSON.parse(waits.stdout) as { cycles: unknown[] }).cycles, []);

  run.child.stdin.end('go\n');
  t.equal(await run.done, 0, run.err());
  t.equal(run.err(), '', 'no warning: the socket was made');
  const after = await sysvisor(['ps'], { env });
  t.equal(after.stdout, 'no running sandboxes\n', 'not listed after it exits');
  t.same(readdirSync(join(runtime, 'sysvisor')), [], 'the socket is removed at exit');
  t.same(readdirSync(tmp), [], 'no sysvisor-*.json in $TMPDIR');
  t.equal(
    (JSON.parse(readFileSync(dump, 'utf8')) as { sem: { sets: unknown[] } }).sem.sets.length,
    1,
    'the --dump-state file is written at exit, as before',
  );
  const gone = await sysvisor(['ps', '--pid', String(pid)], { env });
  t.equal(gone.status, 2);
  t.match(gone.stderr, /is not a sysvisor sandbox of this user/);
});

t.test('ps removes the sockets of dead supervisors only', async (t) => {
  const runtime = mkdtempSync(join(dir, 'runtime-'));
  const env = { ...noColor, XDG_RUNTIME_DIR: runtime };
  const rundir = join(runtime, 'sysvisor');
  mkdirSync(rundir, { mode: 0o700 });
  // A process that binds a socket and exits without removing it: a supervisor that was killed.
  const leave = (name: string) =>
    exec(process.execPath, [
      '-e',
      `const p = ${JSON.stringify(rundir)} + '/' + (${JSON.stringify(name)} || process.pid + '.sock');` +
        ' require("node:net").createServer().listen(p, () => process.exit(0));',
    ]);
  const dead = await leave('');
  t.equal(dead.status, 0, dead.stderr);
  const alive = `${process.pid}.sock`; // this test's pid: alive, but nobody listens there
  t.equal((await leave(alive)).status, 0);
  t.equal(readdirSync(rundir).length, 2);
  const list = await sysvisor(['ps'], { env });
  t.equal(list.status, 0, list.stderr);
  t.equal(list.stdout, 'no running sandboxes\n');
  t.same(readdirSync(rundir), [alive], 'the dead one is removed; a socket whose pid lives is left alone');
});

t.test("a socket planted under another pid's name is not believed", async (t) => {
  const runtime = mkdtempSync(join(dir, 'runtime-'));
  const env = { ...noColor, XDG_RUNTIME_DIR: runtime };
  const rundir = join(runtime, 'sysvisor');
  mkdirSync(rundir, { mode: 0o700 });
  // An impostor answers with a made-up state under the name of this test's pid.
  const fake = JSON.stringify({ time: 0, processes: [{ pid: 1, ppid: 0, name: 'made-up', threads: [1], tasks: [] }] });
  const impostor = spawn(
    process.execPath,
    [
      '-e',
      `require("node:net").createServer((s) => s.end("ok\\n" + ${JSON.stringify(fake)} + "\\n"))` +
        `.listen(${JSON.stringify(join(rundir, `${process.pid}.sock`))}, () => console.log("listening"))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => impostor.kill('SIGKILL'));
  await new Promise((resolve) => impostor.stdout.once('data', resolve));
  const r = await sysvisor(['ps', '--pid', String(process.pid)], { env });
  t.equal(r.status, 125);
  t.equal(
    r.stderr,
    `sysvisor: sysvisor process ${process.pid}: ${process.pid}.sock is served by process ${impostor.pid}, not by the supervisor ${process.pid}\n`,
  );
  t.equal((await sysvisor(['ps'], { env })).stdout, 'no running sandboxes\n', 'not listed either');
});

t.test('a run directory that is a link or not ours: no socket, a warning with the reason, the run goes on', async (t) => {
  const runtime = mkdtempSync(join(dir, 'runtime-'));
  const elsewhere = mkdtempSync(join(dir, 'elsewhere-'));
  symlinkSync(elsewhere, join(runtime, 'sysvisor'));
  const linked = await sysvisor(['run', '--', '/bin/true'], { env: { ...noColor, XDG_RUNTIME_DIR: runtime } });
  t.equal(linked.status, 0);
  t.equal(
    linked.stderr,
    `sysvisor: warning: no control socket (\`sysvisor ps\` will not list this sandbox): run directory ${runtime}/sysvisor: is a symbolic link\n`,
  );
  t.same(readdirSync(elsewhere), [], 'nothing is made through the link');
  const foreign = mkdtempSync(join(dir, 'runtime-'));
  mkdirSync(join(foreign, 'sysvisor'), { mode: 0o700 });
  chownSync(join(foreign, 'sysvisor'), 65534, 65534);
  const owned = await sysvisor(['run', '--', '/bin/true'], { env: { ...noColor, XDG_RUNTIME_DIR: foreign } });
  t.equal(owned.status, 0);
  t.match(owned.stderr, `run directory ${foreign}/sysvisor: is owned by uid 65534, not by uid ${process.geteuid!()} (sysvisor's)`);
  t.same(readdirSync(join(foreign, 'sysvisor')), []);
});

t.test("the program inside cannot query its supervisor, in its own PID namespace or in the host's", async (t) => {
  const hostPids = join(dir, 'host-pids.toml');
  writeFileSync(hostPids, 'version = 1\n[proc]\npid_namespace = "host"\n');
  // The program finds its supervisor's socket in the run directory it inherits (named by the supervisor's host pid).
  const probe = join(dir, 'probe.mjs');
  writeFileSync(
    probe,
    `import { readdirSync } from 'node:fs';
import { createConnection } from 'node:net';
const dir = \`\${process.env.XDG_RUNTIME_DIR}/sysvisor\`;
const [name] = readdirSync(dir);
const s = createConnection(\`\${dir}/\${name}\`, () => s.write('state\\n'));
let got = '';
s.on('data', (c) => (got += c));
s.on('end', () => console.log(\`answer: \${got.split('\\n')[0]}\`));
s.on('error', (e) => console.log(\`connect error: \${e.code}\`));
`,
  );
  const cases: Array<[string, string[], RegExp]> = [
    // The supervisor's pid is the socket's name; in the namespace the socket's peer reads as pid 0, so the client believes no answer.
    ['own PID namespace', [], /^sysvisor: sysvisor process \d+: \d+\.sock is served by process 0, not by the supervisor \d+\n/],
    [
      'pid_namespace = "host"',
      ['-m', hostPids],
      /^sysvisor: sysvisor process \d+: a process of the sandbox may not query its supervisor\n/,
    ],
  ];
  for (const [what, manifest, refusal] of cases) {
    const env = { ...noColor, XDG_RUNTIME_DIR: mkdtempSync(join(dir, 'runtime-')) };
    const query = `${process.execPath} ${CLI} ps --pid $(ls "$XDG_RUNTIME_DIR/sysvisor" | sed 's/[.]sock$//')`;
    const cli = await sysvisor(['run', ...manifest, '--', '/bin/sh', '-c', query], { env });
    t.equal(cli.status, 125, `${what}: the CLI inside is refused`);
    t.match(cli.stderr, refusal, what);
    // A raw connect, whatever Landlock allows: the kernel refuses it or the supervisor does (its peer descends from it); it never answers.
    const raw = await sysvisor(['run', ...manifest, '--', process.execPath, probe], { env });
    t.equal(raw.status, 0, raw.stderr);
    t.match(
      raw.stdout,
      /^(answer: error a process of the sandbox may not query its supervisor|connect error: E[A-Z]+)\n$/,
      `${what}: a raw connect gets no state`,
    );
    t.comment(`${what}: ${raw.stdout.trim()}`);
  }
});

t.test('command-line sharp edges: a clear message and exit 2', async (t) => {
  const cases: Array<[string[], string]> = [
    [
      ['run', 'ls', '-la'],
      'sysvisor: -l is not an option of sysvisor run: options of the program go after --, as in: sysvisor run -- ls -la\n',
    ],
    [
      ['learn', '-o', 'x.toml', 'sh', '-c', 'echo hi'],
      "sysvisor: -c is not an option of sysvisor learn: options of the program go after --, as in: sysvisor learn -o x.toml -- sh -c 'echo hi'\n",
    ],
    [['manifest', 'check'], 'sysvisor: sysvisor manifest check: missing <file>\n'],
    [['manifest', 'lint', 'x.toml'], 'sysvisor: unknown manifest command "lint" (there is: check)\n'],
    [['manifest'], 'sysvisor: give a manifest command: check\n'],
    [['ipcs'], 'sysvisor: give a state file (from --dump-state) or --pid of a running `sysvisor run` (`sysvisor ps` lists them)\n'],
  ];
  for (const [args, message] of cases) {
    const r = await sysvisor(args, { env: noColor });
    t.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    t.equal(r.stderr.replace('run `sysvisor --help` for usage\n', ''), message, `${args.join(' ')}: the message`);
  }
});
