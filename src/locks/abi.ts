/**
 * The x86_64 ABI of file locking and the argument rules Linux applies before it
 * touches any lock: fcntl(2) struct flock decoding (fs/locks.c
 * flock64_to_posix_lock, fcntl_getlk, fcntl_setlk) and flock(2) decoding
 * (SYSCALL_DEFINE2(flock)). Errors are returned as negative errno numbers.
 */

import {
  F_GETLK,
  F_OFD_GETLK,
  F_OFD_SETLK,
  F_OFD_SETLKW,
  F_RDLCK,
  F_SETLK,
  F_SETLKW,
  F_UNLCK,
  F_WRLCK,
  LOCK_EX,
  LOCK_MAND,
  LOCK_NB,
  LOCK_SH,
  LOCK_UN,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from '../syscalls/constants.js';
import { EBADF, EINVAL, EOVERFLOW } from '../syscalls/errno.js';

export type LockType = typeof F_RDLCK | typeof F_WRLCK | typeof F_UNLCK;

/** Largest off_t; a lock ending here runs to EOF (and /proc/locks prints "EOF"). */
export const OFFSET_MAX = 0x7fff_ffff_ffff_ffffn;

/** An absolute, inclusive byte range; end === OFFSET_MAX means "to EOF". */
export interface Range {
  readonly start: bigint;
  readonly end: bigint;
}

/** struct flock as the target passed it (l_start/l_len are int64). */
export interface UserFlock {
  readonly type: number;
  readonly whence: number;
  readonly start: bigint;
  readonly len: bigint;
  readonly pid: number;
}

/** sizeof(struct flock) on x86_64: l_type s16 @0, l_whence s16 @2, l_start s64 @8, l_len s64 @16, l_pid s32 @24. */
export const FLOCK_SIZE = 32;

/** struct flock from its bytes. */
export function readFlock(v: DataView): UserFlock {
  return {
    type: v.getInt16(0, true),
    whence: v.getInt16(2, true),
    start: v.getBigInt64(8, true),
    len: v.getBigInt64(16, true),
    pid: v.getInt32(24, true),
  };
}

/** struct flock into its bytes (the padding after l_whence and l_pid is left as it was). */
export function writeFlock(v: DataView, fl: UserFlock): void {
  v.setInt16(0, fl.type, true);
  v.setInt16(2, fl.whence, true);
  v.setBigInt64(8, fl.start, true);
  v.setBigInt64(16, fl.len, true);
  v.setInt32(24, fl.pid, true);
}

/** What the supervisor knows about the open file description behind the fd. */
export interface OpenFile {
  readonly pos: bigint;
  readonly size: bigint;
  readonly readable: boolean;
  readonly writable: boolean;
}

/** A decoded fcntl lock command. */
export interface FcntlLock extends Range {
  readonly type: LockType;
  /** F_GETLK / F_OFD_GETLK. */
  readonly test: boolean;
  /** F_SETLKW / F_OFD_SETLKW. */
  readonly wait: boolean;
  /** Owned by the open file description rather than the process. */
  readonly ofd: boolean;
}

/**
 * flock64_to_posix_lock's range rules: whence/start/len to [start, end].
 * len > 0 covers [start, start+len-1], len == 0 runs to EOF, len < 0 covers
 * the |len| bytes before start (POSIX-2001).
 */
export function toRange(whence: number, start: bigint, len: bigint, curPos: bigint, fileSize: bigint): Range | number {
  let base: bigint;
  if (whence === SEEK_SET) base = 0n;
  else if (whence === SEEK_CUR) base = curPos;
  else if (whence === SEEK_END) base = fileSize;
  else return -EINVAL;
  if (start > OFFSET_MAX - base) return -EOVERFLOW;
  const from = base + start;
  if (from < 0n) return -EINVAL;
  if (len > 0n) {
    if (len - 1n > OFFSET_MAX - from) return -EOVERFLOW;
    return { start: from, end: from + len - 1n };
  }
  if (len < 0n) {
    if (from + len < 0n) return -EINVAL;
    return { start: from + len, end: from - 1n };
  }
  return { start: from, end: OFFSET_MAX };
}

const isLockType = (t: number): t is LockType => t === F_RDLCK || t === F_WRLCK || t === F_UNLCK;

/**
 * Every check fcntl_getlk / fcntl_setlk make before locking, in their order.
 * Not covered here: EBADF for a bad fd and EFAULT, which the supervisor sees
 * first.
 */
export function decodeFcntlLock(cmd: number, fl: UserFlock, file: OpenFile): FcntlLock | number {
  const test = cmd === F_GETLK || cmd === F_OFD_GETLK;
  const ofd = cmd === F_OFD_GETLK || cmd === F_OFD_SETLK || cmd === F_OFD_SETLKW;
  if (!test && !ofd && cmd !== F_SETLK && cmd !== F_SETLKW) return -EINVAL;
  // F_GETLK asks "would this lock conflict"; only F_OFD_GETLK (Linux >= 6.5)
  // also accepts F_UNLCK, meaning "show my own lock here".
  if (cmd === F_GETLK && fl.type !== F_RDLCK && fl.type !== F_WRLCK) return -EINVAL;
  const range = toRange(fl.whence, fl.start, fl.len, file.pos, file.size);
  if (typeof range === 'number') return range;
  if (!isLockType(fl.type)) return -EINVAL;
  // check_fmode_for_setlk: a read lock needs a readable fd, a write lock a writable one.
  if (!test && fl.type === F_RDLCK && !file.readable) return -EBADF;
  if (!test && fl.type === F_WRLCK && !file.writable) return -EBADF;
  // OFD commands reserve l_pid: it must be zero.
  if (ofd && fl.pid !== 0) return -EINVAL;
  return { type: fl.type, start: range.start, end: range.end, test, wait: cmd === F_SETLKW || cmd === F_OFD_SETLKW, ofd };
}

/** A decoded flock(2) operation. */
export interface FlockOp {
  readonly type: LockType;
  readonly wait: boolean;
}

/**
 * sys_flock's checks. Returns 0 for LOCK_MAND, which Linux ignores (success,
 * nothing locked). `readOrWrite` is f_mode & (FMODE_READ|FMODE_WRITE).
 */
export function decodeFlock(cmd: number, readOrWrite: boolean): FlockOp | number {
  if (cmd & LOCK_MAND) return 0;
  const op = cmd & ~LOCK_NB;
  const type = op === LOCK_SH ? F_RDLCK : op === LOCK_EX ? F_WRLCK : op === LOCK_UN ? F_UNLCK : -1;
  if (type < 0) return -EINVAL;
  if (type !== F_UNLCK && !readOrWrite) return -EBADF;
  return { type: type as LockType, wait: (cmd & LOCK_NB) === 0 };
}

/** glibc's major()/minor() of a stat st_dev, the numbers /proc/locks prints. */
export function splitDev(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}
