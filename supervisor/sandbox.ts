// Sandbox: spawn the launcher, hand it the filter and Landlock rules, take
// the seccomp listener with pidfd_getfd, and run the notification loop in a
// worker thread until every sandboxed task is gone. The thread starts while
// the launcher does, and stays for the process's next sandbox.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Readable, Writable } from 'node:stream';
import { landlockRules, launcherConfig } from '../src/landlock.js';
import { compileFilter, type Manifest } from '../src/manifest/index.js';
import { decodePersisted, type PersistedSet } from '../src/sem/persist.js';
import type { WorkerConfig } from './feature.js';
import { conditionallyObserved, observedSyscalls } from './features.js';
import {
  allocNative, close, errno, eventfd, P_PID, pidfdGetfd, pidfdOpen, PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, prctl, waitid, WEXITED, WNOHANG, write,
} from './ffi.js';
import type { SyscallStats } from './stats.js';
import { LoopThread } from './loop-thread.js';
import { listProcesses, readStat } from './processes.js';
import type { ControlMessage, StartMessage, WorkerMessage } from './worker.js';

export const LAUNCHER = fileURLToPath(new URL('../../shims/build/sysvisor-launch', import.meta.url));

export interface RunOptions {
  manifest: Manifest;
  /** 'inherit' (default) or 'pipe': collect stdout/stderr into the result. */
  stdio?: 'inherit' | 'pipe';
  cwd?: string;
  /** Environment the manifest's env rules start from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  trace?: { fd: number; color: boolean };
  /** Write the state dump here at exit. */
  dumpState?: string;
  /** Forward SIGINT/SIGTERM/SIGHUP to the target (the CLI does). */
  forwardSignals?: boolean;
  /**
   * Make this process a child subreaper (prctl, process-wide and lasting), so
   * the sandbox's orphans are reparented here, stay visible to `ps` and are
   * reaped by the sandbox (the CLI does).
   */
  subreaper?: boolean;
  /** Called with a message when the sandbox starts weaker than the manifest's default asks (no private IPC namespace). */
  warn?: (message: string) => void;
}

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
}

export class SandboxError extends Error {}

export class Sandbox {
  /** The channel to the loop's thread while a sandbox runs. */
  private port: MessagePort | null = null;
  private controlFd = -1;
  /** Dumps asked for and not written yet, in order. */
  private readonly dumps: Array<{ file: string; resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly queued: ControlMessage[] = [];
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

  /** Ask the running sandbox to write its state as JSON. */
  /**
   * Ask the running sandbox to write its state as JSON to `file`; resolves
   * once it is written. Asked before the loop runs, it waits for it.
   */
  dumpState(file: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.dumps.push({ file, resolve, reject });
      this.control({ type: 'dump', file });
    });
  }

  /** Send a signal to the sandbox's first process. */
  kill(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async run(cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
    const thread = LoopThread.take();
    try {
      return await this.launch(thread, cmd, args, options);
    } finally {
      thread.release();
    }
  }

  private async launch(thread: LoopThread, cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
    const m = options.manifest;
    const restore = restoredSets(m);
    const filter = sandboxFilter(m);
    const config = launcherConfig(filter, landlockRules(m.filesystem), m.ipc.namespace);
    // Non-dumpable: a program of another uid, or of the same uid without
    // CAP_SYS_PTRACE, cannot read /proc/<supervisor>/environ, maps, auxv or
    // pagemap (Landlock refuses PTRACE_MODE_ATTACH only).
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    const pipe = options.stdio === 'pipe';
    const child = spawn(LAUNCHER, [cmd, ...args], {
      stdio: [pipe ? 'ignore' : 'inherit', pipe ? 'pipe' : 'inherit', pipe ? 'pipe' : 'inherit', 'pipe'],
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
    const started = /^listener (\d+) ipc=(.*)$/.exec(reply);
    const ipcNamespace = started?.[2];
    if (ipcNamespace?.startsWith('host (unshare')) {
      options.warn?.(`no private IPC namespace, ${ipcNamespace.slice(6, -1)}: the program can read the host's /proc/sysvipc files through paths the supervisor does not recognise (set [ipc] namespace = "host" to accept this quietly)`);
    }

    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    const forwarded: NodeJS.Signals[] = options.forwardSignals
      ? (process.stdin.isTTY ? ['SIGTERM', 'SIGHUP'] : ['SIGINT', 'SIGTERM', 'SIGHUP'])
      : [];
    for (const s of forwarded) process.on(s, forward);
    const reap = () => reapOrphans(new Set([child.pid ?? 0, this.reference?.pid ?? 0]));
    if (options.subreaper) {
      prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
      process.on('SIGCHLD', reap);
    }
    try {
      const listener = started ? this.takeListener(child.pid!, Number(started[1])) : -1;
      if (listener < 0) {
        controlSocket.destroy();
        const { code, signal } = await exited;
        const launchError = reply.startsWith('error ') ? reply.slice(6)
          : started ? 'could not take the seccomp listener from the launcher' : 'the launcher exited before installing the filter';
        return { status: statusOf(code, signal), exitCode: code, signal, stats: [], state: null, syncWakeUp: false, launchError, ...await outputs(stdout, stderr) };
      }
      const finished = this.startLoop(thread, {
        listenerFd: listener, controlFd: this.controlFd, emulate: [...m.syscalls.emulate], notified: notifiedNames(m), sem: { ...m.sem }, undoReferencePid: this.undoReference(m), persist: { file: m.ipc.persist, restore }, locks: { ...m.locks }, process: { ...m.process },
        exec: { trusted: [...m.exec.trusted], onlyTrusted: m.exec.onlyTrusted }, trace: options.trace ?? null,
      });
      controlSocket.end(Buffer.from([1])); // the launcher may exec the target now
      const [{ code, signal }, result] = await Promise.all([exited, finished]);
      if (options.dumpState) await this.writeFinalState(options.dumpState, result.state);
      return {
        status: statusOf(code, signal), exitCode: code, signal, stats: result.stats, state: result.state,
        syncWakeUp: result.syncWakeUp, ipcNamespace, ...await outputs(stdout, stderr),
      };
    } finally {
      for (const s of forwarded) process.off(s, forward);
      if (options.subreaper) process.off('SIGCHLD', reap);
      this.reference?.kill('SIGKILL');
      this.reference = null;
      for (const d of this.dumps.splice(0)) d.reject(new SandboxError(`the sandbox ended before the state dump to ${d.file}`));
      this.queued.length = 0;
      if (this.controlFd >= 0) close(this.controlFd);
      this.controlFd = -1;
      this.port?.close();
      this.port = null;
    }
  }

  /** A process with no kernel undo list, for kcmp (see handlers/sem.ts); only when semaphores are emulated. */
  private undoReference(m: Manifest): number {
    if (!m.syscalls.emulate.includes('semop') && !m.syscalls.emulate.includes('semtimedop')) return 0;
    const ref = spawn(LAUNCHER, ['--undo-reference'], { stdio: 'ignore' });
    this.reference = ref;
    return ref.pid ?? 0;
  }

  private takeListener(pid: number, remoteFd: number): number {
    const pidfd = pidfdOpen(pid);
    if (pidfd < 0) return -1;
    const fd = pidfdGetfd(pidfd, remoteFd);
    const err = errno();
    close(pidfd);
    if (fd < 0) throw new SandboxError(`pidfd_getfd(launcher ${pid}, fd ${remoteFd}) failed: errno ${err}`);
    return fd;
  }

  private startLoop(thread: LoopThread, config: WorkerConfig): Promise<{ stats: SyscallStats[]; state: unknown; syncWakeUp: boolean }> {
    this.controlFd = eventfd(0, 0x80000 /* EFD_CLOEXEC */);
    config.controlFd = this.controlFd;
    const { port1, port2 } = new MessageChannel();
    thread.worker.postMessage({ type: 'start', config, port: port2 } satisfies StartMessage, [port2]);
    thread.busy = true;
    this.port = port1;
    return new Promise((resolve, reject) => {
      let syncWakeUp = false;
      let done = false;
      port1.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') {
          syncWakeUp = msg.syncWakeUp;
          for (const m of this.queued.splice(0)) this.control(m);
        } else if (msg.type === 'finished') {
          done = true;
          thread.busy = false;
          resolve({ stats: msg.stats, state: msg.state, syncWakeUp });
        } else if (msg.type === 'dumped') {
          const i = this.dumps.findIndex((d) => d.file === msg.file);
          const d = i >= 0 ? this.dumps.splice(i, 1)[0] : undefined;
          if (msg.error) d?.reject(new SandboxError(`state dump to ${msg.file} failed: ${msg.error}`));
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

  private async writeFinalState(file: string, state: unknown): Promise<void> {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, JSON.stringify(state, null, 2) + '\n');
  }
}

/**
 * Reap the zombies of orphans reparented to us (as subreaper), leaving alone
 * the children Node itself waits for (`mine`). A zombie keeps the seccomp
 * filter referenced, so an unreaped one would keep the sandbox from ending.
 */
function reapOrphans(mine: ReadonlySet<number>): void {
  const info = allocNative(128);
  for (const pid of ourChildren()) {
    if (!mine.has(pid) && readStat(pid)?.state === 'Z') waitid(P_PID, pid, info.ptr, WEXITED | WNOHANG);
  }
}

/**
 * This process's children. Orphans are reparented to the thread group leader,
 * so its /proc children list (CONFIG_PROC_CHILDREN) has them all: one read
 * instead of a stat of every process on the machine, which only kernels
 * without that file pay.
 */
function ourChildren(): number[] {
  let list: string;
  try {
    list = readFileSync(`/proc/self/task/${process.pid}/children`, 'latin1');
  } catch {
    return listProcesses().filter((p) => p.ppid === process.pid).map((p) => p.pid);
  }
  return list.split(' ').filter((pid) => pid !== '').map(Number);
}

/** Every syscall name the filter of `m` notifies (unconditionally or under an argument test). */
function notifiedNames(m: Manifest): string[] {
  const blocked = new Set([...m.syscalls.deny.keys(), ...m.syscalls.kill]);
  const all = [...m.syscalls.emulate, ...observedSyscalls(m.syscalls.emulate, m), ...conditionallyObserved(m.syscalls.emulate).keys()];
  return [...new Set(all)].filter((n) => !blocked.has(n));
}

/** The seccomp program for a manifest: what it emulates, denies and kills, plus what the enabled features observe. */
export function sandboxFilter(m: Manifest): Uint8Array {
  return compileFilter(m, { notify: observedSyscalls(m.syscalls.emulate, m), notifyIf: conditionallyObserved(m.syscalls.emulate) });
}

/** [ipc] persist: the sets saved by the previous run, if any; a corrupt or foreign file stops the launch. */
function restoredSets(m: Manifest): PersistedSet[] {
  const file = m.ipc.persist;
  if (file === '' || !existsSync(file)) return [];
  try {
    return decodePersisted(readFileSync(file, 'utf8'), m.sem).sets;
  } catch (err) {
    throw new SandboxError(`ipc.persist: ${file}: ${(err as Error).message}`);
  }
}

export function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (osConstants.signals[signal] ?? 0);
  return code ?? 1;
}

function environment(env: Manifest['env'], base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  if (env.inherit) Object.assign(out, base);
  else for (const name of env.pass) if (base[name] !== undefined) out[name] = base[name];
  Object.assign(out, env.set);
  return out;
}

function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => stream.on('close', () => resolve(Buffer.concat(chunks))));
}

async function outputs(stdout: Promise<Buffer> | null, stderr: Promise<Buffer> | null): Promise<{ stdout?: Buffer; stderr?: Buffer }> {
  return stdout && stderr ? { stdout: await stdout, stderr: await stderr } : {};
}

function firstLine(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (c: Buffer) => {
      text += c.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        stream.off('data', onData);
        stream.pause();
        resolve(text.slice(0, nl));
      }
    };
    stream.on('data', onData);
    stream.once('close', () => resolve(text));
    stream.once('error', () => resolve(text));
  });
}
