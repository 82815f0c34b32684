// SysV semaphore sleepers: wake-up order (ipc/sem.c update_queue), counts,
// timeouts, EIDRM, interrupted replies (rollback), dead waiters and SEM_UNDO
// at exit. Results marked "kernel:" were observed natively on Linux 6.18.
import t from 'tap';
import {
  GETNCNT,
  GETPID,
  GETVAL,
  GETZCNT,
  IPC_CREAT,
  IPC_NOWAIT,
  IPC_PRIVATE,
  IPC_RMID,
  IPC_STAT,
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
  type SemWaiter,
} from '../../src/sem/index.js';
import { EAGAIN, EFBIG, EIDRM, EINVAL, ERANGE } from '../../src/syscalls/errno.js';

const ROOT: SemCaller = { pid: 100, uid: 0, gid: 0, isRoot: true };
const sb = (num: number, op: number, flg = 0): SemBuf => ({ num, op, flg });

/** A registry whose hooks can declare tokens dead or undeliverable, recording every delivered reply. */
function setup() {
  const clock = { mono: 0n, real: 1_000 };
  const dead = new Set<string>();
  const undeliverable = new Set<string>();
  const replies: Array<[string, number]> = [];
  const reg = new SemRegistry<string>(
    { semmsl: SEMMSL, semmns: SEMMNS, semopm: SEMOPM, semmni: SEMMNI },
    {
      isAlive: (w) => !dead.has(w.token),
      complete: (w, e) => {
        if (undeliverable.has(w.token) || dead.has(w.token)) return false; // as for the kernel: a dead task's reply fails
        replies.push([w.token, e]);
        return true;
      },
    },
    { monoNs: () => clock.mono, realSec: () => clock.real },
  );
  const lists = new Map<string, UndoList>();
  let pid = 1000;
  const pids = new Map<string, number>();
  /** semop by the process named `who` (own pid and undo list per name). */
  const op = (id: number, who: string, sops: SemBuf[], timeoutNs: bigint | null = null): number | SemWaiter<string> => {
    if (!pids.has(who)) pids.set(who, pid++);
    const p = pids.get(who)!;
    if (!lists.has(who)) lists.set(who, new UndoList(p));
    return reg.semop({ ...ROOT, pid: p }, lists.get(who)!, id, sops, timeoutNs, who);
  };
  const noio = {} as SemctlIO;
  const ctl = (id: number, num: number, cmd: number, val = 0, c = ROOT) => reg.semctl(c, id, num, cmd, val, noio);
  const setAll = (id: number, values: number[]) => reg.semctl(ROOT, id, 0, SETALL, 0, { ...noio, readValues: () => values });
  const stat = (id: number): SemidDs => {
    let ds: SemidDs | undefined;
    reg.semctl(ROOT, id, 0, IPC_STAT, 0, { ...noio, writeSemid: (d) => ((ds = d), 0) });
    return ds!;
  };
  /** Tokens replied to since the last call, with their errno. */
  const drain = (): Array<[string, number]> => replies.splice(0);
  const mk = (nsems: number) => reg.semget(ROOT, IPC_PRIVATE, nsems, IPC_CREAT | 0o600);
  return { reg, clock, dead, undeliverable, op, ctl, setAll, stat, drain, mk, lists, pids };
}

const waiter = (r: number | SemWaiter<string>): SemWaiter<string> => {
  if (typeof r === 'number') throw new Error(`expected a waiter, got ${r}`);
  return r;
};

t.test('per-semaphore FIFO without starvation protection', async (t) => {
  const s = setup();
  const k = s.mk(1);
  const a = waiter(s.op(k, 'A', [sb(0, -2)]));
  const b = waiter(s.op(k, 'B', [sb(0, -1)]));
  t.equal(a.state, 'queued');
  t.equal(s.ctl(k, 0, GETNCNT), 2);
  s.op(k, 'X', [sb(0, 1)]);
  t.same(
    s.drain(),
    [
      ['X', 0],
      ['B', 0],
    ],
    'B passes A, which needs 2',
  );
  t.equal(b.state, 'completed');
  s.op(k, 'X', [sb(0, 3)]);
  t.same(s.drain(), [
    ['X', 0],
    ['A', 0],
  ]);
  t.equal(s.ctl(k, 0, GETVAL), 1);
  t.equal(s.ctl(k, 0, GETPID), s.pids.get('A'), 'sempid of the woken waiter');
});

t.test('FIFO among equal requests', async (t) => {
  const s = setup();
  const k = s.mk(1);
  for (const w of ['A', 'B', 'C']) s.op(k, w, [sb(0, -1)]);
  s.op(k, 'X', [sb(0, 2)]);
  t.same(s.drain(), [
    ['X', 0],
    ['A', 0],
    ['B', 0],
  ]);
  t.equal(s.ctl(k, 0, GETNCNT), 1, 'C still sleeps');
  t.equal(s.stat(k).otime, 1000);
});

t.test('wait-for-zero', async (t) => {
  const s = setup();
  const k = s.mk(2);
  s.setAll(k, [1, 1]);
  s.op(k, 'Z', [sb(0, 0)]);
  s.op(k, 'ZZ', [sb(0, 0), sb(1, 0)]);
  t.same([s.ctl(k, 0, GETZCNT), s.ctl(k, 1, GETZCNT)], [2, 0], 'the complex one counts on the op it blocked on');
  s.op(k, 'X', [sb(0, -1)]);
  t.same(
    s.drain(),
    [
      ['X', 0],
      ['Z', 0],
    ],
    'ZZ now blocks on semaphore 1',
  );
  t.same([s.ctl(k, 0, GETZCNT), s.ctl(k, 1, GETZCNT)], [0, 1]);
  t.equal(s.ctl(k, 1, SETVAL, 0), 0);
  t.same(s.drain(), [['ZZ', 0]], 'SETVAL wakes zero waiters');
  t.equal(s.ctl(k, 0, GETPID), s.pids.get('ZZ'), 'a completed wait-for-zero sets sempid');
});

t.test('GETNCNT/GETZCNT follow the op a complex waiter last blocked on', async (t) => {
  // kernel: start ncnt 2 0 zcnt 0 2 / sem0=1 ncnt 1 1 zcnt 0 2 / sem1=0 ncnt 1 1 zcnt 1 0 / vals 1 0
  const s = setup();
  const k = s.mk(2);
  s.ctl(k, 1, SETVAL, 1);
  s.op(k, 'A', [sb(0, -1), sb(1, -2)]);
  s.op(k, 'Z', [sb(1, 0), sb(0, 0)]);
  s.op(k, 'S1', [sb(1, 0)]);
  s.op(k, 'S0', [sb(0, -3)]);
  const counts = () => [GETNCNT, GETZCNT].flatMap((c) => [s.ctl(k, 0, c), s.ctl(k, 1, c)]);
  t.same(counts(), [2, 0, 0, 2], 'kernel: start');
  s.ctl(k, 0, SETVAL, 1);
  t.same(counts(), [1, 1, 0, 2], 'kernel: after sem0 = 1');
  s.ctl(k, 1, SETVAL, 0);
  t.same(counts(), [1, 1, 1, 0], 'kernel: after sem1 = 0');
  t.same([s.ctl(k, 0, GETVAL), s.ctl(k, 1, GETVAL)], [1, 0], 'kernel');
  t.same(s.drain(), [['S1', 0]]);
});

t.test('single-sop sleepers merged behind a complex one are scanned highest semaphore first', async (t) => {
  const s = setup();
  const k = s.mk(2);
  s.op(k, 'A', [sb(0, -1)]);
  s.op(k, 'B', [sb(1, -1)]);
  const c = waiter(s.op(k, 'C', [sb(0, -1), sb(1, -1)]));
  s.op(k, 'X', [sb(0, 1), sb(1, 1)]);
  t.same(
    s.drain(),
    [
      ['X', 0],
      ['B', 0],
      ['A', 0],
    ],
    'merge_queues splices each list to the head',
  );
  t.equal(c.state, 'queued');

  const s2 = setup();
  const k2 = s2.mk(2);
  s2.op(k2, 'A', [sb(0, -1)]);
  s2.op(k2, 'B', [sb(1, -1)]);
  const c2 = waiter(s2.op(k2, 'C', [sb(0, -1), sb(1, -1)]));
  t.equal(s2.reg.cancel(c2), true);
  t.equal(s2.reg.cancel(c2), false, 'only once');
  t.equal(c2.state, 'cancelled');
  s2.op(k2, 'X', [sb(0, 1), sb(1, 1)]);
  t.same(
    s2.drain(),
    [
      ['X', 0],
      ['A', 0],
      ['B', 0],
    ],
    'unmerged again: per-semaphore scans in op order',
  );
});

t.test('a complex success restarts the scan from the head', async (t) => {
  const s = setup();
  const k = s.mk(2);
  s.op(k, 'C0', [sb(1, -5), sb(0, 0)]); // keeps the set in complex mode, never runs here
  s.op(k, 'X', [sb(0, -1)]); // joins the global list ahead of C
  s.op(k, 'C', [sb(1, -1), sb(0, 1)]);
  s.op(k, 'Y', [sb(1, 1)]);
  t.same(
    s.drain(),
    [
      ['Y', 0],
      ['C', 0],
      ['X', 0],
    ],
    'X is retried after C fed semaphore 0',
  );
  t.same([s.ctl(k, 0, GETVAL), s.ctl(k, 1, GETVAL)], [0, 0]);
  t.same([s.ctl(k, 1, GETNCNT), s.ctl(k, 0, GETZCNT)], [1, 0], 'C0 still blocks on its first op');
});

t.test('sleepers can fail with ERANGE or EAGAIN from a later op', async (t) => {
  const s = setup();
  const k = s.mk(2);
  s.ctl(k, 1, SETVAL, 1);
  s.op(k, 'R', [sb(0, -1), sb(1, 32767)]);
  s.op(k, 'N', [sb(0, -1), sb(1, -5, IPC_NOWAIT)]);
  s.op(k, 'X', [sb(0, 2)]);
  t.same(s.drain(), [
    ['X', 0],
    ['R', -ERANGE],
    ['N', -EAGAIN],
  ]);
  t.same([s.ctl(k, 0, GETVAL), s.ctl(k, 1, GETVAL)], [2, 1], 'failed sleepers changed nothing');
});

t.test('timeouts', async (t) => {
  const s = setup();
  const k = s.mk(1);
  s.clock.mono = 500n;
  t.equal(s.op(k, 'now', [sb(0, -1)], 0n), -EAGAIN, 'a zero timeout fails at once');
  const w = waiter(s.op(k, 'T', [sb(0, -1)], 1000n));
  s.op(k, 'U', [sb(0, -1)], 300n);
  s.op(k, 'V', [sb(0, -1)], 300n);
  s.op(k, 'forever', [sb(0, -1)]);
  t.equal(s.reg.nextDeadline(), 800n);
  t.equal(s.reg.expire(799n), 0);
  t.equal(s.ctl(k, 0, GETNCNT), 4);
  t.equal(s.reg.expire(800n), 2);
  t.same(
    s.drain(),
    [
      ['U', -EAGAIN],
      ['V', -EAGAIN],
    ],
    'equal deadlines in arrival order',
  );
  t.equal(s.reg.nextDeadline(), 1500n);
  s.clock.mono = 2000n;
  t.equal(s.reg.expire(), 1, 'defaults to the clock');
  t.same(s.drain(), [['T', -EAGAIN]]);
  t.equal(w.state, 'completed');
  t.equal(w.result, -EAGAIN);
  t.equal(s.ctl(k, 0, GETNCNT), 1);
  t.equal(s.reg.nextDeadline(), null);
  const x = waiter(s.op(k, 'W', [sb(0, -1)], 10n));
  s.op(k, 'X', [sb(0, 2)]);
  t.same(s.drain(), [
    ['X', 0],
    ['forever', 0],
    ['W', 0],
  ]);
  t.equal(x.state, 'completed');
  t.equal(s.reg.nextDeadline(), null, 'woken waiters leave the timer');
  t.equal(s.reg.expire(10_000n), 0);
});

t.test('IPC_RMID fails every sleeper with EIDRM in Linux order', async (t) => {
  const s = setup();
  const k = s.reg.semget(ROOT, 77, 2, IPC_CREAT | 0o600);
  s.ctl(k, 0, SETVAL, 1);
  s.op(k, 'a1', [sb(1, -1, SEM_UNDO)]);
  s.op(k, 'z0', [sb(0, 0)]);
  s.op(k, 'c', [sb(1, -1), sb(0, -2)]);
  s.op(k, 'cz', [sb(0, 0), sb(1, 0)]);
  t.equal(s.lists.get('a1')!.entries.size, 1);
  s.drain();
  t.equal(s.ctl(k, 0, IPC_RMID), 0);
  t.same(
    s.drain(),
    [
      ['cz', -EIDRM],
      ['a1', -EIDRM],
      ['c', -EIDRM],
      ['z0', -EIDRM],
    ],
    'global const, global alter, then per semaphore',
  );
  t.equal(s.lists.get('a1')!.entries.size, 0, 'undo entries vanish');
  t.equal(s.ctl(k, 0, GETVAL), -EINVAL);
  t.equal(s.reg.nextDeadline(), null);
  t.same(s.reg.snapshot().sets, []);
});

t.test('an undeliverable success is rolled back exactly', async (t) => {
  const s = setup();
  const k = s.mk(1);
  s.undeliverable.add('B');
  const b = waiter(s.op(k, 'B', [sb(0, -1, SEM_UNDO)]));
  s.op(k, 'C', [sb(0, -1)]);
  s.op(k, 'X', [sb(0, 1)]);
  t.same(
    s.drain(),
    [
      ['X', 0],
      ['C', 0],
    ],
    'the unit goes to C',
  );
  t.equal(b.state, 'cancelled');
  t.same(s.reg.snapshot().sets[0]!.undo, [{ owner: s.pids.get('B'), adj: [0] }], 'B keeps no adjustment');

  s.op(k, 'B2', [sb(0, -1, SEM_UNDO)]);
  s.undeliverable.add('B2');
  s.op(k, 'Y', [sb(0, 1)]);
  t.equal(s.ctl(k, 0, GETVAL), 1, 'value restored');
  t.equal(s.ctl(k, 0, GETPID), s.pids.get('Y'), 'sempid restored');
  t.equal(s.ctl(k, 0, GETNCNT), 0);

  s.ctl(k, 0, SETVAL, 0);
  s.op(k, 'D', [sb(0, -1)]);
  s.undeliverable.add('Z');
  s.clock.real = 9999;
  const z = waiter(s.op(k, 'Z', [sb(0, 1)]));
  t.equal(z.state, 'cancelled', 'the caller itself could not be told');
  t.equal(s.ctl(k, 0, GETVAL), 0);
  t.equal(s.ctl(k, 0, GETPID), ROOT.pid);
  t.equal(s.ctl(k, 0, GETNCNT), 1, 'D was not woken by an operation that never happened');
  t.equal(s.stat(k).otime, 1000, 'otime untouched');
  s.drain();
});

t.test('dead waiters are neither committed nor counted', async (t) => {
  const s = setup();
  const k = s.mk(1);
  const a = waiter(s.op(k, 'A', [sb(0, -1)]));
  s.op(k, 'B', [sb(0, -1)]);
  s.dead.add('A');
  t.equal(s.ctl(k, 0, GETNCNT), 1);
  t.equal(a.state, 'cancelled', 'dropped when found dead');
  s.op(k, 'C', [sb(0, -1)]);
  s.dead.add('B');
  s.op(k, 'X', [sb(0, 1)]);
  t.same(
    s.drain(),
    [
      ['X', 0],
      ['C', 0],
    ],
    'B skipped during the wake-up',
  );
  s.ctl(k, 0, SETVAL, 1);
  s.op(k, 'Z', [sb(0, 0)]);
  s.op(k, 'Z2', [sb(0, 0), sb(0, 0)]);
  t.equal(s.ctl(k, 0, GETZCNT), 2);
  s.dead.add('Z');
  s.dead.add('Z2');
  t.equal(s.ctl(k, 0, GETZCNT), 0);
  s.ctl(k, 0, SETVAL, 0);
  t.same(s.drain(), []);
});

t.test('SEM_UNDO at exit: clamped to [0, SEMVMX], sempid of the exiting process', async (t) => {
  // kernel: pre-exit 32767 0, post-exit 32767 0, GETPID = child for both
  const s = setup();
  const k = s.mk(2);
  s.setAll(k, [5, 5]);
  s.op(k, 'child', [sb(0, -3, SEM_UNDO)]);
  s.op(k, 'child', [sb(1, 3, SEM_UNDO)]);
  s.op(k, 'parent', [sb(0, 32765)]);
  s.op(k, 'parent', [sb(1, -8)]);
  t.same([s.ctl(k, 0, GETVAL), s.ctl(k, 1, GETVAL)], [32767, 0], 'kernel');
  s.clock.real = 7777;
  s.reg.exitUndo(s.lists.get('child')!, s.pids.get('child')!);
  t.same([s.ctl(k, 0, GETVAL), s.ctl(k, 1, GETVAL)], [32767, 0], 'kernel');
  t.same([s.ctl(k, 0, GETPID), s.ctl(k, 1, GETPID)], [s.pids.get('child'), s.pids.get('child')], 'kernel');
  t.equal(s.stat(k).otime, 7777);
  t.equal(s.lists.get('child')!.entries.size, 0);
});

t.test('SEM_UNDO: an entry made by a failed semop still sets otime at exit', async (t) => {
  // kernel: otime 0 before, set after the child's EFBIG semop with SEM_UNDO exits
  const s = setup();
  const k = s.mk(1);
  t.equal(s.op(k, 'child', [sb(5, -1, SEM_UNDO | IPC_NOWAIT)]), -EFBIG);
  t.equal(s.op(k, 'child', [sb(0, -1, SEM_UNDO | IPC_NOWAIT)]), -EAGAIN);
  t.equal(s.stat(k).otime, 0);
  s.clock.real = 4242;
  s.reg.exitUndo(s.lists.get('child')!, 1);
  t.equal(s.stat(k).otime, 4242);
  t.equal(s.ctl(k, 0, GETPID), 0, 'no adjustment, no sempid');
  t.equal(s.op(k, 'late', [sb(0, 1, SEM_UNDO)]) instanceof Object, true);
  t.equal(s.op(k + 1, 'late', [sb(0, 1, SEM_UNDO)]), -EINVAL, 'no entry for a bad id');
  t.equal(s.lists.get('late')!.entries.size, 1);
});

t.test('SEM_UNDO: shared lists apply when the last holder exits; exit wakes sleepers', async (t) => {
  const s = setup();
  const k = s.mk(1);
  s.ctl(k, 0, SETVAL, 1);
  const list = new UndoList(1);
  const c = { ...ROOT, pid: 1 };
  t.equal(waiter(s.reg.semop(c, list, k, [sb(0, -1, SEM_UNDO)], null, 'T')).state, 'completed');
  s.op(k, 'W', [sb(0, -1)]);
  s.drain();
  t.equal(list.share(), list);
  s.reg.exitUndo(list, 2);
  t.equal(s.ctl(k, 0, GETVAL), 0, 'one holder left');
  s.reg.exitUndo(list, 1);
  t.same(s.drain(), [['W', 0]], 'the restored unit went to the sleeper');
  t.equal(s.ctl(k, 0, GETVAL), 0);
  s.reg.exitUndo(list, 1);
  t.equal(s.ctl(k, 0, GETVAL), 0, 'a finished list does nothing');
});

t.test('SEM_UNDO: SETVAL clears one semaphore, SETALL all, in every list', async (t) => {
  const s = setup();
  const k = s.mk(2);
  s.op(k, 'P', [sb(0, 2, SEM_UNDO), sb(1, 3, SEM_UNDO)]);
  s.op(k, 'Q', [sb(0, 1, SEM_UNDO), sb(1, 1, SEM_UNDO)]);
  const adj = () => s.reg.snapshot().sets[0]!.undo.map((u) => u.adj);
  t.same(adj(), [
    [-2, -3],
    [-1, -1],
  ]);
  s.ctl(k, 1, SETVAL, 10);
  t.same(adj(), [
    [-2, 0],
    [-1, 0],
  ]);
  s.setAll(k, [4, 4]);
  t.same(adj(), [
    [0, 0],
    [0, 0],
  ]);
  s.reg.exitUndo(s.lists.get('P')!, 1);
  t.same([s.ctl(k, 0, GETVAL), s.ctl(k, 1, GETVAL)], [4, 4], 'nothing left to undo');
});

t.test('SEM_UNDO: entries of a removed set are gone; a new set with the same id is untouched', async (t) => {
  const s = setup();
  const k = s.mk(1);
  s.op(k, 'P', [sb(0, 5, SEM_UNDO)]);
  s.ctl(k, 0, IPC_RMID);
  t.equal(s.lists.get('P')!.entries.size, 0);
  const k2 = s.mk(1);
  s.ctl(k2, 0, SETVAL, 3);
  s.reg.exitUndo(s.lists.get('P')!, 1);
  t.equal(s.ctl(k2, 0, GETVAL), 3);
});
