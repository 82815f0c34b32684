// sempid in a PID namespace (ipc/sem.c): every change records
// task_tgid_vnr(current), the writer's tgid in its own namespace
// (SemCaller.sempid), and GETPID returns that number as stored, also once
// the writer is gone: semop, a sleeper woken later, SETVAL, SETALL and
// exit_sem.
import t from 'tap';
import {
  GETPID,
  IPC_CREAT,
  IPC_PRIVATE,
  SEM_UNDO,
  SEMMNI,
  SEMMNS,
  SEMMSL,
  SEMOPM,
  SETALL,
  SETVAL,
  SemRegistry,
  UndoList,
  type SemCaller,
  type SemctlIO,
} from '../../src/sem/index.js';

/** A process the supervisor sees as host pid 1000 + n and that sees itself as pid n. */
const inNamespace = (n: number): SemCaller => ({ pid: 1000 + n, sempid: n, uid: 0, gid: 0, isRoot: true });

t.test("sempid is the writer's pid in its own namespace", async (t) => {
  const reg = new SemRegistry<string>(
    { semmsl: SEMMSL, semmns: SEMMNS, semopm: SEMOPM, semmni: SEMMNI },
    { isAlive: () => true, complete: () => true },
    { monoNs: () => 0n, realSec: () => 0 },
  );
  const io = { readValues: () => Uint16Array.from([4, 5]) } as unknown as SemctlIO;
  const getpid = (num: number) => reg.semctl(inNamespace(1), id, num, GETPID, 0, io);
  const id = reg.semget(inNamespace(1), IPC_PRIVATE, 2, IPC_CREAT | 0o600);
  reg.semop(inNamespace(2), new UndoList(1002), id, [{ num: 0, op: 1, flg: 0 }], null, 'a');
  t.equal(getpid(0), 2, 'semop');
  const sleeper = reg.semop(inNamespace(3), new UndoList(1003), id, [{ num: 0, op: -2, flg: 0 }], null, 'b');
  t.type(sleeper, 'object', 'pid 3 sleeps');
  reg.semop(inNamespace(4), new UndoList(1004), id, [{ num: 0, op: 1, flg: 0 }], null, 'c');
  t.equal(getpid(0), 3, "the woken sleeper's operation records the sleeper");
  t.equal(reg.semctl(inNamespace(5), id, 1, SETVAL, 9, io), 0);
  t.equal(getpid(1), 5, 'SETVAL');
  t.equal(reg.semctl(inNamespace(6), id, 0, SETALL, 0, io), 0);
  t.same([getpid(0), getpid(1)], [6, 6], 'SETALL');
  const undo = new UndoList(1007);
  reg.semop(inNamespace(7), undo, id, [{ num: 1, op: -1, flg: SEM_UNDO }], null, 'd');
  t.equal(getpid(1), 7, 'semop with SEM_UNDO');
  reg.semop(inNamespace(8), new UndoList(1008), id, [{ num: 1, op: 1, flg: 0 }], null, 'e');
  t.equal(getpid(1), 8, 'pid 8 changed it last');
  reg.exitUndo(undo, 7);
  t.equal(getpid(1), 7, 'exit_sem records the exiting process, and the number stays once it is gone');
});
