// Sandbox: spawn the launcher (launcher.ts), hand it the filter (sandbox-filter.ts) and
// Landlock rules, take the seccomp listener with pidfd_getfd, and run the
// notification loop in a worker thread (loop-channel.ts speaks to it) until
// every sandboxed task is gone. The thread starts while the launcher does,
// and stays for the process's next sandbox.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { landlockRules, launcherConfig } from '../src/landlock.js';
import type { Manifest } from '../src/manifest/index.js';
import type { LearnedRun } from '../src/manifest/learn.js';
import { decodePersisted, type PersistedSet } from '../src/sem/persist.js';
import { renderStall } from '../src/waits/render.js';
import { unpinnedInterpreter } from './features/exec.js';
import { writeJson } from './json-stream.js';
import { PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, prctl } from './ffi.js';
import { collect, environment, firstLine, LAUNCHER, outputs, takeListener } from './launcher.js';
import type { SyscallStats } from './stats.js';
import { LoopChannel } from './loop-channel.js';
import { LoopThread, type LoopHost } from './loop-thread.js';
import { reapOrphans } from './reap-orphans.js';
import { closeSlot, openSlot, readSlot, writeSlot, type FileSlot } from './safe-file.js';
import { SandboxError } from './sandbox-error.js';
import { notifiedNames, sandboxFilter } from './sandbox-filter.js';
import type { TraceOptions } from './trace.js';
import type { StallReport } from './watchdog.js';
import { closeViews, launcherViews, mountedDevices, planViews, reportedViews, withViews } from './proc-views.js';

export interface RunOptions {
  manifest: Manifest;
  /** 'inherit' (default) or 'pipe': collect stdout/stderr into the result. */
  stdio?: 'inherit' | 'pipe';
  cwd?: string;
  /** Environment the manifest's env rules start from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  trace?: TraceOptions;
  /** Write the state dump here at exit: a path, or a slot the caller opened (safe-file.ts) and closes. */
  dumpState?: string | FileSlot;
  /** Forward SIGINT/SIGTERM/SIGHUP to the target (the CLI does). */
  forwardSignals?: boolean;
  /**
   * Make this process a child subreaper (prctl, process-wide and lasting), so
   * the sandbox's orphans are reparented here, stay visible to `ps` and are
   * reaped by the sandbox (the CLI does).
   */
  subreaper?: boolean;
  /**
   * Record what the program opens, executes and uses, for `sysvisor learn`
   * (RunResult.learned). Every open, exec and directory change is notified:
   * slower, never less safe.
   */
  learn?: boolean;
  /**
   * Run the notification loop on the main thread, between Node's own events,
   * instead of on a thread of its own (loop-here.ts): ~11 MiB and ~50 ms of
   * CPU less to start, for a process whose main thread has little else to do
   * meanwhile (the CLI). The loop and the thread's JS then wait for each
   * other, and its timers may run up to 20 ms late. A worker thread is used
   * anyway off the main thread, or while another sandbox's loop runs there.
   */
  mainThreadLoop?: boolean;
  /** Called with a message when the sandbox starts weaker than the manifest's default asks (no private IPC namespace). */
  warn?: (message: string) => void;
  /** [watchdog]: called once per deadlock or stall (default: the report, plain, on stderr). */
  onStall?: (report: StallReport) => void;
}

/** Exit status when the watchdog ended the sandbox ([watchdog] action = "kill"), as timeout(1) uses it. */
export const EXIT_STALLED = 124;

export interface RunResult {
  /** Exit status as a shell reports it: the code, or 128+N when killed by signal N. */
  status: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stats: SyscallStats[];
  /** The supervisor's final state (processes, semaphores, ...). */
  state: unknown;
  syncWakeUp: boolean;
  stdout?: Buffer;
  stderr?: Buffer;
  /** Why the sandbox could not start, if it did not. */
  launchError?: string;
  /** "private", or "host" and why: the kernel IPC namespace the program ran in. */
  ipcNamespace?: string;
  /** "private", or "host" and why: the PID namespace the program ran in ([proc] pid_namespace). */
  pidNamespace?: string;
  /** The deadlock or stall for which the watchdog ended the sandbox; `status` is then EXIT_STALLED. */
  stalled?: StallReport;
  /** How the [proc] views were served: "fuse", "notify" (with why, after a fallback) or "off". */
  procViews?: string;
  /** FUSE requests the views answered. */
  viewRequests?: number;
  /** With RunOptions.learn: what the run used. */
  learned?: LearnedRun;
}

export class Sandbox {
  /** The loop's protocol: state dumps and queries, and the loop's result. */
  private readonly channel = new LoopChannel();
  private child: ChildProcess | null = null;
  private reference: ChildProcess | null = null;

  /**
   * Start the loop's thread now, if none is idle, so that the next run finds
   * it ready: e.g. while the caller still loads or parses what it will run.
   */
  static warmUp(): void {
    LoopThread.warmUp();
  }

  /** Run `cmd args…` under the manifest; resolves when every sandboxed task is gone. */
  static run(cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
    return new Sandbox().run(cmd, args, options);
  }

  /**
   * Ask the running sandbox to write its state as JSON to `target` (a path,
   * or a slot the caller keeps open); resolves once it is written. Asked
   * before the loop runs, it waits for it.
   */
  dumpState(target: string | FileSlot): Promise<void> {
    return this.channel.dumpState(target);
  }

  /**
   * Ask the running sandbox for its state, as JSON text handed to `onChunk` a
   * piece at a time ('state'), or only for its count of processes
   * ('summary'); resolves with that count once the answer is complete.
   */
  query(what: 'state' | 'summary', onChunk: (bytes: Uint8Array) => void): Promise<number> {
    return this.channel.query(what, onChunk);
  }

  /** Send a signal to the sandbox's first process. */
  kill(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async run(cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
    const here = options.mainThreadLoop ? (await import('./loop-here.js')).MainThreadLoop.take() : null;
    const thread = here ?? LoopThread.take();
    try {
      return await this.launch(thread, cmd, args, options);
    } finally {
      thread.release();
    }
  }

  private async launch(thread: LoopHost, cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
    const m = options.manifest;
    const persist = m.ipc.persist === '' ? null : slotFor('ipc.persist', m.ipc.persist);
    let finalDump: FileSlot | null = null;
    try {
      finalDump = typeof options.dumpState === 'string' ? slotFor('dumpState', options.dumpState) : null;
      return await this.runWith(
        thread,
        cmd,
        args,
        options,
        persist === null ? [] : restoredSets(persist, m),
        persist,
        finalDump ?? (typeof options.dumpState === 'object' ? options.dumpState : undefined),
      );
    } finally {
      if (persist !== null) closeSlot(persist);
      if (finalDump !== null) closeSlot(finalDump);
    }
  }

  private async runWith(
    thread: LoopHost,
    cmd: string,
    args: readonly string[],
    options: RunOptions,
    restore: PersistedSet[],
    persist: FileSlot | null,
    finalDump: FileSlot | undefined,
  ): Promise<RunResult> {
    const asked = options.manifest;
    const interpreterMissing = unpinnedInterpreter(asked.exec);
    if (interpreterMissing !== null) throw new SandboxError(`${asked.file}: ${interpreterMissing}`);
    const pins = { files: [...asked.exec.trusted.keys()], onlyTrusted: asked.exec.onlyTrusted };
    const learn = options.learn === true;
    const plan = planViews(asked);
    if (plan.kind === 'error') throw new SandboxError(plan.message);
    const viewFds = plan.kind === 'fuse' ? plan.fds : [];
    const notifying = withViews(asked, 'notify');
    const m = plan.kind === 'fuse' ? withViews(asked, 'fuse') : plan.kind === 'off' ? withViews(asked, 'off') : notifying;
    const fallback = plan.kind === 'fuse' && plan.fallback ? sandboxFilter(notifying, learn) : null;
    let config: string;
    try {
      config = launcherConfig(
        sandboxFilter(m, learn),
        landlockRules(m.filesystem, pins),
        { ipc: m.ipc.namespace, pid: m.proc.pidNamespace },
        launcherViews(plan),
        fallback,
      );
    } catch (err) {
      closeViews(viewFds);
      throw err;
    }
    // Non-dumpable: a program of another uid, or of the same uid without
    // CAP_SYS_PTRACE, cannot read /proc/<supervisor>/environ, maps, auxv or
    // pagemap (Landlock refuses PTRACE_MODE_ATTACH only).
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    const pipe = options.stdio === 'pipe';
    const child = spawn(LAUNCHER, [cmd, ...args], {
      stdio: [pipe ? 'ignore' : 'inherit', pipe ? 'pipe' : 'inherit', pipe ? 'pipe' : 'inherit', 'pipe', ...viewFds],
      env: environment(m.env, options.env ?? process.env),
      cwd: options.cwd,
    });
    this.child = child;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', (err) => reject(new SandboxError(`cannot start the launcher ${LAUNCHER}: ${err.message}`)));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const stdout = pipe ? collect(child.stdout!) : null;
    const stderr = pipe ? collect(child.stderr!) : null;
    const controlSocket = child.stdio[3] as Writable & Readable;
    controlSocket.write(config);
    const reply = await firstLine(controlSocket);
    const started = /^listener (\d+) ipc=([^\t]*)\tviews=([^\t]*)\tpid=([^\t]*)\tinit=(\d+)$/.exec(reply);
    const ipcNamespace = started?.[2];
    const views = reportedViews(plan, started?.[3]);
    const pidNamespace = started?.[4];
    /** The sandbox's pid 1 (host pid), which holds the listener; 0 without a PID namespace. */
    const init = Number(started?.[5] ?? 0);
    const served = views.served === 'notify' ? notifying : m;
    const mounted =
      views.served === 'fuse' && plan.kind === 'fuse'
        ? { mounted: plan.files.map((f, i) => ({ fd: plan.fds[i]!, path: f.path, mode: f.mode })), devices: mountedDevices(child.pid!) }
        : { mounted: [], devices: [] };
    if (ipcNamespace?.startsWith('host (unshare')) {
      options.warn?.(
        `no private IPC namespace, ${ipcNamespace.slice(6, -1)}: the program can read the host's /proc/sysvipc files through paths the supervisor does not recognise (set [ipc] namespace = "host" to accept this quietly)`,
      );
    }
    if (pidNamespace?.startsWith('host (unshare')) {
      options.warn?.(
        `no private PID namespace, ${pidNamespace.slice(6, -1)}: the program sees the host's processes in /proc, the environment of those of its uid among them (set [proc] pid_namespace = "host" to accept this quietly)`,
      );
    }

    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    const forwarded: NodeJS.Signals[] = options.forwardSignals
      ? process.stdin.isTTY
        ? ['SIGTERM', 'SIGHUP']
        : ['SIGINT', 'SIGTERM', 'SIGHUP']
      : [];
    for (const s of forwarded) process.on(s, forward);
    const reap = () => reapOrphans(new Set([child.pid ?? 0, this.reference?.pid ?? 0]));
    if (options.subreaper) {
      prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
      process.on('SIGCHLD', reap);
    }
    try {
      const listener = started ? takeListener(init === 0 ? child.pid! : init, Number(started[1])) : -1;
      if (listener < 0) {
        controlSocket.destroy();
        const { code, signal } = await exited;
        const launchError = reply.startsWith('error ')
          ? reply.slice(6)
          : started
            ? 'could not take the seccomp listener from the launcher'
            : 'the launcher exited before installing the filter';
        return {
          status: statusOf(code, signal),
          exitCode: code,
          signal,
          stats: [],
          state: null,
          syncWakeUp: false,
          launchError,
          ...(await outputs(stdout, stderr)),
        };
      }
      const finished = this.channel.start(
        thread,
        {
          listenerFd: listener,
          controlFd: -1, // the channel's eventfd, set as it starts the loop
          init,
          emulate: [...m.syscalls.emulate],
          notified: notifiedNames(served, learn),
          sem: { ...m.sem },
          undoReferencePid: this.undoReference(m),
          persist: { slot: persist, restore },
          locks: { ...m.locks },
          process: { ...m.process },
          exec: { trusted: [...m.exec.trusted], onlyTrusted: m.exec.onlyTrusted },
          trace: options.trace ?? null,
          views: mounted,
          learn,
          watchdog: { ...m.watchdog, dumpFile: finalDump === undefined ? '' : `${finalDump.path}.stall.json` },
        },
        options.onStall ?? ((r) => process.stderr.write(`sysvisor: ${renderStall(r.stall, r.graph, r.stallMs)}`)),
      );
      controlSocket.end(Buffer.from([1])); // the launcher may exec the target now
      const [{ code, signal }, result] = await Promise.all([exited, finished]);
      if (finalDump !== undefined) {
        try {
          writeSlot(finalDump, (fd) => writeJson(fd, result.state), 'replace');
        } catch (err) {
          throw new SandboxError(`state dump at exit: ${(err as Error).message}`);
        }
      }
      const stalled = result.stalled === null ? {} : { stalled: result.stalled };
      return {
        status: result.stalled === null ? statusOf(code, signal) : EXIT_STALLED,
        exitCode: code,
        signal,
        stats: result.stats,
        state: result.state,
        syncWakeUp: result.syncWakeUp,
        ipcNamespace,
        pidNamespace,
        procViews: views.why === '' ? views.served : `${views.served} (${views.why})`,
        viewRequests: result.viewRequests,
        ...stalled,
        ...(result.learned ? { learned: result.learned } : {}),
        ...(await outputs(stdout, stderr)),
      };
    } finally {
      for (const s of forwarded) process.off(s, forward);
      if (options.subreaper) process.off('SIGCHLD', reap);
      this.reference?.kill('SIGKILL');
      this.reference = null;
      this.channel.end();
      closeViews(viewFds);
    }
  }

  /** A process with no kernel undo list, for kcmp (see supervisor/sem/feature.ts); only when semaphores are emulated. */
  private undoReference(m: Manifest): number {
    if (!m.syscalls.emulate.includes('semop') && !m.syscalls.emulate.includes('semtimedop')) return 0;
    const ref = spawn(LAUNCHER, ['--undo-reference'], { stdio: 'ignore' });
    this.reference = ref;
    return ref.pid ?? 0;
  }
}

/** A user-given path's slot (safe-file.ts): a link or a non-regular file there stops the launch with the reason. */
function slotFor(what: string, path: string): FileSlot {
  try {
    return openSlot(path);
  } catch (err) {
    throw new SandboxError(`${what}: ${(err as Error).message}`);
  }
}

/** [ipc] persist: the sets saved by the previous run, if any; a corrupt or foreign file stops the launch. */
function restoredSets(slot: FileSlot, m: Manifest): PersistedSet[] {
  let text: string | null;
  try {
    text = readSlot(slot);
  } catch (err) {
    throw new SandboxError(`ipc.persist: ${(err as Error).message}`);
  }
  if (text === null) return [];
  try {
    return decodePersisted(text, m.sem).sets;
  } catch (err) {
    throw new SandboxError(`ipc.persist: ${slot.path}: ${(err as Error).message}`);
  }
}

export function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  // NodeJS.Signals names some signals Linux lacks (SIGBREAK, SIGINFO): the table has no number for them.
  if (signal) return 128 + ((osConstants.signals[signal] as number | undefined) ?? 0);
  return code ?? 1;
}
