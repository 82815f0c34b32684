// /proc/sysvipc/sem and /proc/sys/kernel/sem. The expected text and every
// write result below were produced natively (Linux 6.18, fresh IPC namespace).
import t from 'tap';
import {
  IPC_CREAT,
  IPC_PRIVATE,
  IPC_RMID,
  IPC_SET,
  renderSemSysctl,
  renderSysvipcSem,
  SEMMNI,
  SEMMNS,
  SEMMSL,
  SEMOPM,
  SemRegistry,
  SYSVIPC_SEM_HEADER,
  UndoList,
  writeSemSysctl,
  type SemctlIO,
} from '../../src/sem/index.js';

const ROOT = { pid: 1, uid: 0, gid: 0, isRoot: true };
const DEFAULTS = { semmsl: SEMMSL, semmns: SEMMNS, semopm: SEMOPM, semmni: SEMMNI };
const registry = (real = 0) =>
  new SemRegistry<number>(DEFAULTS, { isAlive: () => true, complete: () => true }, { monoNs: () => 0n, realSec: () => real });

// kernel: /proc/sysvipc/sem after the calls replayed in the first test
const KERNEL_TEXT =
  '       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n' +
  '      4660          0   600          3     0     0     0     0 1795459682 1795459682\n' +
  '        -5          1   644          1 4294967294 123456     0     0          0 1795459682\n' +
  '2147483647          3   777          7     0     0     0     0          0 1795459682\n' +
  '         0          4   400          2     0     0     0     0          0 1795459682\n';

t.test('/proc/sysvipc/sem matches the kernel byte for byte', async (t) => {
  const reg = registry(1795459682);
  const a = reg.semget(ROOT, 0x1234, 3, IPC_CREAT | 0o600);
  const b = reg.semget(ROOT, -5, 1, IPC_CREAT | 0o644);
  let c = reg.semget(ROOT, IPC_PRIVATE, 250, 0o666);
  reg.semget(ROOT, 2147483647, 7, IPC_CREAT | 0o1777);
  reg.semop(ROOT, new UndoList(), a, [{ num: 0, op: 1, flg: 0 }], null, 0);
  const ds = { perm: { key: 0, uid: 4294967294, gid: 123456, cuid: 0, cgid: 0, mode: 0o644, seq: 0 }, otime: 0, ctime: 0, nsems: 0 };
  t.equal(reg.semctl(ROOT, b, 0, IPC_SET, 0, { readSemid: () => ds } as unknown as SemctlIO), 0);
  reg.semctl(ROOT, c, 0, IPC_RMID, 0, {} as SemctlIO);
  c = reg.semget(ROOT, IPC_PRIVATE, 2, 0o400);
  t.equal(c, 4);
  t.equal(renderSysvipcSem(reg.list()), KERNEL_TEXT);
  t.equal(renderSysvipcSem([]), SYSVIPC_SEM_HEADER, 'header only when empty');
});

t.test('/proc/sys/kernel/sem read', async (t) => {
  t.equal(renderSemSysctl(DEFAULTS), '32000\t1024000000\t500\t32000\n', 'kernel');
  t.equal(renderSemSysctl({ semmsl: -5, semmns: 0, semopm: 1, semmni: 2 }), '-5\t0\t1\t2\n');
});

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));

t.test('/proc/sys/kernel/sem writes behave as proc_ipc_sem_dointvec', async (t) => {
  // [input, result, limits afterwards]; every write starts from "1 2 3 4". kernel: all rows.
  const cases: Array<[string, number, string]> = [
    ['5 6 7', 5, '5 6 7 4'],
    ['10', 2, '10 2 3 4'],
    ['250 32000 32 99999', -34, '250 32000 32 4'],
    ['11 12 13 -1', -34, '11 12 13 4'],
    ['-5 -6 -7 8', 10, '-5 -6 -7 8'],
    ['1 2 3 4 5', 8, '1 2 3 4'],
    ['abc', -22, '1 2 3 4'],
    ['7 x 9 10', -22, '7 2 3 4'],
    ['  20\t21 22 23  ', 15, '20 21 22 23'],
    ['0x10 1 1 1', 10, '16 1 1 1'],
    ['010 1 1 1', 9, '8 1 1 1'],
    ['1 2 3 32768', 11, '1 2 3 32768'],
    ['1 2 3 32769', -34, '1 2 3 4'],
    ['3000000000 1 1 1', -22, '1 2 3 4'],
    ['2147483648 1 1 1', -22, '1 2 3 4'],
    ['2147483647 1 1 1', 16, '2147483647 1 1 1'],
    ['-2147483648 1 1 1', 17, '-2147483648 1 1 1'],
    ['-2147483649 1 1 1', -22, '1 2 3 4'],
    ['1 2 3 0', 7, '1 2 3 0'],
    ['', 0, '1 2 3 4'],
    ['\n', -22, '1 2 3 4'],
    ['\t', -22, '1 2 3 4'],
    ['1,2,3,4', -22, '1 2 3 4'],
    ['+1 2 3 4', -22, '1 2 3 4'],
    ['1 2 3 4\n', 8, '1 2 3 4'],
    ['1 2 3 4\n5', 8, '1 2 3 4'],
    ['1\n2\n3\n4', 7, '1 2 3 4'],
    ['9 8 7 6 x', 8, '9 8 7 6'],
    ['5 -', -22, '5 2 3 4'],
    ['5 - 6', -22, '5 2 3 4'],
    ['5 -6', 4, '5 -6 3 4'],
    ['- 5', -22, '1 2 3 4'],
    ['5x 6 7 8', -22, '1 2 3 4'],
    ['5 6 7 8x', -22, '5 6 7 4'],
    ['5 6 7 8 ', 8, '5 6 7 8'],
    ['1 2 3 4\x00zz', -22, '1 2 3 4'],
    ['99999999999999999999 1 1 1', -22, '1 2 3 4'],
    ['1 2 3 4 \n\n', 10, '1 2 3 4'],
    ['1 2 3 -0', 8, '1 2 3 0'],
    ['1 2 3 0x8000', 12, '1 2 3 32768'],
    ['\xa01 2 3 4', 8, '1 2 3 4'],
    ['\x0b5\x0c6\r7 8', -22, '1 2 3 4'],
    ['5 6\xa07 8', -22, '5 2 3 4'],
    ['0X1f 1 1 1', 10, '31 1 1 1'],
    ['0x 1 1 1', -22, '1 2 3 4'],
    ['09 1 1 1', -22, '1 2 3 4'],
    ['00000000000000000001 1 1 1', 26, '1 1 1 1'],
    ['000000000000000000001 1 1 1', -22, '1 2 3 4'],
    ['-0000000000000000001 1 1 1', 26, '-1 1 1 1'],
    ['-00000000000000000001 1 1 1', -22, '1 2 3 4'],
    ['5\x006 7 8', -22, '1 2 3 4'],
    ['1 2 3 4' + ' '.repeat(5000), 5007, '1 2 3 4'],
    [' '.repeat(5000) + '1 2 3 4', -22, '1 2 3 4'],
    ['-2147483648 -1 -1 -1', -34, '-2147483648 -1 -1 4'],
    ['0x7fffffff 0 0 0', 16, '2147483647 0 0 0'],
    ['0xffffffffffffffff 1 1 1', -22, '1 2 3 4'],
    ['12345678901234567890 1 1 1', -22, '1 2 3 4'],
  ];
  const reg = registry();
  for (const [input, result, after] of cases) {
    t.equal(writeSemSysctl(reg, '1 2 3 4'), 7);
    t.equal(writeSemSysctl(reg, latin1(input)), result, JSON.stringify(input.slice(0, 40)));
    t.equal(renderSemSysctl(reg.getLimits()), after.replaceAll(' ', '\t') + '\n', `${JSON.stringify(input.slice(0, 40))} leaves ${after}`);
  }
  writeSemSysctl(reg, '1 2 3 4');
  t.equal(writeSemSysctl(reg, '9 '), 2);
  t.equal(writeSemSysctl(reg, '8 7 6', 2), 5, 'kernel: a write at a non-zero offset is ignored');
  t.same(reg.getLimits(), { semmsl: 9, semmns: 2, semopm: 3, semmni: 4 });
});

t.test('written limits take effect', async (t) => {
  const reg = registry();
  t.equal(writeSemSysctl(reg, '2 3 1 1\n'), 8);
  t.equal(reg.semget(ROOT, IPC_PRIVATE, 3, 0), -22, 'semmsl');
  const id = reg.semget(ROOT, IPC_PRIVATE, 2, 0o600);
  t.equal(reg.semget(ROOT, IPC_PRIVATE, 1, 0), -28, 'semmni');
  t.equal(
    reg.semop(
      ROOT,
      new UndoList(),
      id,
      [
        { num: 0, op: 1, flg: 0 },
        { num: 1, op: 1, flg: 0 },
      ],
      null,
      0,
    ),
    -7,
    'semopm',
  );
});

t.test('a ceiling (the manifest): values may be lowered and raised back, one above is EINVAL as proc_dointvec_minmax', async (t) => {
  const ceiling = { semmsl: 250, semmns: 32000, semopm: 32, semmni: 128 };
  const reg = new SemRegistry<number>(ceiling, { isAlive: () => true, complete: () => true }, { monoNs: () => 0n, realSec: () => 0 });
  const limits = () => renderSemSysctl(reg.getLimits()).trim().split('\t').join(' ');
  t.equal(writeSemSysctl(reg, '2147483647 2147483647 500 32768', 0, ceiling), -22);
  t.equal(limits(), '250 32000 32 128', 'nothing above the ceiling is stored');
  t.equal(writeSemSysctl(reg, '100 10000 16 64', 0, ceiling), 15);
  t.equal(limits(), '100 10000 16 64', 'lowered');
  t.equal(writeSemSysctl(reg, '200 32001 32 128', 0, ceiling), -22);
  t.equal(limits(), '200 10000 16 64', 'the values before the one above are kept, it and the rest are not');
  t.equal(writeSemSysctl(reg, '250 32000 32 128', 0, ceiling), 16);
  t.equal(limits(), '250 32000 32 128', 'raised back to the ceiling');
  t.equal(writeSemSysctl(reg, '-1', 0, ceiling), 2);
  t.equal(limits(), '-1 32000 32 128', 'below is any int, as in Linux');
});
