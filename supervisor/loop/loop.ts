// NotificationLoop: epoll over the seccomp listener, process pidfds and a
// stop eventfd; RECV -> handler -> SEND, synchronously, in one thread.
// Native buffers are allocated once; the fast path allocates nothing.
//
// A handler's answer is not sent at once: it goes out with the next wait, in
// one native call (step.c) that sends it, waits in epoll_pwait2,
// receives the next notification and reads ahead the memory its handler
// will read (readAhead), so that a round trip crosses from JS to C once
// instead of four times. Nothing runs between the handler and that send but
// the loop's own bookkeeping (timers due first get the answer out).
import {
  allocNative,
  close,
  epollCreate1,
  epollCtl,
  errno,
  EPOLL,
  ioctl,
  ioctlValue,
  loadStep,
  type NativeBuffer,
  type StepFn,
} from '../ffi.js';
import { NativeRule, NativeRules } from './native-rules.js';
import { Notification, NOTIF_SIZE, RESP_SIZE } from './notification.js';
import { LatencyStats } from '../stats.js';
import { O_CLOEXEC } from '../../src/syscalls/constants.js';
import { EINTR, ENOENT, ENOSYS } from '../../src/syscalls/errno.js';

const IOCTL_RECV = 0xc0502100;
const IOCTL_SEND = 0xc0182101;
const IOCTL_ID_VALID = 0x40082102;
const IOCTL_SET_FLAGS = 0x40082104;
const IOCTL_ADDFD = 0x40182103;
const ADDFD_FLAG_SEND = 2;
const USER_NOTIF_FD_SYNC_WAKE_UP = 1;
const USER_NOTIF_FLAG_CONTINUE = 1;
const MAX_EVENTS = 64;
const EPOLL_EVENT_SIZE = 12; // packed on x86_64: u32 events, u64 data
/** Largest read ahead: 64 sembufs. */
const AHEAD_MAX = 384;
/**
 * struct sv_loop of step.c, the step's only argument (one koffi
 * argument converts faster than twelve): int32 fields by index, then the
 * buffers' addresses from byte STEP_POINTERS on.
 */
const STEP = { listener: 0, epfd: 1, max: 2, timeout: 3, send: 4, aheadMax: 5, received: 6, sendError: 7, aheadLen: 8, yield: 9 } as const;
const STEP_POINTERS = 40;
const STEP_SIZE = STEP_POINTERS + 6 * 8;
/** `performance` is an accessor on globalThis: read it once. */
const clock = performance;

/** Handler result: >= 0 success value, < 0 a negated errno, or one of these. */
export const CONTINUE = -0x40000000;
/** The handler keeps the notification open and answers later through `reply`. */
export const PENDING = -0x40000001;
/** beforeDispatch result: no opinion, dispatch to the handler. */
export const DISPATCH = -0x40000002;
/** The handler already answered (SECCOMP_ADDFD_FLAG_SEND); the value is in `answeredValue`. */
export const ANSWERED = -0x40000003;

export type Handler = (n: Notification) => number;
export type FdCallback = (events: number) => void;
/** Observer of every answered notification (tracing). `result` is a Handler result. */
export interface Observer {
  answered(n: Notification, result: number): void;
}

export interface LoopHooks {
  /** Microseconds until the next timer (at most 2^31-1), or -1 for none; `onTimer` runs when it is due. */
  nextTimeoutUs(): number;
  onTimer(): void;
  /**
   * Called once per notification before its handler (to learn about new
   * threads, to recognise restarted calls). Returns DISPATCH or a result.
   */
  beforeDispatch(n: Notification): number;
  /** Every task that carried the filter is gone: nothing will be notified again. */
  onListenerClosed(): void;
  /** The answer to `n` could not be delivered: a signal interrupted the task meanwhile. */
  undelivered(n: Notification): void;
  /** The handler of `n` threw; `n` is answered ENOSYS after this returns. */
  handlerFailed(n: Notification, err: unknown): void;
}

export class NotificationLoop {
  readonly notification: Notification;
  readonly stats = new LatencyStats();
  /** What the native step answers without JS (see NativeRules). */
  readonly native = new NativeRules();
  syncWakeUp = false;
  observer: Observer | null = null;

  private readonly handlers: (Handler | undefined)[] = new Array<Handler | undefined>(512);
  /** What the current notification's handler committed for its answer, undone if the answer is not delivered. */
  private undoIfUndelivered: (() => void) | null = null;
  private readonly fdCallbacks = new Map<number, FdCallback>();
  /** Watched fds whose events are requests (see watchRequests). */
  private readonly requestFds = new Set<number>();
  private readonly epfd: number;
  private readonly recvBuf: NativeBuffer;
  private readonly sendBuf: NativeBuffer;
  private readonly lateBuf: NativeBuffer;
  private readonly idBuf: NativeBuffer;
  private readonly addfdBuf: NativeBuffer;
  /** The result an ANSWERED handler gave the target. */
  answeredValue = 0;
  private readonly events: NativeBuffer;
  private readonly recvWords: Uint32Array;
  private readonly sendWords: Uint32Array;
  private readonly sendInts: Int32Array;
  private readonly lateWords: Uint32Array;
  private readonly lateInts: Int32Array;
  private readonly step: StepFn;
  /** struct sv_loop, and its int32 fields (STEP). */
  private readonly stepBlock: NativeBuffer;
  private readonly stepInts: Int32Array;
  /** What sv_step reads ahead, per syscall (see readAhead), and where. */
  private readonly plan: NativeBuffer;
  private readonly planWords: Uint32Array;
  private readonly ahead: NativeBuffer;
  /** Bytes read ahead for the current notification. */
  private aheadLen = 0;
  /** 1 while the current notification's answer waits in sendBuf for the next step (or flush). */
  private sendPending = 0;
  /**
   * 1 once a sleeper was answered (`reply`): the next step yields the CPU
   * before it waits. SYNC_WAKE_UP queued the sleeper on this CPU; yielding
   * runs it at once, so its next call is usually pending when the loop
   * looks, instead of the loop going to sleep and the sleeper being pulled
   * to the other CPU (an idle-vCPU wake-up, ~20 µs here). bench/README.md
   * "Hot path" has the numbers.
   */
  private wokeSleeper = 0;
  /** True while a timed dispatch runs: its handler's own SENDs add up in sendMs (see LatencyStats). */
  private timingSends = false;
  private sendMs = 0;
  private stopped = false;
  /** Set by requestPause: run() returns after the current iteration, to be called again. */
  private paused = false;
  private listenerOpen = true;

  constructor(
    private readonly listener: number,
    private readonly hooks: LoopHooks,
  ) {
    this.recvBuf = allocNative(NOTIF_SIZE);
    this.sendBuf = allocNative(RESP_SIZE);
    this.lateBuf = allocNative(RESP_SIZE);
    this.idBuf = allocNative(8);
    this.addfdBuf = allocNative(24);
    this.events = allocNative(MAX_EVENTS * EPOLL_EVENT_SIZE);
    this.step = loadStep();
    this.stepBlock = allocNative(STEP_SIZE);
    this.stepInts = new Int32Array(this.stepBlock.bytes.buffer, 0, STEP_POINTERS / 4);
    this.plan = allocNative(512 * 4);
    this.planWords = new Uint32Array(this.plan.bytes.buffer, 0, 512);
    this.ahead = allocNative(AHEAD_MAX);
    this.recvWords = new Uint32Array(this.recvBuf.bytes.buffer, 0, NOTIF_SIZE / 4);
    this.sendWords = new Uint32Array(this.sendBuf.bytes.buffer, 0, RESP_SIZE / 4);
    this.sendInts = new Int32Array(this.sendBuf.bytes.buffer, 0, RESP_SIZE / 4);
    this.lateWords = new Uint32Array(this.lateBuf.bytes.buffer, 0, RESP_SIZE / 4);
    this.lateInts = new Int32Array(this.lateBuf.bytes.buffer, 0, RESP_SIZE / 4);
    this.notification = new Notification(this.recvBuf.bytes.buffer as ArrayBuffer);

    this.epfd = epollCreate1(EPOLL.CLOEXEC);
    if (this.epfd < 0) throw new Error(`epoll_create1: errno ${errno()}`);
    const step = this.stepInts;
    step[STEP.listener] = listener;
    step[STEP.epfd] = this.epfd;
    step[STEP.max] = MAX_EVENTS;
    step[STEP.aheadMax] = AHEAD_MAX;
    [this.events, this.sendBuf, this.recvBuf, this.plan, this.ahead, this.native.block].forEach((b, i) => {
      this.stepBlock.view.setBigUint64(STEP_POINTERS + 8 * i, BigInt(b.address), true);
    });
    this.watch(listener, EPOLL.IN);
    // The flag travels by value; on kernels before 6.6 the call fails and we keep the default wake-up.
    this.syncWakeUp = ioctlValue(listener, IOCTL_SET_FLAGS, USER_NOTIF_FD_SYNC_WAKE_UP) === 0;
  }

  /** `handler` answers `nr` from now on, every time (a native rule set before is dropped). */
  on(nr: number, handler: Handler): void {
    this.handlers[nr] = handler;
    this.native.set(nr, NativeRule.Js);
  }

  /**
   * The native step may answer `nr` with CONTINUE under `rule`, where the
   * handler now installed would answer CONTINUE and change nothing.
   */
  decideNatively(nr: number, rule: NativeRule): void {
    this.native.set(nr, rule);
  }

  /**
   * Called by a handler whose plain answer commits something (a semop that
   * succeeded): `undo` runs if that answer cannot be delivered. It holds for
   * the notification being handled only.
   */
  onUndelivered(undo: () => void): void {
    this.undoIfUndelivered = undo;
  }

  /**
   * Have the step that receives a notification of `nr` read its args[countArg]
   * (an unsigned int) elements of `size` bytes at args[ptrArg] from the
   * caller's memory, for the handler to take with `readAhead` instead of
   * paying a call of its own.
   */
  readAheadFor(nr: number, ptrArg: number, countArg: number, size: number): void {
    this.planWords[nr] = ptrArg | (countArg << 8) | (size << 16);
  }

  /**
   * The `len` bytes readAheadFor read for the current notification, in the
   * first `len` bytes of the returned array (valid until the next step); null
   * if they were not read (then read them as usual: errors are reported there).
   */
  readAhead(len: number): Uint8Array | null {
    return this.aheadLen === len ? this.ahead.bytes : null;
  }

  /** The handler `on` installed for `nr`, if any: a feature that also watches `nr` chains to it. */
  handlerOf(nr: number): Handler | undefined {
    return this.handlers[nr];
  }

  /** Watch another fd (a pidfd, a timerfd) in the same epoll set. */
  /**
   * Watch an fd that carries the program's requests (a FUSE view), served
   * like notifications: after the batch's other events.
   */
  watchRequests(fd: number, callback: FdCallback): void {
    this.requestFds.add(fd);
    this.watchFd(fd, callback);
  }

  watchFd(fd: number, callback: FdCallback): void {
    this.fdCallbacks.set(fd, callback);
    this.watch(fd, EPOLL.IN);
  }

  unwatchFd(fd: number): void {
    this.requestFds.delete(fd);
    if (this.fdCallbacks.delete(fd)) epollCtl(this.epfd, EPOLL.CTL_DEL, fd, null);
  }

  private watch(fd: number, mask: number): void {
    const ev = allocNative(EPOLL_EVENT_SIZE);
    ev.view.setUint32(0, mask, true);
    ev.view.setUint32(4, fd, true);
    ev.view.setUint32(8, 0, true);
    if (epollCtl(this.epfd, EPOLL.CTL_ADD, fd, ev.ptr) < 0) throw new Error(`epoll_ctl(ADD, fd ${fd}): errno ${errno()}`);
  }

  /** Runs until `requestStop` (then `stopRequested` is true) or `requestPause`. */
  run(): void {
    const ev = this.events.view;
    const step = this.stepInts;
    if (this.observer !== null) this.native.disable(); // a tracer sees every call
    while (!this.stopped && !this.paused) {
      let timeout = this.hooks.nextTimeoutUs();
      if (timeout === 0) {
        // Due timers run before the wait, and after the answer: they may act on what it committed.
        this.flush();
        this.hooks.onTimer();
        timeout = this.hooks.nextTimeoutUs();
      }
      step[STEP.timeout] = timeout;
      step[STEP.send] = this.sendPending;
      step[STEP.yield] = this.wokeSleeper;
      this.sendPending = 0;
      this.wokeSleeper = 0;
      const n = this.step(this.stepBlock.ptr);
      this.aheadLen = step[STEP.aheadLen];
      if (step[STEP.sendError] !== 0) {
        // Nothing else was done: the notification is still the one whose answer was lost.
        this.undelivered();
        continue;
      }
      if (n < 0) {
        if (n === -EINTR) continue;
        throw new Error(`epoll_pwait2: errno ${-n}`);
      }
      const received = step[STEP.received];
      if (received === 1) {
        this.dispatch();
        continue;
      }
      if (received < 0) {
        if (received === -ENOENT || received === -EINTR) continue; // the task died or was interrupted before we got it
        throw new Error(`SECCOMP_IOCTL_NOTIF_RECV: errno ${-received}`);
      }
      // Events first: a process's exit (pidfd) must be applied before a
      // request from the parent that already reaped it (wait, then semctl;
      // wait, then read /proc/locks through a FUSE view): requests after.
      let listenerMask = 0;
      let requests = 0;
      for (let i = 0; i < n; i++) {
        const mask = ev.getUint32(i * EPOLL_EVENT_SIZE, true);
        const fd = ev.getUint32(i * EPOLL_EVENT_SIZE + 4, true);
        if (fd === this.listener) listenerMask = mask;
        else if (this.requestFds.has(fd)) requests++;
        else this.fdCallbacks.get(fd)?.(mask);
      }
      for (let i = 0; requests > 0 && i < n; i++) {
        const fd = ev.getUint32(i * EPOLL_EVENT_SIZE + 4, true);
        if (!this.requestFds.has(fd)) continue;
        requests--;
        this.fdCallbacks.get(fd)?.(ev.getUint32(i * EPOLL_EVENT_SIZE, true));
      }
      if (listenerMask & EPOLL.IN) this.receive();
      else if (listenerMask & (EPOLL.HUP | EPOLL.ERR)) this.listenerClosed();
    }
    this.paused = false;
    this.flush();
  }

  /** Send an answer left for the next step now. */
  private flush(): void {
    if (this.sendPending === 0) return;
    this.sendPending = 0;
    if (ioctl(this.listener, IOCTL_SEND, this.sendBuf.ptr) !== 0) this.undelivered();
  }

  /** The answer to the current notification could not be delivered: a signal interrupted the task meanwhile. */
  private undelivered(): void {
    const n = this.notification;
    this.hooks.undelivered(n);
    const undo = this.undoIfUndelivered;
    this.undoIfUndelivered = null;
    undo?.();
  }

  /** True once the filter has no task left: nothing will ever be notified again. */
  get idle(): boolean {
    return !this.listenerOpen;
  }

  private listenerClosed(): void {
    if (!this.listenerOpen) return;
    this.listenerOpen = false;
    epollCtl(this.epfd, EPOLL.CTL_DEL, this.listener, null);
    this.hooks.onListenerClosed();
  }

  /** Stop after the current iteration. */
  requestStop(): void {
    this.stopped = true;
  }

  get stopRequested(): boolean {
    return this.stopped;
  }

  /** Leave run() after the current iteration, to call it again later: the loop shares its thread with Node's event loop (loop-here.ts). */
  requestPause(): void {
    this.paused = true;
  }

  private receive(): void {
    this.aheadLen = 0;
    this.recvBuf.bytes.fill(0); // the kernel insists on a zeroed struct
    if (ioctl(this.listener, IOCTL_RECV, this.recvBuf.ptr) < 0) {
      const e = errno();
      if (e === ENOENT || e === EINTR) return; // the task died or was interrupted before we got it
      throw new Error(`SECCOMP_IOCTL_NOTIF_RECV: errno ${e}`);
    }
    this.dispatch();
  }

  /**
   * Handle the notification in recvBuf. A plain answer is left in sendBuf for
   * the next step, unless a tracer must learn whether it was delivered.
   */
  private dispatch(): void {
    const n = this.notification;
    const timed = this.stats.shouldTime(n.nr);
    const start = timed ? clock.now() : 0;
    this.timingSends = timed;
    this.sendMs = 0;
    const handler = this.handlers[n.nr];
    this.undoIfUndelivered = null;
    let result: number;
    try {
      result = this.hooks.beforeDispatch(n);
      if (result === DISPATCH) result = handler === undefined ? -ENOSYS : handler(n);
    } catch (err) {
      // A handler bug must cost one syscall, not the sandbox.
      this.hooks.handlerFailed(n, err);
      result = -ENOSYS;
    }
    this.timingSends = false;
    if (result === PENDING) {
      this.stats.count(n.nr); // counted, not timed: its answer comes when it is woken
      if (this.observer !== null) this.observer.answered(n, result);
      return;
    }
    if (result === ANSWERED) {
      if (timed) this.stats.record(n.nr, clock.now() - start - this.sendMs, this.sendMs);
      else this.stats.count(n.nr);
      if (this.observer !== null) this.observer.answered(n, this.answeredValue);
      return;
    }
    const w = this.sendWords;
    w[0] = this.recvWords[0];
    w[1] = this.recvWords[1];
    this.encode(w, this.sendInts, result);
    if (timed) this.stats.record(n.nr, clock.now() - start - this.sendMs, this.sendMs);
    else this.stats.count(n.nr);
    if (this.observer === null) {
      this.sendPending = 1;
      return;
    }
    const sent = ioctl(this.listener, IOCTL_SEND, this.sendBuf.ptr) === 0;
    if (!sent) this.undelivered();
    this.observer.answered(n, sent ? result : -EINTR);
  }

  private encode(w: Uint32Array, ints: Int32Array, result: number): void {
    if (result === CONTINUE) {
      w[2] = 0;
      w[3] = 0;
      ints[4] = 0;
      w[5] = USER_NOTIF_FLAG_CONTINUE;
    } else if (result < 0) {
      w[2] = 0;
      w[3] = 0;
      ints[4] = result;
      w[5] = 0;
    } else {
      w[2] = result >>> 0;
      w[3] = Math.floor(result / 4294967296);
      ints[4] = 0;
      w[5] = 0;
    }
  }

  /**
   * Answer a notification that a handler left PENDING. Returns false when the
   * kernel no longer waits for it (the task was interrupted or died): the
   * caller must then undo whatever it committed for that answer.
   */
  reply(id: bigint, result: number): boolean {
    this.lateBuf.view.setBigUint64(0, id, true); // no bigint arithmetic: it allocates
    this.encode(this.lateWords, this.lateInts, result);
    this.wokeSleeper = 1;
    return this.sendNow(IOCTL_SEND, this.lateBuf) === 0;
  }

  /**
   * Answer the current notification from inside its handler (which then
   * returns ANSWERED). Returns false when the task no longer waits for it.
   */
  answerNow(result: number): boolean {
    const w = this.sendWords;
    w[0] = this.recvWords[0];
    w[1] = this.recvWords[1];
    this.encode(w, this.sendInts, result);
    this.answeredValue = result;
    return this.sendNow(IOCTL_SEND, this.sendBuf) === 0;
  }

  /** An answer sent from inside a handler (SEND or ADDFD with SEND): timed apart while a timed dispatch runs. */
  private sendNow(request: number, buf: NativeBuffer): number {
    if (!this.timingSends) return ioctl(this.listener, request, buf.ptr);
    const t0 = clock.now();
    const r = ioctl(this.listener, request, buf.ptr);
    this.sendMs += clock.now() - t0;
    return r;
  }

  /**
   * Install our `fd` in the current notification's process and answer the
   * syscall with its number there, atomically (SECCOMP_ADDFD_FLAG_SEND).
   * Returns ANSWERED, or a negated errno when the kernel refused.
   */
  answerWithFd(fd: number, cloexec: boolean): number {
    const v = this.addfdBuf.view;
    v.setUint32(0, this.recvWords[0], true);
    v.setUint32(4, this.recvWords[1], true);
    v.setUint32(8, ADDFD_FLAG_SEND, true);
    v.setUint32(12, fd, true);
    v.setUint32(16, 0, true);
    v.setUint32(20, cloexec ? O_CLOEXEC : 0, true);
    const r = this.sendNow(IOCTL_ADDFD, this.addfdBuf);
    if (r < 0) return -errno();
    this.answeredValue = r;
    return ANSWERED;
  }

  /** SECCOMP_IOCTL_NOTIF_ID_VALID: is the task still waiting for this answer? */
  isValid(id: bigint): boolean {
    this.idBuf.view.setBigUint64(0, id, true);
    return ioctl(this.listener, IOCTL_ID_VALID, this.idBuf.ptr) === 0;
  }

  /** Validity of the current notification, without allocating. */
  currentValid(): boolean {
    this.idBuf.view.setUint32(0, this.recvWords[0], true);
    this.idBuf.view.setUint32(4, this.recvWords[1], true);
    return ioctl(this.listener, IOCTL_ID_VALID, this.idBuf.ptr) === 0;
  }

  close(): void {
    close(this.epfd);
  }
}
