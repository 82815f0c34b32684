// Argument rules of fcntl locks and flock(), checked against answers a 6.18
// kernel gave for the same calls.
import t from 'tap';
import { decodeFcntlLock, decodeFlock, FLOCK_SIZE, OFFSET_MAX, readFlock, splitDev, toRange, writeFlock } from '../../src/locks/index.js';
import {
  F_GETLK,
  F_OFD_GETLK,
  F_OFD_SETLK,
  F_OFD_SETLKW,
  F_RDLCK,
  F_SETLK,
  F_SETLKW,
  F_UNLCK,
  F_WRLCK,
  LOCK_EX,
  LOCK_MAND,
  LOCK_NB,
  LOCK_SH,
  LOCK_UN,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from '../../src/syscalls/constants.js';
import { EBADF, EINVAL, EOVERFLOW } from '../../src/syscalls/errno.js';

const MAX = OFFSET_MAX;

t.test('toRange', async (t) => {
  // [whence, start, len, pos, size, expected]
  const cases: [number, bigint, bigint, bigint, bigint, { start: bigint; end: bigint } | number][] = [
    [SEEK_SET, 0n, 10n, 0n, 0n, { start: 0n, end: 9n }],
    [SEEK_SET, 5n, 0n, 0n, 0n, { start: 5n, end: MAX }],
    [SEEK_SET, 10n, -5n, 0n, 0n, { start: 5n, end: 9n }],
    [SEEK_SET, 10n, -10n, 0n, 0n, { start: 0n, end: 9n }],
    [SEEK_SET, 10n, -11n, 0n, 0n, -EINVAL],
    [SEEK_SET, -1n, 1n, 0n, 0n, -EINVAL],
    [SEEK_CUR, -6n, 1n, 5n, 10n, -EINVAL],
    [SEEK_CUR, -5n, -1n, 5n, 10n, -EINVAL],
    [SEEK_CUR, -5n, 1n, 5n, 10n, { start: 0n, end: 0n }],
    [SEEK_END, -1n, -10n, 0n, 10n, -EINVAL],
    [SEEK_END, -1n, -9n, 0n, 10n, { start: 0n, end: 8n }],
    [SEEK_END, MAX, 1n, 0n, 10n, -EOVERFLOW],
    [SEEK_END, MAX - 10n, 0n, 0n, 10n, { start: MAX, end: MAX }],
    [SEEK_SET, MAX, 2n, 0n, 0n, -EOVERFLOW],
    [SEEK_SET, MAX, 1n, 0n, 0n, { start: MAX, end: MAX }],
    [SEEK_SET, 1n, MAX, 0n, 0n, { start: 1n, end: MAX }],
    [SEEK_SET, 2n, MAX, 0n, 0n, -EOVERFLOW],
    [SEEK_SET, 0n, -(MAX + 1n), 0n, 0n, -EINVAL],
    [3, 0n, 1n, 0n, 0n, -EINVAL],
  ];
  for (const [whence, start, len, pos, size, want] of cases) {
    t.same(toRange(whence, start, len, pos, size), want, `whence ${whence} start ${start} len ${len}`);
  }
});

t.test('decodeFcntlLock: checks in Linux order', async (t) => {
  const rw = { pos: 0n, size: 10n, readable: true, writable: true };
  const ro = { ...rw, writable: false };
  const wo = { ...rw, readable: false };
  const fl = (type: number, start = 0n, len = 1n, pid = 0, whence = SEEK_SET) => ({ type, whence, start, len, pid });
  t.same(decodeFcntlLock(F_SETLKW, fl(F_WRLCK, 2n, 3n), rw), {
    type: F_WRLCK,
    start: 2n,
    end: 4n,
    test: false,
    wait: true,
    ofd: false,
  });
  t.same(decodeFcntlLock(F_OFD_SETLKW, fl(F_RDLCK, 0n, 0n), rw), {
    type: F_RDLCK,
    start: 0n,
    end: MAX,
    test: false,
    wait: true,
    ofd: true,
  });
  t.equal(decodeFcntlLock(F_GETLK, fl(F_UNLCK), rw), -EINVAL, 'F_GETLK refuses F_UNLCK');
  t.match(decodeFcntlLock(F_OFD_GETLK, fl(F_UNLCK), rw), { type: F_UNLCK, test: true }, 'F_OFD_GETLK takes F_UNLCK (6.5+)');
  // type 9 with an overflowing range: F_GETLK checks the type first, the others the range.
  t.equal(decodeFcntlLock(F_GETLK, fl(9, MAX, 2n), rw), -EINVAL);
  t.equal(decodeFcntlLock(F_OFD_GETLK, fl(9, MAX, 2n), rw), -EOVERFLOW);
  t.equal(decodeFcntlLock(F_SETLK, fl(9, MAX, 2n), rw), -EOVERFLOW);
  t.equal(decodeFcntlLock(F_SETLK, fl(9), rw), -EINVAL);
  t.equal(decodeFcntlLock(F_SETLK, fl(F_WRLCK), ro), -EBADF, 'write lock needs a writable fd');
  t.equal(decodeFcntlLock(F_SETLK, fl(F_RDLCK), wo), -EBADF, 'read lock needs a readable fd');
  t.match(decodeFcntlLock(F_SETLK, fl(F_UNLCK), ro), { type: F_UNLCK }, 'unlock needs neither');
  t.match(decodeFcntlLock(F_GETLK, fl(F_WRLCK), ro), { test: true }, 'F_GETLK ignores the fd mode');
  t.equal(decodeFcntlLock(F_OFD_SETLK, fl(F_WRLCK, 0n, 1n, 1), ro), -EBADF, 'mode is checked before l_pid');
  t.equal(decodeFcntlLock(F_OFD_SETLK, fl(F_UNLCK, 0n, 1n, 1), rw), -EINVAL, 'OFD wants l_pid == 0');
  t.equal(decodeFcntlLock(F_OFD_GETLK, fl(F_RDLCK, 0n, 1n, 1), rw), -EINVAL);
  t.match(decodeFcntlLock(F_SETLK, fl(F_RDLCK, 0n, 1n, 1), rw), { ofd: false }, 'POSIX ignores l_pid');
  t.match(decodeFcntlLock(F_SETLK, fl(F_RDLCK, -5n, 1n, 0, SEEK_CUR), { ...rw, pos: 5n }), { start: 0n, end: 0n });
  t.equal(decodeFcntlLock(1, fl(F_RDLCK), rw), -EINVAL, 'not a lock command');
});

t.test('decodeFlock', async (t) => {
  t.same(decodeFlock(LOCK_SH, true), { type: F_RDLCK, wait: true });
  t.same(decodeFlock(LOCK_EX | LOCK_NB, true), { type: F_WRLCK, wait: false });
  t.same(decodeFlock(LOCK_UN | LOCK_NB, false), { type: F_UNLCK, wait: false }, 'unlock needs no fd mode');
  t.equal(decodeFlock(LOCK_SH | LOCK_EX, true), -EINVAL);
  t.equal(decodeFlock(0, true), -EINVAL);
  t.equal(decodeFlock(16, true), -EINVAL);
  t.equal(decodeFlock(LOCK_EX, false), -EBADF);
  t.equal(decodeFlock(LOCK_MAND | 64, false), 0, 'LOCK_MAND is ignored with success');
});

t.test('splitDev', async (t) => {
  t.same(splitDev(0xfe00n), { major: 0xfe, minor: 0 });
  t.same(splitDev(0x801n), { major: 8, minor: 1 });
  // makedev(259, 0x12345): minor bits above 8 live at bit 20 and up.
  t.same(splitDev((0x12345n & 0xffn) | (259n << 8n) | ((0x12345n & ~0xffn) << 12n)), { major: 259, minor: 0x12345 });
});

t.test('struct flock: the x86_64 layout, both ways', async (t) => {
  const bytes = new Uint8Array(FLOCK_SIZE).fill(0xee);
  const v = new DataView(bytes.buffer);
  writeFlock(v, { type: F_WRLCK, whence: 1, start: -5n, len: OFFSET_MAX, pid: -1 });
  t.same([...bytes.subarray(0, 4)], [1, 0, 1, 0], 'l_type and l_whence: two little-endian shorts');
  t.same([...bytes.subarray(4, 8)], [0xee, 0xee, 0xee, 0xee], 'the padding before l_start is left alone');
  t.equal(v.getBigInt64(8, true), -5n, 'l_start at 8');
  t.equal(v.getBigInt64(16, true), OFFSET_MAX, 'l_len at 16');
  t.equal(v.getInt32(24, true), -1, 'l_pid at 24');
  t.same(readFlock(v), { type: F_WRLCK, whence: 1, start: -5n, len: OFFSET_MAX, pid: -1 });
});
