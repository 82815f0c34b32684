/** Plain data types shared by the semaphore core, the ABI codecs and the supervisor. */
import type { SemWaiter } from './waiter.js';

/** The four values of /proc/sys/kernel/sem, in that file's order. */
export interface SemLimits {
  /** Maximum semaphores per set (semget nsems). */
  semmsl: number;
  /** Maximum semaphores in all sets together. */
  semmns: number;
  /** Maximum operations per semop call. */
  semopm: number;
  /** Maximum number of sets (capped at IPCMNI). */
  semmni: number;
}

/** The task making a call: thread-group id and effective credentials. */
export interface SemCaller {
  /** Thread-group id (as the supervisor sees it). */
  pid: number;
  /**
   * The tgid in the caller's own PID namespace (task_tgid_vnr), recorded as
   * sempid: GETPID returns the number as its writer saw itself. Default: pid.
   */
  sempid?: number;
  /** Effective uid. */
  uid: number;
  /** Effective gid. */
  gid: number;
  /** Supplementary groups, for the group permission class. */
  groups?: readonly number[];
  /** Holds CAP_IPC_OWNER and CAP_SYS_ADMIN: bypasses mode bits and ownership checks. */
  isRoot: boolean;
}

/** Time sources: monotonic nanoseconds for timeouts, wall-clock seconds for otime/ctime. */
export interface SemClock {
  /** Monotonic time in nanoseconds. */
  monoNs(): bigint;
  /** Wall-clock time in seconds since the epoch (fractions are dropped). */
  realSec(): number;
}

/**
 * How the registry talks back to the supervisor. Both hooks are called
 * synchronously from inside registry methods and must neither throw nor call
 * back into the registry.
 */
export interface SemHooks<T> {
  /**
   * Whether the waiter's notification is still valid, asked when sleepers
   * are counted (GETNCNT, GETZCNT): a dead waiter is dropped (state
   * "cancelled", no reply) and not counted. A wake-up does not ask: it
   * relies on complete() failing for a dead waiter, and undoes its operation.
   */
  isAlive(w: SemWaiter<T>): boolean;
  /**
   * Replies to a semop: every success (0), and the failures of sleeping ones
   * (-EIDRM, -EAGAIN, -ERANGE), as the syscall returns them (0 or -errno, as
   * LockHooks.complete). Returns false if the reply could not be
   * delivered (the task was interrupted); a success is then undone exactly
   * (values, adjustments, sempids) before anyone else sees it.
   */
  complete(w: SemWaiter<T>, result: number): boolean;
  /**
   * When true, a semop that succeeds at once on a set where nothing sleeps
   * is not passed to complete(): semop() returns 0, the caller delivers the
   * reply, and calls SemRegistry.undeliverable() if it could not (a reply
   * sent later, with the next wait, costs no extra crossing to the kernel).
   */
  readonly deferImmediate?: boolean;
}

/** One struct sembuf. */
export interface SemBuf {
  /** Semaphore index (unsigned short). */
  num: number;
  /** Operation: >0 add, <0 subtract (may sleep), 0 wait for zero (short). */
  op: number;
  /** IPC_NOWAIT and/or SEM_UNDO (short). */
  flg: number;
}

/** The kernel's kern_ipc_perm as userspace sees it in struct ipc64_perm. */
export interface IpcPerm {
  key: number;
  uid: number;
  gid: number;
  cuid: number;
  cgid: number;
  /** Permission bits (only 0777 for semaphores). */
  mode: number;
  /** Sequence number: the id's upper part. */
  seq: number;
}

/** struct semid64_ds without its padding. */
export interface SemidDs {
  perm: IpcPerm;
  /** Last successful semop, seconds; 0 if never. */
  otime: number;
  /** Creation or last IPC_SET/SETVAL/SETALL, seconds. */
  ctime: number;
  nsems: number;
}

/** struct seminfo (IPC_INFO, SEM_INFO). */
export interface SemInfo {
  semmap: number;
  semmni: number;
  semmns: number;
  semmnu: number;
  semmsl: number;
  semopm: number;
  semume: number;
  semusz: number;
  semvmx: number;
  semaem: number;
}

/**
 * The caller's memory as semctl needs it, so that EFAULT happens at the point
 * Linux raises it. Each method returns 0 or -EFAULT (reads: the data or -EFAULT).
 */
export interface SemctlIO {
  /** IPC_INFO, SEM_INFO: copy struct seminfo out. */
  writeSeminfo(info: SemInfo): number;
  /** IPC_STAT, SEM_STAT, SEM_STAT_ANY: copy struct semid64_ds out. */
  writeSemid(ds: SemidDs): number;
  /** IPC_SET: copy struct semid64_ds in (perm.uid, perm.gid and perm.mode are used). */
  readSemid(): SemidDs | number;
  /** GETALL: copy nsems unsigned shorts out. */
  writeValues(values: Uint16Array): number;
  /** SETALL: copy nsems unsigned shorts in. */
  readValues(nsems: number): ArrayLike<number> | number;
}
