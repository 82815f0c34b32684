// A sandbox's loop on the main thread, between Node's own events: for a
// process that runs one sandbox and little else (the CLI), it saves the
// loop's thread, a second Node isolate that costs ~11 MiB and ~50 ms of CPU
// to start. The loop's epoll set also watches the epoll fd of Node's event
// loop: when Node has work (a signal to forward, SIGUSR1's dump, SIGCHLD, the
// launcher's exit, a message), the loop pauses, Node serves it, and the loop
// resumes on the next turn. Node's timers are not in that fd: the loop also
// pauses after SLICE_MS, so a timer runs at most that late.
import { isMainThread, type MessagePort } from 'node:worker_threads';
import type { WorkerConfig } from './features/contract.js';
import { errorText } from './crash.js';
import { mainEventLoopFd } from './ffi.js';
import type { LoopHost } from './loop-thread.js';
import { supervise, type Supervision } from './worker.js';

const SLICE_MS = 20;

export class MainThreadLoop implements LoopHost {
  /** One sandbox's loop at a time: a second one would wait for the first one's pauses. */
  private static taken = false;
  busy = false;
  private lost: string | null = null;
  private onLost: ((why: string) => void) | null = null;

  private constructor() {}

  /** The main thread's loop, unless this is not the main thread or a sandbox's loop runs there already. */
  static take(): MainThreadLoop | null {
    if (!isMainThread || MainThreadLoop.taken) return null;
    MainThreadLoop.taken = true;
    return new MainThreadLoop();
  }

  start(config: WorkerConfig, port: MessagePort): void {
    setImmediate(() => {
      let pauseAt = Infinity;
      let sandbox: Supervision;
      try {
        sandbox = supervise(config, port, {
          nextDeadline: () => pauseAt,
          onTimer: () => {
            if (performance.now() >= pauseAt) sandbox.loop.requestPause();
          },
        });
      } catch (err) {
        this.gone(`supervisor loop failed: ${errorText(err)}`);
        return;
      }
      const nodeFd = mainEventLoopFd();
      sandbox.loop.watchFd(nodeFd, () => sandbox.loop.requestPause());
      const slice = () => {
        pauseAt = performance.now() + SLICE_MS;
        try {
          sandbox.loop.run();
        } catch (err) {
          const error = sandbox.crashed(err);
          sandbox.loop.close();
          this.gone(`supervisor loop failed: ${error.stack ?? error.message}`);
          return;
        }
        if (!sandbox.loop.stopRequested) {
          setImmediate(slice);
          return;
        }
        sandbox.loop.unwatchFd(nodeFd);
        sandbox.finish();
      };
      slice();
    });
  }

  whenLost(onLost: (why: string) => void): void {
    if (this.lost !== null) onLost(this.lost);
    else this.onLost = onLost;
  }

  release(): void {
    this.onLost = null;
    MainThreadLoop.taken = false;
  }

  private gone(why: string): void {
    if (this.lost !== null) return;
    this.lost = why;
    this.onLost?.(why);
  }
}
