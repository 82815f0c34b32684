// The /proc parsers (src/procfs.ts) on text as Linux prints it
// (fs/proc/array.c, fs/proc/base.c, fs/proc/fd.c).
import t from 'tap';
import {
  credentialsOf,
  direntNumbers,
  fdinfoCloexec,
  idsOf,
  parseChildren,
  parseStat,
  parseStatus,
  parseSyscall,
} from '../../src/procfs.js';

const STATUS = [
  'Name:\tsleep',
  'Umask:\t0022',
  'State:\tS (sleeping)',
  'Tgid:\t4242',
  'Ngid:\t0',
  'Pid:\t4243',
  'PPid:\t4000',
  'Uid:\t1000\t1001\t1002\t1003',
  'Gid:\t100\t101\t102\t103',
  'Groups:\t4 24 27 ',
  'CapEff:\t0000000000000400',
  '',
].join('\n');

t.test('status: fields by name, credentials and ids', async (t) => {
  const s = parseStatus(STATUS);
  t.equal(s.get('Name'), 'sleep');
  t.equal(s.get('State'), 'S (sleeping)');
  t.equal(s.get('PPid'), '4000');
  t.same(credentialsOf(s), { uid: 1000, euid: 1001, gid: 100, egid: 101, groups: [4, 24, 27], capEff: 0x400n });
  t.same(idsOf(s), { tgid: 4242, uid: 1000 });
  t.same(credentialsOf(parseStatus('Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n')).groups, [], 'no supplementary groups');
});

t.test('stat: the fields after the last parenthesis of comm', async (t) => {
  t.same(parseStat('77 (cat) R 1 77 77 0 -1 4194304 90 0 0 0'), { state: 'R', ppid: 1, pgrp: 77 });
  t.same(parseStat('78 (a) b) (c) Z 5 6 6 0 -1'), { state: 'Z', ppid: 5, pgrp: 6 }, 'comm with spaces and ")"');
});

t.test('syscall: the number, or running', async (t) => {
  t.equal(parseSyscall('64 0x0 0x7ffd 0x1 0x0 0x0 0x0 0x7ffc0000 0x401000\n'), 64);
  t.equal(parseSyscall('-1 0x7ffc0000 0x401000\n'), -1, 'in user space');
  t.equal(parseSyscall('running\n'), 'running');
});

t.test('fdinfo: close-on-exec from the octal flags', async (t) => {
  t.equal(fdinfoCloexec('pos:\t0\nflags:\t02100002\nmnt_id:\t25\nino:\t12\n'), true);
  t.equal(fdinfoCloexec('pos:\t0\nflags:\t0100002\nmnt_id:\t25\n'), false);
  t.equal(fdinfoCloexec('pos:\t0\n'), false, 'no flags line');
});

t.test('children: space separated pids', async (t) => {
  t.same(parseChildren('12 345 6 '), [12, 345, 6]);
  t.same(parseChildren(''), []);
});

t.test('getdents64 records: numeric names only', async (t) => {
  const names = ['.', '..', '17', 'self', '2048', '1a'];
  const bytes = new Uint8Array(512);
  const view = new DataView(bytes.buffer);
  let off = 0;
  for (const name of names) {
    const reclen = (19 + name.length + 1 + 7) & ~7;
    view.setUint16(off + 16, reclen, true);
    for (let i = 0; i < name.length; i++) bytes[off + 19 + i] = name.charCodeAt(i);
    off += reclen;
  }
  const out: number[] = [3];
  direntNumbers(bytes, view, off, out);
  t.same(out, [3, 17, 2048], 'appended after what was there; ".", "self" and "1a" skipped');
});
