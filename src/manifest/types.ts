/**
 * Manifest v1: the typed, fully defaulted policy a sandbox runs under.
 * See policies/example.toml for the documented file format.
 */

/** Whether the sandbox gets its own kernel IPC namespace ([ipc] namespace). */
export type IpcNamespace = 'private' | 'auto' | 'host';

/** What the stall watchdog does when it finds a deadlock or stall ([watchdog] action). */
export type WatchdogAction = 'report' | 'kill';

/**
 * How the /proc files the supervisor owns (/proc/sysvipc/sem,
 * /proc/sys/kernel/sem, /proc/locks) are served ([proc] views). "fuse": a
 * FUSE file system of the supervisor's mounted over each, in a mount
 * namespace of the sandbox's (root only; opens are not notified); "notify":
 * every open/openat/openat2 is notified and those files answered with a
 * memfd or a pipe; "auto": fuse when permitted, else notify; "off": not
 * served, the program reads the kernel's files.
 */
export type ProcViews = 'auto' | 'fuse' | 'notify' | 'off';

/**
 * Whether the program runs in a PID namespace of its own, with its own /proc
 * mount ([proc] pid_namespace): "private" requires one (CAP_SYS_ADMIN),
 * "auto" takes one when permitted, "host" runs among the host's processes.
 */
export type PidNamespace = 'private' | 'auto' | 'host';

/** How POSIX record locks are released (consumed by the file-lock code). */
export type LockMode = 'exact' | 'fast';

/** Whether the sandbox's file locks are also held on the host kernel (consumed by the file-lock code). */
export type LockHost = 'coherent' | 'isolated';

/** kernel.sem of the sandbox, in /proc/sys/kernel/sem order. */
export interface SemLimits {
  /** SEMMSL: max semaphores per set (semget nsems). */
  semmsl: number;
  /** SEMMNS: max semaphores in the whole sandbox. */
  semmns: number;
  /** SEMOPM: max operations per semop/semtimedop call. */
  semopm: number;
  /** SEMMNI: max semaphore sets. */
  semmni: number;
}

/** Absolute paths granted by [filesystem]. */
export interface FilesystemLists {
  /** Read files and list directories beneath these paths. */
  read: string[];
  /** Also write, create, remove, truncate beneath these (implies read). */
  write: string[];
  /** Execute files beneath these (implies reading the files). */
  exec: string[];
}

/** [exec]: files whose content is pinned by sha256. */
export interface ExecPolicy {
  /**
   * Absolute path -> expected sha256 (64 lowercase hex digits), file order.
   * Executing a listed file whose content has another hash fails with EACCES.
   */
  trusted: Map<string, string>;
  /** Refuse (EACCES) the exec of any file not listed in `trusted`: no other file has Landlock's exec right. */
  onlyTrusted: boolean;
}

export interface Manifest {
  /** Always 1. */
  version: 1;
  /** Name of the file it was read from (as passed to parseManifest). */
  file: string;
  syscalls: {
    /** Syscalls sent to the supervisor as user notifications, file order. */
    emulate: string[];
    /** Syscall name -> errno number returned by the BPF filter, file order. */
    deny: Map<string, number>;
    /** Syscalls that kill the whole process. */
    kill: string[];
  };
  /**
   * Landlock allowlists. null when the manifest has no [filesystem] section:
   * every path is allowed (the target still runs inside a Landlock domain,
   * which scopes ptrace and signals). Otherwise only the listed paths; a list
   * missing from the section is empty.
   */
  filesystem: FilesystemLists | null;
  /**
   * Pinned files: Landlock lets them be executed (with onlyTrusted, them
   * alone); the supervisor checks their content at execve/execveat, which a
   * file rewritten in place between the check and the exec escapes (TOCTOU).
   */
  exec: ExecPolicy;
  env: {
    /** Pass the caller's environment through. */
    inherit: boolean;
    /** When inherit is false: the only variables passed through. */
    pass: string[];
    /** Variables added or overridden (applied last). */
    set: Record<string, string>;
  };
  sem: SemLimits;
  locks: {
    /** "exact": trap close/dup* to release POSIX locks exactly; "fast": do not. */
    mode: LockMode;
    /** "coherent": mirror every lock onto the host and respect host locks; "isolated": the sandbox's locks are its own. */
    host: LockHost;
    /** Lock records beyond this many fail with ENOLCK. */
    max: number;
  };
  process: {
    /** Bound on the supervisor's process table. */
    max: number;
  };
  ipc: {
    /** Absolute path where semaphores are saved at exit and restored at start; "" = off. */
    persist: string;
    /**
     * The sandbox's kernel IPC namespace. "private": a new one (needs
     * CAP_SYS_ADMIN; the run fails without it), "auto": a new one when
     * permitted, else the host's with a warning, "host": the host's.
     */
    namespace: IpcNamespace;
  };
  watchdog: {
    /** How long a deadlock or stall must last before `action` (milliseconds); 0 = no watchdog. */
    stallMs: number;
    /** "report": print the wait-for graph to stderr once per stall; "kill": also end the sandbox (exit status 124). */
    action: WatchdogAction;
  };
  proc: {
    views: ProcViews;
    /**
     * A PID namespace of the sandbox's own: the host's processes and the
     * supervisor are not in the program's /proc, and every pid the emulation
     * reports is translated into the namespace (0 for one it cannot see).
     */
    pidNamespace: PidNamespace;
  };
}

/** The four SysV semaphore syscalls and the two lock calls, emulated unless a manifest says otherwise. */
export const DEFAULT_EMULATE: readonly string[] = ['semget', 'semop', 'semtimedop', 'semctl', 'fcntl', 'flock'];

/**
 * Denied (ENOSYS) unless a manifest gives its own syscalls.deny: what an
 * io_uring ring does never passes the seccomp filter, so a close through one
 * would not release POSIX locks and an open through one would skip the
 * served /proc files. ENOSYS makes liburing users and libuv take their
 * ordinary-syscall path.
 */
export const DEFAULT_DENY: ReadonlyMap<string, number> = new Map([
  ['io_uring_setup', 38],
  ['io_uring_enter', 38],
  ['io_uring_register', 38],
]);

/** Linux's defaults (include/uapi/linux/sem.h SEMMSL, SEMMNS, SEMOPM, SEMMNI). */
export const SEM_DEFAULTS: Readonly<SemLimits> = {
  semmsl: 32000,
  semmns: 1024000000,
  semopm: 500,
  semmni: 32000,
};

export const INT_MAX = 2147483647;
/** IPCMNI: the kernel refuses kernel.sem SEMMNI above this (ipc/util.h sem_check_semmni). */
export const IPCMNI = 32768;
/** PID_MAX_LIMIT on 64-bit: no more processes can exist. */
export const PID_MAX_LIMIT = 4194304;

/** Inclusive bounds of every numeric setting, with the reason shown in errors. */
export const LIMITS = {
  // kernel.sem is a plain proc_dointvec: any int; only SEMMNI is range-checked.
  semmsl: { min: 1, max: INT_MAX, why: 'INT_MAX' },
  semmns: { min: 1, max: INT_MAX, why: 'INT_MAX' },
  semopm: { min: 1, max: INT_MAX, why: 'INT_MAX' },
  semmni: { min: 1, max: IPCMNI, why: 'IPCMNI' },
  locksMax: { min: 1, max: INT_MAX, why: 'INT_MAX' },
  processMax: { min: 1, max: PID_MAX_LIMIT, why: 'PID_MAX_LIMIT' },
  stallMs: { min: 1, max: 86_400_000, why: 'one day' },
} as const;

export const LOCKS_DEFAULT_MAX = 1048576;
export const PROCESS_DEFAULT_MAX = 4096;
