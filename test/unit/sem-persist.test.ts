// [ipc] persist: the saved format round-trips through a registry, and every
// malformed or foreign file is refused with a message naming what is wrong.
import t from 'tap';
import { decodePersisted, encodePersisted, PERSIST_FORMAT } from '../../src/sem/persist.js';
import { SemRegistry } from '../../src/sem/registry.js';
import type { SemCaller, SemLimits } from '../../src/sem/types.js';

const LIMITS: SemLimits = { semmsl: 250, semmns: 32000, semopm: 32, semmni: 128 };
const ROOT: SemCaller = { pid: 100, uid: 0, gid: 0, isRoot: true };
const registry = () =>
  new SemRegistry<null>(LIMITS, { isAlive: () => true, complete: () => true }, { monoNs: () => 0n, realSec: () => 1_700_000_000 });
const io = { writeSeminfo: () => 0, writeSemid: () => 0, readSemid: () => -14, writeValues: () => 0, readValues: () => -14 };

t.test('a saved registry restores with the same ids, keys, values and pids', async (t) => {
  const a = registry();
  const first = a.semget(ROOT, 0x1234, 3, 0o1640);
  const second = a.semget(ROOT, 0, 1, 0o1600);
  t.equal(a.semctl(ROOT, first, 1, 16, 7, io), 0); // SETVAL 7
  t.equal(a.semctl(ROOT, first, 0, 0, 0, io), 0); // IPC_RMID: the id is gone, the next one moves on
  const third = a.semget(ROOT, 0x1234, 2, 0o1600);
  t.equal(a.semctl(ROOT, third, 1, 16, 5, io), 0);
  const text = encodePersisted(a.snapshot());

  const b = registry();
  b.restore(decodePersisted(text, LIMITS).sets);
  t.same(
    b.list().map((s) => [s.id, s.perm.key, s.nsems, s.perm.mode]),
    a.list().map((s) => [s.id, s.perm.key, s.nsems, s.perm.mode]),
  );
  t.equal(b.semctl(ROOT, third, 1, 12, 0, io), 5, 'GETVAL after restore');
  t.equal(b.semctl(ROOT, third, 1, 11, 0, io), 100, 'GETPID after restore');
  t.equal(b.semget(ROOT, 0x1234, 0, 0), third, 'the key finds the restored set');
  t.equal(b.semctl(ROOT, second, 0, 12, 0, io), 0);
  const fresh = b.semget(ROOT, 0, 1, 0o600);
  t.notOk([second, third].includes(fresh), 'new ids do not collide with restored ones');
  t.equal(b.snapshot().usedSems, 4);
});

t.test('corrupt or foreign files are refused with the reason', async (t) => {
  const ok = {
    format: PERSIST_FORMAT,
    version: 1,
    sets: [{ id: 1, key: 5, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, otime: 0, ctime: 1, values: [1], pids: [0] }],
  };
  type Doc = { version: number; sets: Array<Record<string, unknown>> };
  const bad = (mutate: (o: Doc) => void) => {
    const o = JSON.parse(JSON.stringify(ok)) as Doc;
    mutate(o);
    return JSON.stringify(o);
  };
  t.throws(() => decodePersisted('{', LIMITS), /not JSON/);
  t.throws(() => decodePersisted('[]', LIMITS), /not a sysvisor semaphore state/);
  t.throws(
    () =>
      decodePersisted(
        bad((o) => (o.version = 2)),
        LIMITS,
      ),
    /version 2 is not supported \(this sysvisor reads version 1\)/,
  );
  t.throws(
    () =>
      decodePersisted(
        bad((o) => Object.assign(o, { sets: {} })),
        LIMITS,
      ),
    /sets: expected an array/,
  );
  t.throws(
    () =>
      decodePersisted(
        bad((o) => (o.sets[0].values = [32768])),
        LIMITS,
      ),
    /sets\[0\]\.values\[0\]: expected an integer in 0\.\.32767/,
  );
  t.throws(
    () =>
      decodePersisted(
        bad((o) => (o.sets[0].mode = 0o1777)),
        LIMITS,
      ),
    /sets\[0\]\.mode: expected an integer in 0\.\.511/,
  );
  t.throws(
    () =>
      decodePersisted(
        bad((o) => (o.sets[0].pids = [])),
        LIMITS,
      ),
    /sets\[0\]\.pids: expected one pid per value/,
  );
  t.throws(
    () =>
      decodePersisted(
        bad((o) => o.sets.push({ ...o.sets[0], key: 6 })),
        LIMITS,
      ),
    /sets\[1\]\.id: index 1 used twice/,
  );
  t.throws(
    () =>
      decodePersisted(
        bad((o) => o.sets.push({ ...o.sets[0], id: 2 })),
        LIMITS,
      ),
    /sets\[1\]\.key: key 0x5 used twice/,
  );
  t.throws(
    () =>
      decodePersisted(
        bad((o) => (o.sets[0].values = new Array<number>(251).fill(0))),
        LIMITS,
      ),
    /1\.\.250 values \(SEMMSL\)/,
  );
  t.same(decodePersisted(JSON.stringify(ok), LIMITS).sets[0].values, [1]);
});
