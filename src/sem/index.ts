/** The SysV semaphore core: registry, undo lists, ABI codecs and /proc renderers. */
export * from './abi.js';
export * from './constants.js';
export { ipcperms, isOwner } from './perm.js';
export * from './proc.js';
export { SemRegistry, type SemSetStat, type SemSnapshot, type SemWaiterInfo } from './registry.js';
export type * from './types.js';
export { UndoEntry, UndoList } from './undo.js';
export { SemWaiter, type SemWaiterState } from './waiter.js';
