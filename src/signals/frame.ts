// The x86_64 signal frame as rt_sigreturn finds it, and what it says about a
// call the signal interrupted (arch/x86/kernel/signal.c). Pure: the
// supervisor reads the bytes, this decides.
//
// At rt_sigreturn the stack pointer is just past the popped pretcode: the
// rt_sigframe starts at sp-8, uc_mcontext is 48 bytes into it, so struct
// sigcontext is at sp+40. Its first 144 bytes are r8..rip.
import { EINTR } from '../syscalls/errno.js';

/** Offset of struct sigcontext from the stack pointer at rt_sigreturn. */
export const SIGCONTEXT_OFFSET = 40;
/** Bytes of struct sigcontext read: r8 .. rip. */
export const SIGCONTEXT_SIZE = 144;
/** Register offsets in struct sigcontext. */
export const SC = { r8: 0, r9: 8, r10: 16, rdi: 64, rsi: 72, rdx: 96, rax: 104, rsp: 120, rip: 128 } as const;
/** rax of a call about to return EINTR (-EINTR as u64). */
export const MINUS_EINTR = BigInt.asUintN(64, BigInt(-EINTR));
/** Length of the `syscall` instruction (0f 05). */
const SYSCALL_INSN = 2n;

export interface FrameRegs {
  rax: bigint;
  rip: bigint;
  rsp: bigint;
  /** The syscall argument registers in order: rdi, rsi, rdx, r10, r8, r9. */
  args: bigint[];
}

/** The registers a sigcontext (SIGCONTEXT_SIZE bytes) saved. */
export function frameRegs(sc: Uint8Array): FrameRegs {
  const v = new DataView(sc.buffer, sc.byteOffset, SIGCONTEXT_SIZE);
  const u64 = (off: number) => v.getBigUint64(off, true);
  return {
    rax: u64(SC.rax),
    rip: u64(SC.rip),
    rsp: u64(SC.rsp),
    args: [u64(SC.rdi), u64(SC.rsi), u64(SC.rdx), u64(SC.r10), u64(SC.r8), u64(SC.r9)],
  };
}

/**
 * The bytes rax..rip (32) that make the call at `rip` run again as the
 * kernel does for SA_RESTART: rax = nr, rip back on the syscall instruction.
 */
export function rewound(sc: Uint8Array, nr: number): Uint8Array {
  const out = sc.slice(SC.rax, SC.rip + 8);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(nr), true);
  v.setBigUint64(SC.rip - SC.rax, v.getBigUint64(SC.rip - SC.rax, true) - SYSCALL_INSN, true);
  return out;
}

/** The bytes rax..rip (32) that make the interrupted call return `value` at `ip`, as if it had completed. */
export function returning(sc: Uint8Array, ip: number, value: bigint): Uint8Array {
  const out = sc.slice(SC.rax, SC.rip + 8);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, value, true);
  v.setBigUint64(SC.rip - SC.rax, BigInt(ip), true);
  return out;
}

/**
 * The syscall number a wrapper loads right before the syscall instruction
 * ending the 9 bytes of `code`: `mov $nr, %eax` (b8 imm32) or
 * `mov $nr, %rax` (48 c7 c0 imm32, as in __restore_rt); null otherwise.
 */
export function syscallNumberBefore(code: Uint8Array): number | null {
  if (code.length !== 9 || code[7] !== 0x0f || code[8] !== 0x05) return null;
  const movEax = code[2] === 0xb8;
  const movRax = code[0] === 0x48 && code[1] === 0xc7 && code[2] === 0xc0;
  if (!movEax && !movRax) return null;
  return new DataView(code.buffer, code.byteOffset + 3, 4).getUint32(0, true);
}

export function isSyscallInstruction(code: Uint8Array): boolean {
  return code.length >= 2 && code[0] === 0x0f && code[1] === 0x05;
}

/** What the supervisor knows of how Linux treats each notified call. */
export interface RestartRules {
  /** Notified, and Linux never fails it with EINTR (close, dup2, open, fork, rt_sigreturn...). */
  neverInterrupted(nr: number): boolean;
  /** Has a restart policy: it may wait (semop, fcntl, flock). */
  mayWait(nr: number): boolean;
  /** With these arguments it does not wait (F_SETLK, LOCK_NB...): Linux never fails it with EINTR. */
  neverWaitsWith(nr: number, args: readonly bigint[]): boolean;
}

/** A call of this thread interrupted earlier, as the supervisor recorded it. */
export interface Interruption {
  nr: number;
  args: readonly bigint[];
  /** Where the call returns to (the notification's ip). */
  ip: number;
  /** It had slept in the supervisor when the signal came. */
  slept: boolean;
}

export type FrameVerdict =
  /** Nothing to do: no call was interrupted, or its EINTR is Linux's too. */
  | { kind: 'leave' }
  /**
   * Rewind the frame so the call runs again. `restartWithoutSleep`: it may
   * wait but had not slept, so its restart must not sleep (EINTR if it would).
   */
  | { kind: 'rewind'; nr: number; restartWithoutSleep: boolean }
  /** The kernel already rewound a call with a restart policy: its restart will come. */
  | { kind: 'restart'; nr: number; ip: number; slept: boolean };

/** Only the first four arguments are compared: r8/r9 need not survive the signal frame (seen on 6.18). */
const COMPARED_ARGS = 4;

export function sameArgs(a: readonly bigint[], b: readonly bigint[]): boolean {
  for (let i = 0; i < COMPARED_ARGS; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What to do with the frame a thread's rt_sigreturn pops.
 * - rax = -EINTR: a call about to fail with EINTR. `nrAt()` names it (from a
 *   cut-off notification or the code before rip). Linux fails a call with
 *   EINTR only once it sleeps: a call that never waits, or one that may wait
 *   but had not slept in the supervisor, is rewound; one that slept keeps it.
 * - rax = a number with a restart policy and rip on a syscall instruction
 *   (`atSyscall()`): the kernel rewound it (SA_RESTART, or no handler): its
 *   restart will come, and whether it had slept decides its answer.
 */
export function frameVerdict(
  regs: FrameRegs,
  rules: RestartRules,
  before: Interruption | undefined,
  nrAt: () => number | null,
  atSyscall: () => boolean,
): FrameVerdict {
  if (regs.rax === MINUS_EINTR) {
    const nr = nrAt();
    if (nr === null) return { kind: 'leave' };
    const slept =
      before !== undefined && before.slept && before.nr === nr && before.ip === Number(regs.rip) && sameArgs(before.args, regs.args);
    if (rules.neverInterrupted(nr)) return { kind: 'rewind', nr, restartWithoutSleep: false };
    if (!rules.mayWait(nr) || slept) return { kind: 'leave' };
    return { kind: 'rewind', nr, restartWithoutSleep: !rules.neverWaitsWith(nr, regs.args) };
  }
  const nr = Number(regs.rax);
  if (regs.rax >= 512n || !rules.mayWait(nr) || !atSyscall()) return { kind: 'leave' };
  const ip = Number(regs.rip) + Number(SYSCALL_INSN);
  const slept = before !== undefined && before.nr === nr && before.ip === ip && sameArgs(before.args, regs.args) && before.slept;
  return { kind: 'restart', nr, ip, slept };
}
