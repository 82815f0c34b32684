// The stall watchdog ([watchdog] in the manifest), in the loop's thread. It
// ticks every quarter of the threshold; a tick costs a walk over the
// sleeping calls, and only when one of them has slept past the threshold is
// the state dumped and the wait-for graph built (src/waits judges it). The
// hot path never sees it: the loop only reads its next tick time.
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import type { WatchdogAction } from '../src/manifest/types.js';
import type { WaitGraph } from '../src/waits/graph.js';
import { type Stall, StallWatch } from '../src/waits/watchdog.js';
import type { BlockedCalls } from './blocking.js';
import { jsonBigInt } from './crash.js';
import type { Feature } from './features/contract.js';
import { SYS, syscall6 } from './ffi.js';
import type { ProcessTable } from './processes.js';

const SIGKILL = 9;
const MIN_PERIOD_MS = 10;

export interface WatchdogConfig {
  /** 0: off. */
  stallMs: number;
  action: WatchdogAction;
  /** Where the state at a stall is written ("" = nowhere): next to --dump-state's file. */
  dumpFile: string;
}

/** What the watchdog tells the main thread, once per stall. */
export interface StallReport {
  stall: Stall;
  graph: WaitGraph;
  stallMs: number;
  action: WatchdogAction;
  /** The state dump written at the stall, if any. */
  file: string | null;
  /** Why it could not be written. */
  fileError?: string;
}

export class Watchdog implements Feature {
  readonly name = 'watchdog';
  private readonly period: number;
  private readonly watch: StallWatch;
  private next: number;
  /** The stall that ended the sandbox (action "kill"). */
  killedFor: StallReport | null = null;

  constructor(
    private readonly config: WatchdogConfig,
    private readonly blocked: BlockedCalls,
    private readonly processes: ProcessTable,
    private readonly state: () => Record<string, unknown>,
    private readonly report: (r: StallReport) => void,
  ) {
    this.period = Math.max(MIN_PERIOD_MS, config.stallMs / 4);
    this.watch = new StallWatch(config.stallMs);
    this.next = performance.now() + this.period;
  }

  nextDeadline(): number {
    return this.next;
  }

  onTimer(): void {
    const now = performance.now();
    if (now < this.next) return;
    this.next = now + this.period;
    // A process forked just before the kill is learnt a moment later: kill again until none is left.
    if (this.killedFor !== null) return this.killAll();
    const oldest = this.blocked.oldestSince();
    if (oldest === null || now - oldest < this.config.stallMs) return; // nothing has slept that long
    const state = this.state();
    const graph = state.waits as WaitGraph;
    const stall = this.watch.check(graph);
    if (stall === null) return;
    const r: StallReport = { stall, graph, stallMs: this.config.stallMs, action: this.config.action, file: null };
    if (this.config.dumpFile !== '') {
      try {
        writeNew(this.config.dumpFile, JSON.stringify(state, jsonBigInt, 2) + '\n');
        r.file = this.config.dumpFile;
      } catch (err) {
        r.fileError = (err as Error).message;
      }
    }
    this.report(r);
    if (this.config.action === 'kill') {
      this.killedFor = r;
      this.killAll();
    }
  }

  /** SIGKILL every process of the sandbox, through its pidfd (no pid reuse can redirect it). */
  private killAll(): void {
    for (const p of this.processes.processes.values()) syscall6(SYS.pidfd_send_signal, p.pidfd, SIGKILL, 0, 0, 0, 0);
  }
}

/**
 * Write a file the program cannot redirect: whatever sits at the path (a
 * planted symlink) is removed, and the new file is created exclusively,
 * without following a link there.
 */
function writeNew(file: string, text: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
