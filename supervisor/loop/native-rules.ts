// NativeRules: what the loop's native step (step.c, struct
// sv_native) may answer by itself, without a trip into JS. Every rule answers
// CONTINUE, and only where JS would answer CONTINUE too with no state change:
// it spares the trip, never changes a decision.
//
// JS keeps the rules current: a feature declares a rule for a syscall it
// installed a handler for, the lock feature says whether a close could
// release anything, and any thread JS holds state on (a call asleep,
// interrupted or cut off; an F_GETLK answer to complete) is watched, so
// every notification of that thread comes to JS.
import { allocNative, type NativeBuffer } from '../ffi.js';

export const enum NativeRule {
  /** Always JS. */
  Js = 0,
  /** close, close_range, dup2, dup3: CONTINUE while no lock a close could release is held. */
  Close = 1,
  /** rt_sigreturn: CONTINUE when the signal frame shows no call to repair or restart. */
  Sigreturn = 2,
  /** open: CONTINUE unless the last component of the path at args[0] names a served file. */
  OpenPath0 = 3,
  /** openat, openat2: the same for args[1]. */
  OpenPath1 = 4,
}

const NR_MAX = 512;
const WATCH_MAX = 64;
const NAMES_SIZE = 64;
const OFF = { rule: 0, restarts: 512, transparent: 1024, decided: 1536, enabled: 3584, watched: 3592, tids: 3596, names: 3852 } as const;
/** sizeof(struct sv_native), asserted in step.c too. */
export const NATIVE_SIZE = 3916;

export class NativeRules {
  readonly block: NativeBuffer = allocNative(NATIVE_SIZE);
  private readonly rules = new Uint8Array(this.block.bytes.buffer, OFF.rule, NR_MAX);
  private readonly restarts = new Uint8Array(this.block.bytes.buffer, OFF.restarts, NR_MAX);
  private readonly transparent = new Uint8Array(this.block.bytes.buffer, OFF.transparent, NR_MAX);
  private readonly decided = new Uint32Array(this.block.bytes.buffer, OFF.decided, NR_MAX);
  private readonly ints = new Int32Array(this.block.bytes.buffer, OFF.enabled, 3);
  private readonly tids = new Int32Array(this.block.bytes.buffer, OFF.tids, WATCH_MAX);
  /** Per watched thread, the bits of the watchers that hold state on it. */
  private readonly watchers = new Map<number, number>();
  private nextBit = 1;

  constructor() {
    this.ints[0] = 1;
  }

  set(nr: number, rule: NativeRule): void {
    this.rules[nr] = rule;
  }

  /** Tracing sees every call: nothing is decided natively. */
  disable(): void {
    this.ints[0] = 0;
  }

  /** Restarts of `nr` must reach JS (it has a restart policy). */
  restartsMatter(nr: number): void {
    this.restarts[nr] = 1;
  }

  /** `nr` is notified and Linux never fails it with EINTR: a cut-off call is made to run again. */
  neverInterrupted(nr: number): void {
    this.transparent[nr] = 1;
  }

  /** Whether the sandbox holds a lock that a close could release. */
  set locksHeld(held: boolean) {
    this.ints[1] = held ? 1 : 0;
  }

  /** The basenames of the served files (VirtualFiles). */
  setServedNames(names: Iterable<string>): void {
    const bytes = Buffer.from([...names].map((n) => `${n}\0`).join('') + '\0', 'latin1');
    if (bytes.length > NAMES_SIZE) throw new Error(`served file names take ${bytes.length} bytes, more than ${NAMES_SIZE}`);
    this.block.bytes.fill(0, OFF.names, OFF.names + NAMES_SIZE);
    this.block.bytes.set(bytes, OFF.names);
  }

  /** How many notifications of `nr` the native step answered. */
  decidedCount(nr: number): number {
    return this.decided[nr];
  }

  /** A new watcher: its bit marks the threads it holds state on. */
  watcher(): number {
    const bit = this.nextBit;
    this.nextBit <<= 1;
    return bit;
  }

  watch(tid: number, bit: number): void {
    const had = this.watchers.get(tid) ?? 0;
    this.watchers.set(tid, had | bit);
    if (had === 0) this.publish();
  }

  unwatch(tid: number, bit: number): void {
    const had = this.watchers.get(tid);
    if (had === undefined || (had & bit) === 0) return;
    if (had === bit) {
      this.watchers.delete(tid);
      this.publish();
    } else {
      this.watchers.set(tid, had & ~bit);
    }
  }

  /** Write the watched threads for the step; more than fit send every thread to JS. */
  private publish(): void {
    if (this.watchers.size > WATCH_MAX) {
      this.ints[2] = -1;
      return;
    }
    let i = 0;
    for (const tid of this.watchers.keys()) this.tids[i++] = tid;
    this.ints[2] = i;
  }
}

/** A Map keyed by thread id whose keys are watched threads while present. */
export class TidMap<V> extends Map<number, V> {
  private readonly bit: number;

  constructor(private readonly rules: NativeRules) {
    super();
    this.bit = rules.watcher();
  }

  override set(tid: number, value: V): this {
    super.set(tid, value);
    this.rules.watch(tid, this.bit);
    return this;
  }

  override delete(tid: number): boolean {
    this.rules.unwatch(tid, this.bit);
    return super.delete(tid);
  }

  override clear(): void {
    for (const tid of this.keys()) this.rules.unwatch(tid, this.bit);
    super.clear();
  }
}
