// File locks at the kernel boundary: the feature that ties the lock calls
// (calls.ts: fcntl and flock), their release when Linux would (release.ts:
// exit, close, close_range, dup2/dup3, exec), the F_GETLK answers a signal
// dropped (dropped-getlk.ts) and the --trace decoders (trace-decoders.ts)
// to the loop, and serves /proc/locks.
//
// Host coherence ([locks] host = "coherent", host.ts): the registry
// shows every change of an owner's locks to the host first (its host hook),
// on a host description per owner; a host lock in the way refuses the
// request or holds it back on a helper thread.
//
// A trapped call can be cut off by a signal (see supervisor/blocking.ts,
// which makes close/dup2/... run again). fcntl and flock have a restart
// policy for the calls that wait, so the commands and operations that do not
// wait (F_SETLK, F_GETLK, F_GETFL, ..., LOCK_NB, LOCK_UN) are registered as
// repairable: Linux never fails them with EINTR. F_SETLKW, F_OFD_SETLKW and a
// waiting flock keep their EINTR, as on Linux. One case is this feature's
// own: an F_GETLK answered (its struct written) whose answer the kernel
// dropped is completed from the signal frame at rt_sigreturn.
import { nr } from '../../src/syscalls/table.js';
import { LockRegistry } from '../../src/locks/index.js';
import { F_GETLK, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETLK, F_SETLKW, LOCK_NB, LOCK_UN } from '../../src/syscalls/constants.js';
import { SYS_RT_SIGRETURN } from '../blocking.js';
import type { FeatureModule, SupervisorContext } from '../features/contract.js';
import { CONTINUE } from '../loop/loop.js';
import { NativeRule } from '../loop/native-rules.js';
import type { ProcessEntry } from '../processes.js';
import { DescriptionTable, TargetFds } from '../fds.js';
import { LockCalls } from './calls.js';
import { DroppedGetlks } from './dropped-getlk.js';
import { HostLocks } from './host.js';
import { PosixOwners } from './owners.js';
import { LockRelease } from './release.js';
import type { LockTables, LockToken } from './state.js';
import { decodeLockCalls } from './trace-decoders.js';

const EXACT_OBSERVES = ['close', 'close_range', 'dup2', 'dup3', 'execve', 'execveat'] as const;

export const locksFeature: FeatureModule = {
  name: 'locks',
  emulates: ['fcntl', 'flock'],
  // rt_sigreturn repairs calls a signal cut off.
  observes: ['rt_sigreturn'],
  views: [{ path: '/proc/locks', mode: 0o444 }],
  observesWith: (settings) => (settings.locks.mode === 'exact' ? EXACT_OBSERVES : []),
  // F_GETFL, F_SETFD, F_DUPFD... never leave the kernel: only the lock commands are notified.
  observesIf: [{ name: 'fcntl', arg: 1, values: [F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW] }],
  install(ctx, enabled) {
    return new LockFeature(ctx, enabled);
  },
};

class LockFeature {
  readonly name = 'locks';
  private readonly t: LockTables;
  private readonly calls: LockCalls;
  private readonly release: LockRelease;
  private readonly getlks: DroppedGetlks;

  constructor(ctx: SupervisorContext, enabled: ReadonlySet<string>) {
    const { loop } = ctx;
    const exact = ctx.config.locks.mode === 'exact';
    this.getlks = new DroppedGetlks(loop.native, ctx.memory);
    const fds = new TargetFds();
    const descs = new DescriptionTable(fds, ctx.budget.locks);
    const owners = new PosixOwners(ctx.processes);
    const host = ctx.config.locks.host === 'coherent' ? new HostLocks<LockToken>(loop, descs, () => registry, ctx.tracer) : null;
    const registry: LockRegistry<LockToken> = new LockRegistry<LockToken>(
      {
        isAlive: (w) => this.calls.isAlive(w),
        complete: (w, result) => this.calls.complete(w, result),
        ...(host === null
          ? {}
          : {
              host: (change, force) => host.apply(change, force),
              hostWait: (w) => host.wait(w),
              hostCancel: (w) => host.cancel(w),
            }),
      },
      ctx.config.locks.max,
    );
    this.t = { registry, fds, descs, owners, host, exact };
    this.release = new LockRelease(ctx, this.t);
    this.calls = new LockCalls(ctx, this.t, this.release, this.getlks);
    if (enabled.has('fcntl')) {
      loop.on(nr('fcntl'), (n) => this.calls.fcntl(n));
      ctx.blocked.setPolicy(nr('fcntl'), 'redispatch');
      ctx.blocked.setRepair(nr('fcntl'), (a) => Number(a[1] & 0xffffffffn) !== F_SETLKW && Number(a[1] & 0xffffffffn) !== F_OFD_SETLKW);
    }
    if (enabled.has('flock')) {
      loop.on(nr('flock'), (n) => this.calls.flock(n));
      ctx.blocked.setPolicy(nr('flock'), 'redispatch');
      ctx.blocked.setRepair(nr('flock'), (a) => (Number(a[1] & 0xffffffffn) & (LOCK_NB | LOCK_UN)) !== 0);
    }
    if (exact) {
      const release = this.release;
      loop.on(nr('close'), (n) => release.close(n));
      loop.on(nr('close_range'), (n) => release.closeRange(n));
      loop.on(nr('dup2'), (n) => release.dup2(n, n.int(0), n.int(1), 0));
      loop.on(nr('dup3'), (n) => release.dup2(n, n.int(0), n.int(1), n.int(2)));
      loop.on(nr('execve'), (n) => release.execve(n));
      loop.on(nr('execveat'), (n) => release.execve(n));
      for (const name of ['close', 'close_range', 'dup2', 'dup3']) loop.decideNatively(nr(name), NativeRule.Close);
    }
    const next = loop.handlerOf(SYS_RT_SIGRETURN);
    loop.on(SYS_RT_SIGRETURN, (n) => {
      this.getlks.completeDroppedGetlk(n);
      return next === undefined ? CONTINUE : next(n);
    });
    // A thread with an F_GETLK answer to complete is watched (DroppedGetlks): the rest is BlockedCalls' rule.
    loop.decideNatively(SYS_RT_SIGRETURN, NativeRule.Sigreturn);
    ctx.processes.onExit((p) => this.exited(p));
    // The sandbox's /proc is that of its PID namespace, one level down, when it has one.
    const procLevel = ctx.config.init === 0 ? 0 : 1;
    ctx.files.register('/proc/locks', {
      render: () => {
        this.release.settlePendingExecs();
        this.calls.prune();
        return registry.procLocks((pid) => ctx.processes.pidIn(pid, procLevel));
      },
    });
    if (ctx.tracer) decodeLockCalls(ctx.tracer);
  }

  nextDeadline(): number {
    const host = this.t.host === null ? Infinity : this.t.host.nextDeadline();
    return Math.min(host, this.release.nextDeadline());
  }

  onTimer(): void {
    this.t.host?.onTimer();
    this.release.onTimer();
  }

  usage(): Readonly<Record<string, number>> {
    return { lockRecords: this.t.registry.records };
  }

  /**
   * The registry's state, each blocked request with its thread and since when
   * it waits; a description some request waits on lists the processes
   * holding an fd to it (who could release its OFD or flock locks).
   */
  snapshot(): unknown {
    const { descs, host } = this.t;
    this.release.settlePendingExecs();
    this.calls.prune();
    const registry = this.t.registry.snapshot((w) =>
      w.token.blocked === null
        ? null
        : {
            tid: w.token.blocked.record.tid,
            since: performance.timeOrigin + w.token.blocked.since,
          },
    );
    const awaited = new Set(registry.waiters.flatMap((w) => [...w.blockers, ...(w.behind ? [w.behind] : [])]).map((n) => n.desc));
    return {
      mode: this.t.exact ? 'exact' : 'fast',
      ...registry,
      descriptions: [...descs.all()].map((d) => ({
        id: d.id,
        file: `${d.file.major}:${d.file.minor}:${d.file.ino}`,
        ...(awaited.has(String(d.id)) ? { holders: descs.holders(d) } : {}),
      })),
      sleeping: this.calls.sleeping,
      pendingExecs: this.release.pendingExecs,
      host: host === null ? { mode: 'isolated' } : host.snapshot(),
      restartedAfterSignal: this.getlks.restarted,
    };
  }

  private exited(p: ProcessEntry): void {
    this.calls.exited(p);
    this.getlks.forget(p);
    this.release.exited(p);
  }
}
