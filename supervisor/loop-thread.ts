// The loop's thread as the main thread holds it. Starting one (a Node
// isolate, then the supervisor's modules and koffi) is most of a sandbox's
// start-up: a run takes its thread before it spawns the launcher, so both
// start at once, and leaves it idle for the process's next run. This module
// imports nothing else of the supervisor, so the CLI can start the thread
// before it loads the rest.
import { SHARE_ENV, Worker, type MessagePort } from 'node:worker_threads';
import type { WorkerConfig } from './features/contract.js';
import type { StartMessage } from './worker.js';

const WORKER = new URL('./worker.js', import.meta.url);
/** The workerData that makes worker.js serve sandboxes: imported anywhere else, it only exports. */
export const LOOP_THREAD = 'sysvisor loop thread';

/** Where a sandbox's loop runs: a thread of its own (LoopThread) or the calling thread (loop-here.ts). */
export interface LoopHost {
  /** Between the start of a sandbox's loop and its end. */
  busy: boolean;
  /** Run the loop of a sandbox, talking over `port`. */
  start(config: WorkerConfig, port: MessagePort): void;
  /** Call `onLost` when the loop fails or its thread exits (at once if it already has). */
  whenLost(onLost: (why: string) => void): void;
  /** The run is over. */
  release(): void;
}

export class LoopThread implements LoopHost {
  /** The thread kept for the next run: unreferenced, it never keeps the process alive. */
  private static idle: LoopThread | null = null;
  /** It shares process.env as the main thread sees it, not a copy taken when it started. */
  readonly worker = new Worker(WORKER, { env: SHARE_ENV, workerData: LOOP_THREAD });
  busy = false;
  /** Why the thread is gone, once it is. */
  private lost: string | null = null;
  private onLost: ((why: string) => void) | null = null;

  private constructor() {
    this.worker.on('error', (err) => this.gone(`supervisor loop failed: ${err.stack ?? err.message}`));
    this.worker.on('exit', (code) => this.gone(`supervisor loop exited (code ${code}) before the sandbox finished`));
  }

  /** Start a thread to be idle, unless one is. */
  static warmUp(): void {
    if (LoopThread.idle !== null) return;
    LoopThread.idle = new LoopThread();
    LoopThread.idle.worker.unref();
  }

  /** The idle thread, or a new one. */
  static take(): LoopThread {
    const thread = LoopThread.idle ?? new LoopThread();
    LoopThread.idle = null;
    thread.worker.ref();
    return thread;
  }

  start(config: WorkerConfig, port: MessagePort): void {
    this.worker.postMessage({ type: 'start', config, port } satisfies StartMessage, [port]);
  }

  whenLost(onLost: (why: string) => void): void {
    if (this.lost !== null) onLost(this.lost);
    else this.onLost = onLost;
  }

  /** The run is over: keep the thread for the next one, unless it is gone, still looping, or one is kept already. */
  release(): void {
    this.onLost = null;
    if (this.lost === null && !this.busy && LoopThread.idle === null) {
      this.worker.unref();
      LoopThread.idle = this;
    } else {
      void this.worker.terminate();
    }
  }

  private gone(why: string): void {
    if (LoopThread.idle === this) LoopThread.idle = null;
    if (this.lost !== null) return;
    this.lost = why;
    this.onLost?.(why);
  }
}
