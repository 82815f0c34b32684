// File locks under sysvisor with real tools: util-linux flock(1) serialising
// concurrent shell jobs (exact and fast modes), /proc/locks inside the
// sandbox showing the sandbox's locks only, and the lock state in the
// supervisor's state dump (live and final).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { LockMode } from '../src/manifest/types.js';
import { Sandbox } from '../supervisor/sandbox.js';
import { CLI, exec, hostProcLocks, policy, procLocksId } from './helpers.js';

const FLOCK = '/usr/bin/flock';
const haveFlock = existsSync(FLOCK);
const havePerl = spawnSync('perl', ['-MFcntl', '-e', 'print F_SETLK'], { encoding: 'utf8' }).status === 0;
const LOCK_SYSCALLS = ['semget', 'semop', 'semtimedop', 'semctl', 'fcntl', 'flock'];

const manifest = (mode: LockMode) => {
  const p = policy();
  return { ...p, syscalls: { ...p.syscalls, emulate: LOCK_SYSCALLS }, locks: { ...p.locks, mode } };
};

const scratch = (t: { teardown(fn: () => void): void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-locks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

// Each job appends ROUNDS lines "n job" where n is one more than the last
// line's n, read and written under `flock -x`: any interleaving or lost
// update shows as a gap or a repeat.
const JOBS = 4;
const ROUNDS = 25;
const jobScript = (dir: string) => `
i=0
while [ $i -lt ${ROUNDS} ]; do
  ${FLOCK} -x ${dir}/lock sh -c 'n=$(tail -n 1 ${dir}/out 2>/dev/null | cut -d" " -f1); n=\${n:-0}; sleep 0.001; echo "$((n+1)) '$1'" >> ${dir}/out'
  i=$((i+1))
done
`;

for (const mode of ['exact', 'fast'] as const) {
  t.test(
    `flock(1) serialises ${JOBS} concurrent shell jobs (${mode} mode)`,
    { skip: haveFlock ? false : `${FLOCK} missing` },
    async (t) => {
      const dir = scratch(t);
      writeFileSync(join(dir, 'job.sh'), jobScript(dir));
      const jobs = Array.from({ length: JOBS }, (_, i) => `sh ${dir}/job.sh j${i} &`).join(' ');
      const r = await Sandbox.run('/bin/sh', ['-c', `${jobs} wait`], { manifest: manifest(mode), stdio: 'pipe', cwd: dir });
      t.equal(r.status, 0, String(r.stderr ?? ''));
      const lines = readFileSync(join(dir, 'out'), 'utf8').trim().split('\n');
      t.equal(lines.length, JOBS * ROUNDS, 'every update arrived');
      const bad = lines.filter((l, i) => Number(l.split(' ')[0]) !== i + 1);
      t.same(bad, [], 'counter goes 1, 2, 3, ... with no repeat or gap');
      for (let j = 0; j < JOBS; j++) t.equal(lines.filter((l) => l.endsWith(` j${j}`)).length, ROUNDS, `job j${j} wrote ${ROUNDS} lines`);
      const flocks = r.stats.find((s) => s.nr === 73); // flock(2)
      t.ok(flocks !== undefined && flocks.count > 0, 'flock calls went to the supervisor (those that did not sleep are counted)');
      const state = r.state as { locks?: { files: unknown[]; mode: string } };
      t.equal(state.locks?.mode, mode);
      t.same(state.locks?.files, [], 'nothing locked at the end');
    },
  );
}

t.test(
  "/proc/locks in the sandbox lists the sandbox's locks, not the host's",
  { skip: haveFlock ? false : `${FLOCK} missing` },
  async (t) => {
    const dir = scratch(t);
    writeFileSync(join(dir, 'lock'), '');
    writeFileSync(join(dir, 'host'), '');
    // A lock the host holds on another file while the sandbox runs.
    const host = spawn(FLOCK, ['-x', join(dir, 'host'), 'sh', '-c', `touch ${dir}/host-ready; sleep 30`], { stdio: 'ignore' });
    t.teardown(() => host.kill('SIGKILL'));
    for (let i = 0; i < 500 && !existsSync(join(dir, 'host-ready')); i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(hostProcLocks(` ${procLocksId(join(dir, 'host'))} `).length, 1, "the host lock is in the host's /proc/locks");

    const script = `${FLOCK} -s ${dir}/lock sh -c 'cat /proc/locks; echo ---; echo pid $$'`;
    const r = await Sandbox.run('/bin/sh', ['-c', script], { manifest: manifest('exact'), stdio: 'pipe', cwd: dir });
    t.equal(r.status, 0, String(r.stderr ?? ''));
    const [locks, rest] = r.stdout!.toString().split('---\n');
    const lines = locks.trim().split('\n');
    t.equal(lines.length, 1, `one lock: ${locks}`);
    t.match(lines[0], new RegExp(`^1: FLOCK  ADVISORY  READ \\d+ ${procLocksId(join(dir, 'lock'))} 0 EOF$`));
    t.notMatch(locks, procLocksId(join(dir, 'host')), "the host's lock is not shown");
    t.match(rest, /^pid \d+/);
  },
);

t.test(
  '/proc/locks in the sandbox shows a POSIX lock taken there (perl makes the fcntl call)',
  { skip: havePerl ? false : 'perl (with its Fcntl module) missing' },
  async (t) => {
    const dir = scratch(t);
    writeFileSync(join(dir, 'lock'), '');
    const posix = `perl -MFcntl -e 'open(my $f, "+<", "${dir}/lock") or die; my $l = pack("s s x4 q q l x4", F_WRLCK, 0, 5, 10, 0);
    fcntl($f, F_SETLK, $l) or die "F_SETLK: $!"; system("cat /proc/locks")'`;
    const p = await Sandbox.run('/bin/sh', ['-c', posix], { manifest: manifest('exact'), stdio: 'pipe', cwd: dir });
    t.equal(p.status, 0, String(p.stderr ?? ''));
    t.match(p.stdout!.toString(), new RegExp(`^1: POSIX  ADVISORY  WRITE \\d+ ${procLocksId(join(dir, 'lock'))} 5 14\n$`));
  },
);

t.test(
  'the state dump shows locks: live (on request) and empty at the end',
  { skip: haveFlock ? false : `${FLOCK} missing` },
  async (t) => {
    const dir = scratch(t);
    writeFileSync(join(dir, 'lock'), '');
    const sandbox = new Sandbox();
    const running = sandbox.run(
      '/bin/sh',
      ['-c', `${FLOCK} -x ${dir}/lock sh -c 'touch ${dir}/ready; while [ ! -e ${dir}/go ]; do sleep 0.01; done'`],
      {
        manifest: manifest('exact'),
        stdio: 'pipe',
        cwd: dir,
      },
    );
    for (let i = 0; i < 1000 && !existsSync(join(dir, 'ready')); i++) await new Promise((r) => setTimeout(r, 10));
    const live = join(dir, 'live.json');
    await sandbox.dumpState(live);
    writeFileSync(join(dir, 'go'), '');
    const r = await running;
    t.equal(r.status, 0, String(r.stderr ?? ''));

    const ino = String(statSync(join(dir, 'lock')).ino);
    const state = JSON.parse(readFileSync(live, 'utf8')) as {
      locks: { mode: string; records: number; files: { ino: string; flock: { type: string; pid: number }[] }[]; descriptions: unknown[] };
    };
    t.equal(state.locks.mode, 'exact');
    t.equal(state.locks.records, 1);
    t.equal(state.locks.files.length, 1);
    t.equal(state.locks.files[0].ino, ino);
    t.equal(state.locks.files[0].flock[0].type, 'WRITE');
    t.equal(state.locks.descriptions.length, 1, 'the locking description is tracked');
    const final = r.state as { locks: { files: unknown[]; descriptions: unknown[] } };
    t.same(final.locks.files, [], 'released when the holder exited');
    t.same(final.locks.descriptions, [], 'and the description forgotten');
  },
);

t.test('--dump-state from the CLI includes the locks section', async (t) => {
  const dir = scratch(t);
  const m = join(dir, 'm.toml');
  writeFileSync(m, `version = 1\n[syscalls]\nemulate = ${JSON.stringify(LOCK_SYSCALLS)}\n[locks]\nmode = "fast"\nmax = 77\n`);
  const out = join(dir, 'state.json');
  const r = await exec(process.execPath, [CLI, 'run', '-m', m, '--dump-state', out, '--', '/bin/true'], { cwd: dir });
  t.equal(r.status, 0, r.stderr);
  const state = JSON.parse(readFileSync(out, 'utf8')) as { locks: { mode: string; max: number; records: number } };
  t.same({ mode: state.locks.mode, max: state.locks.max, records: state.locks.records }, { mode: 'fast', max: 77, records: 0 });
});
