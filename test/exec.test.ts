// Exec policy: Landlock's exec rights ([filesystem] exec; pinned files, and
// with only_trusted nothing else: the wall, proven against a path-swap race),
// and the supervisor's content check — files pinned by sha256 (trusted),
// only_trusted — through execve and execveat (dirfd, AT_EMPTY_PATH), with
// the refusal in --trace, in the final state and in the CLI's summary;
// manifest errors for [exec]; exec tracking in the process table.
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { manifestFromText, observedSyscalls, Sandbox } from '../supervisor/index.js';
import { refusedExecsSummary } from '../supervisor/features/exec.js';
import { interpreterOf } from '../src/interpreter.js';
import { EXEC_RIGHTS, FS, landlockRules } from '../src/landlock.js';
import { spawnSync } from 'node:child_process';
import { C_BIN, sysvisor } from './helpers.js';

// realpath: the supervisor reports real paths (TMPDIR may be a symlink).
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'sysvisor-exec-')));
const noColor = { ...process.env, NO_COLOR: '1' };
/** Run natively (stdin closed: helpers' exec() can hit EPIPE writing to a program that exits at once). */
const native = (cmd: string, args: string[], cwd?: string) => {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

const TRUE = realpathSync('/usr/bin/true');
const HASH = sha256(TRUE);
const SH = realpathSync('/bin/sh');
/** The ELF interpreter of true (and of sh): with only_trusted it must be pinned too. */
const LOADER = interpreterOf(readFileSync(TRUE))!;
const ok = join(dir, 'ok'); // an exact copy of true
const bad = join(dir, 'bad'); // a copy with one byte appended: still runs natively
const alias = join(dir, 'alias'); // a symlink to bad, listed under this name
const unlisted = join(dir, 'unlisted');
copyFileSync(TRUE, ok);
copyFileSync(TRUE, bad);
appendFileSync(bad, 'x');
copyFileSync(TRUE, unlisted);
symlinkSync(bad, alias);

const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};
const trusting = (entries: Record<string, string>, extra = '') =>
  `version = 1\n[exec]\ntrusted = { ${Object.entries(entries)
    .map(([p, h]) => `${JSON.stringify(p)} = "sha256:${h}"`)
    .join(', ')} }\n${extra}`;
const pinned = file('pinned.toml', trusting({ [ok]: HASH, [bad]: HASH }));

t.test('execve/execveat are notified only when [exec] has something to check', async (t) => {
  const semOnly = '[syscalls]\nemulate = ["semget", "semop", "semtimedop", "semctl"]\n';
  const observed = (text: string) => {
    const m = manifestFromText(text);
    return observedSyscalls(m.syscalls.emulate, m).filter((s) => s.startsWith('execve'));
  };
  t.same(observed(`version = 1\n${semOnly}`), [], 'nothing to check: exec runs at native speed, never EINTR');
  t.same(observed(`${trusting({ [ok]: HASH })}${semOnly}`).sort(), ['execve', 'execveat']);
});

t.test('Landlock exec allowlist: only files beneath [filesystem] exec run', async (t) => {
  const m = file('landlock.toml', 'version = 1\n[filesystem]\nread = ["/"]\nexec = ["/usr", "/lib", "/lib64", "/bin"]\n');
  const r = await sysvisor(['run', '-m', m, '--', '/bin/sh', '-c', `/usr/bin/true && echo allowed; ${ok}; echo status=$?`], {
    env: noColor,
  });
  t.equal(r.status, 0);
  t.equal(r.stdout, 'allowed\nstatus=126\n');
  t.match(r.stderr, `${ok}: Permission denied`);
  t.notMatch(r.stderr, /refused/, 'Landlock refused it, not the supervisor');
  const direct = await sysvisor(['run', '-m', m, '--', ok], { env: noColor });
  t.equal(direct.status, 126);
  t.equal(direct.stderr, `sysvisor: cannot execute ${ok}: Permission denied\n`);
});

t.test('trusted: the right hash runs, a tampered copy is refused with EACCES and reported', async (t) => {
  t.equal(native(bad, []).status, 0, 'the tampered copy runs natively');
  const r = await sysvisor(['run', '-m', pinned, '--', '/bin/sh', '-c', `${ok} && echo ok-ran; ${bad}; echo bad=$?`], { env: noColor });
  t.equal(r.status, 0, "the program's own status");
  t.equal(r.stdout, 'ok-ran\nbad=126\n');
  t.equal(r.stderr, `/bin/sh: 1: ${bad}: Permission denied\nsysvisor: refused 1 exec: ${bad} (sha256 mismatch)\n`);

  const direct = await sysvisor(['run', '-m', pinned, '--', bad], { env: noColor });
  t.equal(direct.status, 126, 'the program itself is checked too');
  t.equal(direct.stderr, `sysvisor: cannot execute ${bad}: Permission denied\nsysvisor: refused 1 exec: ${bad} (sha256 mismatch)\n`);
  t.equal((await sysvisor(['run', '-m', pinned, '--', ok])).status, 0);
});

t.test('--trace=all shows the refusal as an event, then the EACCES, and the allowed exec continued', async (t) => {
  const r = await sysvisor(['run', '--trace=all', '-m', pinned, '--', '/bin/sh', '-c', `${bad}; ${ok}`], { env: noColor });
  t.equal(r.status, 0);
  // The event comes before the syscall line (the shell's own message may come between them).
  const event = r.stderr.indexOf(`--- exec of ${bad} refused: sha256 mismatch ---\n`);
  const line = r.stderr.search(new RegExp(`\\[\\d+\\] execve\\("${bad}", 0x[0-9a-f]+, 0x[0-9a-f]+\\) = -1 EACCES\\n`));
  t.ok(event > 0 && line > event, 'event, then execve(...) = -1 EACCES');
  t.match(r.stderr, new RegExp(`execve\\("${ok}", 0x[0-9a-f]+, 0x[0-9a-f]+\\) = <continued to the kernel>\\n`));
  t.match(r.stderr, /--- process \d+ \(ok\) exited ---/, 'the exit event names the program that ran');
});

t.test('paths are resolved: relative to the cwd, through symlinks, listed under another name', async (t) => {
  const m = file('alias.toml', trusting({ [alias]: HASH }));
  const r = await Sandbox.run('/bin/sh', ['-c', `cd ${dir} && ./bad; echo rel=$?; ${alias}; echo alias=$?; ./ok; echo ok=$?`], {
    manifest: manifestFromText(readFileSync(m, 'utf8'), m),
    stdio: 'pipe',
  });
  t.equal(r.stdout?.toString(), 'rel=126\nalias=126\nok=0\n');
  const state = r.state as {
    exec: { trusted: string[]; refused: Array<{ pid: number; path: string; reason: string }>; refusedTotal: number };
  };
  t.same(state.exec.trusted, [bad], 'the listed symlink is resolved when the sandbox starts');
  t.equal(state.exec.refusedTotal, 2);
  t.same(
    state.exec.refused.map((x) => [x.path, x.reason]),
    [
      [bad, 'sha256 mismatch'],
      [bad, 'sha256 mismatch'],
    ],
  );
  t.ok(state.exec.refused.every((x) => x.pid > 0));
  t.equal(refusedExecsSummary(r.state), `refused 2 execs: ${bad} (sha256 mismatch, 2 times)`);
});

t.test('a file changed after its first check is hashed again', async (t) => {
  const mutable = join(dir, 'mutable');
  copyFileSync(TRUE, mutable);
  const m = file('mutable.toml', trusting({ [mutable]: HASH }));
  const r = await sysvisor(
    ['run', '-m', m, '--', '/bin/sh', '-c', `${mutable}; echo first=$?; echo >> ${mutable}; ${mutable}; echo second=$?`],
    { env: noColor },
  );
  t.equal(r.stdout, 'first=0\nsecond=126\n');
  t.match(r.stderr, `sysvisor: refused 1 exec: ${mutable} (sha256 mismatch)\n`);
});

t.test('execveat: relative to a dirfd, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW', async (t) => {
  const at = `${C_BIN}exec_at`;
  const run = (args: string[]) => sysvisor(['run', '-m', pinned, '--', at, ...args], { env: noColor });
  const good = await run(['dir', dir, 'ok']);
  t.equal(good.status, 0);
  t.equal(good.stdout, '');
  const refused = await run(['dir', dir, 'bad']);
  t.equal(refused.status, 126);
  t.equal(refused.stdout, 'execveat: EACCES\n');
  t.equal(refused.stderr, `sysvisor: refused 1 exec: ${bad} (sha256 mismatch)\n`);
  const byFd = await run(['fd', bad]);
  t.equal(byFd.stdout, 'execveat: EACCES\n');
  t.equal(byFd.stderr, `sysvisor: refused 1 exec: ${bad} (sha256 mismatch)\n`);
  t.equal((await run(['fd', ok])).status, 0);
  // The kernel's answer is kept where it has one: a symlink with NOFOLLOW is ELOOP, not a refusal.
  const loop = await run(['nofollow', dir, 'alias']);
  t.equal(loop.stdout, 'execveat: ELOOP\n');
  t.equal(loop.stderr, '');
  t.equal(native(at, ['dir', dir, 'bad']).status, 0, 'natively the tampered copy runs');
});

t.test('only_trusted: nothing else runs, missing files still fail as the kernel says', async (t) => {
  const m = file('only.toml', trusting({ [SH]: sha256(SH), [ok]: HASH, [LOADER]: sha256(LOADER) }, 'only_trusted = true\n'));
  const r = await sysvisor(
    [
      'run',
      '-m',
      m,
      '--',
      '/bin/sh',
      '-c',
      `${ok} && echo ok; ${unlisted}; echo unlisted=$?; no-such-command-here 2>/dev/null; echo missing=$?`,
    ],
    {
      env: noColor,
    },
  );
  t.equal(r.status, 0);
  t.equal(r.stdout, 'ok\nunlisted=126\nmissing=127\n');
  t.match(r.stderr, `sysvisor: refused 1 exec: ${unlisted} (not in exec.trusted)\n`);
  const self = await sysvisor(['run', '-m', m, '--', unlisted], { env: noColor });
  t.equal(self.status, 126);
  t.match(self.stderr, `sysvisor: refused 1 exec: ${unlisted} (not in exec.trusted)\n`);
});

t.test('a manifest without [filesystem]: its Landlock domain refuses no move of a file between directories', async (t) => {
  // Landlock refuses reparenting (EXDEV) in any domain whose rules do not grant REFER.
  const run = async (how: 'native' | 'sysvisor') => {
    const where = mkdtempSync(join(dir, `reparent-${how}-`));
    const prog = `${C_BIN}fs_reparent`;
    return how === 'native' ? native(prog, [where]) : sysvisor(['run', '--', prog, where], { env: noColor });
  };
  const nat = await run('native');
  t.equal(nat.stdout, 'rename a/f b/f: 0\nlink b/f a/g: 0\nrename a/g a/h (same directory): 0\nexchange a/h b/h: 0\ndone\n');
  const sv = await run('sysvisor');
  t.equal(sv.status, 0, sv.stderr);
  t.equal(sv.stdout, nat.stdout, 'the same as natively');
});

t.test('only_trusted in Landlock: exactly the pinned files carry the right to execute', async (t) => {
  const pins = { files: [ok, LOADER], onlyTrusted: true };
  const everything = landlockRules(null, pins);
  t.same(
    everything.map((r) => [r.path, (r.access & EXEC_RIGHTS) !== 0n]),
    [
      ['/', false],
      [ok, true],
      [LOADER, true],
    ],
  );
  const lists = landlockRules({ read: ['/etc'], write: ['/tmp'], exec: ['/usr', ok] }, pins);
  t.same(
    lists.filter((r) => (r.access & EXEC_RIGHTS) !== 0n).map((r) => r.path),
    [ok, LOADER],
    '[filesystem] exec keeps reading, not executing',
  );
  t.equal(lists.find((r) => r.path === '/usr')?.access, FS.READ_FILE);
  const pinsOnly = landlockRules(null, { files: [ok], onlyTrusted: false });
  t.same(
    pinsOnly.map((r) => [r.path, (r.access & EXEC_RIGHTS) !== 0n]),
    [
      ['/', true],
      [ok, true],
    ],
    'without only_trusted the rest stays executable',
  );
});

t.test('only_trusted: a second thread swapping the execve path never runs the unpinned file', async (t) => {
  // Two programs whose paths differ in one byte: p (a copy of true, pinned) and u (a copy of false).
  const swap = `${C_BIN}exec_swap`;
  const p = join(dir, 'p');
  const u = join(dir, 'u');
  copyFileSync(TRUE, p);
  copyFileSync('/usr/bin/false', u);
  const m = file('swap.toml', trusting({ [swap]: sha256(swap), [p]: HASH, [LOADER]: sha256(LOADER) }, 'only_trusted = true\n'));
  const attempts = 200;
  const r = await sysvisor(['run', '-m', m, '--', swap, p, u, String(attempts)], { env: noColor, timeoutMs: 240_000 });
  t.equal(r.status, 0, r.stderr);
  const tally = /^pinned ran: (\d+), unpinned ran: (\d+), refused: (\d+), other: (\d+)$/m.exec(r.stdout);
  t.ok(tally, r.stdout);
  const [pinned, unpinned, refused, other] = (tally ?? []).slice(1).map(Number);
  t.equal(unpinned, 0, 'the unpinned file never ran');
  t.equal(other, 0);
  t.equal(pinned + refused, attempts);
  t.comment(`${attempts} attempts: ${pinned} ran the pinned file, ${refused} refused (${r.stderr.trim()})`);
});

t.test('only_trusted: the kernel refuses a pinned file replaced by an identical copy (Landlock names the inode)', async (t) => {
  const swapped = join(dir, 'swapped');
  copyFileSync(TRUE, swapped);
  const [cp, mv] = ['/bin/cp', '/bin/mv'].map((f) => realpathSync(f));
  const tools = { [SH]: sha256(SH), [cp]: sha256(cp), [mv]: sha256(mv), [LOADER]: sha256(LOADER) };
  const m = file('inode.toml', trusting({ ...tools, [swapped]: HASH }, 'only_trusted = true\n'));
  const r = await sysvisor(
    [
      'run',
      '-m',
      m,
      '--',
      SH,
      '-c',
      `${swapped}; echo before=$?; ${cp} ${TRUE} ${swapped}.new && ${mv} ${swapped}.new ${swapped}; ${swapped}; echo after=$?`,
    ],
    { env: noColor },
  );
  t.equal(r.stdout, 'before=0\nafter=126\n');
  t.notMatch(r.stderr, /refused/, 'the content matches: the supervisor let it through, Landlock refused it');
});

t.test('only_trusted: interpreters must be pinned too (ELF loader, "#!" line)', async (t) => {
  const script = join(dir, 'script.sh');
  writeFileSync(script, '#!/bin/sh\necho script ran\n');
  chmodSync(script, 0o755);
  const noLoader = file('noloader.toml', trusting({ [ok]: HASH }, 'only_trusted = true\n'));
  const r = await sysvisor(['run', '-m', noLoader, '--', ok], { env: noColor });
  t.equal(r.status, 125);
  t.equal(
    r.stderr,
    `sysvisor: ${noLoader}: exec.trusted."${ok}": its interpreter ${LOADER} is not in exec.trusted; with exec.only_trusted the kernel refuses to run it (pin the interpreter too)\n`,
  );
  const noShell = file('noshell.toml', trusting({ [script]: sha256(script), [LOADER]: sha256(LOADER) }, 'only_trusted = true\n'));
  const s = await sysvisor(['run', '-m', noShell, '--', script], { env: noColor });
  t.equal(s.status, 125);
  t.match(s.stderr, `exec.trusted."${script}": its interpreter /bin/sh is not in exec.trusted`);
  const all = file(
    'script.toml',
    trusting({ [script]: sha256(script), [SH]: sha256(SH), [LOADER]: sha256(LOADER) }, 'only_trusted = true\n'),
  );
  const ran = await sysvisor(['run', '-m', all, '--', script], { env: noColor });
  t.equal(ran.stdout, 'script ran\n');
  t.equal(ran.status, 0);
});

t.test("execs are resolved as the program sees them: in its chroot, never through the supervisor's /proc/self", async (t) => {
  const via = `${C_BIN}exec_via`;
  const m = file('via.toml', trusting({ [via]: sha256(via), [ok]: HASH, [LOADER]: sha256(LOADER) }, 'only_trusted = true\n'));
  t.equal(native(via, ['fd', unlisted]).status, 0, 'natively /proc/self/fd/N runs the file open there');
  const byFd = await sysvisor(['run', '-m', m, '--', via, 'fd', unlisted], { env: noColor });
  t.equal(byFd.stdout, 'execve: EACCES\n');
  t.equal(byFd.stderr, `sysvisor: refused 1 exec: ${unlisted} (not in exec.trusted)\n`, "the program's fd, not the supervisor's");
  t.equal((await sysvisor(['run', '-m', m, '--', via, 'fd', ok], { env: noColor })).status, 0, 'a trusted file by its fd runs');
  // Through a link to /dev/fd: /proc/self would be resolved as the supervisor's.
  const fdLink = join(dir, 'fd-link');
  symlinkSync('/dev/fd/0', fdLink);
  const linked = await sysvisor(['run', '-m', m, '--', via, 'link', fdLink, ok], { env: noColor });
  t.equal(linked.stdout, 'execve: EACCES\n');
  t.match(linked.stderr, `sysvisor: refused 1 exec: ${fdLink} (it goes through a /proc magic link`);
  // The jail holds another file at the trusted path: the kernel would run that one.
  const jail = mkdtempSync(join(dir, 'jail-'));
  mkdirSync(join(jail, dir), { recursive: true });
  copyFileSync(bad, join(jail, ok));
  const chrooted = await sysvisor(['run', '-m', m, '--', via, 'chroot', jail, ok], { env: noColor });
  t.equal(chrooted.stdout, 'execve: EACCES\n');
  t.equal(chrooted.stderr, `sysvisor: refused 1 exec: ${join(jail, ok)} (not in exec.trusted)\n`);
});

t.test('file locks still see execs when [exec] checks them first (handlers chained)', async (t) => {
  const prog = `${C_BIN}lock_exec`;
  const m = file(
    'locks.toml',
    `${trusting({ [prog]: sha256(prog) })}[syscalls]\nemulate = ["semget", "semop", "semtimedop", "semctl", "fcntl", "flock"]\n[locks]\nmode = "exact"\n`,
  );
  // lock_exec works on ./f: each run in a directory of its own.
  const cwd = () => mkdtempSync(join(dir, 'locks-'));
  const expected = native(prog, [], cwd());
  t.equal(expected.status, 0, `natively lock_exec exits 0 (stderr: ${expected.stderr})`);
  t.match(expected.stdout, /\ndone\n$/, 'natively lock_exec runs to its end');
  // Without the chain every close-on-exec case differs, every time.
  const sandboxed = await sysvisor(['run', '-m', m, '--', prog], { env: noColor, cwd: cwd() });
  t.equal(sandboxed.stdout, expected.stdout);
  t.equal(sandboxed.status, expected.status);
  t.equal(sandboxed.stderr, '');
});

t.test('exec tracking: the process table shows the new program', async (t) => {
  const m = manifestFromText(trusting({ [ok]: HASH }), 'track.toml');
  const dump = join(dir, 'live.json');
  const sandbox = new Sandbox();
  const running = sandbox.run('/bin/sh', ['-c', 'exec sleep 5'], { manifest: m, stdio: 'pipe' });
  // The loop may start late (slow module loading under tap's loaders): ask until sh has exec'd sleep.
  let live: { processes: Array<{ name: string }>; exec: { execs: number } } = { processes: [], exec: { execs: 0 } };
  for (let i = 0; i < 100 && live.processes.map((p) => p.name).join() !== 'sleep'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    await sandbox.dumpState(dump);
    live = JSON.parse(readFileSync(dump, 'utf8')) as typeof live;
  }
  t.same(
    live.processes.map((p) => p.name),
    ['sleep'],
  );
  t.ok(live.exec.execs >= 2, 'the launcher exec of sh, then sleep (after a PATH search)');
  t.equal((await running).status, 0);
});

t.test('[exec] manifest errors name file, line and key', async (t) => {
  const h = 'ab'.repeat(32);
  const cases: Array<[string, string, string]> = [
    [
      'relative.toml',
      `version = 1\n[exec]\ntrusted = { "bin/true" = "sha256:${h}" }\n`,
      'relative.toml:3: exec.trusted."bin/true": "bin/true" is not an absolute path',
    ],
    [
      'md5.toml',
      'version = 1\n[exec]\ntrusted = {\n  "/usr/bin/true" = "md5:d41d8cd98f00b204e9800998ecf8427e",\n}\n',
      'md5.toml:4: exec.trusted."/usr/bin/true": expected "sha256:" followed by 64 hex digits, got "md5:d41d8cd98f00b204e9800998ecf8427e"',
    ],
    [
      'short.toml',
      'version = 1\n[exec.trusted]\n"/usr/bin/true" = "sha256:abc"\n',
      'short.toml:3: exec.trusted."/usr/bin/true": expected "sha256:" followed by 64 hex digits, got "sha256:abc"',
    ],
    [
      'type.toml',
      'version = 1\n[exec]\ntrusted = { "/usr/bin/true" = true }\n',
      'type.toml:3: exec.trusted."/usr/bin/true": expected a string, got boolean',
    ],
    [
      'only.toml',
      'version = 1\n[exec]\nonly_trusted = true\n',
      "only.toml:3: exec.only_trusted: true with no exec.trusted entries would refuse every exec, the program's own included",
    ],
    ['typo.toml', 'version = 1\n[exec]\ntrustd = {}\n', 'typo.toml:3: exec.trustd: unknown key (did you mean "trusted"?)'],
  ];
  for (const [name, text, message] of cases) {
    const f = file(name, text);
    const check = await sysvisor(['manifest', 'check', f], { env: noColor });
    t.equal(check.status, 2, `${name}: exit 2`);
    t.equal(check.stderr, `sysvisor: ${join(dir, message)}\n`, `${name}: exact message`);
  }
  const good = await sysvisor(['manifest', 'check', pinned]);
  t.equal(good.status, 0);
  t.match(good.stdout, `exec:       trusted ${ok}=sha256:${HASH.slice(0, 12)}… ${bad}=sha256:${HASH.slice(0, 12)}…\n`);
});
