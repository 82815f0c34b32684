// Files the supervisor creates (docs/FILES.md): a link the sandboxed program
// plants at the live dump path, at the persist file or its old temporary
// name, or at a crash report name never makes the supervisor write through
// it; the persist file survives a SIGKILL at any moment of its write; a
// $TMPDIR owned by the program gets nothing; the run directory and the
// user-given paths are checked, with the reason when refused.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { decodePersisted } from '../src/sem/persist.js';
import { builtinManifest } from '../supervisor/index.js';
import { close } from '../supervisor/ffi.js';
import { closeSlot, openForWriting, openRunDirectory, openSlot, readSlot, runDirectoryPath, writeSlot } from '../supervisor/safe-file.js';
import { C_BIN, CLI, sysvisor } from './helpers.js';

const VICTIM = 'the victim: nothing may write here\n';
const NOBODY = 65534;
const haveSetpriv = spawnSync('setpriv', ['--version']).status === 0;
/**
 * The planting programs below name the supervisor's files by its pid, their
 * $PPID: in a PID namespace of the sandbox's own (as root) the supervisor has
 * none there, so they run among the host's processes, as without root (a host
 * process of the same uid could plant the same links).
 */
const HOST_PIDS = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-files-manifest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'host-pids.toml');
  writeFileSync(path, 'version = 1\n[proc]\npid_namespace = "host"\n');
  return path;
})();

function scratch(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'sysvisor-files-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function victim(dir: string): string {
  const v = join(dir, 'victim');
  writeFileSync(v, VICTIM);
  return v;
}

/** Environment with the run directory under `runtime` (XDG_RUNTIME_DIR) and TMPDIR at `tmp`. */
function envWith(vars: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries<string | undefined>({ ...process.env, NO_COLOR: '1', ...vars }).filter(([, v]) => v !== undefined),
  );
}

/**
 * `sysvisor run -- sh -c SCRIPT` that signals `ready` (a file) when SCRIPT
 * has run, then waits for `go`; meanwhile `during(pid)` runs with the
 * supervisor's pid. Resolves with the run's status and stderr.
 */
async function runWhile(dir: string, script: string, env: NodeJS.ProcessEnv, during: (pid: number) => Promise<void>) {
  const ready = join(dir, 'ready');
  const go = join(dir, 'go');
  const child = spawn(
    process.execPath,
    [CLI, 'run', '-m', HOST_PIDS, '--', '/bin/sh', '-c', `${script}; touch ${ready}; while [ ! -e ${go} ]; do sleep 0.01; done`],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  for (let i = 0; i < 3000 && !existsSync(ready) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 20));
  try {
    await during(child.pid!);
  } finally {
    writeFileSync(go, '');
  }
  return { status: await closed, stderr };
}

/**
 * The user sends SIGUSR1 on purpose (the CLI itself never does: it asks the
 * control socket): wait for the dump to be a regular file at `file`.
 */
async function dumpOnPurpose(pid: number, file: string): Promise<string> {
  process.kill(pid, 'SIGUSR1');
  const written = () => {
    try {
      return lstatSync(file).isFile();
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 3000 && !written(); i++) await new Promise((r) => setTimeout(r, 20));
  return file;
}

t.test('a link planted at the live dump path: the dump lands in the run directory, the victim is unchanged', async (t) => {
  const d = scratch(t);
  const v = victim(d);
  const runtime = join(d, 'runtime');
  const tmp = join(d, 'tmp');
  mkdirSync(runtime, { mode: 0o700 });
  mkdirSync(tmp);
  const env = envWith({ XDG_RUNTIME_DIR: runtime, TMPDIR: tmp });
  // The program's parent is the supervisor: $PPID names its dump, at the old place and the new.
  const script = `ipcmk -S 2 >/dev/null; ln -s ${v} ${tmp}/sysvisor-$PPID.json; ln -sf ${v} ${runtime}/sysvisor/sysvisor-$PPID.json`;
  let ipcs = { status: -1 as number | null, stdout: '', stderr: '' };
  let supervisor = 0;
  const r = await runWhile(d, script, env, async (pid) => {
    supervisor = pid;
    ipcs = await sysvisor(['ipcs', await dumpOnPurpose(pid, join(runtime, 'sysvisor', `sysvisor-${pid}.json`))], { env });
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(ipcs.status, 0, ipcs.stderr);
  t.match(ipcs.stdout, /in use: 1 sets, 2 semaphores/, 'the dump was written and read back');
  t.equal(readFileSync(v, 'utf8'), VICTIM, 'the victim is unchanged');
  t.ok(lstatSync(join(tmp, `sysvisor-${supervisor}.json`)).isSymbolicLink(), 'nothing is written in $TMPDIR');
  t.notOk(existsSync(join(runtime, 'sysvisor', `sysvisor-${supervisor}.json`)), 'the live dump is removed at exit');
  t.equal(lstatSync(join(runtime, 'sysvisor')).mode & 0o777, 0o700, 'the run directory is private');
});

t.test('[ipc] persist: links planted at the snapshot or beside it are never written through', async (t) => {
  const d = scratch(t);
  const v = victim(d);
  const state = join(d, 'state.json');
  const manifest = join(d, 'persist.toml');
  writeFileSync(manifest, `version = 1\n[ipc]\npersist = "${state}"\n`);
  const env = envWith({});
  const nsems = () => decodePersisted(readFileSync(state, 'utf8'), builtinManifest().sem).sets.map((s) => s.values.length);

  const atTmp = await sysvisor(['run', '-m', manifest, '--', '/bin/sh', '-c', `ipcmk -S 3 >/dev/null; ln -s ${v} ${state}.tmp`], { env });
  t.equal(atTmp.status, 0, atTmp.stderr);
  t.equal(readFileSync(v, 'utf8'), VICTIM, 'a link at the old temporary name: victim unchanged');
  t.same(nsems(), [3], 'the snapshot landed');
  t.equal(readdirSync(d).filter((f) => f.endsWith('.tmp') && f !== 'state.json.tmp').length, 0, 'no temporary file left');

  const atFile = await sysvisor(['run', '-m', manifest, '--', '/bin/sh', '-c', `ln -sf ${v} ${state}; ipcmk -S 4 >/dev/null`], { env });
  t.equal(atFile.status, 0, atFile.stderr);
  t.equal(readFileSync(v, 'utf8'), VICTIM, 'a link over the snapshot during the run: victim unchanged');
  t.ok(lstatSync(state).isFile(), 'the link was replaced, not followed');
  t.same(nsems(), [3, 4], 'the snapshot landed');

  unlinkSync(state);
  symlinkSync(v, state);
  const before = await sysvisor(['run', '-m', manifest, '--', '/bin/true'], { env });
  t.equal(before.status, 125);
  t.equal(before.stderr, `sysvisor: ipc.persist: ${state}: is a symbolic link (sysvisor does not read or write through links)\n`);
  t.equal(readFileSync(v, 'utf8'), VICTIM, 'a link there at the launch: refused, victim unchanged');

  unlinkSync(state);
  mkdirSync(state);
  const dir = await sysvisor(['run', '-m', manifest, '--', '/bin/true'], { env });
  t.equal(dir.status, 125);
  t.equal(dir.stderr, `sysvisor: ipc.persist: ${state}: is not a regular file (a directory)\n`);
});

t.test('links planted at crash report names: the report takes the next free name, the victim is unchanged', async (t) => {
  const d = scratch(t);
  const v = victim(d);
  const runtime = join(d, 'runtime');
  const tmp = join(d, 'tmp');
  mkdirSync(runtime, { mode: 0o700 });
  mkdirSync(tmp);
  const env = envWith({ XDG_RUNTIME_DIR: runtime, TMPDIR: tmp, SYSVISOR_TEST_FAULT: 'semget' });
  const run = join(runtime, 'sysvisor');
  const script = `ln -s ${v} ${tmp}/sysvisor-crash-$PPID-1.json; for n in 1 2; do ln -s ${v} ${run}/sysvisor-crash-$PPID-$n.json; done; ipcmk -S 1`;
  const r = await sysvisor(['run', '-m', HOST_PIDS, '--', '/bin/sh', '-c', script], { env });
  const m = /crash report: (\S+)\n/.exec(r.stderr);
  t.ok(m, r.stderr);
  const report = m![1];
  t.match(report, new RegExp(`^${run}/sysvisor-crash-\\d+-3\\.json$`), 'names 1 and 2 were taken');
  t.equal(readFileSync(v, 'utf8'), VICTIM, 'the victim is unchanged');
  t.ok(lstatSync(report).isFile());
  t.equal((JSON.parse(readFileSync(report, 'utf8')) as { call: { syscall: string } }).call.syscall, 'semget', 'the report is whole');
  t.same(
    readdirSync(tmp).filter((f) => !f.startsWith('sysvisor-crash-')),
    [],
    'nothing is written in $TMPDIR',
  );
});

t.test(
  'a $TMPDIR owned by the program (nobody) with links planted in it gets nothing',
  {
    skip: haveSetpriv ? false : 'setpriv (util-linux) is missing: the program cannot be run as nobody',
  },
  async (t) => {
    const d = scratch(t);
    chmodSync(d, 0o755);
    const v = victim(d);
    const victimDir = join(d, 'victim-dir');
    mkdirSync(victimDir);
    const tmp = join(d, 'tmp');
    mkdirSync(tmp, { mode: 0o700 });
    chownSync(tmp, NOBODY, NOBODY);
    const env = envWith({ XDG_RUNTIME_DIR: undefined, TMPDIR: tmp, SYSVISOR_TEST_FAULT: 'semget' });
    const plant =
      `cd ${tmp} && ln -s ${v} sysvisor-$PPID.json && ln -s ${v} sysvisor-crash-$PPID-1.json && ln -s ${victimDir} sysvisor-0` +
      ` && ln -s ${victimDir} sysvisor; ipcmk -S 1 2>/dev/null`;
    // Double quotes: the outer shell, whose parent is the supervisor, expands $PPID.
    const script = `setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups /bin/sh -c "${plant}"`;
    let ps = { status: -1 as number | null, stdout: '', stderr: '' };
    let supervisor = 0;
    const r = await runWhile(d, script, env, async (pid) => {
      supervisor = pid;
      ps = await sysvisor(['ps', await dumpOnPurpose(pid, `/run/sysvisor/sysvisor-${pid}.json`)], { env });
    });
    const report = /crash report: (\S+)\n/.exec(r.stderr)?.[1];
    if (report !== undefined && report.startsWith('/')) t.teardown(() => rmSync(report, { force: true }));
    t.equal(r.status, 0, r.stderr);
    t.equal(ps.status, 0, ps.stderr);
    t.match(ps.stdout, /sh/, 'the live dump was written and read back');
    t.equal(readFileSync(v, 'utf8'), VICTIM, 'the victim is unchanged');
    t.same(readdirSync(victimDir), [], 'nothing is written in the linked directory');
    const planted = [`sysvisor-${supervisor}.json`, `sysvisor-crash-${supervisor}-1.json`, 'sysvisor-0', 'sysvisor'];
    t.same(readdirSync(tmp).sort(), planted.sort(), 'nor in $TMPDIR: it holds only what the program planted');
    t.match(report, /^\/run\/sysvisor\/sysvisor-crash-\d+-1\.json$/, "the crash report is in root's run directory");
    t.notOk(existsSync(`/run/sysvisor/sysvisor-${supervisor}.json`), 'the live dump is removed at exit');
    t.ok(report !== undefined && lstatSync(report).isFile());
  },
);

t.test('the run directory: a real directory, ours, private; refused otherwise with the reason', async (t) => {
  const tmp = scratch(t);
  chownSync(tmp, NOBODY, NOBODY); // a $TMPDIR somebody else controls
  const path = join(tmp, 'sysvisor-0');
  t.equal(runDirectoryPath({ TMPDIR: tmp }, 1000), `${tmp}/sysvisor-1000`);
  t.equal(
    runDirectoryPath({ TMPDIR: tmp, XDG_RUNTIME_DIR: tmp }, 0),
    '/run/sysvisor',
    'an XDG_RUNTIME_DIR owned by another uid is not used',
  );
  t.equal(runDirectoryPath({ TMPDIR: tmp, XDG_RUNTIME_DIR: tmp }, NOBODY), `${tmp}/sysvisor`);

  symlinkSync(tmp, path);
  t.throws(() => openRunDirectory(path, true), { message: `run directory ${path}: is a symbolic link` });
  unlinkSync(path);
  mkdirSync(path, { mode: 0o700 });
  chownSync(path, NOBODY, NOBODY);
  t.throws(() => openRunDirectory(path, true), { message: `run directory ${path}: is owned by uid ${NOBODY}, not by uid 0 (sysvisor's)` });
  chownSync(path, 0, 0);
  chmodSync(path, 0o755);
  t.throws(() => openRunDirectory(path, true), { message: `run directory ${path}: has mode 0755; it must be private (0700)` });
  rmSync(path, { recursive: true });
  writeFileSync(path, '');
  t.throws(() => openRunDirectory(path, true), { message: `run directory ${path}: is not a directory` });
  unlinkSync(path);

  const fd = openRunDirectory(path, true);
  const st = fstatSync(fd);
  t.same({ uid: st.uid, mode: st.mode & 0o777 }, { uid: 0, mode: 0o700 }, 'made private and ours');
  const slot = { dirFd: fd, name: 'x.json', path: join(path, 'x.json') };
  symlinkSync(join(tmp, 'victim'), slot.path);
  t.throws(() => writeSlot(slot, 'new\n', 'new'), { message: `${slot.path}: exists already` }, 'never replaced when new');
  writeSlot(slot, 'replaced\n', 'replace');
  t.equal(readFileSync(slot.path, 'utf8'), 'replaced\n', 'a link is replaced, not followed');
  t.notOk(existsSync(join(tmp, 'victim')));
  close(fd);
});

t.test('user-given paths: a link or anything but a regular file is refused, never opened', async (t) => {
  const d = scratch(t);
  const v = victim(d);
  const link = join(d, 'link');
  symlinkSync(v, link);
  t.throws(() => openSlot(link), { message: `${link}: is a symbolic link (sysvisor does not read or write through links)` });
  const fifo = join(d, 'fifo');
  t.equal(spawnSync('mkfifo', [fifo]).status, 0);
  t.throws(() => openSlot(fifo), { message: `${fifo}: is not a regular file (a FIFO)` }, 'checked without opening (no hang)');
  t.throws(() => openSlot(join(d, 'nodir', 'x')), /nodir\/x: cannot open its directory .*nodir: no such file or directory \(ENOENT\)/);

  const trace = join(d, 'trace');
  writeFileSync(trace, 'old text');
  linkSync(trace, join(d, 'second-name'));
  const slot = openSlot(trace);
  t.throws(() => openForWriting(slot), { message: `${trace}: has 2 hard links; sysvisor truncates only a file with one name` });
  unlinkSync(join(d, 'second-name'));
  close(openForWriting(slot));
  t.equal(readFileSync(trace, 'utf8'), '', 'truncated');
  t.equal(readSlot(slot), '');
  closeSlot(slot);

  const cli = await sysvisor(['run', '--trace-file', link, '--', '/bin/true'], { env: envWith({}) });
  t.equal(cli.status, 2);
  t.equal(cli.stderr, `sysvisor: --trace-file: ${link}: is a symbolic link (sysvisor does not read or write through links)\n`);
  const dump = await sysvisor(['run', '--dump-state', fifo, '--', '/bin/true'], { env: envWith({}) });
  t.equal(dump.status, 2);
  t.equal(dump.stderr, `sysvisor: --dump-state: ${fifo}: is not a regular file (a FIFO)\n`);
  t.equal(readFileSync(v, 'utf8'), VICTIM);
});

t.test('[ipc] persist survives SIGKILL at any moment of its write: the old state or the new, never a torn file', async (t) => {
  const d = scratch(t);
  const state = join(d, 'state.json');
  const manifest = join(d, 'persist.toml');
  writeFileSync(manifest, `version = 1\n[ipc]\npersist = "${state}"\n`);
  // 100 sets of 500: a snapshot of ~700 kB, so that kills land inside the write.
  const KILLS = 30;
  const fill = (marker: number) => [CLI, 'run', '-m', manifest, '--', `${C_BIN}persist_fill`, '100', '500', String(marker)];
  const marker = () => {
    const s = decodePersisted(readFileSync(state, 'utf8'), builtinManifest().sem).sets.find((x) => x.key === 0x5f100000);
    return s?.values[0];
  };
  /**
   * Run with marker k and SIGKILL the supervisor `killAfter` ms after a
   * trigger, or never: the trigger is the program's "done" ('span': the
   * whole shutdown), or the first change in the directory ('write': the
   * snapshot's write has begun). Resolves with ms from "done" to the end.
   */
  const once = (k: number, trigger: 'span' | 'write', killAfter: number | null) =>
    new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, fill(k), { stdio: ['ignore', 'pipe', 'inherit'] });
      const kill = () => {
        if (killAfter !== null) setTimeout(() => child.kill('SIGKILL'), killAfter);
      };
      let armed = true;
      const watcher = watch(d, () => {
        if (trigger === 'write' && armed) kill();
        armed = false;
      });
      let out = '';
      let doneAt = 0;
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (doneAt === 0 && out.includes('done\n')) {
          doneAt = performance.now();
          if (trigger === 'span') kill();
        }
      });
      child.once('error', reject);
      child.once('close', () => {
        watcher.close();
        if (out.includes('done\n')) resolve(performance.now() - doneAt);
        else reject(new Error(`no "done": ${out}`));
      });
    });
  // A whole run first: how long the supervisor takes from the program's end to its own, to spread the kills over.
  const span = await once(0, 'span', null);
  t.equal(marker(), 0, 'a run that is not killed saves its state');
  let previous = 0;
  const seen = { old: 0, new: 0 };
  for (let k = 1; k <= KILLS; k++) {
    // Half the kills anywhere in the shutdown, half within a few ms of the write's start.
    await once(k, k % 2 === 0 ? 'span' : 'write', k % 2 === 0 ? Math.random() * span * 1.2 : Math.random() * 4);
    let now: number | undefined;
    try {
      now = marker();
    } catch (err) {
      t.fail(`run ${k}: the persist file is torn: ${(err as Error).message}`);
      break;
    }
    if (now !== previous && now !== k) {
      t.fail(`run ${k}: marker ${now}, expected ${previous} (old) or ${k} (new)`);
      break;
    }
    seen[now === k ? 'new' : 'old']++;
    previous = now;
  }
  const leftovers = readdirSync(d).filter((f) => /^\.state\.json\.[0-9a-f]{16}\.tmp$/.test(f));
  t.comment(`${KILLS} kills: ${seen.old} left the old state, ${seen.new} the new one; ${leftovers.length} temporary files left by kills`);
  t.equal(seen.old + seen.new, KILLS, 'every kill left a whole state');
});
