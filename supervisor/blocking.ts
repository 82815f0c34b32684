// BlockedCalls: the notifications a handler left PENDING, one per thread,
// and the detection of their interruption by a signal.
//
// The kernel says nothing to the listener when a waiting task takes a signal:
// the notification just turns invalid and the syscall returns -ERESTARTSYS.
// Then one of three things happens (arch/x86/kernel/signal.c):
//  - a handler with SA_RESTART, or no handler at all (SIGSTOP/SIGCONT): the
//    kernel rewinds ip by 2 and the call comes back as a *new* notification
//    from the same thread with the same nr, arguments, ip and stack pointer;
//  - a handler without SA_RESTART: the call returns EINTR to the program,
//    which may well call again from the same place (a retry loop), giving a
//    notification that looks exactly like a restart.
// The handler's rt_sigreturn tells them apart: the signal frame it pops holds
// the saved rip, rewound (restart) or not (EINTR). So the supervisor notifies
// rt_sigreturn, and only a thread that was interrupted gets its frame read.
// The restart's answer is the feature's: semop answers EINTR (Linux never
// restarts it), F_SETLKW and flock dispatch again. A thread can wait in only
// one syscall, so any new notification from it proves the old one is dead.
import { readFileSync } from 'node:fs';
import type { TargetMemory } from './memory.js';
import type { Notification, NotificationRecord } from './notification.js';

export type RestartPolicy = 'eintr' | 'redispatch';

export interface BlockedCall {
  record: NotificationRecord;
  /** Stack pointer at the syscall, from /proc/TID/syscall; null if it could not be read. */
  sp: bigint | null;
  restart: RestartPolicy;
  /** Remove the wait from the feature's queues without answering it (idempotent). */
  cancel: () => void;
}

const EINTR = 4;
/** beforeDispatch result: no opinion, dispatch to the handler. */
export const DISPATCH = -0x40000002;
export const SYS_RT_SIGRETURN = 15;
/** Offset of the saved rip from the stack pointer at rt_sigreturn: rt_sigframe is at sp-8, uc_mcontext.rip at +176. */
const FRAME_RIP = 168;

export class BlockedCalls {
  private readonly live = new Map<number, BlockedCall>();
  /** Dead calls whose restart may still come. */
  private readonly interrupted = new Map<number, BlockedCall>();

  get size(): number {
    return this.live.size + this.interrupted.size;
  }

  block(n: Notification, restart: RestartPolicy, cancel: () => void): BlockedCall {
    const call: BlockedCall = { record: n.snapshot(), sp: readStackPointer(n.tid), restart, cancel };
    this.live.set(n.tid, call);
    return call;
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
    this.interrupted.set(tid, call);
  }

  /** Called for every notification before its handler; returns a result or DISPATCH. */
  check(n: Notification): number {
    const tid = n.tid;
    const live = this.live.get(tid);
    if (live !== undefined) this.died(live);
    const call = this.interrupted.get(tid);
    if (call === undefined || n.nr === SYS_RT_SIGRETURN || !this.isRestartOf(call, n)) return DISPATCH;
    this.interrupted.delete(tid);
    return call.restart === 'eintr' ? -EINTR : DISPATCH;
  }

  /** A signal handler of this thread returns: learn whether its interrupted call will restart. */
  sigreturn(n: Notification, memory: TargetMemory): void {
    const call = this.interrupted.get(n.tid);
    if (call === undefined) return;
    const sp = readStackPointer(n.tid);
    const rip = sp === null ? null : memory.read(n.tid, Number(sp) + FRAME_RIP, 8);
    if (rip === null || typeof rip === 'number') return;
    const saved = new DataView(rip.buffer, rip.byteOffset, 8).getBigUint64(0, true);
    // Not rewound: the call returned EINTR to the program; a same-looking call later is a new one.
    if (saved !== BigInt(call.record.ip - 2)) this.interrupted.delete(n.tid);
  }

  forgetThread(tid: number): void {
    this.live.delete(tid);
    this.interrupted.delete(tid);
  }

  private isRestartOf(call: BlockedCall, n: Notification): boolean {
    const r = call.record;
    if (r.nr !== n.nr || r.ip !== n.ip) return false;
    for (let i = 0; i < 6; i++) if (r.args[i] !== n.big(i)) return false;
    const sp = readStackPointer(n.tid);
    return sp !== null && sp === call.sp;
  }
}

/** /proc/TID/syscall: "nr a1 a2 a3 a4 a5 a6 sp pc" in hex while the thread sits in a syscall. */
function readStackPointer(tid: number): bigint | null {
  try {
    const fields = readFileSync(`/proc/${tid}/syscall`, 'latin1').trim().split(' ');
    return fields.length >= 9 ? BigInt(fields[7]) : null;
  } catch {
    return null;
  }
}
