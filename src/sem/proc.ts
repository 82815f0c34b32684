/**
 * The /proc files of SysV semaphores: /proc/sysvipc/sem (sysvipc_sem_proc_show)
 * and /proc/sys/kernel/sem (proc_ipc_sem_dointvec on top of proc_dointvec).
 */
import type { SemSetStat } from './registry.js';
import type { SemLimits } from './types.js';
import { EINVAL } from '../syscalls/errno.js';

/** The header line of /proc/sysvipc/sem. */
export const SYSVIPC_SEM_HEADER = '       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n';

const pad = (s: string, width: number): string => s.padStart(width, ' ');
/** %u of a 32-bit value. */
const u32 = (v: number): string => (v >>> 0).toString();
/** %llu of a time64_t. */
const u64 = (v: number): string => BigInt.asUintN(64, BigInt(v)).toString();

/**
 * Renders /proc/sysvipc/sem from SemRegistry.list() (sets in index order):
 * "%10d %10d  %4o %10u %5u %5u %5u %5u %10llu %10llu\n" per set.
 */
export function renderSysvipcSem(sets: readonly SemSetStat[]): string {
  let out = SYSVIPC_SEM_HEADER;
  for (const s of sets) {
    const p = s.perm;
    out +=
      `${pad(String(p.key | 0), 10)} ${pad(String(s.id), 10)}  ${pad(p.mode.toString(8), 4)} ` +
      `${pad(u32(s.nsems), 10)} ${pad(u32(p.uid), 5)} ${pad(u32(p.gid), 5)} ${pad(u32(p.cuid), 5)} ` +
      `${pad(u32(p.cgid), 5)} ${pad(u64(s.otime), 10)} ${pad(u64(s.ctime), 10)}\n`;
  }
  return out;
}

/** Renders /proc/sys/kernel/sem: "%d\t%d\t%d\t%d\n" of semmsl, semmns, semopm, semmni. */
export function renderSemSysctl(l: SemLimits): string {
  return `${l.semmsl}\t${l.semmns}\t${l.semopm}\t${l.semmni}\n`;
}

/** proc_dointvec() parses at most PAGE_SIZE - 1 bytes of a write: nothing after them can change the result. */
export const SYSCTL_WRITE_MAX = 4095;
/** proc_get_long()'s TMPBUFLEN: it looks at 21 characters and refuses a number (with sign) that fills them. */
const TMPBUFLEN = 22;
const INT_MAX = 0x7fffffffn;

/** The kernel's isspace() (lib/ctype.c), which includes NBSP (0xa0). */
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
/** proc_wspace_sep: what may follow a number. */
const isSep = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a;

/**
 * One number as proc_get_long() + strtoul_lenient(base 0) +
 * do_proc_dointvec_conv() read it: optional '-', then decimal, 0-prefixed
 * octal or 0x-prefixed hex, within the int range. Returns [value, length]
 * or null (EINVAL).
 */
function parseInt32(b: Uint8Array, at: number, left: number): [number, number] | null {
  const end = at + Math.min(left, TMPBUFLEN - 1);
  let p = at;
  const neg = b[p] === 0x2d && left > 1;
  if (neg) p++;
  if (p >= end || !isDigit(b[p]!)) return null;
  let base = 10n;
  if (b[p] === 0x30) {
    const x = p + 1 < end ? b[p + 1]! | 0x20 : 0;
    const h = p + 2 < end ? b[p + 2]! : 0;
    if (x === 0x78 && (isDigit(h) || ((h | 0x20) >= 0x61 && (h | 0x20) <= 0x66))) {
      base = 16n;
      p += 2;
    } else base = 8n;
  }
  let v = 0n;
  for (; p < end; p++) {
    const c = b[p]!;
    const lc = c | 0x20;
    const d = isDigit(c) ? c - 0x30 : lc >= 0x61 && lc <= 0x66 ? lc - 0x61 + 10 : 99;
    if (BigInt(d) >= base) break;
    v = v * base + BigInt(d);
  }
  const len = p - at;
  if (len === TMPBUFLEN - 1) return null;
  if (len < left && !isSep(b[p]!)) return null;
  if (v >= 1n << 64n) return null;
  if (neg ? v > INT_MAX + 1n : v > INT_MAX) return null;
  return [Number(neg ? -v : v), len];
}

/**
 * __do_proc_dointvec() for a write: parses up to values.length ints from
 * `input`, storing each into `values` as it is read (so a later error
 * leaves earlier ones stored). Returns the bytes consumed or -EINVAL.
 */
export function parseIntVector(input: Uint8Array, values: number[]): number {
  let left = Math.min(input.length, SYSCTL_WRITE_MAX);
  let p = 0;
  let first = true;
  let err = 0;
  const skip = (): void => {
    while (left && isSpace(input[p]!)) {
      p++;
      left--;
    }
  };
  for (let i = 0; left && i < values.length; i++, first = false) {
    skip();
    if (!left) break;
    const r = parseInt32(input, p, left);
    if (!r) {
      err = -EINVAL;
      break;
    }
    values[i] = r[0];
    p += r[1];
    left -= r[1];
  }
  if (!err && left) skip();
  if (first) return err || -EINVAL;
  return err || input.length - left;
}

/** What writeSemSysctl needs of the registry. */
export interface SemLimitsTarget {
  getLimits(): SemLimits;
  setLimits(l: SemLimits): number;
}

/**
 * A write(2) of `input` at file offset `pos` to /proc/sys/kernel/sem.
 * Returns the byte count to report or -errno. As in Linux: writes at a
 * non-zero offset are ignored (sysctl_writes_strict), values parsed before
 * an error stay set, and on any error semmni keeps its old value
 * (out of [0, 32768] is ERANGE).
 *
 * `ceiling` (the manifest's values): a value may be lowered and raised
 * back, never above it. One above is refused as proc_dointvec_minmax
 * refuses a value out of its range (shmmni, msgmni): EINVAL, that value and
 * the ones after it not stored, the ones before it kept.
 */
export function writeSemSysctl(target: SemLimitsTarget, input: Uint8Array | string, pos = 0, ceiling: SemLimits | null = null): number {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  if (bytes.length === 0) return 0;
  if (pos !== 0) return bytes.length;
  const cur = target.getLimits();
  const old = [cur.semmsl, cur.semmns, cur.semopm, cur.semmni];
  const v = [...old];
  let n = parseIntVector(bytes, v);
  if (ceiling !== null) {
    const top = [ceiling.semmsl, ceiling.semmns, ceiling.semopm, ceiling.semmni];
    const over = v.findIndex((x, i) => x > top[i]!);
    if (over >= 0) {
      for (let i = over; i < v.length; i++) v[i] = old[i]!;
      n = -EINVAL;
    }
  }
  const next: SemLimits = { semmsl: v[0]!, semmns: v[1]!, semopm: v[2]!, semmni: n < 0 ? cur.semmni : v[3]! };
  const r = target.setLimits(next);
  return n < 0 ? n : r < 0 ? r : n;
}
