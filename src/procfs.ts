// What the /proc files the supervisor reads say (proc(5)). Pure: the
// supervisor reads the text or the directory bytes (supervisor/procfs.ts),
// these decide what they mean.
import { O_CLOEXEC } from './syscalls/constants.js';

/** A thread's credentials, from /proc/TID/status (they are per thread in Linux). */
export interface Credentials {
  uid: number;
  gid: number;
  /** Effective uid/gid are what System V IPC checks (ipcperms). */
  euid: number;
  egid: number;
  groups: number[];
  /** Effective capability set, as a bigint bit mask. */
  capEff: bigint;
}

/** State letter, parent and process group of a task, from /proc/N/stat. */
export interface TaskStat {
  state: string;
  ppid: number;
  pgrp: number;
}

/** /proc/N/status as field name -> value ("Uid:\t0\t0\t0\t0" -> "Uid" -> "0\t0\t0\t0"). */
export function parseStatus(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** Real and effective ids, supplementary groups and effective capabilities of a parsed status. */
/**
 * NStgid ("12345\t7"): the tgid in each PID namespace from the reader's down
 * to the process's own, [12345, 7]; a kernel without the line (before 4.1)
 * has one namespace: [tgid].
 */
export function nsTgidsOf(status: ReadonlyMap<string, string>, tgid: number): number[] {
  const ids = (status.get('NStgid') ?? '')
    .split(/\s+/)
    .filter((s) => s !== '')
    .map(Number);
  return ids.length > 0 ? ids : [tgid];
}

export function credentialsOf(status: ReadonlyMap<string, string>): Credentials {
  const uids = (status.get('Uid') ?? '').split(/\s+/).map(Number);
  const gids = (status.get('Gid') ?? '').split(/\s+/).map(Number);
  const groups = (status.get('Groups') ?? '')
    .split(/\s+/)
    .filter((g) => g !== '')
    .map(Number);
  return { uid: uids[0], euid: uids[1], gid: gids[0], egid: gids[1], groups, capEff: BigInt('0x' + (status.get('CapEff') ?? '0')) };
}

/** Thread-group id and real uid of a parsed status. */
export function idsOf(status: ReadonlyMap<string, string>): { tgid: number; uid: number } {
  return { tgid: Number(status.get('Tgid')), uid: Number((status.get('Uid') ?? '').split(/\s+/)[0]) };
}

/** /proc/N/stat: comm may hold spaces and parentheses, so the fields start after the last ')'. */
export function parseStat(text: string): TaskStat {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}

/**
 * The syscall number in /proc/TID/syscall ("nr a1 .. a6 sp pc"; -1 in user
 * space), or "running" when the task was on a CPU at the read (in the kernel
 * or not: it says nothing). The stack pointer in the same file is read by the
 * loop's native step (supervisor/loop/step.c), which keeps the file open.
 */
export function parseSyscall(text: string): number | 'running' {
  return text.startsWith('running') ? 'running' : Number.parseInt(text, 10);
}

/** Close-on-exec flag from /proc/PID/fdinfo/FD text (its flags line is octal). */
export function fdinfoCloexec(text: string): boolean {
  const m = /^flags:\s*([0-7]+)/m.exec(text);
  return m !== null && (parseInt(m[1], 8) & O_CLOEXEC) !== 0;
}

/** The pids in /proc/PID/task/TID/children ("12 34 \n" style, space separated). */
export function parseChildren(text: string): number[] {
  const out: number[] = [];
  for (const c of text.split(' ')) {
    if (c === '' || c === '\n') continue;
    out.push(Number(c));
  }
  return out;
}

/**
 * Appends to `out` the names of the entries in `n` bytes of getdents64 output
 * that are decimal numbers (pids, tids, fds); other names (".", "self", ...)
 * are skipped. struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16 @16,
 * d_type u8 @18, d_name @19 (NUL-terminated).
 */
export function direntNumbers(bytes: Uint8Array, view: DataView, n: number, out: number[]): void {
  for (let off = 0; off < n; off += view.getUint16(off + 16, true)) {
    let v = 0;
    let i = off + 19;
    for (let c = bytes[i]; c !== 0; c = bytes[++i]) {
      if (c < 48 || c > 57) {
        v = -1;
        break;
      }
      v = v * 10 + (c - 48);
    }
    if (v >= 0 && i > off + 19) out.push(v);
  }
}
