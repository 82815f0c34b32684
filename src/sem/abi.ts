/**
 * Byte layouts of the x86_64 SysV semaphore ABI, little endian, as the
 * kernel copies them (sizes and offsets checked with offsetof() against
 * glibc's <sys/sem.h> and the kernel's <linux/sem.h>):
 *
 *   struct sembuf       6 B: u16 sem_num @0, i16 sem_op @2, i16 sem_flg @4
 *   struct ipc64_perm  48 B: i32 key @0, u32 uid @4, gid @8, cuid @12, cgid @16,
 *                            u32 mode @20, u16 seq @24, padding to 48
 *   struct semid64_ds 104 B: ipc64_perm @0, i64 sem_otime @48, i64 sem_ctime @64,
 *                            u64 sem_nsems @80, padding to 104
 *   struct seminfo     40 B: ten i32 (semmap … semaem)
 *   struct timespec    16 B: i64 tv_sec @0, i64 tv_nsec @8
 *
 * Decoders of the hot path (sembuf) do not allocate.
 */
import type { IpcPerm, SemBuf, SemidDs, SemInfo } from './types.js';

/** sizeof(struct sembuf). */
export const SEMBUF_SIZE = 6;
/** sizeof(struct ipc64_perm). */
export const IPC64_PERM_SIZE = 48;
/** sizeof(struct semid64_ds), which is glibc's struct semid_ds on x86_64. */
export const SEMID64_DS_SIZE = 104;
/** sizeof(struct seminfo). */
export const SEMINFO_SIZE = 40;
/** sizeof(struct __kernel_timespec). */
export const TIMESPEC_SIZE = 16;

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const i16 = (b: Uint8Array, o: number): number => (u16(b, o) << 16) >> 16;
const i32 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
const u32 = (b: Uint8Array, o: number): number => i32(b, o) >>> 0;

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >> 8;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >> 8;
  b[o + 2] = v >> 16;
  b[o + 3] = v >>> 24;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads the sembuf at byte offset `off` into `out` and returns it. */
export function decodeSembuf(b: Uint8Array, off: number, out: SemBuf): SemBuf {
  out.num = u16(b, off);
  out.op = i16(b, off + 2);
  out.flg = i16(b, off + 4);
  return out;
}

/**
 * Reads `nsops` consecutive sembufs from the start of `b` into `out`,
 * reusing its objects (so a long-lived `out` makes this allocation-free),
 * and sets out.length = nsops.
 */
export function decodeSembufs(b: Uint8Array, nsops: number, out: SemBuf[] = []): SemBuf[] {
  for (let i = 0; i < nsops; i++) {
    const s = out[i] ?? (out[i] = { num: 0, op: 0, flg: 0 });
    decodeSembuf(b, i * SEMBUF_SIZE, s);
  }
  out.length = nsops;
  return out;
}

/** Writes one sembuf at byte offset `off`. */
export function encodeSembuf(s: SemBuf, b: Uint8Array, off = 0): void {
  put16(b, off, s.num);
  put16(b, off + 2, s.op);
  put16(b, off + 4, s.flg);
}

/** Writes an ipc64_perm (48 bytes, padding zeroed) at `off`. */
export function encodeIpc64Perm(p: IpcPerm, b: Uint8Array, off = 0): void {
  b.fill(0, off, off + IPC64_PERM_SIZE);
  put32(b, off, p.key);
  put32(b, off + 4, p.uid);
  put32(b, off + 8, p.gid);
  put32(b, off + 12, p.cuid);
  put32(b, off + 16, p.cgid);
  put32(b, off + 20, p.mode);
  put16(b, off + 24, p.seq);
}

/** Reads an ipc64_perm at `off`. */
export function decodeIpc64Perm(b: Uint8Array, off = 0): IpcPerm {
  return {
    key: i32(b, off),
    uid: u32(b, off + 4),
    gid: u32(b, off + 8),
    cuid: u32(b, off + 12),
    cgid: u32(b, off + 16),
    mode: u32(b, off + 20),
    seq: u16(b, off + 24),
  };
}

/** Encodes a semid64_ds (104 bytes, padding zeroed as the kernel's memset does). */
export function encodeSemidDs(ds: SemidDs, b = new Uint8Array(SEMID64_DS_SIZE), off = 0): Uint8Array {
  b.fill(0, off, off + SEMID64_DS_SIZE);
  encodeIpc64Perm(ds.perm, b, off);
  const v = view(b);
  v.setBigInt64(off + 48, BigInt(ds.otime), true);
  v.setBigInt64(off + 64, BigInt(ds.ctime), true);
  v.setBigUint64(off + 80, BigInt(ds.nsems), true);
  return b;
}

/** Decodes a semid64_ds (IPC_SET input). */
export function decodeSemidDs(b: Uint8Array, off = 0): SemidDs {
  const v = view(b);
  return {
    perm: decodeIpc64Perm(b, off),
    otime: Number(v.getBigInt64(off + 48, true)),
    ctime: Number(v.getBigInt64(off + 64, true)),
    nsems: Number(v.getBigUint64(off + 80, true)),
  };
}

const SEMINFO_FIELDS = ['semmap', 'semmni', 'semmns', 'semmnu', 'semmsl', 'semopm', 'semume', 'semusz', 'semvmx', 'semaem'] as const;

/** Encodes a struct seminfo (40 bytes). */
export function encodeSeminfo(info: SemInfo, b = new Uint8Array(SEMINFO_SIZE), off = 0): Uint8Array {
  SEMINFO_FIELDS.forEach((f, i) => put32(b, off + 4 * i, info[f]));
  return b;
}

/** Decodes a struct seminfo. */
export function decodeSeminfo(b: Uint8Array, off = 0): SemInfo {
  const info = {} as SemInfo;
  SEMINFO_FIELDS.forEach((f, i) => (info[f] = i32(b, off + 4 * i)));
  return info;
}

/** A struct __kernel_timespec as read, before validation. */
export interface Timespec {
  sec: bigint;
  nsec: bigint;
}

/** Decodes a timespec at `off`. */
export function decodeTimespec(b: Uint8Array, off = 0): Timespec {
  const v = view(b);
  return { sec: v.getBigInt64(off, true), nsec: v.getBigInt64(off + 8, true) };
}

/** Encodes a timespec at `off`. */
export function encodeTimespec(ts: Timespec, b = new Uint8Array(TIMESPEC_SIZE), off = 0): Uint8Array {
  const v = view(b);
  v.setBigInt64(off, ts.sec, true);
  v.setBigInt64(off + 8, ts.nsec, true);
  return b;
}

/**
 * do_semtimedop()'s timeout check: a negative field or tv_nsec >= 1e9 is
 * EINVAL (returned as null); otherwise the timeout in nanoseconds.
 */
export function timespecToNs(ts: Timespec): bigint | null {
  if (ts.sec < 0n || ts.nsec < 0n || ts.nsec >= 1_000_000_000n) return null;
  return ts.sec * 1_000_000_000n + ts.nsec;
}

/** Encodes GETALL's unsigned short array. */
export function encodeSemValues(values: ArrayLike<number>, b = new Uint8Array(2 * values.length), off = 0): Uint8Array {
  for (let i = 0; i < values.length; i++) put16(b, off + 2 * i, values[i]!);
  return b;
}

/** Decodes SETALL's unsigned short array of n values. */
export function decodeSemValues(b: Uint8Array, n: number, off = 0): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = u16(b, off + 2 * i);
  return out;
}
