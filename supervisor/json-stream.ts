// State dumps written as they are serialised, a piece at a time, instead of
// through one JSON.stringify string: a sandbox at its manifest's ceilings
// (a billion semaphores under Linux's defaults) has a state whose text is
// larger than V8's longest string (~512 MB), and the string would double
// the supervisor's memory at the moment it dumps. The text is what
// JSON.stringify(value, jsonBigInt, 2) + "\n" gives.
import { writeSync } from 'node:fs';

/** Bytes gathered before each write(2). */
const CHUNK = 1 << 16;

/** Write `value` to the open file `fd` as indented JSON; bigints as decimal strings. Throws the write's error. */
export function writeJson(fd: number, value: unknown): void {
  streamJson(value, (bytes) => {
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
  });
}

/** The same text, handed to `sink` a chunk (about 64 KB) at a time: the control socket streams it. */
export function streamJson(value: unknown, sink: (bytes: Buffer) => void): void {
  const out = new ChunkWriter(sink);
  emit(out, value, '');
  out.put('\n');
  out.flush();
}

class ChunkWriter {
  private parts: string[] = [];
  private length = 0;

  constructor(private readonly sink: (bytes: Buffer) => void) {}

  put(text: string): void {
    this.parts.push(text);
    this.length += text.length;
    if (this.length >= CHUNK) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.sink(Buffer.from(this.parts.join('')));
    this.parts = [];
    this.length = 0;
  }
}

/** What JSON.stringify makes of a value that is not an object or array; undefined when it leaves it out. */
function scalar(value: unknown): string | undefined {
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (typeof value === 'function' || typeof value === 'symbol' || value === undefined) return undefined;
  return JSON.stringify(value);
}

function emit(out: ChunkWriter, value: unknown, indent: string): void {
  if (value === null || typeof value !== 'object') {
    out.put(scalar(value) ?? 'null');
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.put('[]');
      return;
    }
    out.put('[');
    for (let i = 0; i < value.length; i++) {
      out.put(`${i === 0 ? '' : ','}\n${inner}`);
      emit(out, value[i], inner);
    }
    out.put(`\n${indent}]`);
    return;
  }
  let first = true;
  for (const [key, v] of Object.entries(value)) {
    if (v !== null && typeof v !== 'object' && scalar(v) === undefined) continue;
    out.put(`${first ? '{' : ','}\n${inner}${JSON.stringify(key)}: `);
    emit(out, v, inner);
    first = false;
  }
  out.put(first ? '{}' : `\n${indent}}`);
}
