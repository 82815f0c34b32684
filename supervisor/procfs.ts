// Every read of /proc the supervisor makes, in one place; what the text
// means is decided by the parsers in src/procfs.ts.
import { readFileSync } from 'node:fs';
import {
  type Credentials,
  credentialsOf,
  direntNumbers,
  fdinfoCloexec,
  idsOf,
  parseChildren,
  parseStat,
  parseStatus,
  parseSyscall,
  type TaskStat,
} from '../src/procfs.js';
import { O_CLOEXEC, O_DIRECTORY, O_RDONLY } from '../src/syscalls/constants.js';
import { ENOENT, ESRCH } from '../src/syscalls/errno.js';
import { nr } from '../src/syscalls/table.js';
import { allocNative, close, errno, loadStackPointer, openPath, read, type StackPointerFn, SYS, syscall6 } from './ffi.js';

const O_RDONLY_CLOEXEC = O_RDONLY | O_CLOEXEC;
/** open(2) of a /proc entry of a task that has exited. */
const GONE = new Set<number>([ENOENT, ESRCH]);
/** The supervisor's pid: its children are where the sandbox starts. */
const SELF = process.pid;
const NR_EXECVE = nr('execve');
const NR_EXECVEAT = nr('execveat');

// /proc is read with raw open/read/getdents64 into one native buffer: the
// liveness walk reads a few small files per process, and node's readFileSync
// and readdirSync cost ~10 µs each where these cost ~2 µs.
const procBuf = allocNative(1 << 16);

/** A small /proc file as text, or null when it cannot be read. */
export function readProc(path: string): string | null {
  const fd = openPath(path, O_RDONLY_CLOEXEC);
  if (fd < 0) return null;
  let len = 0;
  for (;;) {
    const n = read(fd, procBuf.address + len, procBuf.bytes.length - len);
    if (n <= 0 || (len += n) === procBuf.bytes.length) break;
  }
  close(fd);
  return Buffer.from(procBuf.bytes.buffer, procBuf.bytes.byteOffset, len).toString('latin1');
}

/**
 * The numeric entries of a /proc directory (pids, tids, fds); empty if it is
 * gone, null if it could not be read (the supervisor out of fds: EMFILE).
 */
export function procNumbers(path: string): number[] | null {
  const out: number[] = [];
  const fd = openPath(path, O_RDONLY_CLOEXEC | O_DIRECTORY);
  if (fd < 0) return GONE.has(errno()) ? out : null;
  for (;;) {
    const n = syscall6(SYS.getdents64, fd, procBuf.address, procBuf.bytes.length, 0, 0, 0);
    if (n <= 0) break;
    direntNumbers(procBuf.bytes, procBuf.view, n, out);
  }
  close(fd);
  return out;
}

/** Open fds of a process (numbers), from /proc/PID/fd; empty if it is gone, null if it could not be read. */
export function openFds(pid: number): number[] | null {
  return procNumbers(`/proc/${pid}/fd`);
}

/** Close-on-exec flag of a target fd, from /proc/PID/fdinfo/FD. */
export function fdCloexec(pid: number, fd: number): boolean {
  const text = readProc(`/proc/${pid}/fdinfo/${fd}`);
  return text !== null && fdinfoCloexec(text);
}

/**
 * Every process of the sandbox: the supervisor's descendants. The launcher
 * is spawned from the supervisor's main thread, and orphans come back to
 * that thread too (the supervisor is a child subreaper; the kernel hands
 * orphans to the reaper's first live thread), so for the supervisor itself
 * only the main thread's children are read; inside the sandbox every
 * thread's, since a child belongs to the thread that forked it.
 */
export function sandboxPids(): number[] {
  const out: number[] = [];
  const queue: number[] = [];
  readChildren(`/proc/${SELF}/task/${SELF}/children`, out, queue);
  while (queue.length > 0) {
    const pid = queue.pop()!;
    for (const tid of procNumbers(`/proc/${pid}/task`) ?? []) readChildren(`/proc/${pid}/task/${tid}/children`, out, queue);
  }
  return out;
}

function readChildren(path: string, out: number[], queue: number[]): void {
  const text = readProc(path);
  if (text === null) return;
  for (const child of parseChildren(text)) {
    out.push(child);
    queue.push(child);
  }
}

/** Every thread of a process now (/proc/PID/task), ascending. */
export function tasksOf(tgid: number): number[] {
  return (procNumbers(`/proc/${tgid}/task`) ?? []).sort((a, b) => a - b);
}

/** /proc/TID/status as field name -> value, or null if the task is gone. */
export function readStatus(tid: number): Map<string, string> | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${tid}/status`, 'latin1');
  } catch {
    return null;
  }
  return parseStatus(text);
}

export function readCredentials(tid: number): Credentials | null {
  const s = readStatus(tid);
  return s === null ? null : credentialsOf(s);
}

/** Thread-group id and real uid of a task from /proc/N/status, or null if it is gone. */
export function readIds(tid: number): { tgid: number; uid: number } | null {
  const s = readStatus(tid);
  return s === null ? null : idsOf(s);
}

/** State letter, parent and process group of a task (a thread id works too) from /proc/N/stat, or null if it is gone. */
export function readStat(pid: number): TaskStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  return parseStat(text);
}

/**
 * Every live thread-group leader of the host with its state letter, parent
 * and group, from /proc/N/stat; null when /proc cannot be listed (EMFILE).
 */
export function listProcesses(): Array<{ pid: number } & TaskStat> | null {
  const pids = procNumbers('/proc');
  if (pids === null) return null;
  const out: Array<{ pid: number } & TaskStat> = [];
  for (const pid of pids) {
    const s = readStat(pid);
    if (s !== null) out.push({ pid, ...s });
  }
  return out;
}

/**
 * The syscall thread `tid` is in, from /proc/TID/syscall: its number (-1 in
 * user space), "running" when the task is on a CPU at the time of the read,
 * null when the thread is gone.
 */
export function syscallOf(tid: number): number | 'running' | null {
  let s: string;
  try {
    s = readFileSync(`/proc/${tid}/syscall`, 'latin1');
  } catch {
    return null;
  }
  return parseSyscall(s);
}

/**
 * Whether thread `tid` may still be inside execve/execveat. A task running in
 * the kernel (mid-exec, before its close-on-exec fds are closed) reads
 * "running": that counts as still in exec, so callers look again later. A
 * thread that is gone (a non-leader's exec succeeded, or it died) is not in
 * exec.
 */
export function inExec(tid: number): boolean {
  const nr = syscallOf(tid);
  return nr === 'running' || nr === NR_EXECVE || nr === NR_EXECVEAT;
}

let nativeStackPointer: StackPointerFn | null = null;

/**
 * The stack pointer of a thread sitting in a syscall, from /proc/TID/syscall
 * ("nr a1 .. a6 sp pc"), read by the native step's code, which keeps the
 * file open per thread: a signal storm reads it at every handler's return.
 */
export function readStackPointer(tid: number): bigint | null {
  nativeStackPointer ??= loadStackPointer();
  const sp = nativeStackPointer(tid);
  return sp === -1 || sp === -1n ? null : BigInt(sp);
}
