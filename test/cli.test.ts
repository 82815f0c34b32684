// The sysvisor command line as a user meets it: help, version, manifest
// errors with exact messages, --trace, --stats, --dump-state, ipcs/ps views.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { C_BIN, ROOT, sysvisor } from './helpers.js';

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
  t.equal(version.stdout.trim(), JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).version);
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
    ['unknown-key.toml', 'version = 1\n[syscalls]\nemulate = ["semop"]\nemulat = []\n',
      'unknown-key.toml:4: syscalls.emulat: unknown key (did you mean "emulate"?)'],
    ['wrong-type.toml', 'version = 1\n[sem]\nsemmsl = "many"\n', 'wrong-type.toml:3: sem.semmsl: expected an integer, got string'],
    ['bad-syscall.toml', 'version = 1\n[syscalls]\nemulate = ["semget", "semop", "semtimedop", "semctl"]\ndeny = { ptracee = "EPERM" }\n',
      'bad-syscall.toml:4: syscalls.deny.ptracee: unknown syscall "ptracee" (did you mean "ptrace"?)'],
    ['bad-errno.toml', 'version = 1\n[syscalls]\ndeny = { ptrace = "EPRM" }\n', 'bad-errno.toml:3: syscalls.deny.ptrace: unknown errno "EPRM" (did you mean "EPERM"?)'],
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
  t.notMatch(r.stderr, /\x1b\[/, 'no colour with NO_COLOR');
  const notify = join(dir, 'notify.toml');
  writeFileSync(notify, 'version = 1\n[proc]\nviews = "notify"\n');
  const opens = await sysvisor(['run', '-m', notify, '--trace', '--', `${C_BIN}sem_get`], { env: noColor });
  t.match(opens.stderr, /openat\(AT_FDCWD, "[^"]+", 0x[0-9a-f]+\) = <continued to the kernel>\n/);
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
});

t.test('--dump-state writes JSON that ipcs and ps render', async (t) => {
  const file = join(dir, 'state.json');
  const r = await sysvisor(['run', '--dump-state', file, '--', '/bin/sh', '-c', 'ipcmk -S 3 >/dev/null && ipcmk -S 1 >/dev/null']);
  t.equal(r.status, 0);
  const state = JSON.parse(readFileSync(file, 'utf8'));
  t.equal(state.sem.sets.length, 2);
  t.same(state.sem.sets.map((s: { nsems: number }) => s.nsems), [3, 1]);
  const ipcs = await sysvisor(['ipcs', file]);
  t.equal(ipcs.status, 0);
  t.match(ipcs.stdout, /in use: 2 sets, 4 semaphores/);
  const bad = await sysvisor(['ipcs', manifest('not-state.json', '{"x": 1}')]);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /is not a sysvisor state dump/);
});

t.test('ps/ipcs/waits --pid of a process that is not a sysvisor run touch nothing', async (t) => {
  // SIGUSR1's default action ends a process: the CLI must not send it to a bystander.
  const bystander = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => bystander.kill('SIGKILL'));
  const pid = bystander.pid!;
  for (const command of ['ps', 'ipcs', 'waits']) {
    const r = await sysvisor([command, '--pid', String(pid)]);
    t.not(r.status, 0, `${command}: non-zero exit`);
    t.match(r.stderr, new RegExp(`process ${pid} is not a \`sysvisor run\` \\(/bin/sleep\\): nothing was sent to it`), `${command}: says why`);
  }
  t.equal(bystander.exitCode, null, 'the bystander is still running');
  t.equal(bystander.signalCode, null);
});
