// What the supervisor is asked about, and what its native step decides
// without JavaScript (supervisor/loop/native-rules.ts): fcntl is notified only for
// the lock commands (BPF), opens of ordinary files (with [proc] views =
// "notify"; "fuse" notifies no open at all) and closes while no lock is held
// are answered in C, an open of a served /proc file and a close while the
// process holds a POSIX lock reach the handlers. The program's output is the
// kernel's in every case.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { syscallNumber } from '../src/syscalls/table.js';
import type { SyscallStats } from '../supervisor/stats.js';
import { Sandbox } from '../supervisor/sandbox.js';
import { C_BIN, exec, policy } from './helpers.js';

const ROUNDS = 1000; // test/c/notify_scope.c
const LOCKED_CLOSES = 100;

const scratch = (t: { teardown(fn: () => void): void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** The open family notified: the views served by the supervisor's answer to open, not by FUSE mounts. */
const notifying = () => {
  const p = policy();
  return { ...p, proc: { ...p.proc, views: 'notify' as const } };
};

const row = (stats: readonly SyscallStats[], name: string): SyscallStats =>
  stats.find((s) => s.nr === syscallNumber(name)) ?? {
    nr: syscallNumber(name)!,
    count: 0,
    native: 0,
    p50us: 0,
    p99us: 0,
    maxus: 0,
    sends: 0,
    sendP50us: 0,
  };

t.test('exact lock mode: only lock commands, served files and closes that matter reach JS', async (t) => {
  const native = await exec(`${C_BIN}notify_scope`, [], { cwd: scratch(t) });
  t.equal(native.status, 0, native.stderr);
  t.match(native.stdout, /\ndone\n$/);
  const r = await Sandbox.run(`${C_BIN}notify_scope`, [], { manifest: notifying(), stdio: 'pipe', cwd: scratch(t) });
  t.equal(r.status, 0, String(r.stderr ?? ''));
  t.equal(String(r.stdout), native.stdout, "the kernel's output");

  const fcntl = row(r.stats, 'fcntl');
  t.equal(fcntl.count, 2, `only the two F_SETLK were notified, none of the ${3 * ROUNDS} F_GETFL/F_SETFL/F_SETFD`);
  const openat = row(r.stats, 'openat');
  t.ok(openat.native >= ROUNDS, `opens of /dev/null answered in C (${openat.native})`);
  t.ok(openat.count - openat.native >= 1, 'the open of /proc/locks reached the handler (it is served)');
  t.ok(openat.count - openat.native <= 3, `and little else (${openat.count - openat.native})`);
  const close = row(r.stats, 'close');
  t.ok(close.native >= ROUNDS, `closes with no lock held answered in C (${close.native})`);
  t.ok(
    close.count - close.native >= LOCKED_CLOSES,
    `closes while a POSIX lock is held reached the handler (${close.count - close.native})`,
  );
});

t.test(
  '[proc] views = "fuse": no open is notified',
  { skip: process.getuid?.() === 0 ? false : 'FUSE views need root (CAP_SYS_ADMIN)' },
  async (t) => {
    const p = policy();
    const r = await Sandbox.run(`${C_BIN}notify_scope`, [], {
      manifest: { ...p, proc: { ...p.proc, views: 'fuse' } },
      stdio: 'pipe',
      cwd: scratch(t),
    });
    t.equal(r.status, 0, String(r.stderr ?? ''));
    t.match(String(r.stdout), /\/proc\/locks opens: yes\n/);
    t.equal(row(r.stats, 'openat').count, 0);
    t.ok(row(r.stats, 'close').native >= ROUNDS, 'closes with no lock held still answered in C');
  },
);

t.test('fast lock mode: close is not notified at all', async (t) => {
  const p = policy();
  const r = await Sandbox.run(`${C_BIN}notify_scope`, [], {
    manifest: { ...p, locks: { ...p.locks, mode: 'fast' } },
    stdio: 'pipe',
    cwd: scratch(t),
  });
  t.equal(r.status, 0, String(r.stderr ?? ''));
  t.match(String(r.stdout), /F_SETLK: 0\n/);
  t.equal(row(r.stats, 'close').count, 0);
  t.equal(row(r.stats, 'fcntl').count, 2);
});

t.test('--trace=all sees every notified call: nothing is decided in C', async (t) => {
  const dir = scratch(t);
  const fd = openSync(join(dir, 'trace'), 'w');
  t.teardown(() => closeSync(fd));
  const r = await Sandbox.run(`${C_BIN}notify_scope`, [], {
    manifest: notifying(),
    stdio: 'pipe',
    cwd: dir,
    trace: { fd, color: false, continued: true },
  });
  t.equal(r.status, 0, String(r.stderr ?? ''));
  t.match(readFileSync(join(dir, 'trace'), 'utf8'), /openat\(AT_FDCWD, "\/dev\/null"/);
  t.equal(
    r.stats.reduce((sum, s) => sum + s.native, 0),
    0,
  );
  t.ok(row(r.stats, 'openat').count >= ROUNDS);
});

t.test('--stats: the SENDs a handler makes itself are timed apart from its service time', async (t) => {
  // sem_block: a parent's semop wakes a sleeping child, so its handler answers the parent and the child itself.
  const r = await Sandbox.run(`${C_BIN}sem_block`, [], { manifest: policy(), stdio: 'pipe' });
  t.equal(r.status, 0, String(r.stderr ?? ''));
  const semop = row(r.stats, 'semtimedop');
  t.ok(semop.sends >= 1, `semops that woke a sleeper counted their own SENDs (${semop.sends})`);
  t.ok(semop.sendP50us > 0, `with a time (${semop.sendP50us} µs)`);
  t.ok(semop.sends < semop.count, 'a semop that wakes nobody sends nothing itself (its answer rides the next wait)');
  t.equal(semop.count, 11, 'every semop of sem_block counted, the 4 that slept too');
});
