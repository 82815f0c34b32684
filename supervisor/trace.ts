// --trace: one strace-like line per notified syscall, written synchronously
// from the loop's thread so lines are never lost or reordered.
import { writeSync } from 'node:fs';
import { errnoName } from '../src/syscalls/errno.js';
import { syscallName } from '../src/syscalls/table.js';
import { CONTINUE, PENDING } from './loop/loop.js';
import type { Notification, NotificationRecord } from './loop/notification.js';

export type ArgDecoder = (args: ArgReader, tid: number) => string;

/** Uniform access to the arguments of a live notification or of a record. */
export interface ArgReader {
  int(i: number): number;
  u64(i: number): number;
}

export interface TraceOptions {
  fd: number;
  color: boolean;
  /** Also the calls continued to the kernel unchanged (--trace=all): many, and most are not the supervisor's doing. */
  continued?: boolean;
}

const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
const RED = '\x1b[31m';
const GREEN = '\x1b[32m';
const YELLOW = '\x1b[33m';

export class Tracer {
  private readonly decoders = new Map<number, ArgDecoder>();

  constructor(
    private readonly options: TraceOptions,
    private readonly pidOf: (tid: number) => number,
  ) {}

  decodeWith(nr: number, decoder: ArgDecoder): void {
    this.decoders.set(nr, decoder);
  }

  answered(n: Notification, result: number): void {
    if (result === CONTINUE && this.options.continued !== true) return;
    this.line(n.tid, n.nr, n, result, false);
  }

  resumed(rec: NotificationRecord, result: number): void {
    const reader: ArgReader = {
      int: (i) => Number(BigInt.asIntN(32, rec.args[i])),
      u64: (i) => Number(rec.args[i]),
    };
    this.line(rec.tid, rec.nr, reader, result, true);
  }

  /** A free-form event (exec denied, process exit, a supervisor error). */
  event(tid: number, text: string): void {
    const c = this.options.color;
    this.write(`${c ? DIM : ''}[${this.pidOf(tid)}]${c ? RESET : ''} ${c ? YELLOW : ''}--- ${text} ---${c ? RESET : ''}\n`);
  }

  private line(tid: number, nr: number, args: ArgReader, result: number, resumed: boolean): void {
    const c = this.options.color;
    const name = syscallName(nr);
    const decoder = this.decoders.get(nr);
    const argText = decoder ? decoder(args, tid) : defaultArgs(args);
    let res: string;
    if (result === PENDING) res = `${c ? YELLOW : ''}<blocked>${c ? RESET : ''}`;
    else if (result === CONTINUE) res = `${c ? DIM : ''}<continued to the kernel>${c ? RESET : ''}`;
    else if (result < 0) res = `${c ? RED : ''}-1 ${errnoName(-result)}${c ? RESET : ''}`;
    else res = `${c ? GREEN : ''}${result}${c ? RESET : ''}`;
    const prefix = resumed ? `<... ${name} resumed> ` : `${c ? BOLD : ''}${name}${c ? RESET : ''}(${argText}) `;
    const pid = this.pidOf(tid);
    const who = pid === tid ? `${pid}` : `${pid}/${tid}`;
    this.write(`${c ? DIM : ''}[${who}]${c ? RESET : ''} ${prefix}= ${res}\n`);
  }

  private write(text: string): void {
    try {
      writeSync(this.options.fd, text);
    } catch {
      // A closed trace pipe must not take the supervisor down.
    }
  }
}

function defaultArgs(a: ArgReader): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(hex(a.u64(i)));
  return out.join(', ');
}

export function hex(v: number): string {
  return '0x' + v.toString(16);
}

/** Render flag bits by name, e.g. IPC_CREAT|IPC_EXCL|0600. */
export function flags(value: number, names: ReadonlyArray<readonly [number, string]>, rest: (v: number) => string = octal): string {
  const parts: string[] = [];
  let left = value;
  for (const [bit, name] of names) {
    if ((left & bit) === bit && bit !== 0) {
      parts.push(name);
      left &= ~bit;
    }
  }
  if (left !== 0 || parts.length === 0) parts.push(rest(left));
  return parts.join('|');
}

function octal(v: number): string {
  return v === 0 ? '0' : '0' + v.toString(8);
}
