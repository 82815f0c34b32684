// An F_GETLK answered whose answer the kernel dropped. The supervisor writes
// the caller's struct flock and answers; if a signal wakes the caller at the
// same moment, the kernel may drop an answer SEND accepted, and the frame the
// handler returns through says EINTR, or a restart (SA_RESTART). At
// rt_sigreturn the call is completed from that frame with the answer given,
// instead of failing or running again (the generic restart of cut-off calls
// is BlockedCalls', supervisor/blocking.ts).
import { frameRegs, MINUS_EINTR, returning, SC, SIGCONTEXT_OFFSET, SIGCONTEXT_SIZE } from '../../src/signals/frame.js';
import { F_GETLK, F_OFD_GETLK } from '../../src/syscalls/constants.js';
import { nr } from '../../src/syscalls/table.js';
import type { TargetMemory } from '../memory.js';
import { type NativeRules, TidMap } from '../loop/native-rules.js';
import type { Notification } from '../loop/notification.js';
import type { ProcessEntry } from '../processes.js';
import { readStackPointer } from '../procfs.js';

const NR_FCNTL = nr('fcntl');

export class DroppedGetlks {
  /** Calls cut off by a signal that were completed from the frame. */
  private completed = 0;
  /** The last F_GETLK/F_OFD_GETLK answered per thread: where it returns to and its struct's address. */
  private readonly answered: TidMap<{ ip: number; ptr: number }>;

  constructor(
    native: NativeRules,
    private readonly memory: TargetMemory,
  ) {
    this.answered = new TidMap(native);
  }

  get restarted(): number {
    return this.completed;
  }

  /** Thread `tid` was answered an F_GETLK at `ip` whose struct is at `ptr`. */
  remember(tid: number, ip: number, ptr: number): void {
    this.answered.set(tid, { ip, ptr });
  }

  forget(p: ProcessEntry): void {
    for (const tid of p.threads) this.answered.delete(tid);
  }

  /** rt_sigreturn: complete the thread's dropped F_GETLK, if the frame holds one. */
  completeDroppedGetlk(n: Notification): void {
    const { memory } = this;
    const answered = this.answered.get(n.tid);
    if (answered === undefined) return;
    this.answered.delete(n.tid);
    const stack = readStackPointer(n.tid);
    if (stack === null) return;
    const at = Number(stack) + SIGCONTEXT_OFFSET;
    const sc = memory.read(n.tid, at, SIGCONTEXT_SIZE);
    if (typeof sc === 'number') return;
    const regs = frameRegs(sc);
    const cmd = Number(regs.args[1] & 0xffffffffn);
    const rip = Number(regs.rip);
    // An F_GETLK we answered (its struct is written) whose answer the kernel dropped because a signal woke
    // the caller at the same moment: the frame says EINTR, or a restart (SA_RESTART). Complete it instead.
    if (
      Number(regs.args[2]) === answered.ptr &&
      (cmd === F_GETLK || cmd === F_OFD_GETLK) &&
      ((regs.rax === MINUS_EINTR && rip === answered.ip) || (regs.rax === BigInt(NR_FCNTL) && rip === answered.ip - 2))
    ) {
      if (memory.write(n.tid, at + SC.rax, returning(sc, answered.ip, 0n)) === 0) this.completed++;
    }
  }
}
