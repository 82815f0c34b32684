import {
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  SECCOMP_RET_ACTION_FULL,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_DATA,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
  SECCOMP_RET_USER_NOTIF,
} from './consts.js';
import { errnoName } from '../syscalls/errno.js';

const ACTION_NAMES = new Map<number, string>([
  [SECCOMP_RET_KILL_PROCESS, 'KILL_PROCESS'],
  [SECCOMP_RET_KILL_THREAD, 'KILL_THREAD'],
  [SECCOMP_RET_TRAP, 'TRAP'],
  [SECCOMP_RET_ERRNO, 'ERRNO'],
  [SECCOMP_RET_USER_NOTIF, 'USER_NOTIF'],
  [SECCOMP_RET_TRACE, 'TRACE'],
  [SECCOMP_RET_LOG, 'LOG'],
  [SECCOMP_RET_ALLOW, 'ALLOW'],
]);

/**
 * Human name of a filter return value: `ALLOW`, `USER_NOTIF`,
 * `ERRNO(EPERM)`, `KILL_PROCESS`, `TRAP(5)`, or `0x...` when unknown.
 */
export function actionName(ret: number): string {
  const action = (ret & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = ret & SECCOMP_RET_DATA;
  const name = ACTION_NAMES.get(action);
  if (name === undefined) return `0x${(ret >>> 0).toString(16).padStart(8, '0')}`;
  if (action === SECCOMP_RET_ERRNO) return `ERRNO(${errnoName(data)})`;
  return data === 0 ? name : `${name}(${data})`;
}

/** Name of an AUDIT_ARCH_* value we know, else hex. */
export function archName(arch: number): string {
  switch (arch >>> 0) {
    case AUDIT_ARCH_X86_64:
      return 'AUDIT_ARCH_X86_64';
    case AUDIT_ARCH_I386:
      return 'AUDIT_ARCH_I386';
    default:
      return `0x${(arch >>> 0).toString(16)}`;
  }
}
