// The sandbox's side of the loop's protocol: start the loop on its thread
// with the worker's config, pass it state dumps and control-socket queries
// (a message on the port, then a tick on the control eventfd, which wakes
// the loop from epoll), and turn the loop's messages into their answers.
// What is asked before the loop is ready waits for it.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { LearnedRun } from '../src/manifest/learn.js';
import type { WorkerConfig } from './features/contract.js';
import { allocNative, close, eventfd, write } from './ffi.js';
import type { LoopHost } from './loop-thread.js';
import { closeSlot, openSlot, type FileSlot } from './safe-file.js';
import { SandboxError } from './sandbox-error.js';
import type { SyscallStats } from './stats.js';
import type { StallReport } from './watchdog.js';
import type { ControlMessage, WorkerMessage } from './worker.js';

/** What the loop reports when every sandboxed task is gone. */
export interface LoopResult {
  stats: SyscallStats[];
  state: unknown;
  syncWakeUp: boolean;
  stalled: StallReport | null;
  viewRequests: number;
  learned: LearnedRun | null;
}

export class LoopChannel {
  /** The channel to the loop's thread while a sandbox runs. */
  private port: MessagePort | null = null;
  private controlFd = -1;
  /** Dumps asked for and not written yet, in order; `owned` slots were opened here and are closed here. */
  private readonly dumps: Array<{ slot: FileSlot; owned: boolean; resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly queued: ControlMessage[] = [];
  /** Control-socket queries asked and not answered yet, by id. */
  private readonly queries = new Map<
    number,
    { onChunk: (bytes: Uint8Array) => void; resolve: (processes: number) => void; reject: (e: Error) => void }
  >();
  private nextQuery = 1;

  /** Ask the loop to write its state as JSON to `target`; resolves once it is written. */
  dumpState(target: string | FileSlot): Promise<void> {
    return new Promise((resolve, reject) => {
      let slot: FileSlot;
      try {
        slot = typeof target === 'string' ? openSlot(target) : target;
      } catch (err) {
        reject(new SandboxError(`state dump: ${(err as Error).message}`));
        return;
      }
      this.dumps.push({ slot, owned: typeof target === 'string', resolve, reject });
      this.control({ type: 'dump', slot });
    });
  }

  /** Ask the loop for its state ('state', in chunks) or its count of processes ('summary'). */
  query(what: 'state' | 'summary', onChunk: (bytes: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      const id = this.nextQuery++;
      this.queries.set(id, { onChunk, resolve, reject });
      this.control({ type: 'query', id, what });
    });
  }

  /** Start the loop on `thread`; resolves with its result when every sandboxed task is gone. */
  start(thread: LoopHost, config: WorkerConfig, onStall: (r: StallReport) => void): Promise<LoopResult> {
    this.controlFd = eventfd(0, 0x80000 /* EFD_CLOEXEC */);
    config.controlFd = this.controlFd;
    const { port1, port2 } = new MessageChannel();
    thread.start(config, port2);
    thread.busy = true;
    this.port = port1;
    return new Promise((resolve, reject) => {
      let syncWakeUp = false;
      let done = false;
      let stalled: StallReport | null = null;
      port1.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') {
          syncWakeUp = msg.syncWakeUp;
          for (const m of this.queued.splice(0)) this.control(m);
        } else if (msg.type === 'finished') {
          done = true;
          thread.busy = false;
          resolve({ stats: msg.stats, state: msg.state, syncWakeUp, stalled, viewRequests: msg.viewRequests, learned: msg.learned });
        } else if (msg.type === 'stall') {
          if (msg.report.action === 'kill') stalled = msg.report;
          onStall(msg.report);
        } else if (msg.type === 'state-chunk') {
          this.queries.get(msg.id)?.onChunk(msg.bytes);
        } else if (msg.type === 'answered') {
          const q = this.queries.get(msg.id);
          this.queries.delete(msg.id);
          if (msg.error !== undefined) q?.reject(new SandboxError(`state query failed: ${msg.error}`));
          else q?.resolve(msg.processes);
        } else {
          // 'dumped'
          const i = this.dumps.findIndex((d) => d.slot.path === msg.file);
          const d = i >= 0 ? this.dumps.splice(i, 1)[0] : undefined;
          if (d?.owned) closeSlot(d.slot);
          if (msg.error) d?.reject(new SandboxError(`state dump failed: ${msg.error}`));
          else d?.resolve();
        }
      });
      thread.whenLost((why) => {
        if (done) return;
        // Fail closed: with the listener gone, notified syscalls return ENOSYS instead of reaching the host.
        close(config.listenerFd);
        reject(new SandboxError(why));
      });
    });
  }

  /** The sandbox ended: fail what is still asked, close the eventfd and the port. */
  end(): void {
    for (const d of this.dumps.splice(0)) {
      if (d.owned) closeSlot(d.slot);
      d.reject(new SandboxError(`the sandbox ended before the state dump to ${d.slot.path}`));
    }
    for (const q of this.queries.values()) q.reject(new SandboxError('the sandbox ended before the answer'));
    this.queries.clear();
    this.queued.length = 0;
    if (this.controlFd >= 0) close(this.controlFd);
    this.controlFd = -1;
    this.port?.close();
    this.port = null;
  }

  private control(msg: ControlMessage): void {
    if (!this.port || this.controlFd < 0) {
      this.queued.push(msg);
      return;
    }
    this.port.postMessage(msg);
    const one = allocNative(8);
    one.view.setUint32(0, 1, true);
    write(this.controlFd, one.ptr, 8);
  }
}
