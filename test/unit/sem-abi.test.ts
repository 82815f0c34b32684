// x86_64 byte layouts of the SysV semaphore ABI. Expected bytes were dumped
// from the real structs (glibc 2.36 headers, Linux 6.18 IPC_STAT/IPC_INFO).
import t from 'tap';
import {
  decodeIpc64Perm,
  decodeSembuf,
  decodeSembufs,
  decodeSemidDs,
  decodeSeminfo,
  decodeSemValues,
  decodeTimespec,
  encodeSembuf,
  encodeSemidDs,
  encodeSeminfo,
  encodeSemValues,
  encodeTimespec,
  IPC_CREAT,
  IPC_INFO,
  IPC_NOWAIT,
  IPC_STAT,
  SEM_UNDO,
  SEMBUF_SIZE,
  SEMID64_DS_SIZE,
  SEMINFO_SIZE,
  SEMMNI,
  SEMMNS,
  SEMMSL,
  SEMOPM,
  SemRegistry,
  TIMESPEC_SIZE,
  timespecToNs,
  type SemBuf,
  type SemctlIO,
  type SemidDs,
  type SemInfo,
} from '../../src/sem/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

// kernel: IPC_STAT of semget(0x7eadbeef, 3, IPC_CREAT|0640) by root, sem_ctime then set to 1700000000
const STAT_HEX =
  'efbead7e00000000000000000000000000000000a0010000000000000000000000000000000000000000000000000000' +
  '0000000000000000000000000000000000f1536500000000000000000000000003000000000000000000000000000000' +
  '0000000000000000';
// glibc struct semid_ds filled field by field
const MANUAL_HEX =
  'feffffff00286beee90300000700000008000000e9010000feff00000000000000000000000000000000000000000000' +
  'ffffffffffffffff00000000000000009a785634120000000000000000000000007d0000000000000000000000000000' +
  '0000000000000000';
// kernel: IPC_INFO with the default limits
const INFO_HEX = '0000093d007d00000000093d0000093d007d0000f4010000f401000014000000ff7f0000ff7f0000';
// {0,-1,SEM_UNDO}, {65535,32767,IPC_NOWAIT}, {7,-32768,IPC_NOWAIT|SEM_UNDO}
const SEMBUFS_HEX = '0000ffff0010ffffff7f0008070000800018';

t.test('sizes', async (t) => {
  t.same([SEMBUF_SIZE, SEMID64_DS_SIZE, SEMINFO_SIZE, TIMESPEC_SIZE], [6, 104, 40, 16]);
});

t.test('struct semid64_ds', async (t) => {
  const m: SemidDs = {
    perm: { key: -2, uid: 4000000000, gid: 1001, cuid: 7, cgid: 8, mode: 0o751, seq: 65534 },
    otime: -1,
    ctime: 0x123456789a,
    nsems: 32000,
  };
  t.equal(hex(encodeSemidDs(m)), MANUAL_HEX);
  t.same(decodeSemidDs(bytes(MANUAL_HEX)), m);
  const dirty = new Uint8Array(SEMID64_DS_SIZE + 8).fill(0xff);
  encodeSemidDs(m, dirty, 8);
  t.equal(hex(dirty.subarray(8)), MANUAL_HEX, 'padding is zeroed, offset honoured');
  t.equal(hex(dirty.subarray(0, 8)), 'ffffffffffffffff', 'nothing written before the offset');
  t.same(decodeIpc64Perm(bytes(STAT_HEX)), { key: 0x7eadbeef, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o640, seq: 0 });

  let ds: SemidDs | undefined;
  const reg = new SemRegistry<number>(
    { semmsl: SEMMSL, semmns: SEMMNS, semopm: SEMOPM, semmni: SEMMNI },
    { isAlive: () => true, complete: () => true },
    { monoNs: () => 0n, realSec: () => 1700000000 },
  );
  const id = reg.semget({ pid: 1, uid: 0, gid: 0, isRoot: true }, 0x7eadbeef, 3, IPC_CREAT | 0o640);
  const io = { writeSemid: (d: SemidDs) => ((ds = d), 0) } as SemctlIO;
  t.equal(reg.semctl({ pid: 1, uid: 0, gid: 0, isRoot: true }, id, 0, IPC_STAT, 0, io), 0);
  t.equal(hex(encodeSemidDs(ds!)), STAT_HEX, "the registry's IPC_STAT encodes to the kernel's bytes");
});

t.test('struct seminfo', async (t) => {
  let info: SemInfo | undefined;
  const reg = new SemRegistry<number>(
    { semmsl: SEMMSL, semmns: SEMMNS, semopm: SEMOPM, semmni: SEMMNI },
    { isAlive: () => true, complete: () => true },
    { monoNs: () => 0n, realSec: () => 0 },
  );
  reg.semctl({ pid: 1, uid: 0, gid: 0, isRoot: true }, 0, 0, IPC_INFO, 0, { writeSeminfo: (i: SemInfo) => ((info = i), 0) } as SemctlIO);
  t.equal(hex(encodeSeminfo(info!)), INFO_HEX, 'IPC_INFO with default limits matches the kernel');
  t.same(decodeSeminfo(bytes(INFO_HEX)), info);
});

t.test('struct sembuf', async (t) => {
  const want: SemBuf[] = [
    { num: 0, op: -1, flg: SEM_UNDO },
    { num: 65535, op: 32767, flg: IPC_NOWAIT },
    { num: 7, op: -32768, flg: IPC_NOWAIT | SEM_UNDO },
  ];
  const b = new Uint8Array(18);
  want.forEach((s, i) => encodeSembuf(s, b, i * SEMBUF_SIZE));
  t.equal(hex(b), SEMBUFS_HEX);
  const out: SemBuf[] = [{ num: 9, op: 9, flg: 9 }];
  const first = out[0];
  t.same(decodeSembufs(bytes(SEMBUFS_HEX), 3, out), want);
  t.equal(out[0], first, 'existing objects are reused');
  t.same(decodeSembufs(bytes(SEMBUFS_HEX), 1, out), [want[0]], 'length follows nsops');
  const one = { num: 0, op: 0, flg: 0 };
  t.equal(decodeSembuf(bytes(SEMBUFS_HEX), 12, one), one);
  t.same(one, want[2]);
});

t.test('timespec and the semtimedop timeout check', async (t) => {
  const ts = { sec: 123n, nsec: 999999999n };
  t.equal(hex(encodeTimespec(ts)), '7b00000000000000ffc99a3b00000000', 'kernel bytes');
  t.same(decodeTimespec(bytes('7b00000000000000ffc99a3b00000000')), ts);
  t.equal(timespecToNs(ts), 123999999999n);
  t.equal(timespecToNs({ sec: 0n, nsec: 0n }), 0n);
  t.equal(timespecToNs({ sec: -1n, nsec: 0n }), null, 'negative seconds: EINVAL');
  t.equal(timespecToNs({ sec: 0n, nsec: -1n }), null, 'negative nanoseconds: EINVAL');
  t.equal(timespecToNs({ sec: 0n, nsec: 1000000000n }), null, 'a full second of nanoseconds: EINVAL');
});

t.test('GETALL/SETALL arrays', async (t) => {
  t.equal(hex(encodeSemValues([0, 32767, 65535])), '0000ff7fffff', 'kernel bytes of unsigned short[3]');
  t.same([...decodeSemValues(bytes('0000ff7fffff'), 3)], [0, 32767, 65535]);
  t.same([...decodeSemValues(bytes('aa0000ff7fffff'), 2, 1)], [0, 32767], 'at an offset');
});
