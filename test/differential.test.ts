// Differential tests: every C program in test/c/build/ whose name starts with
// one of PREFIXES runs natively and under sysvisor; the kernel is the oracle,
// so stdout and the exit status must be identical. Each program prints one
// deterministic line per check and ends with "done" (see test/c/common.h).
//
// Programs run one after another (natively they share the machine's real
// IPC namespace and keys are derived from pids), each in a fresh temporary
// working directory, with a 60 s limit. Lock programs run under sysvisor
// twice: with the default [locks] host = "coherent" and with "isolated".
//
// The sandbox runs in a private IPC namespace, where a call that slipped past
// the supervisor would get the same answers from the kernel: each sandboxed
// run also prints --stats, and the calls the program must have sent to the
// supervisor (CALLS) have to be counted there.
//
// SYSVISOR_DIFF=name1,prefix2 narrows the run to matching programs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { runInGroup, type Outcome } from './helpers.js';

/** Program families compared here; add 'lock_', 'proc_' as they land. */
const PREFIXES: readonly string[] = ['sem_', 'lock_', 'proc_'];

// This file runs compiled as dist/test/differential.test.js.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = join(ROOT, 'test', 'c', 'build');
const CLI = join(ROOT, 'dist', 'bundle', 'sysvisor.js');
const MANIFEST = join(ROOT, 'policies', 'default.toml');
/** The default policy with [locks] host = "isolated" (the sandbox's locks invisible to the host). */
const ISOLATED = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-diff-isolated-'));
  const path = join(dir, 'isolated.toml');
  writeFileSync(
    path,
    readFileSync(MANIFEST, 'utf8')
      .replace(/^host = .*\n/m, '')
      .replace(/^\[locks\]\n/m, '[locks]\nhost = "isolated"\n'),
  );
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return path;
})();
const TIMEOUT_MS = 60_000;

const SEM_CALLS = ['semget', 'semop', 'semtimedop', 'semctl'];
/** fcntl is notified for the lock commands (F_GETLK, F_SETLK, F_SETLKW, F_OFD_*); a filter that notifies every fcntl counts the others too. */
const LOCK_CALLS = ['fcntl', 'flock'];
/**
 * Per program (by name or prefix, first match): groups of syscalls, each of
 * which the supervisor must have counted at least once in the sandboxed run.
 * A program missing here fails: a new one must say what it sends.
 */
const CALLS: ReadonlyArray<readonly [string, readonly (readonly string[])[]]> = [
  ['sem_', [SEM_CALLS]],
  ['lock_', [LOCK_CALLS]],
  ['proc_mtfork', [SEM_CALLS, LOCK_CALLS]],
  ['proc_tree', [SEM_CALLS]],
  ['proc_pids', [SEM_CALLS, LOCK_CALLS]],
  ['proc_reach', [['prlimit64', 'setpriority', 'ioprio_set', 'sched_setaffinity', 'sched_setscheduler']]],
  // No emulated call: the signals' rt_sigreturn reach the supervisor (most are answered in C, still counted).
  ['proc_signal_storm', [['rt_sigreturn']]],
  ['proc_signal_second', [SEM_CALLS, LOCK_CALLS, ['rt_sigreturn']]],
];

/** The "sysvisor stats" table at the end of stderr: count per syscall name, and the stderr before it. */
function parseStats(stderr: string): { counts: Map<string, number>; rest: string } | null {
  const at = stderr.search(/^sysvisor stats: /m);
  if (at < 0) return null;
  const counts = new Map<string, number>();
  for (const m of stderr.slice(at).matchAll(/^(\w+) +(\d+) /gm)) counts.set(m[1]!, Number(m[2]));
  return { counts, rest: stderr.slice(0, at) };
}

/** Run a test program in `cwd` with the per-program limit. */
const run = (cmd: string, args: readonly string[], cwd: string): Promise<Outcome> => runInGroup(cmd, args, { cwd, timeoutMs: TIMEOUT_MS });

function programs(): string[] {
  if (!existsSync(BUILD)) return [];
  const filter = (process.env.SYSVISOR_DIFF ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return readdirSync(BUILD)
    .filter((n) => PREFIXES.some((p) => n.startsWith(p)))
    .filter((n) => filter.length === 0 || filter.some((f) => n.startsWith(f)))
    .filter((n) => {
      const st = statSync(join(BUILD, n));
      return st.isFile() && (st.mode & 0o111) !== 0;
    })
    .sort();
}

/** Keys the programs derive from their pid: 0x5E<n><pid & 0xffff>. */
function leftoverKeyedSets(pid: number): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/sysvipc/sem', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .slice(1)
    .filter((line) => {
      const key = Number.parseInt(line.trim().split(/\s+/)[0] ?? '', 10);
      return Number.isFinite(key) && (key & 0xff00ffff) === (0x5e000000 | (pid & 0xffff) | 0);
    });
}

const describe = (o: Outcome): string =>
  o.timedOut ? `timed out after ${TIMEOUT_MS} ms` : o.signal !== null ? `killed by ${o.signal}` : `exit ${o.status}`;

const names = programs();
const haveCli = existsSync(CLI);
if (!haveCli) {
  console.error(
    `\n*** differential: ${CLI} does not exist (run \`npx tsc -p tsconfig.json\`): ` +
      'the sandboxed half of every comparison is SKIPPED; only native runs are checked. ***\n',
  );
}

t.test('test programs are built', async (t) => {
  t.ok(names.length > 0, `programs matching ${PREFIXES.join(', ')} in ${BUILD} (run \`make -C test/c\`)`);
});

const SKIP_MSG = `SANDBOXED RUN SKIPPED: ${CLI} missing, nothing compared against sysvisor`;

for (const name of names) {
  const path = join(BUILD, name);
  t.test(name, async (t) => {
    const cwd = mkdtempSync(join(tmpdir(), `sysvisor-diff-${name}-`));
    t.teardown(() => rmSync(cwd, { recursive: true, force: true }));

    let native: Outcome | undefined;
    await t.test('native', async (t) => {
      const o = await run(path, [], cwd);
      native = o;
      t.comment(`native: ${describe(o)} in ${o.ms} ms`);
      if (o.stderr !== '') t.comment(`native stderr:\n${o.stderr}`);
      t.equal(o.timedOut, false, 'finishes in time');
      t.equal(o.signal, null, 'not killed by a signal');
      t.equal(o.status, 0, 'exit status 0');
      t.match(o.stdout, /(^|\n)done\n$/, 'output ends with "done"');
      t.notMatch(o.stdout, /^FATAL /m, 'no harness failure');
      // Only keyed sets can be attributed to the program (IPC_PRIVATE ones cannot).
      if (o.pid !== undefined) t.same(leftoverKeyedSets(o.pid), [], 'no keyed semaphore set left behind');
    });

    if (!haveCli) {
      await t.test('under sysvisor', { skip: SKIP_MSG }, async () => {});
      return;
    }
    const manifests: Array<[string, string]> = [['under sysvisor', MANIFEST]];
    if (name.startsWith('lock_')) manifests.push(['under sysvisor, [locks] host = "isolated"', ISOLATED]);
    for (const [what, manifest] of manifests) {
      await t.test(what, async (t) => {
        if (native === undefined) throw new Error('native run missing');
        const o = await run(process.execPath, [CLI, 'run', '--stats', '-m', manifest, '--', path], cwd);
        t.comment(`sysvisor: ${describe(o)} in ${o.ms} ms`);
        const stats = parseStats(o.stderr);
        const stderr = stats?.rest ?? o.stderr;
        if (stderr !== '') t.comment(`sysvisor stderr:\n${stderr}`);
        t.equal(o.timedOut, false, 'finishes in time');
        t.equal(o.stdout, native.stdout, 'stdout equals native stdout');
        t.equal(o.signal, native.signal, 'same terminating signal');
        t.equal(o.status, native.status, 'same exit status');
        const groups = CALLS.find(([prefix]) => name.startsWith(prefix))?.[1];
        t.ok(groups, `${name} has an entry in CALLS (the calls it must send to the supervisor)`);
        t.ok(stats, 'sysvisor printed its stats');
        for (const group of groups ?? []) {
          const count = group.reduce((n, call) => n + (stats?.counts.get(call) ?? 0), 0);
          t.ok(count > 0, `the supervisor answered ${group.join('/')} (${count} counted)`);
        }
      });
    }
  });
}

// Natively, /proc/locks is printed a page per read and resumed by line
// number: while others' locks come and go, one pass can repeat or skip a
// line. The lock programs read it through proc_locks.h (passes repeated
// until two agree); with 300 locks churning beside it, lock_close must print
// what it prints on a quiet machine.
const LOCK_CLOSE = join(BUILD, 'lock_close');
const CHURN = join(BUILD, 'churn_locks');
t.test(
  '/proc/locks is read consistently while other locks churn',
  { skip: existsSync(CHURN) && existsSync(LOCK_CLOSE) ? false : 'test/c not built' },
  async (t) => {
    const cwd = mkdtempSync(join(tmpdir(), 'sysvisor-diff-churn-'));
    t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
    const quiet = await run(LOCK_CLOSE, [], cwd);
    t.equal(quiet.status, 0, 'lock_close on a quiet machine');
    const churn = spawn(CHURN, [cwd, '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => churn.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      churn.stdout.once('data', () => resolve());
      churn.once('exit', (code) => reject(new Error(`churn_locks exited (${code}) before churning`)));
    });
    for (let i = 0; i < 5; i++) {
      const o = await run(LOCK_CLOSE, [], cwd);
      t.equal(o.stdout, quiet.stdout, `run ${i + 1} beside the churn prints the quiet run's lines`);
    }
  },
);
