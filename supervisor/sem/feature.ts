// System V semaphores at the kernel boundary: decode semget/semop/
// semtimedop/semctl notifications, call the SemRegistry (src/sem holds every
// rule), encode the answer. Also serves /proc/sysvipc/sem and
// /proc/sys/kernel/sem, and applies SEM_UNDO when a process exits.
import { IPC_CREAT, IPC_EXCL, IPC_NOWAIT } from '../../src/sem/constants.js';
import { encodePersisted } from '../../src/sem/persist.js';
import { nr } from '../../src/syscalls/table.js';
import {
  decodeSemidDs,
  decodeSemValues,
  decodeSembuf,
  decodeTimespec,
  encodeSemidDs,
  encodeSeminfo,
  encodeSemValues,
  SEMBUF_SIZE,
  SEMID64_DS_SIZE,
  TIMESPEC_SIZE,
  timespecToNs,
} from '../../src/sem/abi.js';
import { SemRegistry } from '../../src/sem/registry.js';
import { renderSemSysctl, renderSysvipcSem, SYSCTL_WRITE_MAX, writeSemSysctl } from '../../src/sem/proc.js';
import type { SemBuf, SemCaller, SemctlIO, SemidDs, SemInfo } from '../../src/sem/types.js';
import { UndoList } from '../../src/sem/undo.js';
import type { SemWaiter } from '../../src/sem/waiter.js';
import type { BlockedCall } from '../blocking.js';
import { SYS, syscall6 } from '../ffi.js';
import type { FeatureModule, SupervisorContext } from '../features/contract.js';
import { ANSWERED, PENDING } from '../loop/loop.js';
import type { Notification } from '../loop/notification.js';
import type { Credentials } from '../../src/procfs.js';
import { ownPid, type ProcessEntry } from '../processes.js';
import { deliver } from '../deliver.js';
import { flags, hex } from '../trace.js';
import { writeSlot } from '../safe-file.js';
import { KCMP_SYSVSEM } from '../../src/syscalls/constants.js';
import { EFAULT, EINTR, EINVAL } from '../../src/syscalls/errno.js';

const CAP_IPC_OWNER = 1n << 15n;
const CAP_SYS_ADMIN = 1n << 21n;

const SEMCTL_CMDS: Record<number, string> = {
  0: 'IPC_RMID',
  1: 'IPC_SET',
  2: 'IPC_STAT',
  3: 'IPC_INFO',
  11: 'GETPID',
  12: 'GETVAL',
  13: 'GETALL',
  14: 'GETNCNT',
  15: 'GETZCNT',
  16: 'SETVAL',
  17: 'SETALL',
  18: 'SEM_STAT',
  19: 'SEM_INFO',
  20: 'SEM_STAT_ANY',
};
const IPC_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [IPC_CREAT, 'IPC_CREAT'],
  [IPC_EXCL, 'IPC_EXCL'],
  [IPC_NOWAIT, 'IPC_NOWAIT'],
];

/** A waiter's token: null while it is the notification being handled, its BlockedCall once it sleeps. */
type SemToken = BlockedCall | null;

export const semFeature: FeatureModule = {
  name: 'sem',
  emulates: ['semget', 'semop', 'semtimedop', 'semctl'],
  observes: [],
  views: [
    { path: '/proc/sysvipc/sem', mode: 0o444 },
    { path: '/proc/sys/kernel/sem', mode: 0o644 },
  ],
  install(ctx) {
    return new SemFeature(ctx);
  },
};

class SemFeature {
  readonly name = 'sem';
  private readonly registry: SemRegistry<SemToken>;
  private readonly sops: SemBuf[] = [];
  private readonly io: NotificationIO;
  /** The caller of the call being handled, filled in place: the registry keeps none of it. */
  private readonly who: SemCaller = { pid: 0, uid: 0, gid: 0, groups: [], isRoot: false };
  /** The credentials whose isRoot was computed last (a bigint test that allocates). */
  private rootCreds: Credentials | null = null;
  private rootOf = false;
  /** Undoes the success the registry left to us to deliver (deferImmediate), if the answer is lost. */
  private readonly undoDeferred = () => this.registry.undeliverable();

  constructor(private readonly ctx: SupervisorContext) {
    const { loop } = ctx;
    this.registry = new SemRegistry<SemToken>(
      ctx.config.sem,
      {
        isAlive: (w) => (w.token === null ? loop.currentValid() : loop.isValid(w.token.record.id)),
        complete: (w, result) => this.complete(w, result),
        deferImmediate: true,
      },
      {
        monoNs: () => process.hrtime.bigint(),
        realSec: () => Math.floor(Date.now() / 1000),
      },
    );
    this.registry.restore(ctx.config.persist.restore);
    this.io = new NotificationIO(ctx);
    loop.on(nr('semget'), (n) => this.semget(n));
    loop.on(nr('semop'), (n) => this.semop(n, false));
    loop.on(nr('semtimedop'), (n) => this.semop(n, true));
    loop.readAheadFor(nr('semop'), 1, 2, SEMBUF_SIZE);
    loop.readAheadFor(nr('semtimedop'), 1, 2, SEMBUF_SIZE);
    ctx.blocked.setPolicy(nr('semop'), 'eintr');
    ctx.blocked.setPolicy(nr('semtimedop'), 'eintr');
    loop.on(nr('semctl'), (n) => this.semctl(n));
    ctx.processes.onExit((p) => this.exited(p));
    ctx.processes.onNew((p, parent) => this.adoptUndo(p, parent));
    ctx.files.register('/proc/sysvipc/sem', { render: () => renderSysvipcSem(this.registry.list()) });
    ctx.files.register('/proc/sys/kernel/sem', {
      render: () => renderSemSysctl(this.registry.getLimits()),
      writer: {
        keep: SYSCTL_WRITE_MAX,
        // procfs sysctl files are 0644 root: writing needs the owner (fsuid 0) or CAP_DAC_OVERRIDE.
        mayOpen: (c) => c.euid === 0 || (c.capEff & 2n) !== 0n,
        // The manifest's [sem] values are ceilings: root inside may lower them and raise them back, no further.
        apply: (bytes) => {
          writeSemSysctl(this.registry, bytes, 0, ctx.config.sem);
        },
        writeAt: (data, pos) => writeSemSysctl(this.registry, data, pos, ctx.config.sem),
      },
    });
    if (ctx.tracer) this.decodeForTrace(ctx);
  }

  nextDeadline(): number {
    const next = this.registry.nextDeadline();
    if (next === null) return Infinity;
    return performance.now() + Number(next - process.hrtime.bigint()) / 1e6;
  }

  onTimer(): void {
    this.registry.expire();
  }

  /** The registry's state, each sleeper with its thread, since when it sleeps and its deadline (epoch ms). */
  snapshot(): unknown {
    const nowNs = process.hrtime.bigint();
    const epoch = Date.now();
    return this.registry.snapshot((w) =>
      w.token === null
        ? null
        : {
            tid: w.token.record.tid,
            since: performance.timeOrigin + w.token.since,
            deadline: w.deadline === null ? null : epoch + Number(w.deadline - nowNs) / 1e6,
          },
    );
  }

  usage(): Readonly<Record<string, number>> {
    return this.registry.usage();
  }

  /** [ipc] persist: write the sets for the next run, atomically and durably (a crash leaves the old file or the new one). */
  shutdown(): void {
    const slot = this.ctx.config.persist.slot;
    if (slot === null) return;
    try {
      writeSlot(slot, encodePersisted(this.registry.snapshot()), 'replace');
    } catch (err) {
      process.stderr.write(`sysvisor: could not save semaphores ([ipc] persist): ${(err as Error).message}\n`);
    }
  }

  /** The caller's process, with `who` filled in for it; null if it is gone. */
  private caller(n: Notification): ProcessEntry | null {
    const process = this.ctx.processes.processOf(n.tid);
    const creds = this.ctx.processes.credentials(n.tid);
    if (process === null || creds === null) return null;
    if (creds !== this.rootCreds) {
      this.rootCreds = creds;
      this.rootOf = (creds.capEff & (CAP_IPC_OWNER | CAP_SYS_ADMIN)) === (CAP_IPC_OWNER | CAP_SYS_ADMIN);
    }
    const who = this.who;
    who.pid = process.tgid;
    who.sempid = ownPid(process);
    who.uid = creds.euid;
    who.gid = creds.egid;
    who.groups = creds.groups;
    who.isRoot = this.rootOf;
    return process;
  }

  private semget(n: Notification): number {
    if (this.ctx.files.pendingWrites > 0) this.ctx.files.flush();
    if (this.caller(n) === null) return -EINVAL;
    return this.registry.semget(this.who, n.int(0), n.int(1), n.int(2));
  }

  /** ksys_semtimedop's order: timeout copied (EFAULT), nsops checks, sops copied (EFAULT), timeout checked (EINVAL). */
  private semop(n: Notification, timed: boolean): number {
    const { memory } = this.ctx;
    const semid = n.int(0);
    const nsops = n.uint(2);
    let timeoutNs: bigint | null = null;
    let timeoutBad = false;
    if (timed && n.u64(3) !== 0) {
      const ts = memory.read(n.tid, n.u64(3), TIMESPEC_SIZE);
      if (typeof ts === 'number') return -EFAULT;
      timeoutNs = timespecToNs(decodeTimespec(ts));
      timeoutBad = timeoutNs === null;
    }
    const bad = this.registry.checkSemop(nsops);
    if (bad < 0) return bad;
    const bytes = this.ctx.loop.readAhead(nsops * SEMBUF_SIZE) ?? memory.read(n.tid, n.u64(1), nsops * SEMBUF_SIZE);
    if (typeof bytes === 'number') return -EFAULT;
    if (timeoutBad) return -EINVAL;
    const sops = this.sops;
    if (sops.length !== nsops) sops.length = nsops; // a runtime call even when unchanged
    for (let i = 0; i < nsops; i++) sops[i] = decodeSembuf(bytes, i * SEMBUF_SIZE, sops[i] ?? { num: 0, op: 0, flg: 0 });
    const process = this.caller(n);
    if (process === null) return -EINVAL;
    // A restarted call that a signal cut off before it could sleep must not sleep now: the signal "interrupted" it.
    const mayBlock = !this.ctx.blocked.restartWithoutSleep;
    this.ctx.blocked.restartWithoutSleep = false;
    const r = this.registry.semop(this.who, this.undoList(process), semid, sops, timeoutNs, null);
    if (typeof r === 'number') {
      if (r === 0) this.ctx.loop.onUndelivered(this.undoDeferred);
      return r;
    }
    if (r.state !== 'queued') return ANSWERED; // answered inline by complete(), or the task is gone
    if (!mayBlock) {
      this.registry.cancel(r);
      return -EINTR;
    }
    r.token = this.ctx.blocked.block(n, () => this.registry.cancel(r));
    return PENDING;
  }

  /** Deliver a semop result: now for the notification being handled, later for a sleeper. */
  private complete(w: SemWaiter<SemToken>, result: number): boolean {
    return deliver(this.ctx, w.token, result);
  }

  private semctl(n: Notification): number {
    const cmd = n.int(2);
    if (this.ctx.files.pendingWrites > 0) this.ctx.files.flush();
    if (this.caller(n) === null) return -EINVAL;
    this.io.bind(n);
    return this.registry.semctl(this.who, n.int(0), n.int(1), cmd, n.int(3), this.io);
  }

  private undoList(p: ProcessEntry): UndoList {
    let list = p.state.semUndo;
    if (list === undefined) {
      list = new UndoList(p.tgid);
      p.state.semUndo = list;
    }
    return list;
  }

  /**
   * fork gives a child no undo list; clone(CLONE_SYSVSEM) shares the parent's.
   * The kernel knows which: it shares its own (unused) undo list the same
   * way, and kcmp(KCMP_SYSVSEM) compares them. Two NULL lists compare equal,
   * so the child must first differ from a process known to have none.
   */
  private adoptUndo(p: ProcessEntry, parent: ProcessEntry | null): void {
    const reference = this.ctx.config.undoReferencePid;
    if (parent === null || reference === 0) return;
    const kcmp = (a: number, b: number) => syscall6(SYS.kcmp, a, b, KCMP_SYSVSEM, 0, 0, 0);
    if (kcmp(p.tgid, reference) === 0) return; // no kernel list: a fork
    if (parent.tgid !== p.ppid) {
      // An orphan found for its exiting parent, whose list the kernel already dropped:
      // it shares that one unless it shares with the process it was reparented to.
      if (kcmp(p.tgid, p.ppid) === 0) return;
    } else if (kcmp(p.tgid, parent.tgid) !== 0) {
      return;
    }
    p.state.semUndo = this.undoList(parent).share();
  }

  private exited(p: ProcessEntry): void {
    this.registry.forgetUser(p.tgid);
    const list = p.state.semUndo;
    if (list !== undefined) this.registry.exitUndo(list, ownPid(p));
  }

  private decodeForTrace(ctx: SupervisorContext): void {
    const t = ctx.tracer!;
    t.decodeWith(
      nr('semget'),
      (a) => `${a.int(0) === 0 ? 'IPC_PRIVATE' : hex(a.int(0) >>> 0)}, ${a.int(1)}, ${flags(a.int(2), IPC_FLAGS)}`,
    );
    t.decodeWith(nr('semop'), (a) => `${a.int(0)}, ${hex(a.u64(1))}, ${a.u64(2) % 4294967296}`);
    t.decodeWith(
      nr('semtimedop'),
      (a) => `${a.int(0)}, ${hex(a.u64(1))}, ${a.u64(2) % 4294967296}, ${a.u64(3) === 0 ? 'NULL' : hex(a.u64(3))}`,
    );
    t.decodeWith(nr('semctl'), (a) => `${a.int(0)}, ${a.int(1)}, ${SEMCTL_CMDS[a.int(2)] ?? a.int(2)}, ${hex(a.u64(3))}`);
  }
}

/** semctl's pointer argument, read and written in the caller's memory. */
class NotificationIO implements SemctlIO {
  private tid = 0;
  private addr = 0;

  constructor(private readonly ctx: SupervisorContext) {}

  bind(n: Notification): void {
    this.tid = n.tid;
    this.addr = n.u64(3);
  }

  writeSeminfo(info: SemInfo): number {
    return this.write(encodeSeminfo(info));
  }

  writeSemid(ds: SemidDs): number {
    return this.write(encodeSemidDs(ds));
  }

  readSemid(): SemidDs | number {
    const b = this.read(SEMID64_DS_SIZE);
    return typeof b === 'number' ? b : decodeSemidDs(b);
  }

  writeValues(values: Uint16Array): number {
    return this.write(encodeSemValues(values));
  }

  readValues(nsems: number): ArrayLike<number> | number {
    const b = this.read(2 * nsems);
    return typeof b === 'number' ? b : decodeSemValues(b, nsems);
  }

  private write(bytes: Uint8Array): number {
    return this.ctx.memory.write(this.tid, this.addr, bytes) < 0 ? -EFAULT : 0;
  }

  /** What was read commits state: make sure it was read from the caller still waiting (TOCTOU). */
  private read(len: number): Uint8Array | number {
    const b = this.ctx.memory.read(this.tid, this.addr, len);
    if (typeof b === 'number') return -EFAULT;
    return this.ctx.loop.currentValid() ? b : -EINTR;
  }
}
