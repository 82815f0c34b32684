// Immediate (non-waiting) lock semantics: split/merge, conflicts, F_GETLK,
// the record limit. Expected /proc/locks texts are what Linux 6.18 printed
// for the same calls on one CPU, with pids and the inode replaced by
// placeholders.
import t from 'tap';
import { type FileId, type LockType, LockRegistry, OFFSET_MAX, type Range, toRange } from '../../src/locks/index.js';
import { F_RDLCK, F_UNLCK, F_WRLCK, SEEK_SET } from '../../src/syscalls/constants.js';
import { EAGAIN, ENOLCK, ENOMEM } from '../../src/syscalls/errno.js';

const FILE: FileId = { major: 0xfe, minor: 0, ino: 2146904n };
const OTHER: FileId = { major: 0xfe, minor: 0, ino: 2146905n };
const PIDS: Record<string, number> = { A: 100, B: 200, C: 300 };

/** A kernel /proc/locks capture with <A>, <B>, <ino> placeholders filled in. */
const native = (text: string): string => text.replace(/<([A-Z])>/g, (_, n: string) => String(PIDS[n])).replace(/<ino>/g, String(FILE.ino));

/** (start, len) as the test programs passed them, with SEEK_SET. */
const span = (start: number, len: number): Range => toRange(SEEK_SET, BigInt(start), BigInt(len), 0n, 100n) as Range;

function registry(max?: number): LockRegistry<string> {
  return new LockRegistry<string>({ isAlive: () => true, complete: () => true }, max);
}

const R = F_RDLCK;
const W = F_WRLCK;
const U = F_UNLCK;

t.test('split, merge and type change match Linux', async (t) => {
  // [name, ops as [owner?, type, start, len], /proc/locks printed by Linux]
  const cases: [string, [string, LockType, number, number][], string][] = [
    [
      'split by unlock',
      [
        ['A', W, 0, 10],
        ['A', U, 3, 3],
      ],
      '1: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 2\n2: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 6 9\n',
    ],
    [
      'split by other type',
      [
        ['A', R, 0, 10],
        ['A', W, 3, 3],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 0 2\n2: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 3 5\n3: POSIX  ADVISORY  READ <A> fe:00:<ino> 6 9\n',
    ],
    [
      'adjacent merge',
      [
        ['A', R, 0, 5],
        ['A', R, 5, 5],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 0 9\n',
    ],
    [
      'gap stays',
      [
        ['A', R, 0, 5],
        ['A', R, 6, 4],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 6 9\n2: POSIX  ADVISORY  READ <A> fe:00:<ino> 0 4\n',
    ],
    [
      'bridge three',
      [
        ['A', R, 0, 5],
        ['A', R, 10, 5],
        ['A', R, 5, 5],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 0 14\n',
    ],
    [
      'type change bridges',
      [
        ['A', R, 0, 5],
        ['A', W, 5, 5],
        ['A', R, 10, 5],
        ['A', R, 5, 5],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 0 14\n',
    ],
    [
      'downgrade in place',
      [
        ['A', W, 0, 10],
        ['A', R, 0, 10],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 0 9\n',
    ],
    [
      'cover smaller',
      [
        ['A', R, 5, 5],
        ['A', W, 0, 15],
      ],
      '1: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 14\n',
    ],
    [
      'unlock tail to EOF',
      [
        ['A', W, 0, 0],
        ['A', U, 10, 0],
      ],
      '1: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 9\n',
    ],
    [
      'unlock head',
      [
        ['A', W, 0, 0],
        ['A', U, 0, 10],
      ],
      '1: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 10 EOF\n',
    ],
    [
      'unlock all',
      [
        ['A', R, 0, 5],
        ['A', W, 10, 5],
        ['A', U, 0, 0],
      ],
      '',
    ],
    [
      'merge and trim right',
      [
        ['A', W, 0, 10],
        ['A', R, 20, 10],
        ['A', W, 5, 20],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 25 29\n2: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 24\n',
    ],
    [
      'contained same type',
      [
        ['A', R, 0, 10],
        ['A', R, 2, 2],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 0 9\n',
    ],
    [
      'overlap other type',
      [
        ['A', W, 0, 5],
        ['A', R, 5, 5],
        ['A', W, 3, 4],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 7 9\n2: POSIX  ADVISORY  WRITE <A> fe:00:<ino> 0 6\n',
    ],
    ['unlock nothing', [['A', U, 0, 0]], ''],
    [
      'merge across two owners',
      [
        ['A', R, 0, 5],
        ['B', R, 5, 5],
        ['A', R, 5, 5],
      ],
      '1: POSIX  ADVISORY  READ <B> fe:00:<ino> 5 9\n2: POSIX  ADVISORY  READ <A> fe:00:<ino> 0 9\n',
    ],
    [
      'new owner appended',
      [
        ['B', R, 50, 5],
        ['A', R, 0, 5],
        ['A', R, 20, 5],
      ],
      '1: POSIX  ADVISORY  READ <A> fe:00:<ino> 20 24\n2: POSIX  ADVISORY  READ <A> fe:00:<ino> 0 4\n3: POSIX  ADVISORY  READ <B> fe:00:<ino> 50 54\n',
    ],
  ];
  for (const [name, ops, linux] of cases) {
    const reg = registry();
    for (const [who, type, start, len] of ops) {
      t.equal(reg.setLk(FILE, { pid: PIDS[who]! }, { type, ...span(start, len) }, false, ''), 0, `${name}: ${who} ${type} ${start}+${len}`);
    }
    t.equal(reg.procLocks(), native(linux), name);
    t.equal(reg.records, linux.split('\n').length - 1, `${name}: records`);
  }
});

t.test('random lock sequences agree with a byte-by-byte model', async (t) => {
  // Model: for each of 3 owners, the type held on each of 48 bytes (byte 47
  // stands for "47 to EOF"). The table must hold exactly the maximal runs.
  const SIZE = 48;
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((seed / 2 ** 31) * n); // high bits: an LCG's low bits cycle fast
  };
  const reg = registry();
  const model = [0, 1, 2].map(() => new Array<number>(SIZE).fill(U));
  let checked = 0;
  for (let step = 0; step < 3000; step++) {
    const who = rand(3);
    const type = [R, W, U][rand(3)]! as LockType;
    const start = rand(SIZE - 1);
    const toEof = rand(8) === 0;
    const end = toEof ? SIZE - 1 : start + rand(Math.min(6, SIZE - 1 - start));
    const blocked =
      type !== U && model.some((m, o) => o !== who && m.some((b, i) => i >= start && i <= end && b !== U && (b === W || type === W)));
    const rc = reg.setLk(FILE, { pid: who }, { type, start: BigInt(start), end: toEof ? OFFSET_MAX : BigInt(end) }, false, '');
    if (rc !== (blocked ? -EAGAIN : 0)) {
      t.fail(`step ${step}: owner ${who} ${type} [${start},${end}] gave ${typeof rc === 'number' ? rc : 'a waiter'}`);
      break;
    }
    if (!blocked) for (let i = start; i <= end; i++) model[who]![i] = type;
    const want: string[] = [];
    const got: string[] = [];
    for (const [o, m] of model.entries()) {
      for (let i = 0; i < SIZE; i++) {
        if (m[i] === U || (i > 0 && m[i - 1] === m[i])) continue;
        let j = i;
        while (j + 1 < SIZE && m[j + 1] === m[i]) j++;
        want.push(`${o}:${m[i]}:${i}-${j === SIZE - 1 ? 'EOF' : j}`);
      }
    }
    for (const f of reg.snapshot().files) {
      for (const l of f.posix)
        got.push(`${l.pid}:${l.type === 'WRITE' ? W : R}:${l.start}-${l.end === 'EOF' || l.end === String(SIZE - 1) ? 'EOF' : l.end}`);
    }
    if (want.sort().join(' ') !== got.sort().join(' ')) {
      t.same(got, want, `step ${step}`);
      break;
    }
    checked++;
  }
  t.equal(checked, 3000, 'every step matched');
});

t.test('conflict matrix POSIX x OFD x flock', async (t) => {
  // A requester conflicts with a holder iff both are byte-range (POSIX/OFD) or
  // both flock, their owners differ, and one of them writes.
  type Who = { name: string; family: 'range' | 'flock'; owner: string; pid: number; desc?: string };
  const holders: Who[] = [
    { name: 'POSIX pid 1', family: 'range', owner: 'p1', pid: 1 },
    { name: 'OFD a (pid 1)', family: 'range', owner: 'da', pid: 1, desc: 'a' },
    { name: 'flock a (pid 1)', family: 'flock', owner: 'da', pid: 1, desc: 'a' },
  ];
  const requesters: Who[] = [
    ...holders,
    { name: 'POSIX pid 2', family: 'range', owner: 'p2', pid: 2 },
    { name: 'OFD b (pid 1)', family: 'range', owner: 'db', pid: 1, desc: 'b' },
    { name: 'flock b (pid 1)', family: 'flock', owner: 'db', pid: 1, desc: 'b' },
  ];
  const take = (reg: LockRegistry<string>, w: Who, type: LockType): number | object =>
    w.family === 'flock'
      ? reg.flock(FILE, { pid: w.pid, desc: w.desc! }, type, false, '')
      : reg.setLk(FILE, { pid: w.pid, ...(w.desc ? { ofd: w.desc } : {}) }, { type, start: 0n, end: 9n }, false, '');
  for (const h of holders) {
    for (const q of requesters) {
      for (const ht of [R, W] as const) {
        for (const qt of [R, W] as const) {
          const reg = registry();
          t.equal(take(reg, h, ht), 0);
          const conflict = h.family === q.family && h.owner !== q.owner && (ht === W || qt === W);
          const want = conflict ? -EAGAIN : 0;
          t.equal(take(reg, q, qt), want, `${h.name} ${ht ? 'W' : 'R'} vs ${q.name} ${qt ? 'W' : 'R'}`);
        }
      }
    }
  }
});

t.test('F_GETLK reports the first conflicting lock in list order', async (t) => {
  // Linux 6.18 answers for the same sequence (see the header):
  // B: F_SETLK R 50+10; A: F_OFD_SETLK W 0+10; A: F_SETLK W 20+EOF -> EAGAIN.
  const reg = registry();
  const A = { pid: 100 };
  const B = { pid: 200 };
  const C = { pid: 300 };
  const Aofd = { pid: 100, ofd: 'a' };
  t.equal(reg.setLk(FILE, B, { type: R, ...span(50, 10) }, false, ''), 0);
  t.equal(reg.setLk(FILE, Aofd, { type: W, ...span(0, 10) }, false, ''), 0);
  t.equal(reg.setLk(FILE, A, { type: W, ...span(20, 0) }, false, ''), -EAGAIN);
  const flock = (type: number, start: bigint, len: bigint, pid: number) => ({ type, whence: SEEK_SET, start, len, pid });
  t.same(reg.getLk(FILE, C, { type: W, ...span(0, 0) }), flock(R, 50n, 10n, 200), 'B is first in the list');
  t.equal(reg.getLk(FILE, C, { type: R, ...span(25, 30) }), null, 'readers share');
  t.equal(reg.getLk(FILE, C, { type: R, ...span(10, 10) }), null, 'no overlap');
  t.same(reg.getLk(FILE, { pid: 300, ofd: 'c' }, { type: R, ...span(5, 1) }), flock(W, 0n, 10n, -1), 'OFD lock reports pid -1');
  t.same(reg.getLk(FILE, Aofd, { type: U, ...span(0, 0) }), flock(W, 0n, 10n, -1), 'F_OFD_GETLK F_UNLCK finds its own lock');
  t.same(
    reg.getLk(FILE, A, { type: W, ...span(0, 0) }),
    flock(R, 50n, 10n, 200),
    "A's process conflicts with its own OFD lock, but B comes first",
  );
  t.same(reg.getLk(FILE, A, { type: W, ...span(0, 20) }), flock(W, 0n, 10n, -1));
  t.equal(reg.getLk(FILE, B, { type: W, ...span(40, 0) }), null, 'own locks never conflict');
  t.equal(reg.getLk(OTHER, C, { type: W, ...span(0, 0) }), null, 'other file');
  t.equal(reg.setLk(FILE, C, { type: W, start: 60n, end: OFFSET_MAX }, false, ''), 0);
  t.same(reg.getLk(FILE, A, { type: R, ...span(100, 1) }), flock(W, 60n, 0n, 300), 'a lock to EOF reports l_len 0');
});

t.test('flock and POSIX locks are independent', async (t) => {
  const reg = registry();
  t.equal(reg.flock(FILE, { pid: 1, desc: 'a' }, W, false, ''), 0);
  t.equal(reg.setLk(FILE, { pid: 2 }, { type: W, start: 0n, end: OFFSET_MAX }, false, ''), 0);
  t.equal(reg.setLk(FILE, { pid: 2, ofd: 'b' }, { type: W, start: 0n, end: OFFSET_MAX }, false, ''), -EAGAIN);
  t.equal(reg.getLk(FILE, { pid: 3 }, { type: W, start: 0n, end: OFFSET_MAX })?.pid, 2, 'F_GETLK never sees flock locks');
});

t.test('record limit: ENOLCK for fcntl, ENOMEM for flock', async (t) => {
  const reg = registry(3);
  const A = { pid: 1 };
  const lk = (type: LockType, start: number, len: number) => reg.setLk(FILE, A, { type, ...span(start, len) }, false, '');
  t.equal(lk(W, 0, 10), 0);
  t.equal(lk(W, 20, 10), 0);
  t.equal(lk(W, 40, 10), 0);
  t.equal(reg.records, 3);
  t.equal(lk(W, 60, 10), -ENOLCK, 'a fourth lock');
  t.equal(lk(U, 2, 2), -ENOLCK, 'an unlock that splits needs a record too');
  t.equal(lk(R, 2, 2), -ENOLCK, 'so does a type change inside a lock');
  t.equal(lk(W, 10, 10), 0, 'merging frees one');
  t.equal(reg.records, 2);
  t.equal(lk(R, 0, 30), 0, 'replacing needs none');
  t.equal(lk(U, 2, 2), 0, 'now a split fits');
  t.equal(reg.records, 3);
  t.equal(reg.flock(FILE, { pid: 1, desc: 'a' }, R, false, ''), -ENOMEM, 'flock_lock_inode reports ENOMEM');
  t.equal(lk(U, 0, 0), 0, 'unlocking everything always works');
  t.equal(reg.records, 0);
  t.equal(reg.flock(FILE, { pid: 1, desc: 'a' }, R, false, ''), 0);
  t.equal(reg.flock(FILE, { pid: 1, desc: 'a' }, W, false, ''), 0, 'conversion reuses the record');
  t.equal(reg.records, 1);
});

t.test('/proc/locks prints device numbers as %02x', async (t) => {
  const reg = registry();
  t.equal(reg.setLk({ major: 259, minor: 1, ino: 12n }, { pid: 7 }, { type: W, start: 0n, end: OFFSET_MAX }, false, ''), 0);
  t.equal(reg.procLocks(), '1: POSIX  ADVISORY  WRITE 7 103:01:12 0 EOF\n');
});

t.test('locks are per file', async (t) => {
  const reg = registry();
  t.equal(reg.setLk(FILE, { pid: 1 }, { type: W, ...span(0, 0) }, false, ''), 0);
  t.equal(reg.setLk(OTHER, { pid: 2 }, { type: W, ...span(0, 0) }, false, ''), 0);
  t.equal(reg.snapshot().files.length, 2);
  t.equal(reg.setLk(OTHER, { pid: 2 }, { type: U, ...span(0, 0) }, false, ''), 0);
  t.same(
    reg.snapshot().files.map((f) => f.ino),
    [String(FILE.ino)],
    'an empty table is dropped',
  );
});

// locks_show with a /proc mount of a PID namespace: a lock whose holder the
// namespace cannot see (gone, or outside) is left out with its number, a
// request blocked under a shown lock shows 0, OFD locks show -1.
t.test('/proc/locks of a PID namespace translates pids and leaves out unseen holders', async (t) => {
  const reg = registry();
  const f = { major: 259, minor: 1, ino: 12n };
  t.equal(reg.setLk(f, { pid: 7 }, { type: W, start: 0n, end: 9n }, false, ''), 0);
  t.equal(reg.setLk(f, { pid: 8 }, { type: W, start: 20n, end: 29n }, false, ''), 0);
  t.equal(reg.setLk(f, { pid: 1, ofd: 'd' }, { type: W, start: 40n, end: 49n }, false, ''), 0);
  t.type(reg.setLk(f, { pid: 9 }, { type: W, start: 0n, end: 0n }, true, ''), 'object', 'pid 9 waits for pid 7');
  const inNamespace = new Map([[7, 2]]);
  t.equal(
    reg.procLocks((pid) => inNamespace.get(pid) ?? 0),
    '1: OFDLCK ADVISORY  WRITE -1 103:01:12 40 49\n' +
      '3: POSIX  ADVISORY  WRITE 2 103:01:12 0 9\n' +
      '3: -> POSIX  ADVISORY  WRITE 0 103:01:12 0 0\n',
  );
});
