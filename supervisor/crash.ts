// Crash reports: what the supervisor knew when one of its handlers threw, or
// when its loop died. The failing call was answered ENOSYS (or every call
// fails closed, if the loop died); the report is for the person who has to
// find the bug: the error, the call, and the whole state dump.
import { FileError, openRunDirectory, runDirectoryPath, writeSlot } from './safe-file.js';

/** A run writes at most this many reports: a handler that throws on every call must not fill the disk. */
const MAX_REPORTS = 3;
/** Names skipped because something (a stale report, a planted link) holds them already. */
const MAX_TAKEN = 16;

export interface FailedCall {
  syscall: string;
  tid: number;
  args: string[];
}

export class CrashReporter {
  private written = 0;
  private serial = 0;
  /** The run directory's descriptor, opened at the first report. */
  private dirFd = -1;

  /** Reports go to the private run directory (safe-file.ts), made at the first one. */
  constructor(
    private readonly state: () => unknown,
    private readonly dir = runDirectoryPath(),
  ) {}

  /** Write a report; returns its path, or why there is none. */
  report(err: unknown, call: FailedCall | null): string {
    if (this.written >= MAX_REPORTS) return `not written: ${MAX_REPORTS} reports already`;
    let state: unknown;
    try {
      state = this.state();
    } catch (e) {
      state = { error: `the state dump failed too: ${errorText(e)}` };
    }
    const report = { version: 1, time: new Date().toISOString(), error: errorText(err), call, state };
    const text = JSON.stringify(report, jsonBigInt, 2) + '\n';
    try {
      if (this.dirFd < 0) this.dirFd = openRunDirectory(this.dir, true);
      // A new name each time, never replacing: a name already taken is skipped.
      for (let taken = 0; taken < MAX_TAKEN; taken++) {
        const name = `sysvisor-crash-${process.pid}-${++this.serial}.json`;
        const slot = { dirFd: this.dirFd, name, path: `${this.dir}/${name}` };
        try {
          writeSlot(slot, text, 'new');
          this.written++;
          return slot.path;
        } catch (e) {
          if (!(e instanceof FileError) || e.code !== 'EEXIST') throw e;
        }
      }
      return `not written: ${MAX_TAKEN} names in ${this.dir} were taken`;
    } catch (e) {
      return `not written: ${(e as Error).message}`;
    }
  }
}

/** What was thrown, for a report: an Error's stack, anything else (a string, undefined) as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** JSON.stringify replacer: state holds bigints (notification ids), written as decimal strings. */
export function jsonBigInt(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
