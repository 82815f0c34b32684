import t, { type Test } from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import {
  compileFilter,
  defaultManifest,
  describeManifest,
  manifestFilterSpec,
  MOUNT_REFUSED,
  REFUSED_IF,
  CLONE3,
  parseManifest,
  type Manifest,
} from '../../src/manifest/index.js';
import {
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_USER_NOTIF,
  actionName,
  disassemble,
  kernelCacheAllows,
  runFilter,
  validateFilter,
} from '../../src/bpf/index.js';
import { errnoName, syscallName, syscallNumber } from '../../src/syscalls/index.js';

// dist/test/unit/ -> repository root
const POLICIES = new URL('../../../policies/', import.meta.url);
const EMULABLE: ReadonlySet<string> = new Set(['semget', 'semop', 'semtimedop', 'semctl', 'fcntl', 'flock']);

function load(name: string): Manifest {
  return parseManifest(readFileSync(new URL(name, POLICIES), 'utf8'), `policies/${name}`, { emulable: EMULABLE });
}

const files = readdirSync(POLICIES).filter((f) => f.endsWith('.toml'));

t.test('the expected policies ship', async (t) => {
  for (const f of ['default.toml', 'strict.toml', 'ltp.toml', 'example.toml']) t.ok(files.includes(f), f);
});

t.test('every shipped policy parses and compiles', async (t) => {
  for (const f of files) {
    const m = load(f);
    t.equal(m.version, 1, f);
    t.equal(m.file, `policies/${f}`);
    const prog = compileFilter(m);
    t.doesNotThrow(() => validateFilter(prog), `${f}: kernel would load the filter`);
    t.ok(prog.length / 8 <= 4096);
    describes(t, f, m);
    t.ok(disassemble(prog).includes('USER_NOTIF') || m.syscalls.emulate.length === 0);
  }
});

/** The `manifest check` summary states each setting of the manifest. */
function describes(t: Test, f: string, m: Manifest): void {
  const text = describeManifest(m);
  const list = (xs: readonly string[]) => (xs.length === 0 ? '(none)' : xs.join(' '));
  const states = (what: string, part: string) => t.ok(text.includes(part), `${f}: the description states ${what}: ${part}`);
  states('the emulated calls', `emulate ${list(m.syscalls.emulate)}`);
  for (const [name, e] of m.syscalls.deny) states(`the errno of denied ${name}`, `${name}=${errnoName(e)}`);
  states('the killed calls', `kill ${list(m.syscalls.kill)}`);
  if (m.filesystem === null) states('that every path is allowed', 'every path');
  else for (const k of ['read', 'write', 'exec'] as const) states(`filesystem ${k}`, `${k} ${list(m.filesystem[k])}`);
  t.equal(text.includes('nothing else may be executed'), m.exec.onlyTrusted, `${f}: the description states only_trusted`);
  states('the [sem] limits', `semmsl=${m.sem.semmsl} semmns=${m.sem.semmns} semopm=${m.sem.semopm} semmni=${m.sem.semmni}`);
  states('the [locks] settings', `mode=${m.locks.mode} host=${m.locks.host} max=${m.locks.max}`);
  states('the [proc] views', `views=${m.proc.views}`);
  states('the PID namespace', `pid_namespace=${m.proc.pidNamespace}`);
  states('the watchdog', m.watchdog.stallMs === 0 ? 'watchdog:   off' : `stall=${m.watchdog.stallMs}ms action=${m.watchdog.action}`);
  states('the [process] limit', `process:    max=${m.process.max}`);
  states('the IPC namespace', `namespace=${m.ipc.namespace}`);
}

t.test('policies/default.toml is exactly the built-in default', async (t) => {
  const fromFile = load('default.toml');
  const builtin = defaultManifest(EMULABLE, 'policies/default.toml');
  t.same(fromFile, builtin);
  t.same(
    [...fromFile.syscalls.deny],
    [
      ['io_uring_setup', 38],
      ['io_uring_enter', 38],
      ['io_uring_register', 38],
    ],
  );
  t.equal(fromFile.filesystem, null);
});

/** What the manifest itself answers for `name` (its deny errno, or kill), whatever the arguments; undefined if nothing. */
function ownAction(m: Manifest, name: string): number | undefined {
  const e = m.syscalls.deny.get(name);
  if (e !== undefined) return (SECCOMP_RET_ERRNO | e) >>> 0;
  return m.syscalls.kill.includes(name) ? SECCOMP_RET_KILL_PROCESS : undefined;
}

/** What a compiled manifest must answer for (arch, nr). */
function expected(m: Manifest, arch: number, nr: number, extra: readonly string[] = []): number {
  if (arch !== AUDIT_ARCH_X86_64 || (nr & 0x40000000) !== 0) return SECCOMP_RET_KILL_PROCESS;
  const name = syscallName(nr);
  const own = ownAction(m, name);
  if (own !== undefined) return own;
  if (MOUNT_REFUSED.includes(name)) return (SECCOMP_RET_ERRNO | 1) >>> 0; // EPERM under every manifest
  if (name === CLONE3) return (SECCOMP_RET_ERRNO | 38) >>> 0; // ENOSYS under every manifest
  if (m.syscalls.emulate.includes(name) || extra.includes(name)) return SECCOMP_RET_USER_NOTIF;
  return SECCOMP_RET_ALLOW; // open_tree, unshare and clone too, for the zero flags these runs pass
}

/** Allowed for some arguments only: the kernel's action cache must not answer them. */
const argumentTested = (m: Manifest, name: string): boolean => REFUSED_IF.some((r) => r.name === name) && ownAction(m, name) === undefined;

/** Arguments that each refusal under a test refuses: OPEN_TREE_CLONE; CLONE_NEWNS, CLONE_NEWIPC. */
const REFUSED_ARGS: Record<string, number[][]> = {
  open_tree: [[0, 0, 1]],
  unshare: [[0x20000], [0x8000000]],
  clone: [[0x20000 | 17], [0x8000000 | 17]],
};

t.test('compiled policies answer every syscall as the manifest says', async (t) => {
  for (const f of files) {
    const m = load(f);
    const prog = compileFilter(m);
    let bad = 0;
    for (const arch of [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, 0xc00000b7]) {
      for (let n = 0; n <= 470; n++) {
        for (const nr of [n, 0x40000000 + n]) {
          const got = runFilter(prog, { nr, arch });
          const want = expected(m, arch, nr);
          if (got !== want) {
            bad++;
            if (bad < 5) t.fail(`${f}: ${syscallName(nr)} arch ${arch.toString(16)}: ${actionName(got)}, want ${actionName(want)}`);
          }
          const cached = want === SECCOMP_RET_ALLOW && !argumentTested(m, syscallName(nr));
          if (arch === AUDIT_ARCH_X86_64 && nr < 471 && kernelCacheAllows(prog, arch, nr) !== cached) bad++;
        }
      }
    }
    t.equal(bad, 0, `${f}: all answers right`);
    for (const { name } of REFUSED_IF) {
      const want = actionName(ownAction(m, name) ?? (SECCOMP_RET_ERRNO | 1) >>> 0); // EPERM unless the manifest answers
      for (const args of REFUSED_ARGS[name]) {
        const got = runFilter(prog, { nr: syscallNumber(name)!, arch: AUDIT_ARCH_X86_64, args });
        t.equal(actionName(got), want, `${f}: ${name}(${args.map((a) => `0x${a.toString(16)}`).join(', ')})`);
      }
    }
  }
});

t.test('strict policy spot checks', async (t) => {
  const prog = compileFilter(load('strict.toml'));
  const x86 = (name: string): string =>
    actionName(runFilter(prog, { nr: syscallNumber(name)!, arch: AUDIT_ARCH_X86_64, args: [0, 0, 0, 0, 0, 0] }));
  t.equal(x86('getpid'), 'ALLOW');
  t.equal(x86('read'), 'ALLOW');
  t.equal(x86('semop'), 'USER_NOTIF');
  t.equal(x86('semtimedop'), 'USER_NOTIF');
  t.equal(x86('ptrace'), 'ERRNO(EPERM)');
  t.equal(x86('process_vm_writev'), 'ERRNO(EPERM)');
  t.equal(x86('kexec_load'), 'ERRNO(EPERM)');
  t.equal(x86('mount'), 'ERRNO(EPERM)');
  t.equal(x86('reboot'), 'KILL_PROCESS');
  t.equal(x86('execve'), 'ALLOW');
  for (const name of ['io_uring_setup', 'io_uring_enter', 'io_uring_register']) t.equal(x86(name), 'ERRNO(ENOSYS)', name);
  // i386 semop through ipc() never reaches the host kernel
  t.equal(actionName(runFilter(prog, { nr: 117, arch: AUDIT_ARCH_I386 })), 'KILL_PROCESS');
  t.equal(actionName(runFilter(prog, { nr: 0x40000000 + 65, arch: AUDIT_ARCH_X86_64 })), 'KILL_PROCESS');
  const m = load('strict.toml');
  t.same(m.env, { inherit: false, pass: ['PATH', 'HOME', 'TERM', 'LANG'], set: {} });
  t.ok(m.filesystem !== null);
  t.ok(m.filesystem!.write.includes('/tmp'));
});

t.test('ltp policy: the four sem syscalls and the two lock calls, nothing restricted but io_uring', async (t) => {
  const m = load('ltp.toml');
  t.same(m.syscalls.emulate, ['semget', 'semop', 'semtimedop', 'semctl', 'fcntl', 'flock']);
  t.same([...m.syscalls.deny.keys()], ['io_uring_setup', 'io_uring_enter', 'io_uring_register']);
  t.same(m.syscalls.kill, []);
  t.equal(m.filesystem, null);
  t.equal(m.env.inherit, true);
});

t.test('compileFilter extra notifications never override deny/kill', async (t) => {
  const m = parseManifest('version = 1\n[syscalls]\ndeny = { close = "EBADF" }\nkill = ["dup2"]\n', 'x.toml', {
    emulable: EMULABLE,
  });
  const extra = ['clone', 'close', 'dup2', 'dup3'];
  const spec = manifestFilterSpec(m, { notify: extra });
  t.same(spec.notify.map(syscallName).sort(), ['clone', 'dup3', 'fcntl', 'flock', 'semctl', 'semget', 'semop', 'semtimedop'].sort());
  const prog = compileFilter(m, { notify: extra });
  for (let nr = 0; nr <= 470; nr++) {
    const want = expected(m, AUDIT_ARCH_X86_64, nr, ['clone', 'dup3']);
    if (runFilter(prog, { nr, arch: AUDIT_ARCH_X86_64 }) !== want) t.fail(syscallName(nr));
  }
  t.equal(actionName(runFilter(prog, { nr: syscallNumber('close')!, arch: AUDIT_ARCH_X86_64 })), 'ERRNO(EBADF)');
  t.equal(actionName(runFilter(prog, { nr: syscallNumber('clone')!, arch: AUDIT_ARCH_X86_64 })), 'USER_NOTIF');
  t.throws(() => compileFilter(m, { notify: ['nope'] }), /unknown syscall "nope"/);
});
