// The registry's host hooks ([locks] host = "coherent"): every change an
// owner's locks go through is shown to the host first, a host refusal
// refuses (or holds back) the request, and a request waiting for the host
// is retried when the wait ends, dropped when its caller goes.
import t from 'tap';
import { type FileId, type LockChange, LockRegistry, OFFSET_MAX, type Waiter } from '../../src/locks/index.js';
import { F_RDLCK, F_UNLCK, F_WRLCK } from '../../src/syscalls/constants.js';
import { EAGAIN } from '../../src/syscalls/errno.js';

const FILE: FileId = { major: 0xfe, minor: 0, ino: 7n };

function harness() {
  const changes: string[] = [];
  const replies: [string, number][] = [];
  const waiting: Waiter<string>[] = [];
  const cancelled: string[] = [];
  /** Host locks in the way: owner-independent, by [start, end] and type. */
  const host = { busy: false };
  const show = (c: LockChange) =>
    `${c.owner} ${c.kind} ${c.type === F_UNLCK ? 'U' : c.type === F_WRLCK ? 'W' : 'R'} ${c.start}-${c.end === OFFSET_MAX ? 'EOF' : c.end}`;
  const reg = new LockRegistry<string>({
    isAlive: () => true,
    complete: (w, errno) => {
      replies.push([w.token, errno]);
      return true;
    },
    host: (c, force) => {
      changes.push(show(c) + (force ? ' (force)' : ''));
      return host.busy && c.type !== F_UNLCK ? -EAGAIN : 0;
    },
    hostWait: (w) => {
      waiting.push(w);
      return true;
    },
    hostCancel: (w) => {
      cancelled.push(w.token);
    },
  });
  return { reg, changes, replies, waiting, cancelled, host };
}

t.test('a change reaches the host before the table, with the owner and exact range', async (t) => {
  const { reg, changes } = harness();
  t.equal(reg.setLk(FILE, { pid: 1 }, { type: F_WRLCK, start: 0n, end: 99n }, false, 'a'), 0);
  t.equal(reg.setLk(FILE, { pid: 1 }, { type: F_UNLCK, start: 40n, end: 49n }, false, 'a'), 0);
  t.equal(reg.setLk(FILE, { pid: 2, ofd: 5 }, { type: F_RDLCK, start: 200n, end: OFFSET_MAX }, false, 'b'), 0);
  t.equal(reg.flock(FILE, { pid: 1, desc: 6 }, F_RDLCK, false, 'c'), 0);
  reg.releasePosix(FILE, 1);
  t.same(changes, ['p1 posix W 0-99', 'p1 posix U 40-49', 'd5 ofd R 200-EOF', 'd6 flock R 0-EOF', 'p1 posix U 0-EOF']);
});

t.test('a sandbox conflict never asks the host; an unlock of nothing does not either', async (t) => {
  const { reg, changes } = harness();
  reg.setLk(FILE, { pid: 1 }, { type: F_WRLCK, start: 0n, end: 9n }, false, 'a');
  changes.length = 0;
  t.equal(reg.setLk(FILE, { pid: 2 }, { type: F_WRLCK, start: 5n, end: 5n }, false, 'b'), -EAGAIN);
  t.equal(reg.setLk(FILE, { pid: 2 }, { type: F_UNLCK, start: 0n, end: 9n }, false, 'b'), 0);
  t.same(changes, []);
});

t.test('a host conflict: EAGAIN without waiting, the table unchanged', async (t) => {
  const { reg, host } = harness();
  host.busy = true;
  t.equal(reg.setLk(FILE, { pid: 1 }, { type: F_WRLCK, start: 0n, end: 9n }, false, 'a'), -EAGAIN);
  t.equal(reg.flock(FILE, { pid: 1, desc: 3 }, F_WRLCK, false, 'f'), -EAGAIN);
  t.equal(reg.records, 0);
  t.same(reg.snapshot().files, []);
});

t.test('a waiter held back by the host waits, counts as a record, and is granted when the wait ends', async (t) => {
  const { reg, host, waiting, replies } = harness();
  host.busy = true;
  const w = reg.setLk(FILE, { pid: 1 }, { type: F_WRLCK, start: 0n, end: 9n }, true, 'a');
  t.type(w, 'object');
  t.equal(waiting.length, 1);
  t.equal(reg.records, 1, 'the waiting request is a record');
  host.busy = false;
  reg.hostDone(waiting[0]!);
  t.same(replies, [['a', 0]]);
  t.equal(reg.records, 1, 'now the lock');
  t.equal(reg.getLk(FILE, { pid: 2 }, { type: F_RDLCK, start: 0n, end: 0n })?.pid, 1);
});

t.test('still held on the host when retried: it waits again', async (t) => {
  const { reg, host, waiting, replies } = harness();
  host.busy = true;
  reg.flock(FILE, { pid: 1, desc: 3 }, F_WRLCK, true, 'f');
  reg.hostDone(waiting[0]!);
  t.equal(waiting.length, 2);
  t.same(replies, []);
});

t.test('an interrupted or exiting waiter stops its host wait', async (t) => {
  const { reg, host, waiting, cancelled } = harness();
  host.busy = true;
  const a = reg.setLk(FILE, { pid: 1 }, { type: F_WRLCK, start: 0n, end: 9n }, true, 'a') as Waiter<string>;
  reg.setLk(FILE, { pid: 2 }, { type: F_RDLCK, start: 0n, end: 9n }, true, 'b');
  reg.cancel(a);
  reg.releaseAllOfProcess(2);
  t.same(cancelled, ['a', 'b']);
  t.equal(reg.records, 0);
  reg.hostDone(waiting[0]!); // a late end of a cancelled wait is ignored
  t.equal(reg.records, 0);
});

t.test('flock conversion: the old lock goes on the host when the new one is refused in the sandbox', async (t) => {
  const { reg, changes } = harness();
  reg.flock(FILE, { pid: 1, desc: 1 }, F_RDLCK, false, 'a');
  reg.flock(FILE, { pid: 2, desc: 2 }, F_RDLCK, false, 'b');
  changes.length = 0;
  t.equal(reg.flock(FILE, { pid: 1, desc: 1 }, F_WRLCK, false, 'a'), -EAGAIN);
  t.same(changes, ['d1 flock U 0-EOF (force)'], 'dropped, as Linux drops it');
  changes.length = 0;
  t.equal(reg.flock(FILE, { pid: 2, desc: 2 }, F_WRLCK, false, 'b'), 0);
  t.same(changes, ['d2 flock W 0-EOF'], 'one call converts: the host drops and takes atomically');
});
