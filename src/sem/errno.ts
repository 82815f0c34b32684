/**
 * The Linux errno values (asm-generic/errno-base.h, asm-generic/errno.h) that
 * the SysV semaphore core can return. Results are returned negated (-errno),
 * as the kernel does.
 */

/** Operation not permitted: IPC_SET/IPC_RMID by someone who is not owner, creator or privileged. */
export const EPERM = 1;
/** No such key and no IPC_CREAT. */
export const ENOENT = 2;
/** Interrupted: what a sleeping semop answers when a signal arrives. */
export const EINTR = 4;
/** More than semopm operations in one semop. */
export const E2BIG = 7;
/** Would block with IPC_NOWAIT, or the semtimedop timeout expired. */
export const EAGAIN = 11;
/** Request larger than the emulator will allocate. */
export const ENOMEM = 12;
/** ipcperms() refused the requested access. */
export const EACCES = 13;
/** Bad user pointer (raised by the supervisor through SemctlIO). */
export const EFAULT = 14;
/** IPC_CREAT|IPC_EXCL and the key exists. */
export const EEXIST = 17;
/** Bad id, bad argument or unknown command. */
export const EINVAL = 22;
/** sem_num outside the set. */
export const EFBIG = 27;
/** semmni sets or semmns semaphores exhausted. */
export const ENOSPC = 28;
/** Value above SEMVMX, or a SEM_UNDO adjustment outside [-32768, 32767]. */
export const ERANGE = 34;
/** The set was removed while the caller slept on it. */
export const EIDRM = 43;
