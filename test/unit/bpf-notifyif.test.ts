// Conditional notification: clone is notified only with (or without) a flag;
// every other syscall keeps its action and the kernel's action cache.
import t from 'tap';
import { buildFilter } from '../../src/bpf/build.js';
import { AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF } from '../../src/bpf/consts.js';
import { kernelCacheAllows, runFilter } from '../../src/bpf/interp.js';

const CLONE = 56;
const CLONE_SYSVSEM = 0x40000;
/** The filter's answer ERRNO(EPERM). */
const EPERM = (SECCOMP_RET_ERRNO | 1) >>> 0;
const prog = buildFilter({
  notify: [64, 65, 66, 220],
  errno: new Map([[101, 1]]),
  kill: [],
  notifyIf: new Map([[CLONE, { arg: 0, mask: CLONE_SYSVSEM }]]),
});
const run = (nr: number, args: number[] = []) => runFilter(prog, { nr, arch: AUDIT_ARCH_X86_64, args });

t.test('clone is notified only with CLONE_SYSVSEM', async (t) => {
  t.equal(run(CLONE, [CLONE_SYSVSEM | 17]), SECCOMP_RET_USER_NOTIF);
  t.equal(run(CLONE, [0x1200011]), SECCOMP_RET_ALLOW, 'fork-like flags');
  t.equal(run(CLONE, [0x3d0f00]), SECCOMP_RET_USER_NOTIF, 'pthread-like flags include CLONE_SYSVSEM');
  t.equal(run(CLONE, [0]), SECCOMP_RET_ALLOW);
});

t.test('every other syscall keeps its action and its cache entry', async (t) => {
  for (const nr of [64, 65, 66, 220]) t.equal(run(nr), SECCOMP_RET_USER_NOTIF, `nr ${nr}`);
  t.equal(run(101) >>> 0, EPERM, 'ptrace denied');
  for (let nr = 0; nr < 460; nr++) {
    if ([CLONE, 64, 65, 66, 220, 101].includes(nr)) continue;
    t.equal(run(nr, [CLONE_SYSVSEM]), SECCOMP_RET_ALLOW, `nr ${nr} allowed whatever its arguments`);
  }
  t.ok(kernelCacheAllows(prog, AUDIT_ARCH_X86_64, 39), 'getpid still skips the filter');
  t.notOk(kernelCacheAllows(prog, AUDIT_ARCH_X86_64, CLONE), 'clone needs the filter run');
});

t.test('with clear, clone is notified only without CLONE_THREAD (fork-like)', async (t) => {
  const CLONE_THREAD = 0x10000;
  const p = buildFilter({
    notify: [57],
    errno: new Map(),
    kill: [],
    notifyIf: new Map([[CLONE, { arg: 0, mask: CLONE_THREAD, clear: true }]]),
  });
  const r = (args: number[]) => runFilter(p, { nr: CLONE, arch: AUDIT_ARCH_X86_64, args });
  t.equal(r([0x1200011]), SECCOMP_RET_USER_NOTIF, 'fork-like flags');
  t.equal(r([CLONE_SYSVSEM | 17]), SECCOMP_RET_USER_NOTIF, 'a process sharing SysV undo');
  t.equal(r([0x3d0f00]), SECCOMP_RET_ALLOW, 'pthread-like flags');
  t.equal(r([CLONE_THREAD]), SECCOMP_RET_ALLOW);
  t.equal(runFilter(p, { nr: 57, arch: AUDIT_ARCH_X86_64, args: [] }), SECCOMP_RET_USER_NOTIF, 'fork');
});

t.test('bad argument index is refused', async (t) => {
  t.throws(
    () => buildFilter({ notify: [], errno: new Map(), kill: [], notifyIf: new Map([[CLONE, { arg: 6, mask: 1 }]]) }),
    /argument 6 out of range/,
  );
});

t.test('with values, fcntl is notified only for the lock commands', async (t) => {
  const FCNTL = 72;
  const LOCK_CMDS = [5, 6, 7, 36, 37, 38];
  const p = buildFilter({ notify: [73], errno: new Map(), kill: [], notifyIf: new Map([[FCNTL, { arg: 1, values: LOCK_CMDS }]]) });
  const r = (cmd: number) => runFilter(p, { nr: FCNTL, arch: AUDIT_ARCH_X86_64, args: [3, cmd] });
  for (const cmd of LOCK_CMDS) t.equal(r(cmd), SECCOMP_RET_USER_NOTIF, `lock command ${cmd}`);
  for (const cmd of [0, 1, 2, 3, 4, 8, 9, 35, 39, 1024, 1030, 1033]) t.equal(r(cmd), SECCOMP_RET_ALLOW, `command ${cmd}`);
  t.equal(r(0x100000006), SECCOMP_RET_USER_NOTIF, 'only the low 32 bits count, as for the kernel (unsigned int cmd)');
  t.equal(runFilter(p, { nr: 73, arch: AUDIT_ARCH_X86_64, args: [] }), SECCOMP_RET_USER_NOTIF, 'flock');
  t.throws(
    () => buildFilter({ notify: [], errno: new Map(), kill: [], notifyIf: new Map([[FCNTL, { arg: 1, values: [] }]]) }),
    /no values/,
  );
});

t.test('errnoIf: open_tree is refused only with OPEN_TREE_CLONE, every other call keeps its cache entry', async (t) => {
  const OPEN_TREE = 428;
  const OPEN_TREE_CLONE = 1;
  const O_CLOEXEC = 0x80000;
  const p = buildFilter({
    notify: [64],
    errno: new Map([[430, 1]]),
    kill: [],
    errnoIf: new Map([[OPEN_TREE, { test: { arg: 2, mask: OPEN_TREE_CLONE }, errno: 1 }]]),
  });
  const r = (nr: number, args: number[] = []) => runFilter(p, { nr, arch: AUDIT_ARCH_X86_64, args }) >>> 0;
  t.equal(r(OPEN_TREE, [-100, 0, OPEN_TREE_CLONE | O_CLOEXEC]), EPERM, 'a detached copy: refused');
  t.equal(r(OPEN_TREE, [-100, 0, O_CLOEXEC]), SECCOMP_RET_ALLOW, 'an O_PATH fd: allowed');
  t.equal(r(430), EPERM, 'fsopen');
  t.equal(r(64), SECCOMP_RET_USER_NOTIF);
  t.notOk(kernelCacheAllows(p, AUDIT_ARCH_X86_64, OPEN_TREE), 'open_tree needs the filter run');
  t.ok(kernelCacheAllows(p, AUDIT_ARCH_X86_64, 39), 'getpid still skips the filter');
  t.throws(
    () => buildFilter({ notify: [], errno: new Map(), kill: [], errnoIf: new Map([[OPEN_TREE, { test: { arg: 2, mask: 1 }, errno: 0 }]]) }),
    /errno 0 for syscall 428 out of range/,
  );
});

t.test('a syscall in errnoIf and notifyIf: the refusal is tested first, then the notification', async (t) => {
  const CLONE_THREAD = 0x10000;
  const CLONE_NEWNS = 0x20000;
  const UNSHARE = 272;
  const p = buildFilter({
    notify: [57],
    errno: new Map(),
    kill: [],
    notifyIf: new Map([[CLONE, { arg: 0, mask: CLONE_THREAD, clear: true }]]),
    errnoIf: new Map([
      [CLONE, { test: { arg: 0, mask: CLONE_NEWNS }, errno: 1 }],
      [UNSHARE, { test: { arg: 0, mask: CLONE_NEWNS }, errno: 1 }],
    ]),
  });
  const r = (nr: number, flags: number) => runFilter(p, { nr, arch: AUDIT_ARCH_X86_64, args: [flags] }) >>> 0;
  t.equal(r(CLONE, 0x1200011), SECCOMP_RET_USER_NOTIF, 'fork-like: notified');
  t.equal(r(CLONE, 0x3d0f00), SECCOMP_RET_ALLOW, 'pthread-like: allowed');
  t.equal(r(CLONE, CLONE_NEWNS | 17), EPERM, 'a process in a new mount namespace: refused');
  t.equal(
    r(CLONE, CLONE_NEWNS | CLONE_THREAD),
    EPERM,
    'refused even where a thread would be allowed (the kernel refuses that pair anyway)',
  );
  t.equal(r(UNSHARE, CLONE_NEWNS), EPERM);
  t.equal(r(UNSHARE, 0x400), SECCOMP_RET_ALLOW, 'unshare(CLONE_FILES)');
  t.equal(r(57, 0), SECCOMP_RET_USER_NOTIF, 'fork');
  t.ok(kernelCacheAllows(p, AUDIT_ARCH_X86_64, 39), 'getpid still skips the filter');
});

t.test('a syscall in notify and errnoIf: notified unless the refusal holds', async (t) => {
  const UNSHARE = 272;
  const p = buildFilter({
    notify: [UNSHARE],
    errno: new Map(),
    kill: [],
    errnoIf: new Map([[UNSHARE, { test: { arg: 0, mask: 0x20000 }, errno: 1 }]]),
  });
  const r = (flags: number) => runFilter(p, { nr: UNSHARE, arch: AUDIT_ARCH_X86_64, args: [flags] }) >>> 0;
  t.equal(r(0x20000), EPERM);
  t.equal(r(0x400), SECCOMP_RET_USER_NOTIF);
});
