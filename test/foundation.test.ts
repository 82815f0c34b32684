// Real programs under the supervisor through the programmatic API: exit
// codes, signal deaths, pipelines, bulk output, the arch/x32 kills, denied and
// killed syscalls, and failing closed when the supervisor dies.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import t from 'tap';
import { Sandbox } from '../supervisor/sandbox.js';
import { C_BIN, CLI, policy } from './helpers.js';

const run = (cmd: string, args: string[], p = policy()) => Sandbox.run(cmd, args, { manifest: p, stdio: 'pipe' });

t.test('exit status of /bin/true and /bin/false', async (t) => {
  t.equal((await run('/bin/true', [])).status, 0);
  const f = await run('/bin/false', []);
  t.equal(f.status, 1);
  t.equal(f.exitCode, 1);
  t.equal(f.signal, null);
});

t.test('exit codes and signal deaths are reported like a shell', async (t) => {
  t.equal((await run('/bin/sh', ['-c', 'exit 42'])).status, 42);
  const killed = await run('/bin/sh', ['-c', 'kill -TERM $$']);
  t.equal(killed.signal, 'SIGTERM');
  t.equal(killed.status, 143);
  const segv = await run('/bin/sh', ['-c', 'kill -SEGV $$']);
  t.equal(segv.status, 128 + 11);
});

t.test('sh -c pipelines see their data', async (t) => {
  const r = await run('/bin/sh', ['-c', "printf 'b\\na\\nc\\n' | sort | tr a-z A-Z | tail -n 2"]);
  t.equal(r.stdout?.toString(), 'B\nC\n');
  t.equal(r.status, 0);
});

t.test('10 MB of output through a pipe arrives whole', async (t) => {
  const size = 10 * 1024 * 1024;
  const r = await run('/bin/sh', ['-c', `yes 0123456789abcde | head -c ${size}`]);
  const expected = Buffer.alloc(size, '0123456789abcde\n');
  t.equal(r.stdout?.length, size);
  t.ok(r.stdout?.equals(expected), 'every byte as written');
  const piped = await run('/bin/sh', ['-c', `yes 0123456789abcde | head -c ${size} | sha256sum`]);
  t.equal(piped.stdout?.toString().split(' ')[0], createHash('sha256').update(expected).digest('hex'));
});

t.test('the command is not found: exit 127 and a clear message', async (t) => {
  const r = await run('/nonexistent/program', []);
  t.equal(r.status, 127);
  t.match(r.stderr?.toString(), /cannot execute \/nonexistent\/program: No such file or directory/);
});

t.test('a 32-bit int 0x80 syscall kills the process with SIGSYS', async (t) => {
  const r = await run(`${C_BIN}arch_int80`, []);
  t.equal(r.signal, 'SIGSYS');
  t.equal(r.stdout?.toString(), 'before\n');
});

t.test('an x32 syscall kills the process with SIGSYS', async (t) => {
  const r = await run(`${C_BIN}arch_x32`, []);
  t.equal(r.signal, 'SIGSYS');
  t.equal(r.stdout?.toString(), 'before\n');
});

t.test('the CLI names the SIGSYS kill', async (t) => {
  const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [CLI, 'run', '--', `${C_BIN}arch_int80`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status) => resolve({ status, stderr }));
  });
  t.equal(r.status, 128 + 31);
  t.match(r.stderr, /killed by SIGSYS: it made a syscall the policy forbids \(a 32-bit int 0x80 or x32 syscall/);
});

t.test('a denied syscall returns the manifest errno; a killed one kills', async (t) => {
  const deny = policy({ syscalls: { emulate: [], deny: new Map([['getppid', 13]]), kill: ['getpgrp'] } });
  const denied = await run(`${C_BIN}sys_probe`, ['110'], deny); // getppid
  t.equal(denied.stdout?.toString(), 'ret -1 EACCES\n');
  t.equal(denied.status, 0);
  const killed = await run(`${C_BIN}sys_probe`, ['111'], deny); // getpgrp
  t.equal(killed.signal, 'SIGSYS');
  const other = await run(`${C_BIN}sys_probe`, ['39'], deny); // getpid still runs
  t.match(other.stdout?.toString(), /^ret [1-9][0-9]*\n$/);
});

t.test('a notified syscall without a handler gets ENOSYS, and the loop survives', async (t) => {
  // SYSVISOR_TEST_NOTIFY adds getppid to the filter's notified calls; no feature handles it.
  const script = `${C_BIN}sys_probe 110; echo "sh $$"; ${C_BIN}sys_probe 64 0 1 0x380`; // getppid; semget(IPC_PRIVATE, 1, IPC_CREAT|0600)
  const hooked = spawnSync(process.execPath, [CLI, 'run', '--', '/bin/sh', '-c', script], {
    encoding: 'utf8',
    env: { ...process.env, SYSVISOR_TEST_NOTIFY: 'getppid' },
  });
  t.equal(hooked.status, 0, `the program ran to its end (stderr: ${hooked.stderr})`);
  const [ppid, sh, semget] = hooked.stdout.split('\n');
  t.equal(ppid, 'ret -1 ENOSYS', 'the notified getppid is answered ENOSYS');
  t.match(sh, /^sh [1-9][0-9]*$/);
  t.match(semget, /^ret [0-9]+$/, 'a handled call afterwards is still answered');
  t.equal(hooked.stderr, '', 'no internal error: ENOSYS is the answer for a call nobody handles');
  // The control: not notified, getppid is the kernel's (the shell's pid).
  const plain = spawnSync(process.execPath, [CLI, 'run', '--', '/bin/sh', '-c', script], { encoding: 'utf8' });
  const [nativePpid, nativeSh = ''] = plain.stdout.split('\n');
  t.equal(nativePpid, `ret ${nativeSh.slice(3)}`, "without the hook getppid returns the shell's pid");
});

t.test('a handler that throws answers ENOSYS, the loop goes on, and a crash report with the state is written', async (t) => {
  const runtime = mkdtempSync(join(tmpdir(), 'sysvisor-crash-'));
  t.teardown(() => rmSync(runtime, { recursive: true, force: true }));
  const dir = join(runtime, 'sysvisor'); // the private run directory
  const r = spawnSync(process.execPath, [CLI, 'run', '--', `${C_BIN}fault_handler`], {
    encoding: 'utf8',
    env: { ...process.env, SYSVISOR_TEST_FAULT: 'semget', XDG_RUNTIME_DIR: runtime },
  });
  t.equal(r.status, 0, 'the program ran to its end');
  t.equal(r.stdout, 'semget: -1 ENOSYS\n'.repeat(5) + 'semctl(IPC_INFO) afterwards: ok\ndone\n');
  t.equal(
    (r.stderr.match(/internal error in the semget handler \(thread \d+\), answered ENOSYS; crash report: /g) ?? []).length,
    5,
    'each failure logged',
  );
  const reports = readdirSync(dir).filter((f) => /^sysvisor-crash-\d+-\d+\.json$/.test(f));
  t.equal(reports.length, 3, 'at most 3 reports a run');
  t.match(r.stderr, /crash report: not written: 3 reports already/);
  const report = JSON.parse(readFileSync(join(dir, reports[0]), 'utf8')) as {
    version: number;
    error: string;
    call: { syscall: string; args: string[] };
    state: { processes: Array<{ pid: number }>; sem: { sets: unknown } };
  };
  t.equal(report.version, 1);
  t.match(report.error, /SYSVISOR_TEST_FAULT=semget/);
  t.equal(report.call.syscall, 'semget');
  t.equal(report.call.args[0], '0x0', 'IPC_PRIVATE');
  t.ok(
    report.state.processes.some((p) => p.pid > 0),
    'the state dump lists the process',
  );
  t.ok(Array.isArray(report.state.sem.sets), 'and the semaphores');
});

t.test('the target fails closed when the supervisor is killed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-failclosed-'));
  const out = join(dir, 'result');
  const sup = spawn(process.execPath, [CLI, 'run', '--', `${C_BIN}failclosed`, out], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => sup.stdout.once('data', () => resolve()));
  sup.kill('SIGKILL');
  await new Promise((resolve) => sup.once('close', resolve));
  sup.stdin.end(); // the target reads EOF and tries semget with no supervisor
  for (let i = 0; i < 200 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 50));
  t.equal(readFileSync(out, 'utf8'), 'semget: ENOSYS\n');
});
