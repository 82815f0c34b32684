// BlockedCalls: the notifications a handler left PENDING, one per thread,
// and the recognition of a syscall restarted after a signal.
//
// The kernel says nothing to the listener when a task waiting in a
// notification takes a signal: the notification turns invalid (or vanishes
// before it was even received) and the syscall returns -ERESTARTSYS. Then
// (arch/x86/kernel/signal.c):
//  - a handler with SA_RESTART, or no handler at all (SIGSTOP/SIGCONT): the
//    kernel rewinds rip to the syscall instruction and the call comes back as
//    a *new* notification with the same nr, arguments, ip and stack pointer;
//  - a handler without SA_RESTART: the call returns EINTR to the program,
//    which may call again from the same place (a retry loop) -- a
//    notification that looks exactly like a restart.
// A handler ends in rt_sigreturn, which the supervisor is notified of: the
// signal frame it pops holds the interrupted registers, rewound (restart
// pending, with nr and arguments) or not. That frame, and the per-thread
// record of calls that slept, say what a later notification is.
//
// What a restart gets is the feature's rule: a semop that slept answers
// EINTR (Linux never restarts semop); one interrupted before it could sleep
// is tried again without sleeping (EINTR if it would block); F_SETLKW and
// flock just run again, as Linux restarts them.
//
// Every other notified call (close, dup2, clone, open, set*id, ...) is one
// Linux never fails with EINTR, yet a handler without SA_RESTART would make
// it return EINTR without having run -- a close that did not close leaks the
// fd, and a pipeline then never sees EOF. So when the frame shows such a call
// about to return EINTR, the supervisor rewrites the frame as the kernel
// would for SA_RESTART (rax = nr, rip back on the syscall instruction) and
// the call runs again. The nr comes from the notification whose answer could
// not be delivered, or, when the signal came before the supervisor even
// received it, from the `mov $nr, %eax` before the syscall instruction.
import { readFileSync } from 'node:fs';
import type { TargetMemory } from './memory.js';
import type { Notification, NotificationRecord } from './notification.js';

export type RestartPolicy = 'eintr' | 'redispatch';

export interface BlockedCall {
  record: NotificationRecord;
  /**
   * Stack pointer at the syscall, from /proc/TID/syscall. Read only once the
   * call has slept SP_DELAY_MS (a short sleep, as in a ping-pong, must not pay
   * for a /proc read); null until then, and a restart is then recognised by
   * nr, ip and arguments alone.
   */
  sp: bigint | null;
  /** performance.now() when it started sleeping. */
  since: number;
  /** Remove the wait from the feature's queues without answering it (idempotent). */
  cancel: () => void;
}

/** A call that a signal interrupted and whose restart may come. */
interface Interrupted {
  nr: number;
  args: bigint[];
  ip: number;
  sp: bigint | null;
  /** It had slept in the supervisor (known), rather than being cut off before. */
  slept: boolean;
}

const EINTR = 4;
const MINUS_EINTR = 0xfffffffffffffffcn;
const SP_DELAY_MS = 1;
/** beforeDispatch result: no opinion, dispatch to the handler. */
export const DISPATCH = -0x40000002;
export const SYS_RT_SIGRETURN = 15;
/**
 * struct sigcontext as rt_sigreturn finds it: the rt_sigframe starts at
 * sp-8 (pretcode popped), uc_mcontext 48 bytes in, so at sp+40.
 */
const MCONTEXT = 40;
const MC_SIZE = 144; // r8 .. rip
const MC = { r8: 0, r9: 8, r10: 16, rdi: 64, rsi: 72, rdx: 96, rax: 104, rsp: 120, rip: 128 } as const;

export class BlockedCalls {
  private readonly live = new Map<number, BlockedCall>();
  private readonly interrupted = new Map<number, Interrupted>();
  private readonly policies = new Map<number, RestartPolicy>();
  /** Notified calls that are never interrupted on Linux (every notified nr without a policy). */
  private readonly transparent = new Set<number>();
  /** Calls Linux interrupts only with some arguments (fcntl F_SETLKW, a waiting flock): restarted unless these say it waits. */
  private readonly repairs = new Map<number, (args: readonly bigint[]) => boolean>();
  /** Per thread: a call whose answer could not be delivered (the thread took a signal). */
  private readonly cutoff = new Map<number, { nr: number; ip: number }>();
  /** Sleepers whose stack pointer is not read yet, oldest first. */
  private readonly unread: BlockedCall[] = [];
  /** True while a restarted call that had not slept is dispatched: it must not sleep now. */
  restartWithoutSleep = false;

  /** How restarts of syscall `nr` are answered (features that block declare it). */
  setPolicy(nr: number, policy: RestartPolicy): void {
    this.policies.set(nr, policy);
  }

  /**
   * `nr` has a restart policy for the calls that wait, but Linux never
   * interrupts it when `neverWaits(args)`: such a call cut off by a signal is
   * made to run again like a transparent one.
   */
  setRepair(nr: number, neverWaits: (args: readonly bigint[]) => boolean): void {
    this.repairs.set(nr, neverWaits);
  }

  /** The syscall numbers the filter notifies; those without a restart policy are made to restart. */
  setNotified(nrs: Iterable<number>): void {
    for (const nr of nrs) if (!this.policies.has(nr) && nr !== SYS_RT_SIGRETURN) this.transparent.add(nr);
  }

  /** The answer to `n` (not a sleeper's) could not be delivered: a signal cut it off. */
  undelivered(n: Notification): void {
    if (this.transparent.has(n.nr)) this.cutoff.set(n.tid, { nr: n.nr, ip: n.ip });
  }

  get size(): number {
    return this.live.size + this.interrupted.size + this.cutoff.size;
  }

  block(n: Notification, cancel: () => void): BlockedCall {
    const call: BlockedCall = { record: n.snapshot(), sp: null, since: performance.now(), cancel };
    this.live.set(n.tid, call);
    this.unread.push(call);
    return call;
  }

  /** performance.now() when the longest sleeper started sleeping, or null if none sleeps (the watchdog's cheap test). */
  oldestSince(): number | null {
    let oldest: number | null = null;
    for (const call of this.live.values()) if (oldest === null || call.since < oldest) oldest = call.since;
    return oldest;
  }

  /** When the oldest sleeper without a stack pointer is due for one (performance.now() ms), or Infinity. */
  nextDeadline(): number {
    while (this.unread.length > 0 && !this.isLive(this.unread[0])) this.unread.shift();
    return this.unread.length > 0 ? this.unread[0].since + SP_DELAY_MS : Infinity;
  }

  /** Read the stack pointer of every call that has slept long enough. */
  onTimer(): void {
    const due = performance.now() - SP_DELAY_MS;
    while (this.unread.length > 0 && this.unread[0].since <= due) {
      const call = this.unread.shift()!;
      if (this.isLive(call)) call.sp = readStackPointer(call.record.tid);
    }
  }

  private isLive(call: BlockedCall): boolean {
    return this.live.get(call.record.tid) === call;
  }

  /** The call was answered: forget it. */
  finished(call: BlockedCall): void {
    if (this.live.get(call.record.tid) === call) this.live.delete(call.record.tid);
  }

  /** The answer could not be delivered (or ID_VALID said it is gone): the thread was interrupted. */
  died(call: BlockedCall): void {
    const tid = call.record.tid;
    if (this.live.get(tid) === call) this.live.delete(tid);
    call.cancel();
    const r = call.record;
    this.interrupted.set(tid, { nr: r.nr, args: r.args, ip: r.ip, sp: call.sp, slept: true });
  }

  /** Called for every notification before its handler; returns a result or DISPATCH. */
  check(n: Notification): number {
    this.restartWithoutSleep = false;
    const tid = n.tid;
    const live = this.live.get(tid);
    if (live !== undefined) this.died(live); // a thread waits in one syscall at a time
    const call = this.interrupted.get(tid);
    if (call === undefined || n.nr === SYS_RT_SIGRETURN || !isRestartOf(call, n)) return DISPATCH;
    this.interrupted.delete(tid);
    const policy = this.policies.get(n.nr);
    if (policy === 'eintr') {
      if (call.slept) return -EINTR;
      this.restartWithoutSleep = true;
    }
    return DISPATCH;
  }

  /** A signal handler of this thread returns: read the frame to learn whether a call will restart. */
  sigreturn(n: Notification, memory: TargetMemory): void {
    const tid = n.tid;
    const sp = readStackPointer(tid);
    const mc = sp === null ? null : memory.read(tid, Number(sp) + MCONTEXT, MC_SIZE);
    if (mc === null || typeof mc === 'number') return;
    const v = new DataView(mc.buffer, mc.byteOffset, MC_SIZE);
    const u64 = (off: number) => v.getBigUint64(off, true);
    const rip = u64(MC.rip);
    const rax = u64(MC.rax);
    const cut = this.cutoff.get(tid);
    this.cutoff.delete(tid);
    if (rax === MINUS_EINTR) {
      this.interrupted.delete(tid);
      const nr = cut !== undefined && cut.ip === Number(rip) ? cut.nr : syscallBefore(memory, tid, rip);
      if (nr === null) return;
      const args = [u64(MC.rdi), u64(MC.rsi), u64(MC.rdx), u64(MC.r10), u64(MC.r8), u64(MC.r9)];
      const repair = this.repairs.get(nr);
      if (!this.transparent.has(nr) && !(repair !== undefined && repair(args))) return; // Linux interrupts it too: EINTR stands
      v.setBigUint64(MC.rax, BigInt(nr), true);
      v.setBigUint64(MC.rip, rip - 2n, true);
      memory.write(tid, Number(sp) + MCONTEXT + MC.rax, mc.slice(MC.rax, MC.rip + 8));
      return;
    }
    const before = this.interrupted.get(tid);
    // Rewound to a `syscall` instruction with rax = the syscall number: the call restarts after this.
    const nr = Number(rax);
    const restarting = rax < 512n && this.policies.has(nr) && isSyscallInsn(memory, tid, rip);
    if (!restarting) {
      this.interrupted.delete(tid);
      return;
    }
    const args = [u64(MC.rdi), u64(MC.rsi), u64(MC.rdx), u64(MC.r10), u64(MC.r8), u64(MC.r9)];
    const ip = Number(rip) + 2;
    const slept = before !== undefined && before.nr === nr && before.ip === ip && sameArgs(before.args, args) && before.slept;
    this.interrupted.set(tid, { nr, args, ip, sp: u64(MC.rsp), slept });
  }

  /** The thread is gone: drop its wait from the feature's queues too. */
  forgetThread(tid: number): void {
    const live = this.live.get(tid);
    if (live !== undefined) {
      this.live.delete(tid);
      live.cancel();
    }
    this.interrupted.delete(tid);
    this.cutoff.delete(tid);
  }
}

/**
 * The syscall number a wrapper loads right before the syscall instruction
 * that ends at `rip`: `mov $nr, %eax` (b8 imm32) or `mov $nr, %rax`
 * (48 c7 c0 imm32, as in __restore_rt); null if the code says nothing.
 */
function syscallBefore(memory: TargetMemory, tid: number, rip: bigint): number | null {
  const code = memory.read(tid, Number(rip) - 9, 9);
  if (typeof code === 'number' || code[7] !== 0x0f || code[8] !== 0x05) return null;
  const movEax = code[2] === 0xb8;
  const movRax = code[0] === 0x48 && code[1] === 0xc7 && code[2] === 0xc0;
  if (!movEax && !movRax) return null;
  return new DataView(code.buffer, code.byteOffset + 3, 4).getUint32(0, true);
}

/**
 * Only the first four arguments are compared: every restartable call here
 * takes at most four, and r8/r9 need not survive the signal frame (seen on
 * 6.18: r8 saved in the frame differs from r8 at the restart).
 */
const COMPARED_ARGS = 4;

function isRestartOf(call: Interrupted, n: Notification): boolean {
  if (call.nr !== n.nr || call.ip !== n.ip) return false;
  for (let i = 0; i < COMPARED_ARGS; i++) if (call.args[i] !== n.big(i)) return false;
  if (call.sp === null) return true; // slept < SP_DELAY_MS: nr, ip and arguments decide
  return readStackPointer(n.tid) === call.sp;
}

function sameArgs(a: readonly bigint[], b: readonly bigint[]): boolean {
  for (let i = 0; i < COMPARED_ARGS; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isSyscallInsn(memory: TargetMemory, tid: number, rip: bigint): boolean {
  const code = memory.read(tid, Number(rip), 2);
  return typeof code !== 'number' && code[0] === 0x0f && code[1] === 0x05;
}

/** /proc/TID/syscall: "nr a1 a2 a3 a4 a5 a6 sp pc" in hex while the thread sits in a syscall. */
export function readStackPointer(tid: number): bigint | null {
  try {
    const fields = readFileSync(`/proc/${tid}/syscall`, 'latin1').trim().split(' ');
    return fields.length >= 9 ? BigInt(fields[7]) : null;
  } catch {
    return null;
  }
}
