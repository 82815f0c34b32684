// Hostile programs against the supervisor's own resources: what a program
// makes the supervisor hold is bounded (bytes written to a virtual file,
// fds for views and lock descriptions, pidfds, semaphores), a supervisor
// out of fds answers with Linux's errno and keeps serving, and the
// manifest's [sem] values are ceilings that root inside cannot lift.
//
// Memory is the VmHWM (peak RSS) of the sysvisor process, read when the
// program says "measure" and waits: the supervisor's loop is a thread of
// that process. Bounds are sizes with generous headroom, never times.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { C_BIN, CLI, ROOT } from './helpers.js';

const MB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'sysvisor-hostile-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A manifest whose /proc views are served through the notified open (a
 * pipe per writer): the path whose bounds these tests check. Under "fuse"
 * each write(2) is applied at once and its errno reaches the writer.
 */
function manifest(name: string, body: string): string {
  const file = join(dir, `${name}.toml`);
  writeFileSync(file, `version = 1\n${body}\n[proc]\nviews = "notify"\n`);
  return file;
}

/** VmHWM of a process, in bytes (NaN when it is gone). */
function peakRss(pid: number): number {
  try {
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The supervisor's VmHWM when the program printed "measure". */
  peak: number;
}

/** Until `file` holds a whole JSON document. */
async function dumped(file: string): Promise<void> {
  for (;;) {
    try {
      JSON.parse(readFileSync(file, 'utf8'));
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * `sysvisor run -m m -- cmd…`. At a line "measure" the supervisor's peak RSS
 * is read (after a state dump to `dump`, when given: SIGUSR1), then the
 * program is let go on (a line on its stdin).
 */
function run(m: string, cmd: readonly string[], opts: { nofile?: number; dump?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = [CLI, 'run', '-m', m, ...(opts.dump === undefined ? [] : ['--dump-state', opts.dump]), '--', ...cmd];
    // RLIMIT_NOFILE of the supervisor, soft and hard, when asked: the pools it carves from it do not depend on the machine.
    const child =
      opts.nofile === undefined
        ? spawn(process.execPath, args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] })
        : spawn('/bin/sh', ['-c', `ulimit -n ${opts.nofile} && exec "$0" "$@"`, process.execPath, ...args], {
            cwd: dir,
            stdio: ['pipe', 'pipe', 'pipe'],
          });
    let stdout = '';
    let stderr = '';
    let peak = NaN;
    let measured = false;
    const measure = async (): Promise<void> => {
      if (opts.dump !== undefined) {
        child.kill('SIGUSR1');
        await dumped(opts.dump);
      }
      peak = peakRss(child.pid!);
      child.stdin.write('go\n');
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (measured || !/^measure$/m.test(stdout)) return;
      measured = true;
      // A failure here fails the run (an async 'data' listener would leave it an unhandled rejection).
      measure().catch((err: unknown) => {
        child.kill('SIGKILL');
        reject(err as Error);
      });
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), 280_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, peak });
    });
  });
}

const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;

t.test('1.2 GB written to /proc/sys/kernel/sem: the supervisor keeps 4095 bytes of it and the sandbox goes on', async (t) => {
  const m = manifest('bigwrite', '');
  const script = (write: string) =>
    `${write}echo "write=$?"; cat /proc/sys/kernel/sem; echo measure; read go; ipcmk -S 1 >/dev/null && echo ipcmk ok; echo done`;
  const base = await run(m, ['/bin/sh', '-c', script('')]);
  const big = await run(m, ['/bin/sh', '-c', script('head -c 1200M /dev/zero > /proc/sys/kernel/sem; ')]);
  t.equal(big.signal, null);
  t.equal(big.status, 0, big.stderr);
  t.notMatch(big.stderr, /internal error|supervisor loop/);
  // A pipe carries no errno back: where Linux answers the first write(2) EINVAL, the writer sees success.
  t.equal(
    big.stdout,
    'write=0\n32000\t1024000000\t500\t32000\nmeasure\nipcmk ok\ndone\n',
    'nothing parsed from zeros; the sandbox goes on',
  );
  t.comment(`supervisor peak RSS: ${mb(base.peak)} without the write, ${mb(big.peak)} after 1200 MB written`);
  t.ok(big.peak - base.peak < 64 * MB, `1.2 GB written cost the supervisor less than 64 MB (${mb(big.peak - base.peak)})`);
});

t.test(
  '30,000 writers of /proc/sys/kernel/sem held open: EMFILE, then ENFILE; OFD locks: ENOLCK; another process still locks and semops',
  async (t) => {
    // The supervisor runs with 8192 fds: its pools for writers and for lock duplicates are a quarter each
    // of what is left after RESERVE, a process may hold a quarter of a pool; five flooders of 6,000 opens
    // each, then 6,000 OFD locks through as many descriptions.
    const r = await run(manifest('flood', ''), [`${C_BIN}fd_flood`, '5', '6000', join(dir, 'lockfile')], { nofile: 8192 });
    t.equal(r.signal, null);
    t.notMatch(r.stderr, /internal error|supervisor loop|EMFILE/, 'no supervisor error');
    t.equal(r.status, 0, r.stderr);
    t.equal(
      r.stdout,
      [
        'flooder 1: first failure EMFILE',
        'flooder 2: first failure EMFILE',
        'flooder 3: first failure EMFILE',
        'flooder 4: first failure EMFILE',
        'flooder 5: first failure ENFILE',
        'lock flooder: first failure ENOLCK',
        'other process: F_OFD_SETLK 0',
        'other process: semop 0',
        'other process: /proc/sys/kernel/sem read',
        'after the flood: open for writing ok',
        'done',
        '',
      ].join('\n'),
    );
  },
);

// What the supervisor holds per semaphore and per set (docs/supervisor-bounds.md):
// values, last pids and otimes are 4 + 4 + 8 bytes a semaphore; a set's
// objects (perm, queues, maps) about 1.75 KB, rounded up here.
const BYTES_PER_SEM = 16;
const BYTES_PER_SET = 2048;

t.test('[sem] of strict.toml are ceilings: root cannot lift them; a sandbox at the ceiling costs what the numbers say', async (t) => {
  // strict.toml with the views notified: under "fuse" Landlock refuses the write itself ([filesystem] write).
  const strict = join(dir, 'strict-notify.toml');
  writeFileSync(strict, `${readFileSync(join(ROOT, 'policies', 'strict.toml'), 'utf8')}\n[proc]\nviews = "notify"\n`);
  const ceiling = { semmns: 32000, semmni: 128 };
  const base = await run(strict, ['/bin/sh', '-c', 'echo measure; read go'], { dump: join(dir, 'idle.json') });
  const script = [
    'sem() { echo "$1" > /proc/sys/kernel/sem; cat /proc/sys/kernel/sem; }',
    'sem "2147483647 2147483647 500 32768"',
    'big=0; for i in 1 2 3 4 5 6 7 8; do ipcmk -S 1048576 >/dev/null 2>&1 && big=$((big+1)); done; echo "sets of 1048576: $big"',
    'sem "100 10000 16 64"',
    'sem "200 32001 32 128"',
    'sem "250 32000 32 128"',
    'n=0; while [ $n -lt 200 ] && ipcmk -S 250 >/dev/null 2>&1; do n=$((n+1)); done; echo "sets of 250: $n"',
    'echo measure; read go',
    'ipcrm --all=sem; echo done',
  ].join('\n');
  // The state is dumped at the ceiling before the peak is read: the dump is built from every semaphore.
  const r = await run(strict, ['/bin/sh', '-c', script], { dump: join(dir, 'ceiling.json') });
  t.equal(r.status, 0, r.stderr);
  t.equal(
    r.stdout,
    [
      '250\t32000\t32\t128', // EINVAL: nothing above the ceiling is stored
      'sets of 1048576: 0',
      '100\t10000\t16\t64', // lowered
      '200\t10000\t16\t64', // EINVAL at semmns: semmsl kept, semmns and the rest not
      '250\t32000\t32\t128', // raised back to the ceiling
      `sets of 250: ${ceiling.semmni}`,
      'measure',
      'done',
      '',
    ].join('\n'),
  );
  const bound = ceiling.semmns * BYTES_PER_SEM + ceiling.semmni * BYTES_PER_SET + 32 * MB;
  const final = JSON.parse(readFileSync(join(dir, 'ceiling.json'), 'utf8')) as { sem: { sets: unknown[] } };
  t.equal(final.sem.sets.length, 0, 'the final state, written over the live dump, has no set left');
  t.comment(`supervisor peak RSS ${mb(base.peak)} idle, ${mb(r.peak)} with ${ceiling.semmni} sets, ${ceiling.semmns} semaphores, dumped`);
  t.ok(
    r.peak - base.peak < bound,
    `at the ceiling the supervisor grew ${mb(r.peak - base.peak)}, under ${mb(bound)} (the semaphores' bytes + 32 MB)`,
  );
});
