// [proc] views: /proc/sysvipc/sem, /proc/sys/kernel/sem and /proc/locks
// served by FUSE mounts (the open family not notified) or through the
// notified open, with the same answers to ipcmk, ipcs, ipcrm, lslocks, cat
// and a root write of kernel.sem; "off" leaves the kernel's files; "auto"
// falls back to the notified open when namespaces are not permitted.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { ProcViews } from '../src/manifest/types.js';
import { syscallNumber } from '../src/syscalls/table.js';
import { Sandbox } from '../supervisor/sandbox.js';
import { CLI, exec, policy } from './helpers.js';

const OPEN_FAMILY = ['open', 'openat', 'openat2'].map((s) => syscallNumber(s)!);
const haveTools = ['/usr/bin/flock', '/usr/bin/lslocks', '/usr/bin/ipcmk', '/usr/bin/setpriv'].every(existsSync);

const manifest = (views: ProcViews) => ({
  ...policy(),
  sem: { semmsl: 250, semmns: 32000, semopm: 32, semmni: 128 },
  proc: { ...policy().proc, views },
});

const scratch = (t: { teardown(fn: () => void): void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-views-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

// Every answer the tools give about the three files; pids, ids and devices masked.
const SCRIPT = `
  cat /proc/sys/kernel/sem
  ipcmk -S 3 -p 0640 | sed 's/[0-9][0-9]*$/ID/'
  ipcs -s | awk '/^0x/ {print "perms", $4, "nsems", $5}'
  awk 'NR > 1 {print "sysvipc nsems", $4}' /proc/sysvipc/sem
  echo "10 100 5 3" > /proc/sys/kernel/sem && cat /proc/sys/kernel/sem
  ipcmk -S 11 2>&1 | sed 's/^ipcmk: //'
  ipcs -l | grep -i 'max semaphores per array'
  setpriv --reuid 65534 --regid 65534 --clear-groups sh -c 'echo 1 2 3 4 > /proc/sys/kernel/sem' 2>&1 | sed 's/.*: //'
  ipcrm -s "$(ipcs -s | awk '/^0x/ {print $2}')" && echo removed
  flock -s lock sh -c 'cat /proc/locks; lslocks -n -o COMMAND,TYPE,MODE' | sed 's/READ [0-9]* [0-9a-f:]* /READ PID FILE /' | tr -s ' '
  (echo x > /proc/locks) 2>&1 | sed 's/.*: //'
  grep -c ' - fuse.sysvisor ' /proc/self/mountinfo || true
`;

const EXPECTED = (mounts: number) =>
  [
    '250\t32000\t32\t128',
    'Semaphore id: ID',
    'perms 640 nsems 3',
    'sysvipc nsems 3',
    '10\t100\t5\t3',
    'create semaphore failed: Invalid argument',
    'max semaphores per array = 10',
    'Permission denied',
    'removed',
    '1: FLOCK ADVISORY READ PID FILE 0 EOF',
    'flock FLOCK READ',
    'Permission denied',
    String(mounts),
    '',
  ].join('\n');

for (const [views, mounts] of [
  ['fuse', 3],
  ['notify', 0],
] as const) {
  t.test(
    `[proc] views = "${views}": the tools see the sandbox's files`,
    { skip: haveTools ? false : 'util-linux tools missing' },
    async (t) => {
      const dir = scratch(t);
      writeFileSync(join(dir, 'lock'), '');
      const r = await Sandbox.run('/bin/sh', ['-c', SCRIPT], { manifest: manifest(views), stdio: 'pipe', cwd: dir });
      t.equal(r.stdout!.toString(), EXPECTED(mounts), String(r.stderr));
      t.equal(r.status, 0);
      t.equal(r.procViews, views);
      const opens = r.stats.filter((s) => OPEN_FAMILY.includes(s.nr)).reduce((n, s) => n + s.count, 0);
      if (views === 'fuse') {
        t.equal(opens, 0, 'the open family is not notified');
        t.ok((r.viewRequests ?? 0) > 0, 'the FUSE file systems answered');
      } else {
        t.ok(opens > 0, 'the open family is notified');
      }
    },
  );
}

t.test('[proc] views = "off": the kernel\'s files, and no notified open', async (t) => {
  const r = await Sandbox.run('/bin/sh', ['-c', 'cat /proc/sys/kernel/sem; ipcmk -S 1 >/dev/null; grep -c . /proc/sysvipc/sem'], {
    manifest: manifest('off'),
    stdio: 'pipe',
  });
  t.equal(r.status, 0, String(r.stderr));
  const kernel = spawnSync('unshare', ['--ipc', 'cat', '/proc/sys/kernel/sem'], { encoding: 'utf8' }).stdout;
  t.equal(r.stdout!.toString(), `${kernel}1\n`, "a fresh IPC namespace's limits; the emulated set is not listed");
  t.equal(r.procViews, 'off');
  t.equal(r.stats.filter((s) => OPEN_FAMILY.includes(s.nr)).length, 0);
});

t.test('--stats names how the views are served', async (t) => {
  const r = await exec(process.execPath, [CLI, 'run', '--stats', '--', '/bin/cat', '/proc/locks']);
  t.equal(r.status, 0);
  t.match(r.stderr, /^\/proc views: fuse, \d+ FUSE requests answered$/m);
  t.notMatch(r.stderr, /^openat /m);
});

// Without CAP_SYS_ADMIN (root in a container without it): /dev/fuse opens, unshare(CLONE_NEWNS) does not.
t.test('without CAP_SYS_ADMIN: "auto" falls back to the notified open, "fuse" does not start', async (t) => {
  const dir = scratch(t);
  const noAdmin = ['--bounding-set=-sys_admin', '--inh-caps=-sys_admin', process.execPath, CLI, 'run'];
  const auto = await exec('setpriv', [...noAdmin, '--stats', '--', '/bin/cat', '/proc/sys/kernel/sem']);
  t.equal(auto.status, 0, auto.stderr);
  t.equal(auto.stdout, '32000\t1024000000\t500\t32000\n', 'served through the notified open');
  t.match(auto.stderr, /^\/proc views: notify \(unshare\(CLONE_NEWNS\): Operation not permitted\)$/m);
  t.match(auto.stderr, /^openat +\d+/m);
  writeFileSync(join(dir, 'fuse.toml'), 'version = 1\n[proc]\nviews = "fuse"\n');
  const fuse = await exec('setpriv', [...noAdmin, '-m', join(dir, 'fuse.toml'), '--', '/bin/true']);
  t.equal(fuse.status, 125);
  t.match(fuse.stderr, /sysvisor: cannot start \/bin\/true: proc\.views = "fuse": unshare\(CLONE_NEWNS\): Operation not permitted/);
});

// The loop serves the views: an attribute request from the loop's own thread
// would wait forever. The exec check (on with [exec] trusted) must not stat a
// view it resolves through /proc/PID/cwd; the kernel refuses to execute it.
t.test('an exec of a view is refused by the kernel, the exec check does not wait on the loop', async (t) => {
  const dir = scratch(t);
  const sh = realpathSync('/bin/sh');
  const digest = createHash('sha256').update(readFileSync(sh)).digest('hex');
  writeFileSync(join(dir, 'exec.toml'), `version = 1\n[exec]\ntrusted = { "${sh}" = "sha256:${digest}" }\n[proc]\nviews = "fuse"\n`);
  const r = await exec(
    process.execPath,
    [CLI, 'run', '-m', join(dir, 'exec.toml'), '--', '/bin/sh', '-c', 'cd /proc/sysvipc && ./sem; echo "exit $?"'],
    { timeoutMs: 30_000 },
  );
  t.equal(r.signal, null, 'finished');
  t.equal(r.stdout, 'exit 126\n');
  t.match(r.stderr, /\.\/sem: Permission denied/);
});
