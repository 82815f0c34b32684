/**
 * Constants of the SysV semaphore ABI (x86_64), checked against
 * /usr/include/linux/ipc.h, linux/sem.h and glibc's bits/ipc.h, bits/sem.h,
 * plus the kernel-internal id layout of ipc/util.h.
 */

/** semget key that always creates a new, unnamed set. */
export const IPC_PRIVATE = 0;
/** semget: create the set if the key does not exist. */
export const IPC_CREAT = 0o1000;
/** semget: with IPC_CREAT, fail with EEXIST if the key exists. */
export const IPC_EXCL = 0o2000;
/** sem_flg: fail with EAGAIN instead of sleeping. */
export const IPC_NOWAIT = 0o4000;
/** sem_flg: record an adjustment that is undone when the process exits. */
export const SEM_UNDO = 0x1000;

/** semctl: remove the set, waking every sleeper with EIDRM. */
export const IPC_RMID = 0;
/** semctl: set uid, gid and the low 9 mode bits. */
export const IPC_SET = 1;
/** semctl: read struct semid64_ds. */
export const IPC_STAT = 2;
/** semctl: read the limits as struct seminfo. */
export const IPC_INFO = 3;
/** semctl: pid of the last process that changed a semaphore. */
export const GETPID = 11;
/** semctl: value of one semaphore. */
export const GETVAL = 12;
/** semctl: values of all semaphores (unsigned short[]). */
export const GETALL = 13;
/** semctl: number of tasks waiting for a semaphore to increase. */
export const GETNCNT = 14;
/** semctl: number of tasks waiting for a semaphore to become zero. */
export const GETZCNT = 15;
/** semctl: set one semaphore. */
export const SETVAL = 16;
/** semctl: set all semaphores. */
export const SETALL = 17;
/** semctl: IPC_STAT by table index, returns the full id. */
export const SEM_STAT = 18;
/** semctl: IPC_INFO with usage counts instead of constants. */
export const SEM_INFO = 19;
/** semctl: SEM_STAT without the read permission check. */
export const SEM_STAT_ANY = 20;

/** Largest semaphore value. */
export const SEMVMX = 32767;
/** Largest positive undo adjustment (the negative bound is -SEMAEM - 1). */
export const SEMAEM = SEMVMX;
/** Default maximum number of semaphores per set. */
export const SEMMSL = 32000;
/** Default maximum number of sets. */
export const SEMMNI = 32000;
/** Default maximum number of semaphores in all sets. */
export const SEMMNS = SEMMNI * SEMMSL;
/** Default maximum number of operations per semop. */
export const SEMOPM = 500;
/** Reported by IPC_INFO/SEM_INFO; compile-time constants, not the live limits. */
export const SEMUME = SEMOPM;
/** Reported by IPC_INFO/SEM_INFO. */
export const SEMMNU = SEMMNS;
/** Reported by IPC_INFO/SEM_INFO. */
export const SEMMAP = SEMMNS;
/** Reported by IPC_INFO as semusz. */
export const SEMUSZ = 20;

/** Number of table slots; an id is seq * IPCMNI + index. */
export const IPCMNI = 32768;
/** log2(IPCMNI): the shift between index and sequence number in an id. */
export const IPCMNI_SHIFT = 15;
/** Sequence numbers run from 0 to IPCID_SEQ_MAX - 1 (INT_MAX >> IPCMNI_SHIFT). */
export const IPCID_SEQ_MAX = 0x7fffffff >> IPCMNI_SHIFT;
/** Minimum window of the cyclic index allocator (RADIX_TREE_MAP_SIZE). */
export const IPC_MIN_CYCLE = 64;

/** Read permission for owner, group and others (S_IRUGO). */
export const S_IRUGO = 0o444;
/** Write ("alter") permission for owner, group and others (S_IWUGO). */
export const S_IWUGO = 0o222;
/** The permission bits a set keeps (S_IRWXUGO). */
export const S_IRWXUGO = 0o777;

/**
 * Emulator bound, not a Linux rule: sets larger than this fail with ENOMEM
 * (Linux only refuses above ~33.5M semaphores, where its own allocation fails).
 */
export const SEM_MAX_NSEMS = 1 << 20;
/**
 * Emulator bound, not a Linux rule: semop arrays larger than this fail with
 * ENOMEM even when semopm allows them (Linux refuses above INT_MAX bytes).
 */
export const SEM_MAX_NSOPS = 1 << 20;
