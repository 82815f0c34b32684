// The one path a result takes to its caller (supervisor/deliver.ts): at once
// for the notification being handled, or late for a sleeper, and what each
// outcome leaves behind (BlockedCalls told, the trace line written).
import t from 'tap';
import { EAGAIN, EINTR } from '../../src/syscalls/errno.js';
import type { BlockedCall } from '../../supervisor/blocking.js';
import { deliver } from '../../supervisor/deliver.js';
import type { NotificationRecord } from '../../supervisor/loop/notification.js';

/** A context whose loop answers as told and which records every effect. */
function fake(sendSucceeds: boolean) {
  const log: string[] = [];
  const ctx = {
    loop: {
      answerNow: (result: number) => (log.push(`now ${result}`), sendSucceeds),
      reply: (id: bigint, result: number) => (log.push(`reply ${id} ${result}`), sendSucceeds),
    },
    blocked: {
      finished: (call: BlockedCall) => log.push(`finished ${call.record.id}`),
      died: (call: BlockedCall) => log.push(`died ${call.record.id}`),
    },
    tracer: { resumed: (rec: NotificationRecord, result: number) => log.push(`trace ${rec.id} ${result}`) },
  };
  return { ctx: ctx as unknown as Parameters<typeof deliver>[0], log };
}

const call = (id: bigint): BlockedCall => ({
  record: { id, tid: 100, nr: 65, ip: 0x401000, args: [] },
  sp: null,
  since: 0,
  cancel: () => {},
});

t.test('no sleeper: the notification being handled is answered now, nothing else is touched', async (t) => {
  const ok = fake(true);
  t.equal(deliver(ok.ctx, null, 0), true);
  t.same(ok.log, ['now 0']);
  const gone = fake(false);
  t.equal(deliver(gone.ctx, null, -EAGAIN), false, 'the caller no longer waits: the hook reports it');
  t.same(gone.log, [`now ${-EAGAIN}`]);
});

t.test('a sleeper answered later: replied by id, finished, traced with its result', async (t) => {
  const { ctx, log } = fake(true);
  t.equal(deliver(ctx, call(7n), -EAGAIN), true);
  t.same(log, [`reply 7 ${-EAGAIN}`, 'finished 7', `trace 7 ${-EAGAIN}`]);
});

t.test('a sleeper a signal took away: the call died, the trace says EINTR, false tells the registry to undo', async (t) => {
  const { ctx, log } = fake(false);
  t.equal(deliver(ctx, call(9n), 0), false);
  t.same(log, ['reply 9 0', 'died 9', `trace 9 ${-EINTR}`]);
});

t.test('without a tracer nothing is traced', async (t) => {
  const { ctx, log } = fake(true);
  t.equal(deliver({ ...ctx, tracer: null }, call(3n), 5), true);
  t.same(log, ['reply 3 5', 'finished 3']);
});
