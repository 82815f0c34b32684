// SemHooks.deferImmediate: an immediate success on a set where nothing
// sleeps is left to the caller to deliver (semop returns 0), and
// undeliverable() undoes it exactly when that delivery fails.
import t from 'tap';
import {
  GETPID,
  GETVAL,
  IPC_CREAT,
  IPC_NOWAIT,
  IPC_PRIVATE,
  IPC_STAT,
  SEM_UNDO,
  SEMMNI,
  SEMMNS,
  SEMMSL,
  SEMOPM,
  SemRegistry,
  UndoList,
  type SemBuf,
  type SemCaller,
  type SemctlIO,
  type SemidDs,
} from '../../src/sem/index.js';
import { EAGAIN } from '../../src/syscalls/errno.js';

const sb = (num: number, op: number, flg = 0): SemBuf => ({ num, op, flg });
const caller = (pid: number): SemCaller => ({ pid, uid: 0, gid: 0, isRoot: true });

function setup() {
  const clock = { mono: 0n, real: 1_000 };
  const replies: Array<[string, number]> = [];
  const reg = new SemRegistry<string>(
    { semmsl: SEMMSL, semmns: SEMMNS, semopm: SEMOPM, semmni: SEMMNI },
    { isAlive: () => true, complete: (w, e) => (replies.push([w.token, e]), true), deferImmediate: true },
    { monoNs: () => clock.mono, realSec: () => clock.real },
  );
  const noio = {} as SemctlIO;
  const ctl = (id: number, num: number, cmd: number) => reg.semctl(caller(1), id, num, cmd, 0, noio);
  const otime = (id: number): number => {
    let ds: SemidDs | undefined;
    reg.semctl(caller(1), id, 0, IPC_STAT, 0, { ...noio, writeSemid: (d) => ((ds = d), 0) });
    return ds!.otime;
  };
  const id = reg.semget(caller(1), IPC_PRIVATE, 2, IPC_CREAT | 0o600);
  return { reg, clock, replies, ctl, otime, id };
}

t.test('an immediate success on an idle set is left to the caller', async (t) => {
  const { reg, replies, ctl, otime, id } = setup();
  t.equal(reg.semop(caller(7), new UndoList(7), id, [sb(0, 2), sb(1, 1)], null, 'a'), 0);
  t.same(replies, [], 'complete() is not called');
  t.equal(ctl(id, 0, GETVAL), 2);
  t.equal(ctl(id, 1, GETPID), 7);
  t.equal(otime(id), 1_000, 'otime is set as for a delivered reply');
});

t.test('undeliverable() undoes values, sempids, SEM_UNDO adjustments and otime', async (t) => {
  const { reg, clock, ctl, otime, id } = setup();
  const undo = new UndoList(7);
  t.equal(reg.semop(caller(7), undo, id, [sb(0, 3, SEM_UNDO)], null, 'a'), 0);
  clock.real = 2_000;
  t.equal(reg.semop(caller(8), undo, id, [sb(0, -1, SEM_UNDO), sb(1, 4)], null, 'b'), 0);
  reg.undeliverable();
  t.equal(ctl(id, 0, GETVAL), 3);
  t.equal(ctl(id, 1, GETVAL), 0);
  t.equal(ctl(id, 0, GETPID), 7, 'sempid of the delivered semop');
  t.equal(ctl(id, 1, GETPID), 0);
  t.same([...undo.entries.get(id)!.adj], [-3, 0], 'only the delivered adjustment is left');
  t.equal(otime(id), 1_000, 'otime of the delivered semop');
  reg.undeliverable();
  t.equal(ctl(id, 0, GETVAL), 3, 'a second call undoes nothing');
});

t.test('nothing to undo after a semop that was not deferred', async (t) => {
  const { reg, ctl, id } = setup();
  t.equal(reg.semop(caller(7), new UndoList(7), id, [sb(0, 1)], null, 'a'), 0);
  t.equal(reg.semop(caller(7), new UndoList(7), id, [sb(1, -1, IPC_NOWAIT)], null, 'b'), -EAGAIN);
  reg.undeliverable();
  t.equal(ctl(id, 0, GETVAL), 1, 'the earlier success stands');
});

t.test('with a sleeper on the set, the success goes through complete()', async (t) => {
  const { reg, replies, ctl, id } = setup();
  const sleeper = reg.semop(caller(9), new UndoList(9), id, [sb(1, -1)], null, 'sleeper');
  t.type(sleeper, 'object', 'the decrement sleeps');
  const r = reg.semop(caller(7), new UndoList(7), id, [sb(0, 1)], null, 'a');
  t.not(r, 0, 'not deferred: a wake-up could depend on it');
  t.same(replies, [['a', 0]]);
  t.equal(ctl(id, 0, GETVAL), 1);
});
