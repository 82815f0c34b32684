// What a handler module (a "feature": semaphores, locks, lifecycle) gets from
// the supervisor, and what it gives back. Features are installed in the loop's
// thread; every rule lives in src/, a feature only decodes and encodes.
import type { ArgTest } from '../../src/bpf/build.js';
import type { LockHost, LockMode, ProcViews } from '../../src/manifest/types.js';
import type { PersistedSet } from '../../src/sem/persist.js';
import type { BlockedCalls } from '../blocking.js';
import type { FdBudget } from '../fd-budget.js';
import type { NotificationLoop } from '../loop/loop.js';
import type { TargetMemory } from '../memory.js';
import type { ProcessTable } from '../processes.js';
import type { FileSlot } from '../safe-file.js';
import type { TraceOptions, Tracer } from '../trace.js';
import type { VirtualFiles } from '../virtual-files.js';
import type { WatchdogConfig } from '../watchdog.js';

/** The part of the manifest the loop's thread needs (plain data: it crosses a worker boundary). */
export interface WorkerConfig {
  listenerFd: number;
  controlFd: number;
  /** The sandbox's pid 1 (host pid), the reaper of its orphans; 0 without a PID namespace of its own. */
  init: number;
  /** Syscall names the manifest asks to emulate. */
  emulate: string[];
  /** Every syscall name the filter notifies (emulated and observed). */
  notified: string[];
  sem: { semmsl: number; semmns: number; semopm: number; semmni: number };
  /** A process of ours that has no kernel SysV undo list, to tell NULL lists apart with kcmp; 0 if none. */
  undoReferencePid: number;
  /** [ipc] persist: where semaphores are saved at exit (null = nowhere), and the sets restored from it. */
  persist: { slot: FileSlot | null; restore: PersistedSet[] };
  /** File locks: "exact" also watches close/dup2/exec to release POSIX locks as Linux does; "coherent" mirrors them onto the host. */
  locks: { mode: LockMode; host: LockHost; max: number };
  /** [process] max: processes the sandbox may hold at once. */
  process: { max: number };
  /** [exec]: files pinned by sha256 (path as listed, hex digest) and whether nothing else may be executed. */
  exec: { trusted: Array<[string, string]>; onlyTrusted: boolean };
  trace: TraceOptions | null;
  /** [watchdog]: the stall threshold (0 = off), the action, where to dump the state at a stall. */
  watchdog: WatchdogConfig;
  /** The [proc] views mounted in the sandbox: our /dev/fuse fd of each, and the st_dev of the mounts ("major:minor"). */
  views: { mounted: Array<{ fd: number; path: string; mode: number }>; devices: string[] };
  /** Record what the program opens, executes and uses (`sysvisor learn`). */
  learn: boolean;
}

export interface SupervisorContext {
  loop: NotificationLoop;
  memory: TargetMemory;
  processes: ProcessTable;
  blocked: BlockedCalls;
  tracer: Tracer | null;
  files: VirtualFiles;
  config: WorkerConfig;
  /** Bounds on the fds the program can make the supervisor hold. */
  budget: FdBudget;
}

export interface Feature {
  readonly name: string;
  /** Absolute time (performance.now() ms) of the next timeout, or Infinity. */
  nextDeadline?(): number;
  onTimer?(): void;
  /** JSON-serialisable state for --dump-state. */
  snapshot?(): unknown;
  /** What it holds now, by name (sets, semaphores, lock records): a learning run keeps the peaks. */
  usage?(): Readonly<Partial<Record<string, number>>>;
  /** The sandbox is over (every task gone): save what outlives it. Errors are reported, not thrown. */
  shutdown?(): void;
}

/** The manifest settings that change which syscalls a feature observes. */
export interface FeatureSettings {
  locks: { mode: LockMode };
  /** [proc] views: the open family is observed for "notify" (and "auto", until the views are known to be mounted). */
  proc?: { views: ProcViews };
  /** [exec]: execve/execveat are observed only when there is something to check. */
  exec?: { trusted: ReadonlyMap<string, string>; onlyTrusted: boolean };
}

/** A /proc file whose truth is the supervisor's (registered with VirtualFiles under `path`). */
export interface ProcView {
  path: string;
  /** Its permission bits, as procfs has them. */
  mode: number;
}

/** A syscall observed (or emulated) only under an argument test. */
export type ArgCondition = ArgTest & { name: string };

/** A feature module: the syscalls it can emulate and how to install it. */
export interface FeatureModule {
  readonly name: string;
  /** Syscalls a manifest may list under syscalls.emulate for this feature. */
  readonly emulates: readonly string[];
  /** Syscalls the supervisor must always see for bookkeeping while the feature is on. */
  readonly observes: readonly string[];
  /** More syscalls to observe depending on the manifest's settings (locks.mode "exact": close, dup2, ...). */
  observesWith?(settings: FeatureSettings): readonly string[];
  /**
   * Syscalls notified only under an argument test (checked in BPF: the rest
   * never leave the kernel), whether observed or emulated.
   */
  readonly observesIf?: readonly ArgCondition[];
  /** The /proc files the feature serves while it is on. */
  readonly views?: readonly ProcView[];
  install(ctx: SupervisorContext, enabled: ReadonlySet<string>): Feature;
}
