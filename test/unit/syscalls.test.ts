import t from 'tap';
import {
  SYSCALL_TABLE,
  SYSCALL_NAMES,
  MAX_SYSCALL_NR,
  syscallName,
  syscallNumber,
  nr,
  errnoName,
  errnoNumber,
  ERRNO_TABLE,
} from '../../src/syscalls/index.js';

t.test('syscall table', async (t) => {
  t.equal(syscallNumber('read'), 0);
  t.equal(syscallNumber('getpid'), 39);
  t.equal(syscallNumber('semget'), 64);
  t.equal(syscallNumber('semop'), 65);
  t.equal(syscallNumber('semctl'), 66);
  t.equal(syscallNumber('semtimedop'), 220);
  t.equal(syscallNumber('clone3'), 435);
  t.equal(syscallNumber('pidfd_getfd'), 438);
  t.equal(syscallNumber('set_mempolicy_home_node'), 450);
  t.equal(syscallNumber('cachestat'), 451);
  t.equal(syscallNumber('mseal'), 462);
  t.equal(syscallNumber('open_tree_attr'), 467);
  t.equal(syscallNumber('file_setattr'), 469);
  t.equal(syscallNumber('nope'), undefined);
  t.equal(syscallName(39), 'getpid');
  t.equal(syscallName(400), 'syscall_400');
  t.equal(syscallName(9999), 'syscall_9999');
  t.equal(MAX_SYSCALL_NR, 469);
  t.equal(SYSCALL_NAMES.length, SYSCALL_TABLE.length);
  // sorted, unique numbers and names; 337..423 reserved
  const nrs = SYSCALL_TABLE.map(([nr]) => nr);
  t.same(
    [...nrs].sort((a, b) => a - b),
    nrs,
  );
  t.equal(new Set(nrs).size, nrs.length);
  t.equal(new Set(SYSCALL_NAMES).size, SYSCALL_NAMES.length);
  t.equal(syscallNumber('uretprobe'), 335);
  t.equal(syscallNumber('uprobe'), 336);
  t.notOk(nrs.some((n) => n >= 337 && n <= 423));
  t.equal(nrs.length, 337 + (469 - 424 + 1));
  for (const [nr, name] of SYSCALL_TABLE) {
    t.equal(syscallNumber(name), nr);
    t.equal(syscallName(nr), name);
  }
});

t.test('errno table', async (t) => {
  t.equal(errnoNumber('EPERM'), 1);
  t.equal(errnoNumber('EAGAIN'), 11);
  t.equal(errnoNumber('EWOULDBLOCK'), 11);
  t.equal(errnoNumber('EDEADLOCK'), 35);
  t.equal(errnoNumber('ENOTSUP'), 95);
  t.equal(errnoNumber('ENOSYS'), 38);
  t.equal(errnoNumber('EIDRM'), 43);
  t.equal(errnoNumber('EHWPOISON'), 133);
  t.equal(errnoNumber('ERESTARTSYS'), undefined);
  t.equal(errnoNumber('eperm'), undefined);
  t.equal(errnoName(11), 'EAGAIN');
  t.equal(errnoName(35), 'EDEADLK');
  t.equal(errnoName(-4), 'EINTR');
  t.equal(errnoName(512), 'ERESTARTSYS');
  t.equal(errnoName(3000), 'errno_3000');
  t.equal(ERRNO_TABLE.length, 131); // 1..133 without the unused 41 and 58
  for (let n = 1; n <= 133; n++) {
    if (n === 41 || n === 58) {
      t.equal(errnoName(n), `errno_${n}`, `${n} is unused`);
    } else {
      t.equal(errnoNumber(errnoName(n)), n);
    }
  }
});

t.test('nr: the number of a syscall our code names, a throw for a name the table lacks', async (t) => {
  t.equal(nr('fcntl'), 72);
  t.equal(nr('semtimedop'), 220);
  t.throws(() => nr('fcntl64'), /no x86_64 syscall is called fcntl64/);
});
