// BlockedCalls: the notifications a handler left PENDING, one per thread,
// and the detection of their interruption by a signal.
//
// The kernel says nothing to the listener when a waiting task takes a signal:
// the notification just turns invalid. With SA_RESTART (or after
// SIGSTOP/SIGCONT) the call comes back as a *new* notification from the same
// thread with the same nr, arguments, ip and stack pointer. A thread can wait
// in only one syscall, so a new notification from a thread that has a blocked
// one proves the old one is dead. If it is the restart, the feature decides:
// semop answers EINTR (Linux never restarts it); F_SETLKW and flock dispatch
// again, as Linux restarts them. A call made inside the signal handler has a
// lower stack pointer and is dispatched normally.
import { readFileSync } from 'node:fs';
import type { Notification, NotificationRecord } from './notification.js';

export type RestartPolicy = 'eintr' | 'redispatch';

export interface BlockedCall {
  record: NotificationRecord;
  /** Stack pointer at the syscall, from /proc/TID/syscall; null if it could not be read. */
  sp: bigint | null;
  restart: RestartPolicy;
  /** Remove the wait from the feature's queues without answering it. */
  cancel: () => void;
  /** True once the notification is known dead (answer failed or ID_VALID said so). */
  dead: boolean;
}

const EINTR = 4;
/** beforeDispatch result: no opinion, dispatch to the handler. */
export const DISPATCH = -0x40000002;

export class BlockedCalls {
  private readonly byTid = new Map<number, BlockedCall>();

  get size(): number {
    return this.byTid.size;
  }

  block(n: Notification, restart: RestartPolicy, cancel: () => void): BlockedCall {
    const record = n.snapshot();
    const call: BlockedCall = { record, sp: readStackPointer(n.tid), restart, cancel, dead: false };
    this.byTid.set(n.tid, call);
    return call;
  }

  /** The call was answered: forget it. */
  finished(call: BlockedCall): void {
    if (this.byTid.get(call.record.tid) === call) this.byTid.delete(call.record.tid);
  }

  /** The answer could not be delivered: keep the record to recognise the restart. */
  died(call: BlockedCall): void {
    call.dead = true;
  }

  /** Called for every notification before its handler; returns a result or DISPATCH. */
  check(n: Notification): number {
    const call = this.byTid.get(n.tid);
    if (call === undefined) return DISPATCH;
    this.byTid.delete(n.tid);
    if (!call.dead) call.cancel();
    if (!this.isRestartOf(call, n)) return DISPATCH;
    return call.restart === 'eintr' ? -EINTR : DISPATCH;
  }

  forgetThread(tid: number): void {
    this.byTid.delete(tid);
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
