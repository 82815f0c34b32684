// io_uring must not go around the emulation. test/c/lock_iouring_close takes
// a POSIX lock, reads /proc/locks and closes the lock's fd through a ring
// (IORING_OP_OPENAT, IORING_OP_CLOSE), falling back to openat(2)/close(2)
// when io_uring_setup fails with ENOSYS or EPERM; stderr says which path ran.
// - Built-in default manifest: io_uring_setup answers ENOSYS, the program
//   takes the ordinary path, and its output is the kernel's (the
//   differential test compares it too).
// - A manifest that allows io_uring: the ring's open and close bypass the
//   supervisor (the documented difference), `manifest check` warns in one
//   line and `--stats` counts the ring.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AUDIT_ARCH_X86_64, actionName, runFilter } from '../src/bpf/index.js';
import { syscallNumber } from '../src/syscalls/table.js';
import { builtinManifest, loadManifest, sandboxFilter } from '../supervisor/index.js';
import { C_BIN, exec, ROOT, sysvisor } from './helpers.js';

const PROGRAM = `${C_BIN}lock_iouring_close`;
const dir = mkdtempSync(join(tmpdir(), 'sysvisor-iouring-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ALLOW = join(dir, 'allow-io_uring.toml');
// Views notified: a ring's open then reads the kernel's /proc/locks (the FUSE views, the default as root, would
// serve it); locks isolated: with host-coherent locks the kernel's /proc/locks shows the mirrored lock too.
writeFileSync(ALLOW, 'version = 1\n[syscalls]\ndeny = {}\n[proc]\nviews = "notify"\n[locks]\nhost = "isolated"\n');
const noColor = { ...process.env, NO_COLOR: '1' };
const RING = 'io_uring_setup: ok, closing and opening through the ring\n';
const FALLBACK = 'io_uring_setup: -1 ENOSYS, falling back to close(2) and openat(2)\n';

/** What the kernel answers with io_uring and without: the same lines. */
const KERNEL =
  [
    'F_SETLK write 0-9: 0',
    '/proc/locks lines about f: 1',
    'third process F_SETLK write 0-9 while locked: -1 EAGAIN',
    'close(the fd): 0',
    'third process F_SETLK write 0-9 after the close: 0',
    '/proc/locks lines about f: 0',
    'done',
  ].join('\n') + '\n';

/** Each run in a fresh directory: the program creates its file "f" in the cwd. */
function cwd(): string {
  return mkdtempSync(join(dir, 'run-'));
}

function ioUringDisabled(): string | null {
  try {
    const v = readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim();
    return v === '0' ? null : `kernel.io_uring_disabled = ${v}`;
  } catch {
    return null; // older kernels have no such sysctl: io_uring is on if built in
  }
}

const native = await exec(PROGRAM, [], { cwd: cwd() });
const NO_RING =
  native.stderr === RING
    ? false
    : `io_uring is not usable natively on this machine (${ioUringDisabled() ?? native.stderr.trim()}): the ring's bypass cannot be shown`;

t.test('natively: the kernel releases the lock whichever path the program took', async (t) => {
  t.equal(native.status, 0, native.stderr);
  t.equal(native.stdout, KERNEL);
  if (NO_RING !== false) t.comment(`*** ${NO_RING}; the native run took the fallback path ***`);
});

t.test('the filter answers io_uring as the manifest says', async (t) => {
  const x86 = (prog: Uint8Array, name: string) => actionName(runFilter(prog, { nr: syscallNumber(name)!, arch: AUDIT_ARCH_X86_64 }));
  const denied = sandboxFilter(builtinManifest());
  for (const name of ['io_uring_setup', 'io_uring_enter', 'io_uring_register'])
    t.equal(x86(denied, name), 'ERRNO(ENOSYS)', `default: ${name}`);
  const allowed = sandboxFilter(loadManifest(ALLOW));
  t.equal(x86(allowed, 'io_uring_setup'), 'USER_NOTIF', 'allowed: io_uring_setup is observed, to count rings');
  t.equal(x86(allowed, 'io_uring_enter'), 'ALLOW');
  t.equal(x86(allowed, 'io_uring_register'), 'ALLOW');
});

t.test("default manifest: ENOSYS, the libuv-style fallback, the kernel's output", async (t) => {
  const r = await sysvisor(['run', '--', PROGRAM], { cwd: cwd() });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, FALLBACK, 'io_uring_setup failed with ENOSYS and the program fell back');
  t.equal(r.stdout, native.stdout, 'same output as natively');
  t.equal(r.stdout, KERNEL);
});

t.test('a manifest that allows io_uring: manifest check warns in one line', async (t) => {
  const check = await sysvisor(['manifest', 'check', ALLOW], { env: noColor });
  t.equal(check.status, 0, 'valid');
  t.equal(check.stderr.split('\n').filter((l) => l !== '').length, 1, 'one warning line');
  t.match(check.stderr, /^sysvisor: warning: .*allow-io_uring\.toml: io_uring is allowed .*releases no POSIX locks.*\/proc\/locks/);
  const quiet = await sysvisor(['manifest', 'check', join(ROOT, 'policies', 'default.toml')]);
  t.equal(quiet.stderr, '', 'no warning for the default manifest');
});

t.test('a manifest that allows io_uring: the ring bypasses the supervisor, --stats counts it', { skip: NO_RING }, async (t) => {
  const r = await sysvisor(['run', '--stats', '-m', ALLOW, '--', PROGRAM], { cwd: cwd(), env: noColor });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, RING, 'the program used the ring');
  t.match(r.stderr, /\nio_uring rings created: 1 \(io_uring_setup calls let through\)/, '--stats counts the ring');
  // The documented difference: the ring's openat reads the real /proc/locks
  // (the emulated lock is not in it), and its close releases nothing.
  t.equal(
    r.stdout,
    KERNEL.replace('/proc/locks lines about f: 1', '/proc/locks lines about f: 0').replace(
      'after the close: 0',
      'after the close: -1 EAGAIN',
    ),
  );
});
