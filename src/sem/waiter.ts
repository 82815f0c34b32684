/**
 * A semop that could not answer inline, and the intrusive FIFO lists that
 * hold it (Linux's struct sem_queue on a list_head).
 */
import type { SemBuf } from './types.js';
import type { UndoEntry } from './undo.js';

/** "queued": sleeping; "completed": answered (see result); "cancelled": dropped without effect or reply. */
export type SemWaiterState = 'queued' | 'completed' | 'cancelled';

/**
 * One semop call of one task. The registry creates it; the supervisor keeps
 * it to cancel it and recognises it in hooks.complete() by its token.
 */
export class SemWaiter<T> {
  /** Current state; only "queued" waiters can still change. */
  state: SemWaiterState = 'queued';
  /** Once completed: 0 for success, otherwise the -errno delivered. */
  result = 0;
  /** Index into the operations of the one that blocked last (Linux q->blocking). */
  blocking = 0;
  /** @internal Position in a WaitList. */
  prev: SemWaiter<T> | null = null;
  /** @internal Position in a WaitList. */
  next: SemWaiter<T> | null = null;
  /** @internal The list holding this waiter while queued. */
  list: WaitList<T> | null = null;

  /**
   * @param token opaque value of the supervisor (e.g. the notification id);
   *   it may replace it once semop() returned the waiter queued
   * @param pid thread-group id of the caller
   * @param semid id of the set operated on
   * @param ops packed operations: num, op, flg for each sembuf
   * @param alter whether any operation changes a value (op != 0)
   * @param undo the caller's SEM_UNDO adjustments for this set, if any op uses SEM_UNDO
   * @param deadline monotonic ns after which the call fails with EAGAIN, or null
   * @param seq registry-wide arrival number (orders equal deadlines)
   * @param sempid recorded as sempid when the operation commits (SemCaller.sempid)
   */
  constructor(
    public token: T,
    readonly pid: number,
    readonly semid: number,
    readonly ops: Int32Array,
    readonly alter: boolean,
    readonly undo: UndoEntry | null,
    readonly deadline: bigint | null,
    readonly seq: number,
    readonly sempid: number,
  ) {}

  /** Number of operations in the call. */
  get nsops(): number {
    return this.ops.length / 3;
  }

  /** The operations as struct sembuf values. */
  sops(): SemBuf[] {
    const out: SemBuf[] = [];
    for (let i = 0; i < this.ops.length; i += 3) {
      out.push({ num: this.ops[i]!, op: this.ops[i + 1]!, flg: this.ops[i + 2]! });
    }
    return out;
  }
}

/** @internal A doubly linked FIFO of waiters; a waiter is on at most one list. */
export class WaitList<T> {
  head: SemWaiter<T> | null = null;
  tail: SemWaiter<T> | null = null;

  /** Appends w (list_add_tail). */
  push(w: SemWaiter<T>): void {
    w.list = this;
    w.prev = this.tail;
    w.next = null;
    if (this.tail) this.tail.next = w;
    else this.head = w;
    this.tail = w;
  }

  /** Unlinks w, which must be on this list (list_del). */
  remove(w: SemWaiter<T>): void {
    if (w.prev) w.prev.next = w.next;
    else this.head = w.next;
    if (w.next) w.next.prev = w.prev;
    else this.tail = w.prev;
    w.prev = w.next = w.list = null;
  }

  /** Moves every waiter of `from` in front of this list's waiters, keeping their order (list_splice_init). */
  spliceFront(from: WaitList<T>): void {
    if (!from.head) return;
    for (let w: SemWaiter<T> | null = from.head; w; w = w.next) w.list = this;
    from.tail!.next = this.head;
    if (this.head) this.head.prev = from.tail;
    else this.tail = from.tail;
    this.head = from.head;
    from.head = from.tail = null;
  }
}
