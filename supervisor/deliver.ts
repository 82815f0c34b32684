// The one path by which a result reaches a caller from inside the registries'
// hooks: at once, for the notification being handled, or later, for a call
// that slept (BlockedCalls). Both features (sem, locks) answer through it.
import { EINTR } from '../src/syscalls/errno.js';
import type { BlockedCall } from './blocking.js';
import type { SupervisorContext } from './features/contract.js';

/**
 * Deliver `result` (a value, or -errno) to the caller of `call`, or, when
 * `call` is null, to the notification being handled now (its handler then
 * returns ANSWERED). False when the caller no longer waits (a signal took it
 * away): what was committed for this answer must be undone by the caller.
 */
export function deliver(ctx: Pick<SupervisorContext, 'loop' | 'blocked' | 'tracer'>, call: BlockedCall | null, result: number): boolean {
  if (call === null) return ctx.loop.answerNow(result);
  const delivered = ctx.loop.reply(call.record.id, result);
  if (delivered) ctx.blocked.finished(call);
  else ctx.blocked.died(call);
  ctx.tracer?.resumed(call.record, delivered ? result : -EINTR);
  return delivered;
}
