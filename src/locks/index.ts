export * from './abi.js';
export { type DescId, type FileId, type LockKind, ownerNumber, type Waiter } from './node.js';
export { type Segment } from './table.js';
export {
  type FcntlCaller,
  type FileSnapshot,
  type FlockCaller,
  type LockChange,
  type LockHooks,
  LockRegistry,
  type LockSnapshot,
  type LocksSnapshot,
  type NodeSnapshot,
  type LockSpec,
  type LockWaiterInfo,
  type WaiterSnapshot,
} from './registry.js';
