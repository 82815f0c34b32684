// Shared test helpers: paths, the CLI runner, hand-built policies.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtinManifest, type Manifest } from '../supervisor/index.js';

/** Repository root (tests run compiled from dist/test/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = `${ROOT}dist/bundle/sysvisor.js`;
export const C_BIN = `${ROOT}test/c/build/`;

/** The built-in manifest with some sections replaced. */
export function policy(overrides: Partial<Manifest> = {}): Manifest {
  return { ...builtinManifest(), ...overrides };
}

export interface Exec {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion, collecting its output. */
export function exec(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => {}); // the child may exit before reading its input (EPIPE)
    child.stdin.end(opts.input ?? '');
  });
}

/** Run the sysvisor CLI with these arguments. */
export function sysvisor(
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<Exec> {
  return exec(process.execPath, [CLI, ...args], opts);
}

/** "maj:min:ino" as /proc/locks prints a file (two hex digits each for the device). */
export function procLocksId(path: string): string {
  const st = statSync(path, { bigint: true });
  const major = Number(((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn));
  const minor = Number((st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn));
  const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
  return `${hex2(major)}:${hex2(minor)}:${st.ino}`;
}

/**
 * The lines of the host's /proc/locks containing `key`, from two whole reads
 * in a row that agree on them: the kernel prints the file a page per read
 * and resumes by line number, so locks of other processes coming and going
 * between two reads repeat or skip a line. Beside a busy lock user the reads
 * can disagree hundreds of times in a row, so the bound is a time
 * (test/c/proc_locks.h does the same for the C programs).
 */
export function hostProcLocks(key: string): string[] {
  const about = (): string[] =>
    readFileSync('/proc/locks', 'utf8')
      .split('\n')
      .filter((l) => l.includes(key));
  const deadline = Date.now() + 60_000;
  let prev = about();
  do {
    const next = about();
    if (next.join('\n') === prev.join('\n')) return next;
    prev = next;
  } while (Date.now() < deadline);
  throw new Error(`the /proc/locks lines about ${key} never read the same twice in a row`);
}

/** How a command run by runInGroup ended. */
export interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
  pid: number | undefined;
}

export interface RunInGroupOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Called with each stdout chunk as it arrives, and the child (to write to stdin, signal it). */
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void;
}

/**
 * Run a command to completion in its own process group, collecting its output;
 * on timeout kill the whole group (test programs fork). stdin is closed unless
 * onStdout wants to talk to the child.
 */
export function runInGroup(cmd: string, args: readonly string[], o: RunInGroupOptions): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let text = '';
    child.stdout!.on('data', (c: Buffer) => {
      out.push(c);
      text += c.toString();
      o.onStdout?.(text, child);
    });
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.stdin!.on('error', () => {});
    if (!o.onStdout) child.stdin!.end();
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, o.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        timedOut,
        ms: Date.now() - start,
        pid: child.pid,
      });
    });
  });
}
