/**
 * The records Linux keeps for locks (struct file_lock): applied locks and
 * blocked requests share one shape, and both can have requests blocked on
 * them, forming the trees described at the top of fs/locks.c.
 */
import { F_UNLCK, F_WRLCK } from '../syscalls/constants.js';
import { type LockType } from './abi.js';

export type LockKind = 'posix' | 'ofd' | 'flock';

/** An open file description id from the supervisor, stable for its life. */
export type DescId = number | string;

/** A file, keyed as the kernel keys its lock context: by (dev, ino). */
export interface FileId {
  readonly major: number;
  readonly minor: number;
  readonly ino: bigint;
}

export const fileKey = (f: FileId): string => `${f.major}:${f.minor}:${f.ino}`;

/**
 * fl_owner. POSIX locks belong to the files table (the process's own unless
 * clone(CLONE_FILES) shares it), OFD and flock locks to the open file
 * description; the prefixes keep the two spaces apart exactly as Linux's
 * files_struct and struct file pointers never compare equal.
 */
export const posixOwner = (owner: number): string => `p${owner}`;
export const descOwner = (desc: DescId): string => `d${desc}`;
/** The pid (POSIX) or description id (OFD, flock) an owner string names. */
export const ownerNumber = (owner: string): number => Number(owner.slice(1));

/** What every struct file_lock carries. Bare Nodes are requests that never wait. */
export class Node<T> {
  /** fl_blocked_requests: requests blocked directly on this one, oldest first. */
  readonly blocked: Request<T>[] = [];

  constructor(
    readonly kind: LockKind,
    public type: LockType,
    public start: bigint,
    public end: bigint,
    readonly owner: string,
    /** fl_pid: the tgid that asked for the lock. */
    readonly pid: number,
    readonly desc: DescId | undefined,
    readonly file: FileId,
  ) {}
}

/** An applied lock. */
export class Lock<T> extends Node<T> {
  /** Creation order; /proc/locks lists the newest first. */
  seq = 0;
}

/** A blocked F_SETLKW / F_OFD_SETLKW / flock() caller, as the supervisor sees it. */
export interface Waiter<T> {
  readonly token: T;
  readonly kind: LockKind;
  readonly type: LockType;
  readonly start: bigint;
  readonly end: bigint;
  readonly pid: number;
  /** posixOwner(files table) or descOwner(desc): whose lock it will be (ownerNumber gives the number). */
  readonly owner: string;
  readonly desc: DescId | undefined;
  readonly file: FileId;
}

/**
 * A lock request. It only outlives the call that made it when it blocks; it
 * is then the Waiter the supervisor holds.
 */
export class Request<T> extends Node<T> implements Waiter<T> {
  /** fl_blocker: what this request waits on (a lock or another request). */
  blocker: Node<T> | null = null;
  /** new -> blocked or host (waits for a host lock) <-> woken (detached, about to retry) -> done. */
  state: 'new' | 'blocked' | 'host' | 'woken' | 'done' = 'new';

  constructor(
    kind: LockKind,
    type: LockType,
    start: bigint,
    end: bigint,
    owner: string,
    pid: number,
    desc: DescId | undefined,
    file: FileId,
    readonly token: T,
  ) {
    super(kind, type, start, end, owner, pid, desc, file);
  }
}

export type Conflict<T> = (caller: Node<T>, sys: Node<T>) => boolean;

const overlap = <T>(a: Node<T>, b: Node<T>): boolean => a.end >= b.start && b.end >= a.start;

/** locks_conflict: readers share, a writer on either side excludes. */
const exclusive = <T>(a: Node<T>, b: Node<T>): boolean => a.type === F_WRLCK || b.type === F_WRLCK;

/** posix_locks_conflict (POSIX and OFD alike): another owner, overlapping, a writer involved. */
export const posixConflict = <T>(caller: Node<T>, sys: Node<T>): boolean =>
  caller.owner !== sys.owner && overlap(caller, sys) && exclusive(caller, sys);

/** flock_locks_conflict: another open file description, a writer involved; ranges are whole-file. */
export const flockConflict = <T>(caller: Node<T>, sys: Node<T>): boolean => caller.owner !== sys.owner && exclusive(caller, sys);

/**
 * posix_test_locks_conflict (F_GETLK): F_UNLCK (F_OFD_GETLK only) finds the
 * caller's own overlapping lock; otherwise the ordinary conflict rule.
 */
export const testConflict = <T>(caller: Node<T>, sys: Node<T>): boolean =>
  caller.type === F_UNLCK ? caller.owner === sys.owner && overlap(caller, sys) : posixConflict(caller, sys);

/**
 * __locks_insert_block: a request that also conflicts with a request already
 * waiting on `blocker` queues behind that one instead, so a release wakes
 * only requests that might now succeed. Returns the node it ended up under.
 */
export function insertBlock<T>(blocker: Node<T>, waiter: Request<T>, conflict: Conflict<T>): Node<T> {
  let under = blocker;
  for (let i = 0; i < under.blocked.length; i++) {
    if (conflict(under.blocked[i]!, waiter)) {
      under = under.blocked[i]!;
      i = -1;
    }
  }
  waiter.blocker = under;
  waiter.state = 'blocked';
  under.blocked.push(waiter);
  return under;
}

/** The requests waiting on n, depth first as /proc/locks lists them, with their depth (1 = directly). */
export function* waitTree<T>(n: Node<T>): Generator<[Request<T>, number]> {
  const stack: [Request<T>, number][] = [];
  const push = (m: Node<T>, depth: number): void => {
    for (let i = m.blocked.length - 1; i >= 0; i--) stack.push([m.blocked[i]!, depth]);
  };
  push(n, 1);
  for (let top = stack.pop(); top; top = stack.pop()) {
    yield top;
    push(top[0], top[1] + 1);
  }
}
