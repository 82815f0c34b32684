// Blocking, waking, deadlock detection, rollback and release. Expected
// /proc/locks texts and errnos are what Linux 6.18 gave for the same calls
// (one CPU), with pids and the inode replaced by placeholders.
import t from 'tap';
import { type FileId, type LockType, LockRegistry, OFFSET_MAX, type Range, toRange, type Waiter } from '../../src/locks/index.js';
import { F_RDLCK, F_UNLCK, F_WRLCK, SEEK_SET } from '../../src/syscalls/constants.js';
import { EAGAIN, EDEADLK, ENOLCK, ENOMEM } from '../../src/syscalls/errno.js';

const FILE: FileId = { major: 0xfe, minor: 0, ino: 2146904n };
const OTHER: FileId = { major: 0xfe, minor: 0, ino: 2146905n };
const PID: Record<string, number> = { A: 100, B: 200, C: 300, D: 400, E: 500, G: 600, H: 700 };
const R = F_RDLCK;
const W = F_WRLCK;
const U = F_UNLCK;

const native = (text: string): string => text.replace(/<([A-Z])>/g, (_, n: string) => String(PID[n])).replace(/<ino>/g, String(FILE.ino));
const span = (start: number, len: number): Range => toRange(SEEK_SET, BigInt(start), BigInt(len), 0n, 100n) as Range;

/** A registry whose hooks record replies; tokens name the caller. */
function harness(max?: number) {
  const replies: [string, number][] = [];
  const dead = new Set<string>();
  const undeliverable = new Set<string>();
  const reg = new LockRegistry<string>(
    {
      isAlive: (w) => !dead.has(w.token),
      complete: (w, errno) => {
        if (undeliverable.has(w.token)) return false;
        replies.push([w.token, errno]);
        return true;
      },
    },
    max,
  );
  /** POSIX (or OFD with `ofd`) lock by the named process; token = name. */
  const lk = (name: string, type: LockType, start: number, len: number, wait = true, ofd?: string, file = FILE) =>
    reg.setLk(file, { pid: PID[name] ?? 1, ...(ofd ? { ofd } : {}) }, { type, ...span(start, len) }, wait, name);
  const fl = (name: string, type: LockType, wait = true, desc = name) => reg.flock(FILE, { pid: PID[name] ?? 1, desc }, type, wait, name);
  return { reg, replies, dead, undeliverable, lk, fl };
}

const isWaiter = (x: unknown): x is Waiter<string> => typeof x === 'object' && x !== null;

t.test('waiter trees and wake-ups match Linux', async (t) => {
  const { reg, replies, lk, fl } = harness();
  t.equal(lk('A', W, 0, 10, false), 0);
  const b = lk('B', W, 5, 1);
  t.ok(isWaiter(b) && b.token === 'B' && b.start === 5n && b.kind === 'posix', 'B waits');
  t.ok(isWaiter(lk('C', R, 0, 1)));
  t.ok(isWaiter(lk('D', W, 5, 2)), "D conflicts with B's request and queues behind it");
  t.ok(isWaiter(lk('E', W, 3, 1, true, 'e')));
  t.equal(fl('G', W), 0);
  t.ok(isWaiter(fl('H', R)));
  t.equal(
    reg.procLocks(),
    native(
      '1: FLOCK  ADVISORY  WRITE <G> fe:00:<ino> 0 EOF\n' +
        '1: -> FLOCK  ADVISORY  READ <H> fe:00:<ino> 0 EOF\n' +
        '2: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 9\n' +
        '2: -> POSIX  ADVISORY  WRITE <B> fe:00:<ino> 5 5\n' +
        '2:  -> POSIX  ADVISORY  WRITE <D> fe:00:<ino> 5 6\n' +
        '2: -> POSIX  ADVISORY  READ <C> fe:00:<ino> 0 0\n' +
        '2: -> OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 3 3\n',
    ),
  );
  t.equal(reg.records, 7);

  // Trimming A's lock wakes B, C and E; B and then D (woken by B's retry) block again.
  t.equal(lk('A', U, 0, 5, false), 0);
  t.same(
    replies,
    [
      ['C', 0],
      ['E', 0],
    ],
    'FIFO retry order',
  );
  // Linux printed C's and E's new locks in the order its scheduler ran the
  // woken tasks (E first in that run); retries here are FIFO, so C is older.
  t.equal(
    reg.procLocks(),
    native(
      '1: OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 3 3\n' +
        '2: POSIX  ADVISORY  READ <C> fe:00:<ino> 0 0\n' +
        '3: FLOCK  ADVISORY  WRITE <G> fe:00:<ino> 0 EOF\n' +
        '3: -> FLOCK  ADVISORY  READ <H> fe:00:<ino> 0 EOF\n' +
        '4: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 5 9\n' +
        '4: -> POSIX  ADVISORY  WRITE <B> fe:00:<ino> 5 5\n' +
        '4:  -> POSIX  ADVISORY  WRITE <D> fe:00:<ino> 5 6\n',
    ),
  );

  t.equal(lk('A', U, 0, 0, false), 0);
  t.same(replies.slice(2), [['B', 0]], 'B gets its lock, D moves under it');
  t.equal(
    reg.procLocks(),
    native(
      '1: POSIX  ADVISORY  WRITE <B> fe:00:<ino> 5 5\n' +
        '1: -> POSIX  ADVISORY  WRITE <D> fe:00:<ino> 5 6\n' +
        '2: OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 3 3\n' +
        '3: POSIX  ADVISORY  READ <C> fe:00:<ino> 0 0\n' +
        '4: FLOCK  ADVISORY  WRITE <G> fe:00:<ino> 0 EOF\n' +
        '4: -> FLOCK  ADVISORY  READ <H> fe:00:<ino> 0 EOF\n',
    ),
  );
  t.same(reg.snapshot(), {
    max: 65536,
    records: 6,
    files: [
      {
        major: 0xfe,
        minor: 0,
        ino: '2146904',
        posix: [
          // List order: owners in order of arrival, so the retried B comes last.
          { kind: 'posix', type: 'READ', start: '0', end: '0', pid: 300, waiters: [] },
          { kind: 'ofd', type: 'WRITE', start: '3', end: '3', pid: 500, desc: 'e', waiters: [] },
          {
            kind: 'posix',
            type: 'WRITE',
            start: '5',
            end: '5',
            pid: 200,
            waiters: [{ kind: 'posix', type: 'WRITE', start: '5', end: '6', pid: 400, depth: 1 }],
          },
        ],
        flock: [
          {
            kind: 'flock',
            type: 'WRITE',
            start: '0',
            end: 'EOF',
            pid: 600,
            desc: 'G',
            waiters: [{ kind: 'flock', type: 'READ', start: '0', end: 'EOF', pid: 700, desc: 'H', depth: 1 }],
          },
        ],
      },
    ],
    // What each blocked request waits for (the wait-for graph's input).
    waiters: [
      {
        kind: 'posix',
        type: 'WRITE',
        start: '5',
        end: '6',
        pid: 400,
        file: '254:0:2146904',
        blockers: [{ kind: 'posix', type: 'WRITE', start: '5', end: '5', pid: 200 }],
        behind: null,
      },
      {
        kind: 'flock',
        type: 'READ',
        start: '0',
        end: 'EOF',
        pid: 700,
        desc: 'H',
        file: '254:0:2146904',
        blockers: [{ kind: 'flock', type: 'WRITE', start: '0', end: 'EOF', pid: 600, desc: 'G' }],
        behind: null,
      },
    ],
  });
  t.same(JSON.parse(JSON.stringify(reg.snapshot())), reg.snapshot(), 'snapshot is plain JSON');
});

t.test('non-conflicting waiters retry in the order they blocked', async (t) => {
  const { reg, replies, lk } = harness();
  t.equal(lk('A', W, 0, 10, false), 0);
  for (const [n, at] of [
    ['D', 2],
    ['B', 0],
    ['C', 1],
  ] as const)
    t.ok(isWaiter(lk(n, R, at, 1)));
  t.equal(lk('A', W, 0, 10, false), 0, 'no change, no wake-up');
  t.same(replies, []);
  t.equal(lk('A', R, 0, 10, false), 0, 'a downgrade wakes readers');
  t.same(replies, [
    ['D', 0],
    ['B', 0],
    ['C', 0],
  ]);
  t.match(reg.procLocks(), /^1: POSIX {2}ADVISORY {2}READ 300 .* 1 1\n2: .* 0 0\n3: .* 2 2\n4: .*100 .* 0 9\n$/);
});

t.test('EDEADLK: 2-cycle, rings, and the limits of the detector', async (t) => {
  await t.test('two processes', async (t) => {
    const { reg, lk } = harness();
    t.equal(lk('A', W, 0, 1, false), 0);
    t.equal(lk('B', W, 1, 1, false), 0);
    t.ok(isWaiter(lk('A', W, 1, 1)));
    t.equal(lk('B', W, 0, 1), -EDEADLK);
    t.equal(
      reg.procLocks(),
      native(
        '1: POSIX  ADVISORY  WRITE <B> fe:00:<ino> 1 1\n' +
          '1: -> POSIX  ADVISORY  WRITE <A> fe:00:<ino> 1 1\n' +
          '2: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 0\n',
      ),
    );
    t.equal(lk('B', W, 0, 1, false), -EAGAIN, 'F_SETLK never reports a deadlock');
  });

  // A_k holds byte k and A_1..A_{n-1} wait for byte k+1 (mod n); then A_0
  // asks for byte 1. Linux checks at most 11 hops: rings up to 12 are caught.
  const ring = (n: number, otherFile = false): number | Waiter<string> => {
    const { reg } = harness();
    const file = (k: number) => (otherFile && k % 2 ? OTHER : FILE);
    const lk = (k: number, byte: number, wait: boolean) =>
      reg.setLk(file(byte), { pid: 1000 + k }, { type: W, start: BigInt(byte), end: BigInt(byte) }, wait, `A${k}`);
    for (let k = 0; k < n; k++) t.equal(lk(k, k, false), 0);
    for (let k = 1; k < n; k++) t.ok(isWaiter(lk(k, (k + 1) % n, true)));
    return lk(0, 1, true);
  };
  t.equal(ring(3), -EDEADLK, 'three-process ring');
  t.equal(ring(4, true), -EDEADLK, 'a ring across two files');
  t.equal(ring(12), -EDEADLK, 'ring of 12 (Linux: EDEADLK)');
  t.ok(isWaiter(ring(13)), 'ring of 13 is past MAX_DEADLK_ITERATIONS (Linux: blocks)');

  await t.test('OFD locks get no deadlock detection', async (t) => {
    const { reg, lk } = harness();
    t.equal(lk('A', W, 0, 1, false, 'a'), 0);
    t.equal(lk('B', W, 1, 1, false, 'b'), 0);
    t.ok(isWaiter(lk('A', W, 1, 1, true, 'a')));
    t.ok(isWaiter(lk('B', W, 0, 1, true, 'b')), 'a real deadlock, left alone as Linux does');
    t.equal(
      reg.procLocks(),
      native(
        '1: OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 1 1\n' +
          '1: -> OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 1 1\n' +
          '2: OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 0 0\n' +
          '2: -> OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 0 0\n',
      ),
    );
  });

  await t.test('a POSIX caller sees a cycle through an OFD request waiting on a POSIX lock', async (t) => {
    const { reg, lk } = harness();
    t.equal(lk('A', W, 0, 1, false), 0);
    t.equal(lk('B', W, 1, 1, false, 'b'), 0);
    t.ok(isWaiter(lk('B', W, 0, 1, true, 'b')));
    t.equal(lk('A', W, 1, 1), -EDEADLK);
    t.equal(
      reg.procLocks(),
      native(
        '1: OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 1 1\n' +
          '2: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 0\n' +
          '2: -> OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 0 0\n',
      ),
    );
  });

  await t.test('but not through a POSIX request waiting on an OFD lock', async (t) => {
    const { reg, lk } = harness();
    t.equal(lk('A', W, 0, 1, false), 0);
    t.equal(lk('B', W, 1, 1, false, 'b'), 0);
    t.ok(isWaiter(lk('A', W, 1, 1)));
    t.ok(isWaiter(lk('B', W, 0, 1)), 'Linux blocks here too');
    t.equal(
      reg.procLocks(),
      native(
        '1: OFDLCK ADVISORY  WRITE -1 fe:00:<ino> 1 1\n' +
          '1: -> POSIX  ADVISORY  WRITE <A> fe:00:<ino> 1 1\n' +
          '2: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 0\n' +
          '2: -> POSIX  ADVISORY  WRITE <B> fe:00:<ino> 0 0\n',
      ),
    );
  });

  await t.test('a woken waiter can get EDEADLK on its retry', async (t) => {
    const { reg, replies, lk } = harness();
    t.equal(lk('A', W, 0, 1, false), 0);
    t.equal(lk('C', W, 1, 1, false), 0);
    t.equal(lk('B', W, 5, 1, false), 0);
    t.ok(isWaiter(lk('B', W, 0, 2)), 'B waits on A, the first lock in its way');
    t.ok(isWaiter(lk('C', W, 5, 1)), 'C waits on B: no cycle yet');
    t.equal(
      reg.procLocks(),
      native(
        '1: POSIX  ADVISORY  WRITE <B> fe:00:<ino> 5 5\n' +
          '1: -> POSIX  ADVISORY  WRITE <C> fe:00:<ino> 5 5\n' +
          '2: POSIX  ADVISORY  WRITE <C> fe:00:<ino> 1 1\n' +
          '3: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 0\n' +
          '3: -> POSIX  ADVISORY  WRITE <B> fe:00:<ino> 0 1\n',
      ),
    );
    t.equal(lk('A', U, 0, 0, false), 0);
    t.same(replies, [['B', -EDEADLK]], "B's retry runs into C, who waits for B");
    t.equal(
      reg.procLocks(),
      native(
        '1: POSIX  ADVISORY  WRITE <B> fe:00:<ino> 5 5\n' +
          '1: -> POSIX  ADVISORY  WRITE <C> fe:00:<ino> 5 5\n' +
          '2: POSIX  ADVISORY  WRITE <C> fe:00:<ino> 1 1\n',
      ),
    );
  });
});

t.test('rollback when the grant cannot be delivered', async (t) => {
  await t.test('a new lock disappears and whoever queued behind it proceeds', async (t) => {
    const { reg, replies, undeliverable, lk } = harness();
    t.equal(lk('A', W, 0, 10, false), 0);
    t.ok(isWaiter(lk('B', W, 0, 5)));
    t.ok(isWaiter(lk('C', W, 0, 1)), 'behind B');
    undeliverable.add('B');
    t.equal(lk('A', U, 0, 0, false), 0);
    t.same(replies, [['C', 0]]);
    t.equal(reg.procLocks(), `1: POSIX  ADVISORY  WRITE 300 fe:00:${FILE.ino} 0 0\n`);
  });

  await t.test("an upgrade inside the owner's own lock is undone exactly", async (t) => {
    const { reg, replies, undeliverable, lk } = harness();
    t.equal(lk('A', R, 0, 10, false), 0);
    t.equal(lk('B', R, 0, 10, false), 0);
    t.ok(isWaiter(lk('B', W, 2, 2)));
    undeliverable.add('B');
    t.equal(lk('A', U, 0, 0, false), 0);
    t.same(replies, []);
    t.equal(reg.procLocks(), `1: POSIX  ADVISORY  READ 200 fe:00:${FILE.ino} 0 9\n`);
    t.equal(reg.records, 1);
  });

  await t.test('a merge with a neighbour is undone', async (t) => {
    const { reg, undeliverable, lk } = harness();
    t.equal(lk('B', W, 0, 5, false), 0);
    t.equal(lk('A', W, 5, 5, false), 0);
    t.ok(isWaiter(lk('B', W, 5, 5)));
    undeliverable.add('B');
    t.equal(lk('A', U, 0, 0, false), 0);
    t.equal(reg.procLocks(), `1: POSIX  ADVISORY  WRITE 200 fe:00:${FILE.ino} 0 4\n`);
  });

  await t.test('a flock grant is undone', async (t) => {
    const { reg, replies, undeliverable, fl } = harness();
    t.equal(fl('A', W), 0);
    t.ok(isWaiter(fl('B', W)));
    undeliverable.add('B');
    t.equal(fl('A', U), 0);
    t.same(replies, []);
    t.equal(reg.procLocks(), '');
  });
});

t.test('a dead waiter is dropped when it could proceed', async (t) => {
  const { reg, replies, dead, lk } = harness();
  t.equal(lk('A', W, 0, 10, false), 0);
  t.ok(isWaiter(lk('B', W, 0, 5)));
  t.ok(isWaiter(lk('C', R, 0, 1)), 'behind B');
  dead.add('B');
  t.equal(lk('A', U, 0, 0, false), 0);
  t.same(replies, [['C', 0]]);
  t.equal(reg.procLocks(), `1: POSIX  ADVISORY  READ 300 fe:00:${FILE.ino} 0 0\n`);
  t.equal(reg.records, 1);
});

t.test('cancel drops a waiter unanswered; those behind it queue again', async (t) => {
  const { reg, replies, lk } = harness();
  t.equal(lk('A', R, 0, 10, false), 0);
  const b = lk('B', W, 0, 10);
  t.ok(isWaiter(lk('C', W, 5, 1)), 'C conflicts with B too and queues behind it');
  t.equal(lk('D', R, 5, 1, false), 0, 'readers are not held back by waiting writers');
  const head = `1: POSIX  ADVISORY  READ 400 fe:00:${FILE.ino} 5 5\n2: POSIX  ADVISORY  READ 100 fe:00:${FILE.ino} 0 9\n`;
  t.equal(
    reg.procLocks(),
    `${head}2: -> POSIX  ADVISORY  WRITE 200 fe:00:${FILE.ino} 0 9\n2:  -> POSIX  ADVISORY  WRITE 300 fe:00:${FILE.ino} 5 5\n`,
  );
  if (isWaiter(b)) reg.cancel(b);
  t.same(replies, []);
  t.equal(reg.procLocks(), `${head}2: -> POSIX  ADVISORY  WRITE 300 fe:00:${FILE.ino} 5 5\n`);
  t.equal(reg.records, 3);
  if (isWaiter(b)) reg.cancel(b);
  t.equal(reg.records, 3, 'cancelling twice is harmless');
  t.equal(lk('A', U, 0, 0, false), 0);
  t.same(replies, [], 'C now waits on D');
  t.equal(lk('D', U, 0, 0, false), 0);
  t.same(replies, [['C', 0]]);
});

t.test('release on close of any fd, on exit, on last close of a description', async (t) => {
  await t.test('releasePosix: only that process, only that file, only POSIX', async (t) => {
    const { reg, replies, lk, fl } = harness();
    t.equal(lk('A', W, 0, 10, false), 0);
    t.equal(lk('A', W, 20, 10, false, 'a'), 0);
    t.equal(lk('A', W, 0, 10, false, undefined, OTHER), 0);
    t.equal(fl('A', W), 0);
    t.equal(lk('B', R, 30, 10, false), 0);
    t.ok(isWaiter(lk('C', W, 5, 1)));
    reg.releasePosix(FILE, PID.A!);
    t.same(replies, [['C', 0]]);
    t.same(
      reg.snapshot().files.map((f) => [f.ino, f.posix.map((l) => `${l.kind} ${l.pid} ${l.start}`), f.flock.length]),
      [
        [String(FILE.ino), ['ofd 100 20', 'posix 200 30', 'posix 300 5'], 1],
        [String(OTHER.ino), ['posix 100 0'], 0],
      ],
    );
  });

  await t.test('releaseAllOfProcess: every file, and its waiters dropped', async (t) => {
    const { reg, replies, lk } = harness();
    t.equal(lk('A', W, 0, 10, false), 0);
    t.equal(lk('A', W, 0, 10, false, undefined, OTHER), 0);
    t.equal(lk('C', W, 50, 1, false), 0);
    t.ok(isWaiter(lk('A', W, 50, 1)), 'another thread of A waits on C');
    t.ok(isWaiter(lk('B', R, 0, 1)));
    reg.releaseAllOfProcess(PID.A!);
    t.same(replies, [['B', 0]]);
    t.equal(reg.procLocks(), `1: POSIX  ADVISORY  READ 200 fe:00:${FILE.ino} 0 0\n2: POSIX  ADVISORY  WRITE 300 fe:00:${FILE.ino} 50 50\n`);
    t.equal(reg.records, 2);
  });

  await t.test('a files table shared by clone(CLONE_FILES) is one owner', async (t) => {
    const { reg } = harness();
    const shared = { owner: 7 };
    const A = { pid: PID.A!, ...shared };
    const B = { pid: PID.B!, ...shared };
    t.equal(reg.setLk(FILE, A, { type: W, ...span(0, 10) }, false, 'A'), 0);
    t.equal(reg.getLk(FILE, B, { type: W, ...span(0, 0) }), null, 'no conflict with its own table');
    t.equal(reg.setLk(FILE, B, { type: W, ...span(5, 1) }, false, 'B'), 0, 'absorbed by the lock of A');
    t.equal(reg.setLk(FILE, B, { type: R, ...span(20, 10) }, false, 'B'), 0);
    t.equal(reg.setLk(FILE, { pid: PID.C! }, { type: W, ...span(0, 1) }, false, 'C'), -EAGAIN);
    t.equal(reg.procLocks(), `1: POSIX  ADVISORY  READ 200 fe:00:${FILE.ino} 20 29\n2: POSIX  ADVISORY  WRITE 100 fe:00:${FILE.ino} 0 9\n`);
    reg.releaseAllOfProcess(PID.A!, null);
    t.equal(reg.records, 2, 'an exit while the table lives on releases nothing');
    reg.releasePosix(FILE, 7);
    t.equal(reg.records, 0, 'a close under the owner releases the locks of both');
  });

  await t.test('releaseDescription: OFD and flock locks of the description', async (t) => {
    const { reg, replies, lk, fl } = harness();
    t.equal(lk('A', W, 0, 10, false, 'd'), 0);
    t.equal(lk('A', W, 0, 10, false, 'd', OTHER), 0);
    t.equal(fl('A', R, true, 'd'), 0);
    t.equal(lk('A', W, 20, 10, false), 0);
    t.ok(isWaiter(fl('B', W)));
    reg.releaseDescription('d');
    t.same(replies, [['B', 0]]);
    t.same(
      reg.snapshot().files.map((f) => [f.ino, f.posix.map((l) => l.kind), f.flock.map((l) => l.pid)]),
      [[String(FILE.ino), ['posix'], [200]]],
    );
  });

  await t.test('a description closed while its request waits loses the lock once granted', async (t) => {
    const { reg, replies, lk } = harness();
    t.equal(lk('A', W, 0, 10, false), 0);
    t.ok(isWaiter(lk('B', W, 0, 10, true, 'd')));
    reg.releaseDescription('d');
    t.equal(lk('A', U, 0, 0, false), 0);
    t.same(replies, [['B', 0]], 'the caller is answered');
    t.equal(reg.procLocks(), '', 'and the lock goes with the file');
    t.equal(lk('B', W, 0, 10, false, 'd'), 0, 'the id is free again afterwards');
  });
});

t.test('flock: conversion is not atomic', async (t) => {
  const { reg, replies, lk, fl } = harness();
  t.equal(fl('A', R), 0);
  t.equal(fl('B', R), 0);
  t.ok(isWaiter(fl('C', W)));
  t.equal(
    reg.procLocks(),
    native(
      '1: FLOCK  ADVISORY  READ <B> fe:00:<ino> 0 EOF\n' +
        '2: FLOCK  ADVISORY  READ <A> fe:00:<ino> 0 EOF\n' +
        '2: -> FLOCK  ADVISORY  WRITE <C> fe:00:<ino> 0 EOF\n',
    ),
  );
  t.equal(fl('A', W, false), -EAGAIN, 'LOCK_EX|LOCK_NB: EWOULDBLOCK...');
  t.equal(
    reg.procLocks(),
    native('1: FLOCK  ADVISORY  READ <B> fe:00:<ino> 0 EOF\n1: -> FLOCK  ADVISORY  WRITE <C> fe:00:<ino> 0 EOF\n'),
    '...and the shared lock is gone',
  );
  t.equal(fl('B', W), 0, "B's conversion runs before the woken C");
  t.same(replies, []);
  t.equal(reg.procLocks(), native('1: FLOCK  ADVISORY  WRITE <B> fe:00:<ino> 0 EOF\n1: -> FLOCK  ADVISORY  WRITE <C> fe:00:<ino> 0 EOF\n'));
  t.equal(lk('A', W, 0, 0, false), 0, 'POSIX locks do not see flock locks');
  t.equal(fl('B', W), 0, 'same type again: nothing happens');
  t.equal(fl('B', U), 0);
  t.same(replies, [['C', 0]]);
});

t.test('flock: a converting waiter has already lost its old lock', async (t) => {
  const { reg, replies, fl } = harness();
  t.equal(fl('A', R), 0);
  t.equal(fl('B', R), 0);
  const a = fl('A', W);
  t.ok(isWaiter(a), 'A waits for EX...');
  t.equal(reg.procLocks(), native('1: FLOCK  ADVISORY  READ <B> fe:00:<ino> 0 EOF\n1: -> FLOCK  ADVISORY  WRITE <A> fe:00:<ino> 0 EOF\n'));
  if (isWaiter(a)) reg.cancel(a);
  t.equal(reg.procLocks(), native('1: FLOCK  ADVISORY  READ <B> fe:00:<ino> 0 EOF\n'), '...and holds nothing once interrupted');
  t.equal(fl('C', W, false), -EAGAIN);
  t.equal(fl('C', R, false), 0);
  t.same(replies, []);
});

t.test('waiting requests count against the limit', async (t) => {
  const { reg, lk, fl } = harness(2);
  t.equal(lk('A', W, 0, 10, false), 0);
  t.ok(isWaiter(lk('B', W, 0, 1)));
  t.equal(lk('C', W, 0, 1), -ENOLCK);
  t.equal(fl('G', W), -ENOMEM);
  t.equal(reg.records, 2);
});

t.test('random workloads keep the waiter trees consistent', async (t) => {
  // Sixteen threads in four processes; a thread with a pending request waits.
  // After every call: each waiter conflicts with every ancestor in its tree
  // (the invariant stated at the top of fs/locks.c), records = locks +
  // waiters, replies go once to a live pending request, and a request is
  // only missing from the trees if it is dead or its reply was refused.
  let seed = 777;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((seed / 2 ** 31) * n); // high bits: an LCG's low bits cycle fast
  };
  const busy = new Map<number, Waiter<string>>(); // thread -> its pending request
  const dead = new Set<string>();
  const undeliverable = new Set<string>();
  const threadOf = (token: string) => Number(token.split('#')[0]);
  let problems = 0;
  let granted = 0;
  let deepest = 0;
  const reg = new LockRegistry<string>(
    {
      isAlive: (w) => !dead.has(w.token),
      complete: (w, errno) => {
        if (busy.get(threadOf(w.token)) !== w || dead.has(w.token)) problems++;
        if (undeliverable.has(w.token)) return false;
        if (errno === 0) granted++;
        busy.delete(threadOf(w.token));
        return true;
      },
    },
    60,
  );
  const kill = (pid: number): void => {
    for (const [k, w] of busy) if (w.pid === pid) busy.delete(k);
    reg.releaseAllOfProcess(pid);
  };
  type Snap = { kind: string; type: string; start: string; end: string; pid: number; desc?: string };
  const owner = (n: Snap) => (n.kind === 'posix' ? `p${n.pid}` : `d${n.desc}`);
  const end = (n: Snap) => (n.end === 'EOF' ? Infinity : Number(n.end));
  const conflict = (a: Snap, b: Snap) =>
    owner(a) !== owner(b) &&
    (a.type === 'WRITE' || b.type === 'WRITE') &&
    (a.kind === 'flock' || (Number(a.start) <= end(b) && Number(b.start) <= end(a)));
  for (let step = 0; step < 8000 && problems === 0; step++) {
    const th = rand(16);
    const pid = 1 + (th % 4);
    const token = `${th}#${step}`;
    const type = [R, W, U, U][rand(4)]! as LockType;
    const start = BigInt(rand(16));
    const range = { type, start, end: rand(6) ? start + BigInt(rand(4)) : OFFSET_MAX };
    const wait = rand(2) > 0;
    const op = rand(16);
    const mine = busy.get(th);
    let rc: number | Waiter<string> = 0;
    if (mine) {
      if (op === 0 && rand(4) === 0) {
        busy.delete(th);
        reg.cancel(mine);
      } else if (op === 1 && rand(4) === 0) (rand(2) ? dead : undeliverable).add(mine.token);
      else if (op === 2 && [...busy.values()].filter((w) => w.pid === pid).length === 4) kill(pid); // stuck for good
    } else if (op < 6) rc = reg.setLk(FILE, { pid }, range, wait, token);
    else if (op < 9) rc = reg.setLk(FILE, { pid, ofd: `o${th}` }, range, wait, token);
    else if (op < 12) rc = reg.flock(FILE, { pid, desc: `f${th}` }, type, wait, token);
    else if (op < 14) reg.releasePosix(FILE, pid);
    else if (op < 15) reg.releaseDescription(`o${th}`);
    else if (rand(4) === 0) kill(pid);
    if (typeof rc === 'object') busy.set(th, rc);

    let waiters = 0;
    let locks = 0;
    for (const f of reg.snapshot().files) {
      for (const l of [...f.posix, ...f.flock]) {
        locks++;
        const path: Snap[] = [l];
        for (const w of l.waiters) {
          waiters++;
          deepest = Math.max(deepest, w.depth);
          path.length = w.depth;
          if (!path.every((a) => conflict(a, w))) problems++;
          path.push(w);
        }
      }
    }
    if (locks + waiters !== reg.records) problems++;
    const gone = [...busy.values()].filter((w) => dead.has(w.token) || undeliverable.has(w.token)).length;
    if (waiters > busy.size || busy.size - waiters > gone) problems++;
    if (problems) t.fail(`step ${step}: inconsistent after op ${op}`);
  }
  t.equal(problems, 0);
  t.ok(granted > 40 && deepest > 3, `exercised: ${granted} late grants, trees ${deepest} deep`);
});
