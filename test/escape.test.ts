// Escape attempts: a hostile program inside the sandbox tries to reach the
// host kernel's semaphores past the emulation, or to tamper with the
// supervisor. Each attempt is a C program in test/c/escape_*.c run through
// the CLI (the supervisor is then a process of its own, spawned in a new
// process group, so an attack that succeeds cannot hurt the test runner).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { C_BIN, CLI, ROOT } from './helpers.js';

const DEFAULT = join(ROOT, 'policies', 'default.toml');
/** policies/strict.toml, plus execute rights on the test programs. */
const STRICT = join(mkdtempSync(join(tmpdir(), 'escape-policy-')), 'strict.toml');
writeFileSync(
  STRICT,
  readFileSync(join(ROOT, 'policies', 'strict.toml'), 'utf8').replace(/^exec = \[/m, `exec = [${JSON.stringify(C_BIN)}, `),
);
t.teardown(() => rmSync(join(STRICT, '..'), { recursive: true, force: true }));
/** The two shipped policies, for the tests run under each. */
const SHIPPED = [
  ['default', DEFAULT],
  ['strict', STRICT],
] as const;
/**
 * `policy` with [proc] pid_namespace = "host": the supervisor and the host's
 * processes are then in the program's /proc, as for a program run without root.
 */
function hostPids(policy: string, name: string): string {
  const text = readFileSync(policy, 'utf8');
  const out = join(STRICT, '..', name);
  writeFileSync(
    out,
    /^\[proc\]$/m.test(text) ? text.replace(/^\[proc\]$/m, '[proc]\npid_namespace = "host"') : `${text}\n[proc]\npid_namespace = "host"\n`,
  );
  return out;
}
const DEFAULT_HOST_PIDS = hostPids(DEFAULT, 'default-host-pids.toml');
const STRICT_HOST_PIDS = hostPids(STRICT, 'strict-host-pids.toml');

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** pid of the sysvisor process (the supervisor). */
  pid: number;
}

function runCmd(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, pid: child.pid! });
    });
  });
}

/** setpriv arguments that run a command as user nobody. */
const AS_NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
/** ... and sysvisor as nobody, with an empty environment: tap's process-info hook (from the environment) cannot write its files as nobody. */
const CLI_AS_NOBODY = [...AS_NOBODY, 'env', '-i', `PATH=${process.env.PATH}`, process.execPath, CLI];
/** Why the runs as user nobody cannot happen (a clone under a 0700 directory is not readable to it), or false. */
const NOBODY_SKIP: string | false =
  (await runCmd('setpriv', [...AS_NOBODY, 'sh', '-c', `test -r ${CLI} && test -x ${C_BIN}escape_super`])).status === 0
    ? false
    : `the checkout is not readable by user nobody (${CLI})`;

/** Run test/c/build/<prog> args under `sysvisor run -m manifest`. */
function sandboxed(
  prog: string,
  args: readonly string[],
  opts: { manifest?: string; dump?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  const cli = ['run', '-m', opts.manifest ?? DEFAULT, ...(opts.dump ? ['--dump-state', opts.dump] : []), '--', `${C_BIN}${prog}`, ...args];
  return runCmd(process.execPath, [CLI, ...cli], opts.env);
}

/**
 * Like sandboxed(), with the supervisor's pid (as the host sees it) as the
 * program's last argument: a shell appends its own pid, then execs sysvisor.
 */
function sandboxedWithSupervisorPid(prog: string, args: readonly string[], manifest: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runCmd(
    '/bin/sh',
    ['-c', 'exec "$@" "$$"', 'sh', process.execPath, CLI, 'run', '-m', manifest, '--', `${C_BIN}${prog}`, ...args],
    env,
  );
}

/** "label: value" lines as a map. */
function lines(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of out.split('\n')) {
    const i = l.lastIndexOf(': ');
    if (i > 0) m.set(l.slice(0, i), l.slice(i + 2));
  }
  return m;
}

/** Each labelled line of `m` reads `value` (one assertion per label). */
function each(t: Test, m: Map<string, string>, labels: readonly string[], value: string, why = ''): void {
  for (const k of labels) t.equal(m.get(k), value, why === '' ? k : `${k} (${why})`);
}

/** The supervisor stayed up and answered for the whole run: exit 0, no internal error, "done" printed. */
function healthy(t: Test, r: Run): void {
  t.equal(r.signal, null, 'sysvisor was not killed');
  t.equal(r.status, 0, `sysvisor exit status 0 (stderr: ${r.stderr.trim() || 'empty'})`);
  t.notMatch(r.stderr, /internal error|supervisor loop/, 'no internal error');
  t.match(r.stdout, /\ndone\n$/, 'the program ran to its end');
}

/** Sets on the host's /proc/sysvipc/sem with this key. */
function hostHasKey(key: number): boolean {
  return readFileSync('/proc/sysvipc/sem', 'utf8')
    .split('\n')
    .slice(1)
    .some((l) => Number.parseInt(l.trim().split(/\s+/)[0] ?? '', 10) === key);
}

/** A key nobody else uses: 0x5D, then bits of our pid and a counter. */
let keySeq = 0;
const uniqueKey = () => 0x5d000000 | ((process.pid & 0xffff) << 4) | (keySeq++ & 0xf) | 0;

// ---------------------------------------------------------------------------
// 1. The i386 entry. foundation.test.ts covers int 0x80 getpid and x32; these
// are the calls that would reach the host kernel's semaphores.

const I386: Array<[string, string]> = [
  ['ipc_semget', 'the ipc() multiplexer (nr 117) with SEMGET'],
  ['ipc_semop', 'the ipc() multiplexer (nr 117) with SEMOP on an emulated set'],
  ['semget', 'i386 semget (nr 393)'],
  ['semctl', 'i386 semctl (nr 394)'],
  ['semtimedop', 'i386 semtimedop_time64 (nr 420)'],
];

for (const [mode, what] of I386) {
  t.test(`int 0x80: ${what} kills the process with SIGSYS`, async (t) => {
    const native = await runCmd(`${C_BIN}escape_arch`, [mode]);
    // Natively (IA32 emulation on) the call reaches the host kernel: the hole the filter closes.
    if (native.stdout.includes(`i386 ${mode}: ok`)) t.pass(`natively, ${what} reaches the host kernel`);
    else t.comment(`natively: ${native.stdout.trim()} (IA32 emulation may be off)`);
    const r = await sandboxed('escape_arch', [mode]);
    t.equal(r.stdout, `before ${mode}\n`, 'nothing after the int 0x80');
    t.equal(r.status, 128 + 31, 'exit status 159 (SIGSYS)');
    t.match(r.stderr, /killed by SIGSYS/);
  });
}

// ---------------------------------------------------------------------------
// 2. The program's own seccomp filters and ptrace.

t.test('a filter of the program returning ALLOW cannot lift the emulation', async (t) => {
  const key = uniqueKey();
  const dir = mkdtempSync(join(tmpdir(), 'escape-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dump = join(dir, 'state.json');
  const r = await sandboxed('escape_seccomp', [String(key), 'allow'], { dump, env: { ESCAPE_KEEP: '1' } });
  healthy(t, r);
  const m = lines(r.stdout);
  t.equal(m.get('install ALLOW-everything filter'), '0', 'the filter is installed');
  t.equal(m.get("listed in the sandbox's /proc/sysvipc/sem"), 'yes', 'semget went to the supervisor');
  t.equal(m.get('GETVAL'), '1');
  const state = JSON.parse(readFileSync(dump, 'utf8')) as { sem: { sets: Array<{ perm: { key: number } }> } };
  t.ok(
    state.sem.sets.some((s) => s.perm.key === key),
    "the set is in the supervisor's final state",
  );
  t.notOk(hostHasKey(key), 'and not on the host');
});

t.test('a filter returning TRACE for the semaphore calls cannot lift the emulation', async (t) => {
  const key = uniqueKey();
  const r = await sandboxed('escape_seccomp', [String(key), 'trace'], { env: { ESCAPE_KEEP: '1' } });
  healthy(t, r);
  t.equal(lines(r.stdout).get("listed in the sandbox's /proc/sysvipc/sem"), 'yes');
  t.notOk(hostHasKey(key), 'not on the host');
});

t.test('a second seccomp listener (to answer CONTINUE itself) is refused by the kernel', async (t) => {
  const key = uniqueKey();
  const r = await sandboxed('escape_seccomp', [String(key), 'listener'], { env: { ESCAPE_KEEP: '1' } });
  healthy(t, r);
  const m = lines(r.stdout);
  t.equal(m.get('install USER_NOTIF filter with a new listener'), '-1 EBUSY');
  t.equal(m.get('install USER_NOTIF filter with a listener for getppid only'), '-1 EBUSY');
  t.equal(m.get("listed in the sandbox's /proc/sysvipc/sem"), 'yes');
  t.notOk(hostHasKey(key), 'not on the host');
});

t.test('stricter filters of the program only restrict the program', async (t) => {
  const key = uniqueKey();
  const e = await sandboxed('escape_seccomp', [String(key), 'errno']);
  healthy(t, e);
  t.equal(lines(e.stdout).get('semget(KEY)'), '-1 EPERM', 'ERRNO outranks USER_NOTIF');
  const n = await sandboxed('escape_seccomp', [String(key), 'notif']);
  healthy(t, n);
  t.equal(lines(n.stdout).get('semget(KEY)'), '-1 ENOSYS', 'USER_NOTIF without a listener fails the call');
  t.notOk(hostHasKey(key), 'nothing on the host');
});

t.test('a syscall rewritten into semget under ptrace is still emulated', async (t) => {
  const key = uniqueKey();
  const r = await sandboxed('escape_seccomp', [String(key), 'ptrace']);
  healthy(t, r);
  const m = lines(r.stdout);
  t.equal(m.get('rewrote getpid into semget'), 'yes');
  t.equal(m.get('child'), 'its getpid returned a set id');
  t.equal(m.get("listed in the sandbox's /proc/sysvipc/sem"), 'yes', 'seccomp saw the rewritten call');
  t.notOk(hostHasKey(key), 'not on the host');
});

// ---------------------------------------------------------------------------
// 3. The supervisor process. As root the program runs in a PID namespace of
// its own ([proc] pid_namespace = "auto"), where the supervisor has no pid
// at all (tested at the end of this section). These tests take that away
// ("host"), as a run without root has it: under the default policy Landlock
// is the wall (ptrace scope, signal scope); strict.toml also denies ptrace
// and process_vm_* in the filter.

for (const [policy, manifest] of [
  ['default', DEFAULT_HOST_PIDS],
  ['strict', STRICT_HOST_PIDS],
] as const) {
  t.test(`[${policy}] ptrace of the supervisor and its threads, pidfd_getfd of its fds: refused`, async (t) => {
    const r = await sandboxed('escape_super', ['ptrace'], { manifest });
    healthy(t, r);
    const m = lines(r.stdout);
    t.equal(m.get('supervisor pid'), String(r.pid), "the program's parent is the sysvisor process");
    t.equal(m.get('PTRACE_ATTACH supervisor'), '-1 EPERM');
    t.equal(m.get('PTRACE_SEIZE supervisor'), '-1 EPERM');
    t.equal(m.get('PTRACE_ATTACH each supervisor thread'), 'all refused, EPERM');
    t.equal(m.get('pidfd_getfd of supervisor fds 0..255'), 'all refused, EPERM', 'the seccomp listener cannot be stolen');
  });

  t.test(`[${policy}] signals to the supervisor: refused (Landlock signal scope)`, async (t) => {
    const r = await sandboxed('escape_super', ['signal'], { manifest });
    healthy(t, r);
    const m = lines(r.stdout);
    const refused = [
      'kill(supervisor, 0)',
      'kill(supervisor, SIGKILL)',
      'kill(supervisor, SIGSTOP)',
      'kill(supervisor, SIGTERM)',
      'sigqueue(supervisor, SIGKILL)',
      'pidfd_send_signal(supervisor, SIGKILL)',
      'kill(-supervisor group, SIGKILL)',
    ];
    each(t, m, refused, '-1 EPERM');
    t.equal(m.get('tgkill(supervisor, each thread, SIGKILL)'), 'all refused, EPERM');
    t.equal(m.get('write to the pipe (SIGKILL to the owner)'), '1', 'F_SETOWN + O_ASYNC: the SIGIO signal is dropped');
    t.equal(m.get('write to the pipe again (SIGKILL to the group)'), '1', 'also for a process-group owner');
    t.equal(m.get('supervisor still answers'), 'semget ok');
  });

  t.test(`[${policy}] the supervisor's memory: /proc/PID/mem and process_vm_* refused`, async (t) => {
    const r = await sandboxed('escape_super', ['mem'], { manifest });
    healthy(t, r);
    const m = lines(r.stdout);
    t.equal(m.get('open /proc/SUP/mem'), '-1 EACCES');
    t.equal(m.get('open /proc/SUP/mem for writing'), '-1 EACCES');
    t.equal(m.get('process_vm_readv(supervisor)'), '-1 EPERM');
    t.equal(m.get('process_vm_writev(supervisor)'), '-1 EPERM');
    t.equal(m.get('kcmp(self, supervisor, KCMP_VM)'), '-1 EPERM');
    t.equal(m.get('readlink /proc/SUP/fd/0..63'), 'all refused, EACCES');
    t.equal(m.get('open /proc/SUP/fdinfo'), '-1 EACCES');
    t.equal(m.get('opendir /proc/SUP/root'), '-1 EACCES');
    t.equal(m.get('supervisor still answers'), 'semget ok');
  });

  // Landlock (ABI 7, Linux 6.18) refuses PTRACE_MODE_ATTACH but not
  // PTRACE_MODE_READ. The supervisor makes itself non-dumpable, which stops a
  // program of the same uid (tested below as nobody), but on 6.18 a root
  // program reads a non-dumpable process's environ, maps, auxv and pagemap
  // even without CAP_SYS_PTRACE (checked with capsh --drop=cap_sys_ptrace).
  // The wall is the PID namespace: in it the supervisor has no /proc entry.
  t.test(`[${policy}] the supervisor's environment and memory map are not readable`, async (t) => {
    const r = await sandboxedWithSupervisorPid('escape_super', ['mem'], policy === 'default' ? DEFAULT : STRICT);
    healthy(t, r);
    const m = lines(r.stdout);
    t.equal(m.get('supervisor pid'), String(r.pid), 'the attacks aim at the sysvisor process');
    for (const f of ['environ', 'maps', 'auxv', 'pagemap'])
      t.equal(m.get(`open /proc/SUP/${f}`), '-1 ENOENT', `/proc/SUP/${f}: no such process in the namespace`);
  });

  t.test(`[${policy}] the program holds no seccomp listener`, async (t) => {
    const r = await sandboxed('escape_super', ['fds'], { manifest });
    healthy(t, r);
    t.equal(lines(r.stdout).get('seccomp listener fds held by the program'), '0');
  });

  // prlimit(2), setpriority(2) and sched_set*(2) on another process need only
  // the same uid, and Landlock has no hook for them: supervisor/features/reach.ts
  // refuses them for processes outside the sandbox.
  t.test(`[${policy}] the supervisor's RLIMIT_NOFILE cannot be lowered`, async (t) => {
    const r = await sandboxed('escape_super', ['nofile'], { manifest });
    healthy(t, r);
    const m = lines(r.stdout);
    t.equal(m.get('prlimit(supervisor, RLIMIT_NOFILE, get)'), '-1 EPERM');
    t.equal(m.get('prlimit(supervisor, RLIMIT_NOFILE, 8)'), '-1 EPERM');
    t.equal(m.get("a new child's semget"), 'ok');
    t.equal(m.get('supervisor still answers'), 'semget ok');
  });

  t.test(`[${policy}] the supervisor's RLIMIT_CPU cannot be lowered (the kernel would kill it)`, async (t) => {
    const r = await sandboxed('escape_super', ['cpu'], { manifest });
    healthy(t, r);
    const m = lines(r.stdout);
    t.equal(m.get('prlimit(supervisor, RLIMIT_CPU, 1 s)'), '-1 EPERM');
    t.equal(m.get('supervisor still answers after up to 8 s of calls'), 'yes');
  });
}

t.test('scheduling of the supervisor cannot be changed from inside', async (t) => {
  const r = await sandboxed('escape_super', ['nice'], { manifest: DEFAULT_HOST_PIDS });
  healthy(t, r);
  const m = lines(r.stdout);
  t.equal(m.get('setpriority(supervisor, 19)'), '-1 EPERM');
  t.equal(m.get('sched_setaffinity(supervisor, cpu0)'), '-1 EPERM');
  t.equal(m.get('sched_setscheduler(supervisor, SCHED_IDLE)'), '-1 EPERM');
  t.equal(m.get('supervisor still answers'), 'semget ok');
});

// Without a PID namespace a root program may write the supervisor's
// /proc/PID/oom_score_adj (file permissions, no ptrace check); in one the
// supervisor has no /proc entry.
t.test("the supervisor's oom_score_adj cannot be raised from inside", async (t) => {
  const r = await sandboxedWithSupervisorPid('escape_super', ['nice'], DEFAULT);
  healthy(t, r);
  t.equal(lines(r.stdout).get('supervisor pid'), String(r.pid), 'the attacks aim at the sysvisor process');
  t.equal(lines(r.stdout).get('open /proc/SUP/oom_score_adj for writing'), '-1 ENOENT', 'no such process in the namespace');
});

// Issue 20, finding 5: with [env] inherit = false the program's own
// environment is clean, but without a PID namespace /proc/PPID/environ is the
// supervisor's and /proc/PID/environ any host process's of the same uid.
const environRun = async (t: Test, manifest: string): Promise<Map<string, string>> => {
  const host = spawn('sleep', ['60'], { stdio: 'ignore', env: { ...process.env, SYSVISOR_TEST_SECRET: 'host' } });
  t.teardown(() => host.kill('SIGKILL'));
  const r = await sandboxedWithSupervisorPid('escape_environ', [String(host.pid)], manifest, { SYSVISOR_TEST_SECRET: 'supervisor' });
  healthy(t, r);
  return lines(r.stdout);
};

t.test('[strict] the environments of the supervisor and of host processes are out of sight (PID namespace)', async (t) => {
  const m = await environRun(t, STRICT);
  t.equal(m.get('/proc/PPID/environ'), 'no secret', "the parent is the sandbox's init, with the program's environment");
  t.equal(m.get('/proc/ARG2/environ'), '-1 ENOENT', 'the supervisor: no such process in the namespace');
  t.equal(m.get('/proc/ARG1/environ'), '-1 ENOENT', 'a host process: no such process in the namespace');
  t.equal(m.get('processes listed in /proc'), 'some');
  t.equal(m.get('environs in /proc with the secret'), '0');
});

t.test('[strict, pid_namespace = "host"] what the PID namespace hides: both environments are readable', async (t) => {
  const m = await environRun(t, STRICT_HOST_PIDS);
  t.equal(m.get('/proc/PPID/environ'), 'secret', 'the parent is the supervisor');
  t.equal(m.get('/proc/ARG2/environ'), 'secret', 'the supervisor');
  t.equal(m.get('/proc/ARG1/environ'), 'secret', 'a host process of the same uid');
});

t.test('process groups and users with a member outside the sandbox are out of reach', async (t) => {
  const r = await sandboxed('escape_reach', []);
  healthy(t, r);
  const m = lines(r.stdout);
  t.equal(m.get('setpriority(own group, shared with the supervisor)'), '-1 EPERM');
  t.equal(m.get('setpriority(PRIO_USER, own uid)'), '-1 EPERM');
  t.equal(m.get('ioprio_set(own group)'), '-1 EPERM');
  t.equal(m.get('prlimit(pid 1)'), '-1 EPERM');
  t.equal(m.get('sched_setaffinity(pid 1)'), '-1 EPERM');
  t.equal(m.get('setpriority(own pid)'), '0');
  t.equal(m.get('setpriority(a new group of its own)'), '0');
});

for (const [policy, manifest] of SHIPPED) {
  const skip = process.getuid?.() === 0 ? false : 'as root only: the views are mounts in a namespace of the sandbox then';
  t.test(`[${policy}] the mount tree is out of reach: the /proc views stay, nothing is mounted or detached`, { skip }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'escape-mount-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const r = await sandboxed('escape_mount', [dir], { manifest });
    healthy(t, r);
    const m = lines(r.stdout);
    // EPERM, not EINVAL: each view is a mount, and Landlock refuses to take it away.
    const refused = [
      'umount2(/proc/sysvipc/sem, MNT_DETACH)',
      'umount2(/proc/locks, MNT_DETACH)',
      'umount2(/proc/sys/kernel/sem, 0)',
      'mount tmpfs on DIR',
      'bind /etc on DIR',
      'bind DIR/f over /proc/locks',
      'remount / read-only',
      // Landlock has no hook for these: the filter refuses them.
      'open_tree(/proc, OPEN_TREE_CLONE)',
      'open_tree(/proc, OPEN_TREE_NAMESPACE)',
      'open_tree_attr(/proc, OPEN_TREE_CLONE)',
      'fsopen(proc)',
      'fspick(/proc)',
      'fsmount(-1)',
      'mount_setattr(/proc/locks, read-only)',
      // A namespace of its own would let a /proc outlive its views (kept open while the namespace dies).
      'unshare(CLONE_NEWNS)',
      'unshare(CLONE_NEWUSER|CLONE_NEWNS)',
      'clone(CLONE_NEWNS)',
      // A new IPC namespace's /proc/sys/kernel/sem is another file than the one under the view.
      'unshare(CLONE_NEWIPC)',
      'clone(CLONE_NEWIPC)',
    ];
    each(t, m, refused, '-1 EPERM');
    each(t, m, ['clone3(CLONE_NEWNS)', 'clone3 (a plain fork)'], '-1 ENOSYS', "clone3: its flags are out of the filter's reach");
    t.equal(m.get('clone without CLONE_NEWNS (a plain fork)'), 'ok');
    t.equal(m.get('/proc/sys/kernel/sem after them'), 'the view', 'no IPC namespace whose own file the view does not cover');
    // Root keeps its capabilities (README, "Reach"): strict.toml's rules refuse host-wide settings, the default policy has none.
    const corePattern = policy === 'strict' ? '-1 EACCES' : '0';
    t.equal(m.get('open /proc/sys/kernel/core_pattern for writing'), corePattern, 'kernel.core_pattern for writing');
    // strict.toml denies the whole mount family itself; the default policy leaves the harmless form alone.
    const pathOnly = policy === 'strict' ? '-1 EPERM' : 'ok';
    t.equal(m.get('open_tree(/proc) without the clone flag (an O_PATH fd)'), pathOnly, 'open_tree that only opens a path');
  });
}

// ---------------------------------------------------------------------------
// 4. Semaphores of the host.

async function withHostSet(t: Test, fn: (key: number, id: number) => Promise<void>): Promise<void> {
  const key = uniqueKey();
  const made = await runCmd(`${C_BIN}escape_hostsem`, ['create', String(key)]);
  const id = Number(/^id (\d+)$/m.exec(made.stdout)?.[1]);
  if (!Number.isInteger(id)) throw new Error(`could not create a host set: ${made.stdout}${made.stderr}`);
  t.teardown(async () => {
    await runCmd(`${C_BIN}escape_hostsem`, ['remove', String(id)]);
  });
  await fn(key, id);
}

for (const [policy, manifest] of SHIPPED) {
  t.test(`[${policy}] a host set is unreachable by key, id and index; /proc/sysvipc/sem shows the sandbox's sets`, async (t) => {
    await withHostSet(t, async (key, id) => {
      const r = await sandboxed('escape_hostsem', ['probe', String(key), String(id)], { manifest });
      healthy(t, r);
      const m = lines(r.stdout);
      t.equal(m.get('semget(KEY, 0, 0)'), '-1 ENOENT');
      each(t, m, ['GETVAL(host id)', 'IPC_STAT(host id)', 'SETVAL(host id)', 'semop(host id)', 'SEM_STAT_ANY(host index)'], '-1 EINVAL');
      t.equal(m.get('SEM_STAT_ANY over every index finds KEY'), 'no');
      t.equal(m.get('semget(KEY, IPC_CREAT|IPC_EXCL) in the sandbox'), 'ok', 'the sandbox has its own key space');
      t.equal(m.get('its value'), '0 (the host set holds 42)');
      for (const via of [
        '/proc/sysvipc/sem',
        '//proc/./sysvipc/../sysvipc/sem',
        '/proc/self/root/proc/sysvipc/sem',
        '/proc/thread-self/root/proc/sysvipc/sem',
        'openat(/proc/sysvipc dir fd, "sem")',
        '"sem" relative to cwd /proc/sysvipc',
        'a symlink named "sem"',
        'a symlink to the /proc/sysvipc directory',
      ]) {
        t.equal(m.get(`key listed via ${via}`), 'no', via);
      }
      // the set was not touched
      const after = await runCmd('/bin/sh', ['-c', `grep -c '^ *${key} ' /proc/sysvipc/sem`]);
      t.equal(after.stdout.trim(), '1', 'the host set is still there');
    });
  });

  // virtual-files.ts matches the *basename* of the path before resolving it
  // in the supervisor, so a symlink with another name, /proc/self/{cwd,fd},
  // /dev/fd are not recognised: they open the kernel's file of the program's
  // IPC namespace, which is the sandbox's own (launcher: unshare(CLONE_NEWIPC)).
  // io_uring, which never passes through seccomp, is refused by the manifests.
  t.test(
    `[${policy}] the host's /proc/sysvipc/sem is not readable through a renamed symlink, /proc/self/{cwd,fd}, /dev/fd or io_uring`,
    async (t) => {
      await withHostSet(t, async (key, id) => {
        const r = await sandboxed('escape_hostsem', ['probe', String(key), String(id)], { manifest });
        healthy(t, r);
        const m = lines(r.stdout);
        t.equal(m.get('key listed via a symlink named "semaphores"'), 'no');
        t.equal(m.get('key listed via /proc/self/cwd/sem with cwd /proc/sysvipc'), 'no');
        t.equal(m.get('key listed via /proc/self/fd/N/sem'), 'no');
        t.equal(m.get('key listed via /dev/fd/N/sem (N a dir fd of /proc/sysvipc)'), 'no');
        // Both shipped manifests refuse io_uring (ENOSYS): the ring never opens anything.
        t.equal(m.get('key listed via io_uring openat of /proc/sysvipc/sem'), '-1 ENOSYS');
        t.equal(m.get('key listed via io_uring openat of the "semaphores" symlink'), '-1 ENOSYS');
      });
    },
  );
}

t.test('[default] root writes to /proc/sys/kernel/sem stay in the sandbox, also through a renamed symlink', async (t) => {
  const hostLimits = () => readFileSync('/proc/sys/kernel/sem', 'utf8');
  const before = hostLimits();
  t.teardown(() => {
    if (hostLimits() !== before) writeFileSync('/proc/sys/kernel/sem', before);
  });
  await withHostSet(t, async (key, id) => {
    const r = await sandboxed('escape_hostsem', ['probe', String(key), String(id)]);
    healthy(t, r);
    const m = lines(r.stdout);
    t.equal(m.get('sandbox semopm set apart through /proc/sys/kernel/sem'), 'yes');
    t.equal(m.get('write of semopm-3 through a symlink named "limits"'), 'ok', 'the write succeeds (in the private IPC namespace)');
    t.equal(hostLimits(), before, "the host's kernel.sem is unchanged");
  });
});

t.test('[ipc] namespace = "host" runs the program in the host IPC namespace; "private" in its own', async (t) => {
  const hostNs = readlinkSync('/proc/self/ns/ipc');
  for (const [mode, same] of [
    ['host', true],
    ['private', false],
    ['auto', false],
  ] as const) {
    const manifest = join(STRICT, '..', `ipc-${mode}.toml`);
    writeFileSync(manifest, `version = 1\n[ipc]\nnamespace = "${mode}"\n`);
    const r = await runCmd(process.execPath, [CLI, 'run', '-m', manifest, '--', '/bin/readlink', '/proc/self/ns/ipc']);
    t.equal(r.status, 0, mode);
    t.equal(r.stdout.trim() === hostNs, same, `${mode}: ${r.stdout.trim()} vs the host's ${hostNs}`);
    t.equal(r.stderr, '', `${mode}: no warning as root`);
  }
});

t.test(
  '[ipc] without CAP_SYS_ADMIN: "auto" warns and runs in the host IPC namespace, "private" refuses to start',
  { skip: NOBODY_SKIP },
  async (t) => {
    const hostNs = readlinkSync('/proc/self/ns/ipc');
    chmodSync(join(STRICT, '..'), 0o755); // readable by nobody
    for (const mode of ['auto', 'private'])
      writeFileSync(join(STRICT, '..', `ipc-${mode}.toml`), `version = 1\n[ipc]\nnamespace = "${mode}"\n`);
    const asNobody = [...CLI_AS_NOBODY, 'run', '-m'];
    const auto = await runCmd('setpriv', [...asNobody, join(STRICT, '..', 'ipc-auto.toml'), '--', '/bin/readlink', '/proc/self/ns/ipc']);
    t.equal(auto.status, 0, `auto without privilege runs (stderr: ${auto.stderr})`);
    t.equal(auto.stdout.trim(), hostNs, 'in the host namespace');
    t.match(
      auto.stderr,
      /warning: no private IPC namespace, unshare\(CLONE_NEWIPC\): Operation not permitted: the program can read the host's \/proc\/sysvipc files/,
    );
    const priv = await runCmd('setpriv', [...asNobody, join(STRICT, '..', 'ipc-private.toml'), '--', '/bin/true']);
    t.equal(priv.status, 125, 'private without privilege does not start');
    t.match(
      priv.stderr,
      /cannot start \/bin\/true: unshare\(CLONE_NEWIPC\) for ipc.namespace = "private": Operation not permitted \(needs CAP_SYS_ADMIN\)/,
    );
  },
);

t.test(
  "[non-root] the supervisor's environment and memory map are not readable by a program of the same uid",
  { skip: NOBODY_SKIP },
  async (t) => {
    const r = await runCmd('setpriv', [...CLI_AS_NOBODY, 'run', '-m', DEFAULT, '--', `${C_BIN}escape_super`, 'mem']);
    t.equal(r.status, 0, `exit status (stderr: ${r.stderr})`);
    const m = lines(r.stdout);
    for (const f of ['environ', 'maps', 'auxv', 'pagemap']) t.equal(m.get(`open /proc/SUP/${f}`), '-1 EACCES', `/proc/SUP/${f}`);
    t.equal(m.get('supervisor still answers'), 'semget ok');
  },
);

// ---------------------------------------------------------------------------
// 5. Pointers at the edges of the address space, with page 0 mapped.

/** escape_page0 natively; it exits 77 with "SKIP <why>" where page 0 cannot be mapped (no CAP_SYS_RAWIO). */
const PAGE0_NATIVE = await runCmd(`${C_BIN}escape_page0`, []);
const PAGE0_SKIP: string | false = PAGE0_NATIVE.status === 77 ? PAGE0_NATIVE.stdout.trim().replace(/^SKIP /, '') : false;

t.test('pointers into page 0 and just below 2^64 are treated as the kernel treats them', { skip: PAGE0_SKIP }, async (t) => {
  const native = PAGE0_NATIVE;
  t.equal(native.status, 0, `the native run ran to its end (stderr: ${native.stderr})`);
  const r = await sandboxed('escape_page0', []);
  healthy(t, r);
  t.equal(r.stdout, native.stdout, 'output equals native');
});
