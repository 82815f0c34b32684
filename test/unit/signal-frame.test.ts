// The signal frame at rt_sigreturn (src/signals/frame.ts): its layout, the
// rewinds written back, and the verdict on an interrupted call, case by case
// against what Linux does (arch/x86/kernel/signal.c, ipc/sem.c, fs/locks.c).
import t from 'tap';
import {
  frameRegs,
  frameVerdict,
  type Interruption,
  isSyscallInstruction,
  MINUS_EINTR,
  type RestartRules,
  returning,
  rewound,
  SC,
  SIGCONTEXT_SIZE,
  syscallNumberBefore,
} from '../../src/signals/frame.js';

const SEMOP = 65;
const FCNTL = 72;
const CLOSE = 3;
const READ = 0;
const F_SETLK = 6n;
const F_SETLKW = 7n;
const RIP = 0x401000n;

function sigcontext(regs: Partial<Record<keyof typeof SC, bigint>>): Uint8Array {
  const b = new Uint8Array(SIGCONTEXT_SIZE);
  const v = new DataView(b.buffer);
  for (const [name, value] of Object.entries(regs)) v.setBigUint64(SC[name as keyof typeof SC], value, true);
  return b;
}

const rules: RestartRules = {
  neverInterrupted: (nr) => nr === CLOSE,
  mayWait: (nr) => nr === SEMOP || nr === FCNTL,
  neverWaitsWith: (nr, args) => nr === FCNTL && args[1] !== F_SETLKW,
};

const verdict = (sc: Uint8Array, nr: number | null, before?: Interruption, atSyscall = true) =>
  frameVerdict(
    frameRegs(sc),
    rules,
    before,
    () => nr,
    () => atSyscall,
  );

t.test('layout: registers at their sigcontext offsets', async (t) => {
  const sc = sigcontext({ rdi: 1n, rsi: 2n, rdx: 3n, r10: 4n, r8: 5n, r9: 6n, rax: 7n, rsp: 8n, rip: 9n });
  t.same(frameRegs(sc), { rax: 7n, rip: 9n, rsp: 8n, args: [1n, 2n, 3n, 4n, 5n, 6n] });
});

t.test('rewound: rax = nr and rip back on the syscall instruction; returning: rax = value at ip', async (t) => {
  const sc = sigcontext({ rax: MINUS_EINTR, rip: RIP, rsp: 0x7ff0n });
  const r = new DataView(rewound(sc, SEMOP).buffer);
  t.equal(r.byteLength, SC.rip + 8 - SC.rax, 'rax..rip');
  t.equal(r.getBigUint64(0, true), BigInt(SEMOP));
  t.equal(r.getBigUint64(SC.rip - SC.rax, true), RIP - 2n);
  t.equal(r.getBigUint64(SC.rsp - SC.rax, true), 0x7ff0n, 'rsp kept');
  const d = new DataView(returning(sc, 0x402000, 0n).buffer);
  t.equal(d.getBigUint64(0, true), 0n);
  t.equal(d.getBigUint64(SC.rip - SC.rax, true), 0x402000n);
});

t.test('the number loaded before a syscall instruction', async (t) => {
  t.equal(syscallNumberBefore(Uint8Array.from([0x90, 0x90, 0xb8, 65, 0, 0, 0, 0x0f, 0x05])), 65, 'mov $nr, %eax');
  t.equal(syscallNumberBefore(Uint8Array.from([0x48, 0xc7, 0xc0, 15, 0, 0, 0, 0x0f, 0x05])), 15, 'mov $nr, %rax (__restore_rt)');
  t.equal(syscallNumberBefore(Uint8Array.from([0x48, 0x89, 0xf8, 0, 0, 0, 0, 0x0f, 0x05])), null, 'mov %rdi, %rax: unknown');
  t.equal(syscallNumberBefore(Uint8Array.from([0x90, 0x90, 0xb8, 65, 0, 0, 0, 0x90, 0x90])), null, 'no syscall instruction');
  t.ok(isSyscallInstruction(Uint8Array.from([0x0f, 0x05])));
  t.notOk(isSyscallInstruction(Uint8Array.from([0x0f, 0x06])));
});

t.test('a call about to fail with EINTR', async (t) => {
  const eintr = (args: bigint[] = [3n, 0n, 0n, 0n]) =>
    sigcontext({ rax: MINUS_EINTR, rip: RIP, rdi: args[0], rsi: args[1], rdx: args[2], r10: args[3] });
  t.same(verdict(eintr(), CLOSE), { kind: 'rewind', nr: CLOSE, restartWithoutSleep: false }, 'close: Linux never interrupts it');
  t.same(
    verdict(eintr(), SEMOP),
    { kind: 'rewind', nr: SEMOP, restartWithoutSleep: true },
    'semop cut off before it slept: again, without sleeping',
  );
  const slept: Interruption = { nr: SEMOP, args: [3n, 0n, 0n, 0n], ip: Number(RIP), slept: true };
  t.same(verdict(eintr(), SEMOP, slept), { kind: 'leave' }, 'semop that slept: EINTR, as Linux');
  t.same(
    verdict(eintr([3n, 1n, 0n, 0n]), SEMOP, slept),
    { kind: 'rewind', nr: SEMOP, restartWithoutSleep: true },
    'another semop slept, not this one',
  );
  t.same(verdict(eintr([3n, F_SETLK, 0n, 0n]), FCNTL), { kind: 'rewind', nr: FCNTL, restartWithoutSleep: false }, 'F_SETLK never waits');
  t.same(
    verdict(eintr([3n, F_SETLKW, 0n, 0n]), FCNTL),
    { kind: 'rewind', nr: FCNTL, restartWithoutSleep: true },
    'F_SETLKW cut off before it slept',
  );
  const lockSlept: Interruption = { nr: FCNTL, args: [3n, F_SETLKW, 0n, 0n], ip: Number(RIP), slept: true };
  t.same(
    verdict(eintr([3n, F_SETLKW, 0n, 0n]), FCNTL, lockSlept),
    { kind: 'leave' },
    'F_SETLKW that slept keeps its EINTR (no SA_RESTART)',
  );
  t.same(verdict(eintr(), READ), { kind: 'leave' }, "a call never notified: the kernel's own EINTR");
  t.same(verdict(eintr(), null), { kind: 'leave' }, 'nothing says which call');
});

t.test('a call the kernel rewound (SA_RESTART, or no handler)', async (t) => {
  const rewoundSemop = sigcontext({ rax: BigInt(SEMOP), rip: RIP - 2n, rdi: 3n });
  const slept: Interruption = { nr: SEMOP, args: [3n, 0n, 0n, 0n], ip: Number(RIP), slept: true };
  t.same(
    verdict(rewoundSemop, null, slept),
    { kind: 'restart', nr: SEMOP, ip: Number(RIP), slept: true },
    'restart of a semop that slept: it will answer EINTR',
  );
  t.same(verdict(rewoundSemop, null), { kind: 'restart', nr: SEMOP, ip: Number(RIP), slept: false });
  t.same(verdict(rewoundSemop, null, undefined, false), { kind: 'leave' }, 'rax equal to a number by chance, no syscall instruction');
  t.same(verdict(sigcontext({ rax: BigInt(CLOSE), rip: RIP - 2n }), null), { kind: 'leave' }, 'close restarts by itself');
  t.same(verdict(sigcontext({ rax: 1234n, rip: RIP }), null), { kind: 'leave' }, 'no call interrupted');
});
