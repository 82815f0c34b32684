// The loop's thread: owns the listener, the process table and every
// feature's state. It blocks in epoll_wait, so the main thread talks to it
// through an eventfd (to wake it) plus the message port, read synchronously.
// The thread serves one sandbox at a time and then waits for the next: it is
// started while the launcher starts, and kept for the process's next run.
// supervise() also runs on the calling thread, between its other events
// (loop-here.ts): the CLI's single run saves the thread.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { LearnedRun } from '../src/manifest/learn.js';
import { nr, syscallName, syscallNumber } from '../src/syscalls/table.js';
import { buildWaitGraph, type WaitInput } from '../src/waits/graph.js';
import { BlockedCalls, SYS_RT_SIGRETURN } from './blocking.js';
import { CrashReporter, errorText } from './crash.js';
import type { Feature, SupervisorContext, WorkerConfig } from './features/contract.js';
import { fdBudget } from './fd-budget.js';
import { enabledFeatures } from './features/index.js';
import { streamJson, writeJson } from './json-stream.js';
import { LOOP_THREAD } from './loop-thread.js';
import { allocNative, close, read } from './ffi.js';
import { CONTINUE, DISPATCH, NotificationLoop } from './loop/loop.js';
import { NativeRule } from './loop/native-rules.js';
import { TargetMemory } from './memory.js';
import { ProcFuse } from './proc-fuse.js';
import { ProcessTable } from './processes.js';
import { LearnRecorder } from './learn.js';
import { writeSlot, type FileSlot } from './safe-file.js';
import { Tracer } from './trace.js';
import { VirtualFiles } from './virtual-files.js';
import { type StallReport, Watchdog } from './watchdog.js';

/** Sent on the thread's parent port: run a sandbox, talking over `port`. */
export type StartMessage = { type: 'start'; config: WorkerConfig; port: MessagePort };
export type ControlMessage =
  | { type: 'stop' }
  | { type: 'dump'; slot: FileSlot }
  /** A control socket's query (control-socket.ts): the whole state as JSON chunks, or the count of processes. */
  | { type: 'query'; id: number; what: 'state' | 'summary' };
export type WorkerMessage =
  | { type: 'ready'; syncWakeUp: boolean }
  | { type: 'dumped'; file: string; error?: string }
  | { type: 'state-chunk'; id: number; bytes: Uint8Array }
  | { type: 'answered'; id: number; processes: number; error?: string }
  | { type: 'stall'; report: StallReport }
  | {
      type: 'finished';
      stats: ReturnType<NotificationLoop['stats']['summary']>;
      state: unknown;
      viewRequests: number;
      learned: LearnedRun | null;
    };

// Only in a loop's thread: imported on the calling thread (loop-here.ts), this module only exports.
if (workerData === LOOP_THREAD) {
  parentPort!.on('message', (msg: StartMessage) => {
    const sandbox = supervise(msg.config, msg.port);
    try {
      sandbox.loop.run();
    } catch (err) {
      throw sandbox.crashed(err);
    }
    sandbox.finish();
  });
}

/** What the thread's own event loop needs of the sandbox's loop when they share a thread (loop-here.ts): its turn by a deadline. */
export interface HostTimer {
  /** Absolute time (performance.now() ms) by which the loop must pause, or Infinity (a function property: it is passed on unbound). */
  nextDeadline: () => number;
  onTimer: () => void;
}

/** One sandbox's loop, set up and announced ('ready'): run `loop` until it stops, then `finish()`. */
export interface Supervision {
  loop: NotificationLoop;
  /** Every task that carried the filter is gone: shut the features down and post the final state ('finished'). */
  finish(): void;
  /** The loop threw: its crash report written, the error that ends the loop's thread. */
  crashed(err: unknown): Error;
}

/** Set up the loop of one sandbox, to run until every task that carried its filter is gone. */
export function supervise(config: WorkerConfig, port: MessagePort, host?: HostTimer): Supervision {
  const features: Feature[] = [];
  /** The features' nextDeadline methods, bound once: reading them off six feature classes per round trip is a megamorphic load. */
  const deadlines: Array<() => number> = [];
  const INT32_MAX = 2147483647;
  const crashes = new CrashReporter(state);

  const loop = new NotificationLoop(config.listenerFd, {
    nextTimeoutUs() {
      let next = blocked.nextDeadline();
      for (let i = 0; i < deadlines.length; i++) next = Math.min(next, deadlines[i]());
      if (next === Infinity) return -1;
      return Math.max(0, Math.min(INT32_MAX, Math.ceil((next - performance.now()) * 1000)));
    },
    onTimer() {
      blocked.onTimer();
      for (const f of features) f.onTimer?.();
      host?.onTimer();
    },
    beforeDispatch(n) {
      processes.processOf(n.tid);
      return blocked.size === 0 ? DISPATCH : blocked.check(n);
    },
    undelivered(n) {
      blocked.undelivered(n);
    },
    handlerFailed(n, err) {
      const syscall = syscallName(n.nr);
      const args = [0, 1, 2, 3, 4, 5].map((i) => `0x${n.big(i).toString(16)}`);
      const file = crashes.report(err, { syscall, tid: n.tid, args });
      process.stderr.write(
        `sysvisor: internal error in the ${syscall} handler (thread ${n.tid}), answered ENOSYS; crash report: ${file}\n${errorText(err)}\n`,
      );
    },
    onListenerClosed() {
      processes.exitAll();
      loop.requestStop();
    },
  });

  const processes: ProcessTable = new ProcessTable(loop);
  const blocked: BlockedCalls = new BlockedCalls(loop.native);
  const tracer = config.trace ? new Tracer(config.trace, (tid) => processes.knownProcessOf(tid)?.tgid ?? tid) : null;
  const memory = new TargetMemory();
  const budget = fdBudget();
  const files = new VirtualFiles(
    loop,
    memory,
    (tid) => processes.credentials(tid),
    (tid) => processes.processOf(tid)?.tgid ?? null,
    budget.writers,
    tracer,
  );
  const ctx: SupervisorContext = { loop, memory, processes, blocked, tracer, files, config, budget };
  if (tracer) {
    loop.observer = tracer;
    processes.onExit((p) => tracer.event(p.tgid, `process ${p.tgid} (${p.name}) exited`));
  }
  processes.onExit((p) => {
    for (const tid of p.threads) blocked.forgetThread(tid);
  });
  // Notified only while a feature that blocks is on: see BlockedCalls.
  loop.on(SYS_RT_SIGRETURN, (n) => {
    blocked.sigreturn(n, ctx.memory);
    return CONTINUE;
  });
  loop.decideNatively(SYS_RT_SIGRETURN, NativeRule.Sigreturn);
  const enabled = new Set(config.emulate);
  for (const module of enabledFeatures(config.emulate)) features.push(module.install(ctx, enabled));
  if (config.watchdog.stallMs > 0) {
    features.push(
      new Watchdog(config.watchdog, blocked, processes, state, (report) =>
        port.postMessage({ type: 'stall', report } satisfies WorkerMessage),
      ),
    );
  }
  for (const f of features) if (f.nextDeadline) deadlines.push(f.nextDeadline.bind(f));
  if (host) deadlines.push(host.nextDeadline);
  // After the features: they register the files the views serve.
  const views = new ProcFuse(loop, config.views.mounted, files);
  // After the features: the syscalls they set a restart policy for are not made transparent.
  blocked.setNotified(config.notified.map((name) => nr(name)));
  // After the features: it wraps the handlers they installed, and observes for the tracer.
  const recorder = config.learn ? new LearnRecorder(ctx, features, tracer) : null;
  if (recorder) loop.observer = recorder;
  // Test hook: the handler of one syscall throws, to drive the fault path end to end.
  const fault = process.env.SYSVISOR_TEST_FAULT;
  if (fault !== undefined && syscallNumber(fault) !== undefined && loop.handlerOf(nr(fault)) !== undefined) {
    loop.on(nr(fault), () => {
      throw new Error(`SYSVISOR_TEST_FAULT=${fault}`);
    });
  }

  /** The dump: every feature's state, when it was taken, and the wait-for graph built from them. */
  function state(): Record<string, unknown> {
    const out: Record<string, unknown> = { time: Date.now(), processes: processes.snapshot() };
    for (const f of features) if (f.snapshot) out[f.name] = f.snapshot();
    out.waits = buildWaitGraph(out as WaitInput);
    return out;
  }

  const controlBuf = allocNative(8);
  loop.watchFd(config.controlFd, () => {
    read(config.controlFd, controlBuf.ptr, 8);
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const msg = m.message as ControlMessage;
      if (msg.type === 'stop') loop.requestStop();
      else if (msg.type === 'dump') port.postMessage(dump(msg.slot));
      else port.postMessage(answer(msg.id, msg.what));
    }
  });

  /**
   * A query: the state is serialised here, at once (a consistent moment), but
   * handed over in chunks of text, never as one string or one cloned object.
   */
  function answer(id: number, what: 'state' | 'summary'): WorkerMessage {
    try {
      if (what === 'state') streamJson(state(), (bytes) => port.postMessage({ type: 'state-chunk', id, bytes } satisfies WorkerMessage));
      return { type: 'answered', id, processes: processes.processes.size };
    } catch (err) {
      return { type: 'answered', id, processes: processes.processes.size, error: (err as Error).message };
    }
  }

  /** A state dump replaces the file whole (safe-file.ts): a reader never sees half of one. */
  function dump(slot: FileSlot): WorkerMessage {
    try {
      writeSlot(slot, (fd) => writeJson(fd, state()), 'replace');
      return { type: 'dumped', file: slot.path };
    } catch (err) {
      return { type: 'dumped', file: slot.path, error: (err as Error).message };
    }
  }

  port.postMessage({ type: 'ready', syncWakeUp: loop.syncWakeUp } satisfies WorkerMessage);
  return {
    loop,
    finish() {
      for (const f of features) f.shutdown?.();
      // Posted as objects (a structured clone, no JSON text: see json-stream.ts).
      const final = state();
      loop.close();
      close(config.listenerFd);
      port.postMessage({
        type: 'finished',
        stats: loop.stats.summary((nr) => loop.native.decidedCount(nr)),
        state: final,
        viewRequests: views.requests,
        learned: recorder?.result() ?? null,
      } satisfies WorkerMessage);
    },
    crashed(err) {
      // The Sandbox closes the listener (every notified call then fails closed with ENOSYS).
      const file = crashes.report(err, null);
      return new Error(`${err instanceof Error ? err.message : String(err)} (crash report: ${file})`, { cause: err });
    },
  };
}
