/** Permission rules of ipc/util.c: ipcperms() and the owner test of ipcctl_obtain_check(). */
import type { IpcPerm, SemCaller } from './types.js';

/** in_group_p(): the effective gid or a supplementary group. */
function inGroup(c: SemCaller, gid: number): boolean {
  return c.gid === gid || (c.groups !== undefined && c.groups.includes(gid));
}

/**
 * ipcperms(): whether `flag` (rwx bits in any class, e.g. S_IRUGO, or a
 * semget semflg) is granted. The class is owner if euid is uid or cuid, else
 * group if cgid or gid matches, else other; CAP_IPC_OWNER bypasses.
 */
export function ipcperms(c: SemCaller, p: IpcPerm, flag: number): boolean {
  const requested = (flag >> 6) | (flag >> 3) | flag;
  let granted = p.mode;
  if (c.uid === p.cuid || c.uid === p.uid) granted >>= 6;
  else if (inGroup(c, p.cgid) || inGroup(c, p.gid)) granted >>= 3;
  return (requested & ~granted & 0o7) === 0 || c.isRoot;
}

/** IPC_SET and IPC_RMID: creator, owner or CAP_SYS_ADMIN, else EPERM. */
export function isOwner(c: SemCaller, p: IpcPerm): boolean {
  return c.uid === p.cuid || c.uid === p.uid || c.isRoot;
}
