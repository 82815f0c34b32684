// Crash reports: what the supervisor knew when one of its handlers threw, or
// when its loop died. The failing call was answered ENOSYS (or every call
// fails closed, if the loop died); the report is for the person who has to
// find the bug: the error, the call, and the whole state dump.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A run writes at most this many reports: a handler that throws on every call must not fill the disk. */
const MAX_REPORTS = 3;

export interface FailedCall {
  syscall: string;
  tid: number;
  args: string[];
}

export class CrashReporter {
  private written = 0;

  constructor(private readonly state: () => unknown, private readonly dir = tmpdir()) {}

  /** Write a report; returns its path, or why there is none. */
  report(err: unknown, call: FailedCall | null): string {
    if (this.written >= MAX_REPORTS) return `not written: ${MAX_REPORTS} reports already`;
    const file = join(this.dir, `sysvisor-crash-${process.pid}-${++this.written}.json`);
    let state: unknown;
    try {
      state = this.state();
    } catch (e) {
      state = { error: `the state dump failed too: ${(e as Error).stack ?? e}` };
    }
    const report = { version: 1, time: new Date().toISOString(), error: (err as Error)?.stack ?? String(err), call, state };
    try {
      writeFileSync(file, JSON.stringify(report, jsonBigInt, 2) + '\n');
      return file;
    } catch (e) {
      return `not written: ${(e as Error).message}`;
    }
  }
}

/** JSON.stringify replacer: state holds bigints (notification ids), written as decimal strings. */
export function jsonBigInt(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
