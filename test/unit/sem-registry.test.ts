// SysV semaphore registry: semget, ids, limits, semop and semctl results.
// Expected values marked "kernel:" were obtained by running the same calls
// natively in a fresh IPC namespace (unshare -i) on Linux 6.18.
import t from 'tap';
import {
  GETALL,
  GETNCNT,
  GETPID,
  GETVAL,
  GETZCNT,
  IPC_CREAT,
  IPC_EXCL,
  IPC_INFO,
  IPC_NOWAIT,
  IPC_PRIVATE,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  SEM_INFO,
  SEM_MAX_NSEMS,
  SEM_MAX_NSOPS,
  SEM_STAT,
  SEM_STAT_ANY,
  SEM_UNDO,
  SEMMNI,
  SEMMNS,
  SEMMSL,
  SEMOPM,
  SemRegistry,
  SETALL,
  SETVAL,
  UndoList,
  type SemBuf,
  type SemCaller,
  type SemctlIO,
  type SemidDs,
  type SemInfo,
  type SemLimits,
  type SemWaiter,
} from '../../src/sem/index.js';
import { E2BIG, EACCES, EAGAIN, EEXIST, EFAULT, EFBIG, EINVAL, ENOENT, ENOMEM, ENOSPC, EPERM, ERANGE } from '../../src/syscalls/errno.js';

const LIMITS: SemLimits = { semmsl: SEMMSL, semmns: SEMMNS, semopm: SEMOPM, semmni: SEMMNI };
const ROOT: SemCaller = { pid: 100, uid: 0, gid: 0, isRoot: true };
const user = (uid: number, gid: number, groups?: number[]): SemCaller => ({ pid: 200 + uid, uid, gid, groups, isRoot: false });

/** A registry with a settable fake clock whose replies are recorded. */
function setup(limits: SemLimits = LIMITS) {
  const clock = { mono: 0n, real: 1_000 };
  const replies: Array<[string, number]> = [];
  const reg = new SemRegistry<string>(
    limits,
    { isAlive: () => true, complete: (w, e) => (replies.push([w.token, e]), true) },
    { monoNs: () => clock.mono, realSec: () => clock.real },
  );
  return { reg, clock, replies };
}

/** A SemctlIO over plain objects; `fault` makes every copy fail. */
function io(opts: { fault?: boolean; values?: number[]; ds?: SemidDs } = {}) {
  const out: { info?: SemInfo; ds?: SemidDs; values?: number[] } = {};
  const x: SemctlIO = {
    writeSeminfo: (i) => (opts.fault ? -EFAULT : ((out.info = i), 0)),
    writeSemid: (d) => (opts.fault ? -EFAULT : ((out.ds = d), 0)),
    readSemid: () => (opts.fault ? -EFAULT : opts.ds!),
    writeValues: (v) => (opts.fault ? -EFAULT : ((out.values = [...v]), 0)),
    readValues: (n) => (opts.fault ? -EFAULT : opts.values!.slice(0, n)),
  };
  return { io: x, out };
}

const sb = (num: number, op: number, flg = 0): SemBuf => ({ num, op, flg });
/** semop for a caller with a private undo list; numbers are results, waiters are returned as-is. */
function op(reg: SemRegistry<string>, id: number, sops: SemBuf[], c = ROOT, undo = new UndoList(c.pid), token = 'w') {
  return reg.semop(c, undo, id, sops, null, token);
}
/** The errno-or-0 of an immediate semop (a waiter that completed counts as 0). */
function res(r: number | SemWaiter<string>): number | string {
  return typeof r === 'number' ? r : r.state === 'completed' ? r.result : r.state;
}
const ctl = (reg: SemRegistry<string>, id: number, num: number, cmd: number, val = 0, c = ROOT, x = io().io) =>
  reg.semctl(c, id, num, cmd, val, x);

t.test('semget: validation order and key semantics', async (t) => {
  const { reg } = setup();
  t.equal(reg.semget(ROOT, IPC_PRIVATE, -1, 0o600), -EINVAL, 'kernel: nsems < 0');
  t.equal(reg.semget(ROOT, IPC_PRIVATE, 32001, 0o600), -EINVAL, 'kernel: nsems > semmsl');
  t.equal(reg.semget(ROOT, IPC_PRIVATE, 0, 0o600), -EINVAL, 'kernel: new set of 0');
  t.equal(reg.semget(ROOT, 0x100, 1, 0o600), -ENOENT, 'kernel: missing key without IPC_CREAT');
  const k = reg.semget(ROOT, 0x100, 2, IPC_CREAT | 0o600);
  t.equal(k, 0, 'kernel: first id is 0');
  t.equal(reg.semget(ROOT, 0x100, 2, IPC_CREAT | IPC_EXCL | 0o600), -EEXIST);
  t.equal(reg.semget(ROOT, 0x100, 3, 0), -EINVAL, 'kernel: nsems larger than the set');
  t.equal(reg.semget(ROOT, 0x100, 0, 0), k, 'kernel: nsems 0 finds an existing set');
  t.equal(reg.semget(ROOT, 0x100, 3, IPC_CREAT | IPC_EXCL), -EEXIST, 'kernel: EEXIST before the nsems check');
  t.equal(reg.semget(ROOT, 0x100, 40000, 0), -EINVAL, 'kernel: semmsl checked before the lookup');
  t.not(reg.semget(ROOT, IPC_PRIVATE, 1, IPC_CREAT | IPC_EXCL), reg.semget(ROOT, IPC_PRIVATE, 1, 0), 'IPC_PRIVATE always creates');
  const big = reg.semget(ROOT, 0xdeadbeef, 1, IPC_CREAT | 0o600);
  t.equal(reg.semget(ROOT, 0xdeadbeef - 2 ** 32, 1, 0), big, 'keys are key_t (int)');

  const p = reg.semget(ROOT, 0x200, 3, IPC_CREAT | 0o1640);
  const u = user(1000, 1000);
  t.equal(reg.semget(u, 0x200, 1, 0o600), -EACCES, 'kernel: mode bits vs other class');
  t.equal(reg.semget(u, 0x200, 1, 0), p, 'kernel: no bits requested, no check');
  t.equal(reg.semget(u, 0x200, 1, 0o400), -EACCES, 'kernel: read is not granted to others by 0640');
  t.equal(reg.semget(user(1000, 0), 0x200, 1, 0o440), p, 'group class by egid');
  t.equal(reg.semget(user(1000, 5, [0]), 0x200, 1, 0o040), p, 'group class by supplementary group');
  t.equal(reg.semget({ ...u, isRoot: true }, 0x200, 1, 0o666), p, 'CAP_IPC_OWNER bypasses mode bits');
  const { out, io: x } = io();
  t.equal(ctl(reg, p, 0, IPC_STAT, 0, ROOT, x), 0);
  t.equal(out.ds!.perm.mode, 0o640, 'only the 0777 bits are kept');
});

t.test('ids: cyclic index allocation and sequence numbers as Linux 5.x+', async (t) => {
  const { reg } = setup();
  const mk = () => reg.semget(ROOT, IPC_PRIVATE, 1, 0o600);
  const rm = (id: number) => ctl(reg, id, 0, IPC_RMID);
  t.same([mk(), mk(), mk()], [0, 1, 2]);
  rm(1);
  t.equal(mk(), 3, 'kernel: a freed index is not reused at once');
  rm(0);
  t.equal(mk(), 4);
  const ids = Array.from({ length: 70 }, mk);
  t.same(ids.slice(55), [60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74], 'kernel: the window grows with in_use * 3/2');
  const { out, io: x } = io();
  t.equal(ctl(reg, 0, 0, SEM_INFO, 0, ROOT, x), 74, 'kernel: SEM_INFO returns the highest index');
  t.equal(out.info!.semusz, 73, 'kernel: sets in use');
  t.equal(out.info!.semaem, 73, 'kernel: semaphores in use');

  const { reg: r2 } = setup();
  const mk2 = () => r2.semget(ROOT, IPC_PRIVATE, 1, 0o600);
  const all = Array.from({ length: 64 }, mk2);
  t.equal(all[63], 63);
  for (const id of all) ctl(r2, id, 0, IPC_RMID);
  const [a, b] = [mk2(), mk2()];
  t.same([a, b], [32768, 32769], 'kernel: wrapping to index 0 bumps the sequence');
  t.equal(ctl(r2, a, 0, IPC_RMID), 0);
  ctl(r2, b, 0, IPC_RMID);
  t.equal(ctl(r2, a, 0, GETVAL), -EINVAL, 'kernel: a removed id is EINVAL, not EIDRM');
  const hundred = Array.from({ length: 100 }, mk2);
  t.same([hundred[0], hundred[99]], [32770, 32869], 'kernel: indexes 2..101 with sequence 1');
  for (const id of hundred.slice(0, 50)) ctl(r2, id, 0, IPC_RMID);
  t.same(Array.from({ length: 5 }, mk2), [65536, 65537, 65538, 65539, 65540], 'kernel: window of 75 wraps to 0');
  t.equal(ctl(r2, 0, 0, SEM_INFO, 0, ROOT, io().io), 101, 'kernel: highest index');
  t.equal(ctl(r2, 32770, 0, GETVAL), -EINVAL, 'stale sequence on a reused index is EINVAL');
  t.equal(ctl(r2, 65536 + 60, 0, GETVAL), -EINVAL, 'live index, wrong sequence');
  t.equal(ctl(r2, 32768 + 60, 0, GETVAL), 0, 'live index, right sequence');
});

t.test('ids: key reuse after IPC_RMID', async (t) => {
  const { reg } = setup();
  const a = reg.semget(ROOT, 42, 1, IPC_CREAT | IPC_EXCL | 0o600);
  t.equal(ctl(reg, a, 0, IPC_RMID), 0);
  t.equal(reg.semget(ROOT, 42, 1, 0), -ENOENT, 'the key is released');
  const b = reg.semget(ROOT, 42, 2, IPC_CREAT | IPC_EXCL | 0o600);
  t.ok(b > 0 && b !== a, 'a new set under the same key');
  t.equal(reg.semget(ROOT, 42, 0, 0), b);
});

t.test('limits: ENOSPC for semmni and semmns, checked after nsems == 0', async (t) => {
  const { reg } = setup({ semmsl: 10, semmns: 12, semopm: 3, semmni: 2 });
  t.equal(reg.semget(ROOT, IPC_PRIVATE, 11, 0), -EINVAL, 'semmsl');
  const a = reg.semget(ROOT, IPC_PRIVATE, 10, 0o600);
  t.equal(reg.semget(ROOT, IPC_PRIVATE, 3, 0), -ENOSPC, 'semmns: 10 + 3 > 12');
  t.equal(reg.semget(ROOT, IPC_PRIVATE, 0, 0), -EINVAL, 'nsems 0 before ENOSPC');
  reg.semget(ROOT, IPC_PRIVATE, 2, 0);
  t.equal(reg.semget(ROOT, IPC_PRIVATE, 0 + 1, 0), -ENOSPC, 'semmns full');
  t.equal(reg.snapshot().sets.length, 2);
  ctl(reg, a, 0, IPC_RMID);
  reg.semget(ROOT, IPC_PRIVATE, 1, 0);
  t.equal(reg.semget(ROOT, IPC_PRIVATE, 1, 0), -ENOSPC, 'semmni: 2 sets');
  t.equal(reg.snapshot().usedSems, 3, 'nothing grew on refusal');
  const id = reg.snapshot().sets[0]!.id;
  t.equal(op(reg, id, [sb(0, 1), sb(0, 1), sb(0, 1), sb(0, 1)]), -E2BIG, 'semopm');
  t.equal(res(op(reg, id, [sb(0, 1), sb(0, 1), sb(0, -1)])), 0, 'semopm ops are allowed');
});

t.test('limits: setLimits as proc_ipc_sem_dointvec', async (t) => {
  const { reg } = setup();
  t.equal(reg.setLimits({ semmsl: 5, semmns: 6, semopm: 7, semmni: 8 }), 0);
  t.same(reg.getLimits(), { semmsl: 5, semmns: 6, semopm: 7, semmni: 8 });
  t.equal(reg.setLimits({ semmsl: 1, semmns: 2, semopm: 3, semmni: 32769 }), -ERANGE, 'kernel: semmni > IPCMNI is ERANGE');
  t.same(reg.getLimits(), { semmsl: 1, semmns: 2, semopm: 3, semmni: 8 }, 'kernel: only semmni is restored');
  t.equal(reg.setLimits({ semmsl: 1, semmns: 2, semopm: 3, semmni: -1 }), -ERANGE);
  t.equal(reg.setLimits({ semmsl: 1, semmns: 2, semopm: 3, semmni: 32768 }), 0, 'kernel: IPCMNI itself is allowed');
  t.equal(reg.setLimits({ semmsl: 1.5, semmns: 2, semopm: 3, semmni: 3 }), -EINVAL, 'not an int');
  t.equal(reg.setLimits({ semmsl: 2 ** 31, semmns: 2, semopm: 3, semmni: 3 }), -EINVAL, 'beyond int');
  const l = reg.getLimits();
  l.semmsl = 999;
  t.equal(reg.getLimits().semmsl, 1, 'getLimits returns a copy');
  t.equal(reg.setLimits({ semmsl: 10, semmns: 100, semopm: -1, semmni: 10 }), 0);
  t.equal(reg.checkSemop(100_000), 0, 'a negative semopm compares unsigned: no E2BIG');
  t.equal(reg.checkSemop(SEM_MAX_NSOPS + 1), -ENOMEM, 'emulator bound on array size');
  t.equal(reg.checkSemop(0), -EINVAL);
  t.equal(reg.setLimits({ semmsl: 2 ** 31 - 1, semmns: 2 ** 31 - 1, semopm: 1, semmni: 10 }), 0);
  t.equal(reg.semget(ROOT, IPC_PRIVATE, SEM_MAX_NSEMS + 1, 0), -ENOMEM, 'emulator bound on set size, nothing allocated');
  t.equal(reg.snapshot().usedSems, 0);
  t.equal(reg.checkSemop(1), 0, 'the id is not checked before the array is copied');
  t.equal(reg.setLimits({ semmsl: 10, semmns: 100, semopm: 2, semmni: 10 }), 0);
  t.equal(reg.checkSemop(3), -E2BIG, 'E2BIG whatever the id (do_semtimedop checks it first)');
});

t.test('semop: validation order', async (t) => {
  const { reg } = setup();
  const k = reg.semget(ROOT, 0x100, 2, IPC_CREAT | 0o600);
  t.equal(op(reg, k, []), -EINVAL, 'kernel: nsops 0');
  t.equal(op(reg, -1, [sb(0, 0)]), -EINVAL, 'kernel: negative semid');
  const many = Array.from({ length: 501 }, () => sb(0, 0));
  t.equal(op(reg, k, many), -E2BIG, 'kernel: nsops > semopm');
  t.equal(op(reg, 12345, many), -E2BIG, 'kernel: E2BIG before the id');
  t.equal(op(reg, k, [sb(5, 0)]), -EFBIG, 'kernel: sem_num >= nsems');
  t.equal(op(reg, 12345, [sb(5, 0)]), -EINVAL, 'kernel: bad id before EFBIG');
  t.equal(op(reg, k, [sb(0, -1, IPC_NOWAIT)]), -EAGAIN, 'kernel: IPC_NOWAIT');
  t.equal(ctl(reg, k, 0, SETVAL, 1), 0);
  t.equal(op(reg, k, [sb(0, 32767)]), -ERANGE, 'kernel: value above SEMVMX');
  t.equal(ctl(reg, k, 0, GETVAL), 1);

  const p = reg.semget(ROOT, 0x200, 3, IPC_CREAT | 0o640);
  const u = user(1000, 1000);
  t.equal(op(reg, p, [sb(5, -1)], u), -EFBIG, 'kernel: EFBIG before EACCES');
  t.equal(op(reg, p, [sb(0, -1, IPC_NOWAIT)], u), -EACCES, 'kernel: alter needs write');
  t.equal(op(reg, p, [sb(0, 0, IPC_NOWAIT)], u), -EACCES, 'kernel: wait-for-zero needs read');
  const g = user(1000, 0);
  t.equal(res(op(reg, p, [sb(0, 0)], g)), 0, 'group read allows wait-for-zero');
  t.equal(op(reg, p, [sb(0, 1)], g), -EACCES, 'group has no write in 0640');
});

t.test('semop: atomic arrays, in order, all or nothing', async (t) => {
  const { reg } = setup();
  const k = reg.semget(ROOT, IPC_PRIVATE, 2, 0o600);
  ctl(reg, k, 0, SETVAL, 1);
  t.equal(op(reg, k, [sb(0, 1), sb(1, -1, IPC_NOWAIT)]), -EAGAIN, 'kernel');
  t.equal(ctl(reg, k, 0, GETVAL), 1, 'kernel: the first op was not kept');
  t.equal(ctl(reg, k, 1, GETPID), 0, 'sempid untouched by a failed array');
  t.equal(op(reg, k, [sb(1, -1, IPC_NOWAIT), sb(1, 1)]), -EAGAIN, 'kernel: decrement first blocks');
  t.equal(res(op(reg, k, [sb(1, 1), sb(1, -1)])), 0, 'kernel: increment then decrement succeeds');
  t.equal(ctl(reg, k, 1, GETVAL), 0, 'kernel');
  t.equal(op(reg, k, [sb(0, 32767), sb(0, -5)]), -ERANGE, 'kernel: each step is range-checked');
  t.equal(op(reg, k, [sb(1, 0), sb(0, 0, IPC_NOWAIT)]), -EAGAIN, 'kernel: the blocking op decides NOWAIT');
  t.equal(res(op(reg, k, [sb(0, 2), sb(1, 3), sb(0, -3)])), 0);
  t.same([ctl(reg, k, 0, GETVAL), ctl(reg, k, 1, GETVAL)], [0, 3]);
  t.same([ctl(reg, k, 0, GETPID), ctl(reg, k, 1, GETPID)], [ROOT.pid, ROOT.pid], 'sempid of every touched semaphore');
});

t.test('semop: SEM_UNDO adjustment range is [-32768, 32767]', async (t) => {
  const { reg } = setup();
  const k = reg.semget(ROOT, IPC_PRIVATE, 2, 0o600);
  const undo = new UndoList(ROOT.pid);
  const u = (num: number, o: number, flg: number) => res(op(reg, k, [sb(num, o, flg)], ROOT, undo));
  ctl(reg, k, 1, SETVAL, 32767);
  t.equal(u(1, -32767, SEM_UNDO), 0, 'kernel: adj +32767');
  t.equal(u(1, 1, 0), 0);
  t.equal(u(1, -1, SEM_UNDO), -ERANGE, 'kernel: adj +32768 refused');
  t.equal(ctl(reg, k, 1, GETVAL), 1, 'kernel');
  ctl(reg, k, 1, SETVAL, 0);
  t.equal(u(1, 32767, SEM_UNDO), 0, 'kernel: adj -32767');
  t.equal(u(1, -32767, 0), 0);
  t.equal(u(1, 1, SEM_UNDO), 0, 'kernel: adj -32768 allowed');
  t.equal(u(1, 1, SEM_UNDO), -ERANGE, 'kernel: adj -32769 refused');
  t.equal(ctl(reg, k, 1, GETVAL), 1, 'kernel');
  t.same(reg.snapshot().sets[0]!.undo, [{ owner: ROOT.pid, adj: [0, -32768] }]);
  t.equal(res(op(reg, k, [sb(0, 5, SEM_UNDO), sb(0, -2, SEM_UNDO)], ROOT, undo)), 0);
  t.same(reg.snapshot().sets[0]!.undo[0]!.adj, [-3, -32768], 'adjustments accumulate within one array');
});

t.test('semop: otime only on success, sempid on wait-for-zero too', async (t) => {
  const { reg, clock } = setup();
  const k = reg.semget(ROOT, IPC_PRIVATE, 2, 0o600);
  const stat = () => {
    const { out, io: x } = io();
    ctl(reg, k, 0, IPC_STAT, 0, ROOT, x);
    return out.ds!;
  };
  t.equal(stat().otime, 0);
  t.equal(stat().ctime, 1000, 'ctime at creation');
  clock.real = 2000;
  op(reg, k, [sb(0, -1, IPC_NOWAIT)]);
  t.equal(stat().otime, 0, 'failed semop');
  clock.real = 3000.7;
  const z = { ...ROOT, pid: 77 };
  t.equal(res(op(reg, k, [sb(1, 0)], z)), 0);
  t.equal(stat().otime, 3000, 'whole seconds');
  t.equal(ctl(reg, k, 1, GETPID), 77, 'wait-for-zero success sets sempid');
  t.equal(ctl(reg, k, 0, GETPID), 0);
  t.equal(stat().ctime, 1000, 'semop does not touch ctime');
});

t.test('semctl: validation order', async (t) => {
  const { reg } = setup();
  const k = reg.semget(ROOT, 0x100, 2, IPC_CREAT | 0o600);
  t.equal(ctl(reg, -1, 0, IPC_INFO), -EINVAL, 'kernel: negative semid even for IPC_INFO');
  t.equal(ctl(reg, k, 0, 99), -EINVAL, 'kernel: unknown command');
  t.equal(ctl(reg, k, 0, 0x100 | IPC_STAT), -EINVAL, 'IPC_64 is not stripped on x86_64');
  t.equal(ctl(reg, k, 5, GETVAL), -EINVAL, 'kernel: semnum');
  t.equal(ctl(reg, 12345, 0, SETVAL, 40000), -ERANGE, 'kernel: SETVAL range before the id');
  t.equal(ctl(reg, k, 0, SETVAL, -1), -ERANGE, 'kernel');
  t.equal(ctl(reg, k, 7, SETVAL, 1), -EINVAL, 'kernel');
  t.equal(ctl(reg, 0, 0, SEM_STAT, 0, ROOT, io().io), 0, 'kernel: SEM_STAT returns the id');
  t.equal(ctl(reg, 32768, 0, SEM_STAT, 0, ROOT, io().io), 0, 'kernel: SEM_STAT uses only the index bits');
  t.equal(ctl(reg, 9, 0, SEM_STAT, 0, ROOT, io().io), -EINVAL, 'kernel: free index');
  t.equal(ctl(reg, 32768, 0, IPC_STAT, 0, ROOT, io().io), -EINVAL, 'kernel: IPC_STAT checks the sequence');
  const bad = (uid: number, gid: number) =>
    io({ ds: { perm: { key: 0, uid, gid, cuid: 0, cgid: 0, mode: 0o600, seq: 0 }, otime: 0, ctime: 0, nsems: 0 } }).io;
  t.equal(ctl(reg, k, 0, IPC_SET, 0, ROOT, bad(0xffffffff, 0)), -EINVAL, 'kernel: uid -1');
  t.equal(ctl(reg, k, 0, IPC_SET, 0, ROOT, bad(0, -1)), -EINVAL, 'kernel: gid -1');

  const p = reg.semget(ROOT, 0x200, 3, IPC_CREAT | 0o640);
  const u = user(1000, 1000);
  t.equal(ctl(reg, p, 0, GETVAL, 0, u), -EACCES, 'kernel');
  t.equal(ctl(reg, p, 9, GETVAL, 0, u), -EACCES, 'kernel: permission before the semnum range');
  t.equal(ctl(reg, p, 9, SETVAL, 1, u), -EINVAL, 'kernel: SETVAL range before permission');
  t.equal(ctl(reg, p, 0, SETVAL, 1, u), -EACCES, 'kernel');
  t.equal(ctl(reg, p, 0, IPC_RMID, 0, u), -EPERM, 'kernel');
  t.equal(ctl(reg, p, 0, IPC_STAT, 0, u, io().io), -EACCES, 'kernel');
  t.equal(ctl(reg, 1, 0, SEM_STAT, 0, u, io().io), -EACCES, 'kernel');
  t.equal(ctl(reg, 1, 0, SEM_STAT_ANY, 0, u, io().io), 1, 'kernel: SEM_STAT_ANY skips the check');
  t.equal(ctl(reg, p, 0, GETALL, 0, u, io().io), -EACCES);
  t.equal(ctl(reg, p, 0, SETALL, 0, u, io({ values: [1, 2, 3] }).io), -EACCES);
  t.equal(ctl(reg, p, 0, GETNCNT, 0, u), -EACCES);
  t.equal(ctl(reg, p, 0, GETZCNT, 0, u), -EACCES);
  t.equal(ctl(reg, p, 0, GETPID, 0, u), -EACCES);

  const grp = (uid: number) =>
    io({ ds: { perm: { key: 0, uid, gid: 1000, cuid: 0, cgid: 0, mode: 0o060, seq: 0 }, otime: 0, ctime: 0, nsems: 0 } }).io;
  t.equal(ctl(reg, p, 0, IPC_SET, 0, ROOT, grp(0)), 0);
  t.equal(ctl(reg, p, 0, GETVAL, 0, u), 0, 'kernel: group class via the new gid');
  t.equal(res(op(reg, p, [sb(0, 1)], u)), 0, 'kernel: group alter');
  t.equal(ctl(reg, p, 0, GETVAL, 0, user(1000, 2000)), -EACCES, 'kernel: other class');
  t.equal(ctl(reg, p, 0, IPC_SET, 0, ROOT, grp(1000)), 0);
  t.equal(ctl(reg, p, 0, GETVAL, 0, u), -EACCES, 'the owner class wins even when the group bits would grant');
});

t.test('semctl: IPC_SET and IPC_RMID ownership', async (t) => {
  const { reg, clock } = setup();
  const creator = user(1000, 1000);
  const k = reg.semget(creator, 7, 1, IPC_CREAT | 0o600);
  const ds = (uid: number, gid: number, mode: number) =>
    io({ ds: { perm: { key: 123, uid, gid, cuid: 5, cgid: 5, mode, seq: 9 }, otime: 0, ctime: 0, nsems: 99 } }).io;
  clock.real = 5000;
  t.equal(ctl(reg, k, 0, IPC_SET, 0, user(1001, 1000), ds(1001, 1001, 0o666)), -EPERM, 'not owner nor creator');
  t.equal(ctl(reg, k, 0, IPC_SET, 0, creator, ds(2000, 3000, 0o7644)), 0, 'creator');
  const { out, io: x } = io();
  t.equal(ctl(reg, k, 0, IPC_STAT, 0, ROOT, x), 0);
  t.same(
    out.ds,
    { perm: { key: 7, uid: 2000, gid: 3000, cuid: 1000, cgid: 1000, mode: 0o644, seq: 0 }, otime: 0, ctime: 5000, nsems: 1 },
    'uid, gid and mode & 0777 change; key, cuid, cgid, seq do not',
  );
  t.equal(ctl(reg, k, 0, IPC_SET, 0, user(2000, 1), ds(2000, 1, 0o600)), 0, 'new owner');
  t.equal(ctl(reg, k, 0, IPC_SET, 0, creator, ds(1000, 1, 0o600)), 0, 'creator keeps the right');
  t.equal(ctl(reg, k, 0, IPC_SET, 0, ROOT, io({ fault: true }).io), -EFAULT, 'EFAULT before anything');
  t.equal(ctl(reg, 999, 0, IPC_SET, 0, ROOT, io({ fault: true }).io), -EFAULT, 'even before the id');
  t.equal(ctl(reg, k, 0, IPC_RMID, 0, user(3000, 1000)), -EPERM);
  t.equal(ctl(reg, k, 0, IPC_RMID, 0, { ...user(3000, 3000), isRoot: true }), 0, 'CAP_SYS_ADMIN');
  t.equal(ctl(reg, k, 0, IPC_RMID), -EINVAL, 'already gone');
});

t.test('semctl: IPC_STAT, SEM_STAT, IPC_INFO, SEM_INFO contents', async (t) => {
  const { reg, clock } = setup({ semmsl: 250, semmns: 32000, semopm: 32, semmni: 128 });
  const a = reg.semget(ROOT, -5, 3, IPC_CREAT | 0o640);
  const b = reg.semget(user(7, 8), IPC_PRIVATE, 4, 0o600);
  clock.real = 1234;
  op(reg, a, [sb(2, 1)]);
  const s = io();
  t.equal(ctl(reg, b, 0, SEM_STAT, 0, user(7, 8), s.io), b);
  t.same(s.out.ds, { perm: { key: 0, uid: 7, gid: 8, cuid: 7, cgid: 8, mode: 0o600, seq: 0 }, otime: 0, ctime: 1000, nsems: 4 });
  const st = io();
  t.equal(ctl(reg, a, 0, IPC_STAT, 0, ROOT, st.io), 0);
  t.equal(st.out.ds!.otime, 1234);
  t.equal(st.out.ds!.perm.key, -5);
  t.equal(ctl(reg, a, 0, IPC_STAT, 0, ROOT, io({ fault: true }).io), -EFAULT);
  t.equal(ctl(reg, a, 0, SEM_STAT, 0, ROOT, io({ fault: true }).io), -EFAULT);
  const i = io();
  t.equal(ctl(reg, 0, 0, IPC_INFO, 0, ROOT, i.io), 1, 'highest index');
  t.same(
    i.out.info,
    {
      semmap: 1024000000,
      semmni: 128,
      semmns: 32000,
      semmnu: 1024000000,
      semmsl: 250,
      semopm: 32,
      semume: 500,
      semusz: 20,
      semvmx: 32767,
      semaem: 32767,
    },
    'kernel: semmap, semmnu, semume are header constants',
  );
  const si = io();
  t.equal(ctl(reg, 0, 0, SEM_INFO, 0, ROOT, si.io), 1);
  t.same([si.out.info!.semusz, si.out.info!.semaem], [2, 7], 'sets and semaphores in use');
  t.equal(ctl(reg, 0, 0, SEM_INFO, 0, ROOT, io({ fault: true }).io), -EFAULT);
  ctl(reg, a, 0, IPC_RMID);
  ctl(reg, b, 0, IPC_RMID);
  t.equal(ctl(reg, 0, 0, SEM_INFO, 0, ROOT, io().io), 0, 'no sets: 0');
});

t.test('semctl: GETALL, SETALL, SETVAL, GETPID', async (t) => {
  const { reg, clock } = setup();
  const k = reg.semget(ROOT, IPC_PRIVATE, 3, 0o600);
  const c = { ...ROOT, pid: 55 };
  clock.real = 4000;
  t.equal(ctl(reg, k, 0, SETALL, 0, c, io({ values: [1, 32768, 3] }).io), -ERANGE);
  t.equal(ctl(reg, k, 0, SETALL, 0, c, io({ fault: true }).io), -EFAULT);
  const g = io();
  t.equal(ctl(reg, k, 0, GETALL, 0, ROOT, g.io), 0);
  t.same(g.out.values, [0, 0, 0], 'nothing written by refused SETALLs');
  t.equal(ctl(reg, k, 0, SETALL, 0, c, io({ values: [1, 32767, 3] }).io), 0);
  t.equal(ctl(reg, k, 0, GETALL, 0, ROOT, g.io), 0);
  t.same(g.out.values, [1, 32767, 3]);
  t.same(
    [0, 1, 2].map((n) => ctl(reg, k, n, GETPID)),
    [55, 55, 55],
    'SETALL sets every sempid',
  );
  t.equal(ctl(reg, k, 0, GETALL, 0, ROOT, io({ fault: true }).io), -EFAULT);
  t.equal(ctl(reg, k, 1, SETVAL, 9, { ...ROOT, pid: 66 }), 0);
  t.same([ctl(reg, k, 1, GETVAL), ctl(reg, k, 1, GETPID), ctl(reg, k, 0, GETPID)], [9, 66, 55]);
  const st = io();
  ctl(reg, k, 0, IPC_STAT, 0, ROOT, st.io);
  t.same([st.out.ds!.ctime, st.out.ds!.otime], [4000, 0], 'SETALL/SETVAL set ctime, not otime');
  t.equal(ctl(reg, k, 0, SETVAL, 32767), 0);
  t.equal(ctl(reg, k, 0, SETVAL, 32768), -ERANGE);
});

t.test('snapshot is plain JSON', async (t) => {
  const { reg } = setup();
  const k = reg.semget(ROOT, 9, 2, IPC_CREAT | 0o600);
  const undo = new UndoList(ROOT.pid);
  op(reg, k, [sb(0, 2, SEM_UNDO)], ROOT, undo);
  reg.semop({ ...ROOT, pid: 5 }, new UndoList(5), k, [sb(1, -1)], 10n, 'sleeper');
  const snap = reg.snapshot();
  t.same(JSON.parse(JSON.stringify(snap)), snap, 'round-trips');
  t.match(snap, {
    limits: LIMITS,
    usedSems: 2,
    sets: [
      {
        id: k,
        index: 0,
        nsems: 2,
        values: [2, 0],
        pids: [ROOT.pid, 0],
        perm: { key: 9, mode: 0o600 },
        waiters: [{ pid: 5, sops: [{ num: 1, op: -1, flg: 0 }], blocking: 0, deadlineNs: '10' }],
        undo: [{ owner: ROOT.pid, adj: [-2, 0] }],
      },
    ],
  });
});
