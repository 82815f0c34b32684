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
import { readStackPointer } from './procfs.js';
import {
  frameRegs,
  frameVerdict,
  isSyscallInstruction,
  type RestartRules,
  rewound,
  sameArgs,
  SC,
  SIGCONTEXT_OFFSET,
  SIGCONTEXT_SIZE,
  syscallNumberBefore,
} from '../src/signals/frame.js';
import type { TargetMemory } from './memory.js';
import { DISPATCH } from './loop/loop.js';
import { type NativeRules, TidMap } from './loop/native-rules.js';
import type { Notification, NotificationRecord } from './loop/notification.js';
import { EINTR } from '../src/syscalls/errno.js';

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

const SP_DELAY_MS = 1;
export const SYS_RT_SIGRETURN = 15;

export class BlockedCalls {
  // Threads present in these maps are watched: the native step leaves all their calls to JS.
  private readonly live: TidMap<BlockedCall>;
  private readonly interrupted: TidMap<Interrupted>;
  private readonly policies = new Map<number, RestartPolicy>();
  /** Notified calls that are never interrupted on Linux (every notified nr without a policy). */
  private readonly transparent = new Set<number>();
  /** Calls Linux interrupts only with some arguments (fcntl F_SETLKW, a waiting flock): restarted unless these say it waits. */
  private readonly repairs = new Map<number, (args: readonly bigint[]) => boolean>();
  /** Per thread: a call whose answer could not be delivered (the thread took a signal). */
  private readonly cutoff: TidMap<{ nr: number; ip: number }>;
  /** Sleepers whose stack pointer is not read yet, oldest first. */
  private readonly unread: BlockedCall[] = [];
  /** True while a restarted call that had not slept is dispatched: it must not sleep now. */
  restartWithoutSleep = false;

  /** The frame verdict's view of the policies above. */
  private readonly rules: RestartRules = {
    neverInterrupted: (nr) => this.transparent.has(nr),
    mayWait: (nr) => this.policies.has(nr),
    neverWaitsWith: (nr, args) => this.repairs.get(nr)?.(args) ?? false,
  };

  constructor(private readonly native: NativeRules) {
    this.live = new TidMap(native);
    this.interrupted = new TidMap(native);
    this.cutoff = new TidMap(native);
  }

  /** How restarts of syscall `nr` are answered (features that block declare it). */
  setPolicy(nr: number, policy: RestartPolicy): void {
    this.policies.set(nr, policy);
    this.native.restartsMatter(nr);
  }

  /**
   * `nr` has a restart policy for the calls that wait, but Linux never
   * interrupts it when `neverWaits(args)`: such a call cut off by a signal is
   * made to run again like a transparent one.
   */
  setRepair(nr: number, neverWaits: (args: readonly bigint[]) => boolean): void {
    this.repairs.set(nr, neverWaits);
  }

  /**
   * The syscall numbers the filter notifies; those without a restart policy
   * are made to restart. rt_sigreturn too: in a storm the next signal can
   * cut it off, and its handler then returns to the frame of the call that
   * never ran.
   */
  setNotified(nrs: Iterable<number>): void {
    for (const nr of nrs) {
      if (this.policies.has(nr)) continue;
      this.transparent.add(nr);
      this.native.neverInterrupted(nr);
    }
  }

  /** The answer to `n` (not a sleeper's) could not be delivered: a signal cut it off. */
  undelivered(n: Notification): void {
    // Not rt_sigreturn: its trampoline loads the number right before the syscall, so
    // the frame alone says what to repair, and the native step does it without JS.
    if (this.transparent.has(n.nr) && n.nr !== SYS_RT_SIGRETURN) this.cutoff.set(n.tid, { nr: n.nr, ip: n.ip });
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
    const sc = sp === null ? null : memory.read(tid, Number(sp) + SIGCONTEXT_OFFSET, SIGCONTEXT_SIZE);
    if (sc === null || typeof sc === 'number') return;
    const regs = frameRegs(sc);
    const cut = this.cutoff.get(tid);
    this.cutoff.delete(tid);
    const before = this.interrupted.get(tid);
    this.interrupted.delete(tid);
    const nrAt = () => {
      if (cut !== undefined && cut.ip === Number(regs.rip)) return cut.nr;
      const code = memory.read(tid, Number(regs.rip) - 9, 9);
      return typeof code === 'number' ? null : syscallNumberBefore(code);
    };
    const atSyscall = () => {
      const code = memory.read(tid, Number(regs.rip), 2);
      return typeof code !== 'number' && isSyscallInstruction(code);
    };
    const verdict = frameVerdict(regs, this.rules, before, nrAt, atSyscall);
    if (verdict.kind === 'rewind') {
      const written = memory.write(tid, Number(sp) + SIGCONTEXT_OFFSET + SC.rax, rewound(sc, verdict.nr)) === 0;
      if (written && verdict.restartWithoutSleep) {
        this.interrupted.set(tid, { nr: verdict.nr, args: regs.args, ip: Number(regs.rip), sp: regs.rsp, slept: false });
      }
    } else if (verdict.kind === 'restart') {
      this.interrupted.set(tid, { nr: verdict.nr, args: regs.args, ip: verdict.ip, sp: regs.rsp, slept: verdict.slept });
    }
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

function isRestartOf(call: Interrupted, n: Notification): boolean {
  if (call.nr !== n.nr || call.ip !== n.ip) return false;
  if (!sameArgs(call.args, [n.big(0), n.big(1), n.big(2), n.big(3)])) return false;
  if (call.sp === null) return true; // slept < SP_DELAY_MS: nr, ip and arguments decide
  return readStackPointer(n.tid) === call.sp;
}
