/**
 * Byte layouts of the FUSE protocol (include/uapi/linux/fuse.h, 7.38),
 * x86_64 little endian, for the requests a single-file file system sees:
 *
 *   fuse_in_header     40 B: u32 len @0, u32 opcode @4, u64 unique @8, u64 nodeid @16,
 *                            u32 uid @24, u32 gid @28, u32 pid @32, u16 total_extlen @36
 *   fuse_out_header    16 B: u32 len @0, i32 error @4, u64 unique @8
 *   fuse_init_in       16 B used: u32 major @0, u32 minor @4, u32 max_readahead @8, u32 flags @12
 *   fuse_init_out      64 B: u32 major, minor, max_readahead, flags @0..15, u16 max_background @16,
 *                            u16 congestion_threshold @18, u32 max_write @20, u32 time_gran @24,
 *                            u16 max_pages @28, u16 map_alignment @30, u32 flags2 @32, 7 x u32 unused
 *   fuse_attr          88 B: u64 ino, size, blocks, atime, mtime, ctime @0..47, u32 atimensec,
 *                            mtimensec, ctimensec, mode, nlink, uid, gid, rdev, blksize, flags @48..87
 *   fuse_attr_out     104 B: u64 attr_valid @0, u32 attr_valid_nsec @8, fuse_attr @16
 *   fuse_open_in        8 B: u32 flags @0, u32 open_flags @4
 *   fuse_open_out      16 B: u64 fh @0, u32 open_flags @8
 *   fuse_read_in       40 B: u64 fh @0, u64 offset @8, u32 size @16
 *   fuse_write_in      40 B: u64 fh @0, u64 offset @8, u32 size @16; the data follows @40
 *   fuse_write_out      8 B: u32 size @0
 *   fuse_release_in    24 B: u64 fh @0, u32 flags @8
 *   fuse_setattr_in    88 B: u32 valid @0, u64 fh @8
 *   fuse_kstatfs       80 B: u64 blocks, bfree, bavail, files, ffree @0..39, u32 bsize @40,
 *                            u32 namelen @44, u32 frsize @48, padding, 6 x u32 spare
 *
 * Pure encode/decode: no I/O. Decoders return null for a body shorter than
 * its struct (the kernel never sends one; the server answers EIO).
 */

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const INIT_IN_SIZE = 16;
export const INIT_OUT_SIZE = 64;
export const ATTR_OUT_SIZE = 104;
export const OPEN_IN_SIZE = 8;
export const OPEN_OUT_SIZE = 16;
export const READ_IN_SIZE = 40;
export const WRITE_IN_SIZE = 40;
export const WRITE_OUT_SIZE = 8;
export const RELEASE_IN_SIZE = 24;
export const SETATTR_IN_SIZE = 88;
export const STATFS_OUT_SIZE = 80;
/** The read buffer must hold this much (FUSE_MIN_READ_BUFFER). */
export const MIN_READ_BUFFER = 8192;

/** The protocol we speak: 7.38, as the headers this was written against. */
export const KERNEL_VERSION = 7;
export const KERNEL_MINOR_VERSION = 38;

export const OP = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  GETXATTR: 22,
  LISTXATTR: 23,
  FLUSH: 25,
  INIT: 26,
  ACCESS: 34,
  INTERRUPT: 36,
  DESTROY: 38,
  IOCTL: 39,
  BATCH_FORGET: 42,
} as const;

/** fuse_init flags. ATOMIC_O_TRUNC: O_TRUNC comes with OPEN instead of a SETATTR of size 0. */
export const INIT_ATOMIC_O_TRUNC = 1 << 3;
/** fuse_open_out.open_flags. */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_NOFLUSH = 1 << 5;
/** fuse_setattr_in.valid bits that procfs refuses (EPERM). */
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
}

export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  /** Granularity of the times we report, in ns. */
  timeGran: number;
}

export interface Attr {
  ino: bigint;
  size: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  blksize: number;
  /** Seconds since the epoch, for atime, mtime and ctime alike. */
  time: bigint;
}

export interface KStatfs {
  bsize: number;
  namelen: number;
  frsize: number;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The request header at the start of `b`, or null when fewer than 40 bytes were read. */
export function decodeInHeader(b: Uint8Array): InHeader | null {
  if (b.length < IN_HEADER_SIZE) return null;
  const v = view(b);
  return {
    len: v.getUint32(0, true),
    opcode: v.getUint32(4, true),
    unique: v.getBigUint64(8, true),
    nodeid: v.getBigUint64(16, true),
    uid: v.getUint32(24, true),
    gid: v.getUint32(28, true),
    pid: v.getUint32(32, true),
  };
}

export function encodeInHeader(h: InHeader): Uint8Array {
  const b = new Uint8Array(IN_HEADER_SIZE);
  const v = view(b);
  v.setUint32(0, h.len, true);
  v.setUint32(4, h.opcode, true);
  v.setBigUint64(8, h.unique, true);
  v.setBigUint64(16, h.nodeid, true);
  v.setUint32(24, h.uid, true);
  v.setUint32(28, h.gid, true);
  v.setUint32(32, h.pid, true);
  return b;
}

/** A reply: the out header (len, -errno or 0, unique) followed by `payload`. */
export function encodeReply(unique: bigint, error: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(OUT_HEADER_SIZE + payload.length);
  const v = view(b);
  v.setUint32(0, b.length, true);
  v.setInt32(4, error, true);
  v.setBigUint64(8, unique, true);
  b.set(payload, OUT_HEADER_SIZE);
  return b;
}

export function decodeInitIn(b: Uint8Array): InitIn | null {
  if (b.length < INIT_IN_SIZE) return null;
  const v = view(b);
  return { major: v.getUint32(0, true), minor: v.getUint32(4, true), maxReadahead: v.getUint32(8, true), flags: v.getUint32(12, true) };
}

export function encodeInitOut(o: InitOut): Uint8Array {
  const b = new Uint8Array(INIT_OUT_SIZE);
  const v = view(b);
  v.setUint32(0, o.major, true);
  v.setUint32(4, o.minor, true);
  v.setUint32(8, o.maxReadahead, true);
  v.setUint32(12, o.flags, true);
  v.setUint16(16, o.maxBackground, true);
  v.setUint16(18, o.congestionThreshold, true);
  v.setUint32(20, o.maxWrite, true);
  v.setUint32(24, o.timeGran, true);
  return b;
}

/** fuse_attr_out: the attributes, valid in the kernel's cache for `validSec` seconds. */
export function encodeAttrOut(a: Attr, validSec: number): Uint8Array {
  const b = new Uint8Array(ATTR_OUT_SIZE);
  const v = view(b);
  v.setBigUint64(0, BigInt(validSec), true);
  const at = 16;
  v.setBigUint64(at, a.ino, true);
  v.setBigUint64(at + 8, a.size, true);
  for (const off of [24, 32, 40]) v.setBigUint64(at + off, a.time, true); // atime, mtime, ctime (blocks @16 stays 0)
  v.setUint32(at + 60, a.mode, true);
  v.setUint32(at + 64, a.nlink, true);
  v.setUint32(at + 68, a.uid, true);
  v.setUint32(at + 72, a.gid, true);
  v.setUint32(at + 80, a.blksize, true);
  return b;
}

export function decodeAttrOut(b: Uint8Array): { validSec: number; attr: Attr } {
  const v = view(b);
  const at = 16;
  return {
    validSec: Number(v.getBigUint64(0, true)),
    attr: {
      ino: v.getBigUint64(at, true),
      size: v.getBigUint64(at + 8, true),
      time: v.getBigUint64(at + 32, true),
      mode: v.getUint32(at + 60, true),
      nlink: v.getUint32(at + 64, true),
      uid: v.getUint32(at + 68, true),
      gid: v.getUint32(at + 72, true),
      blksize: v.getUint32(at + 80, true),
    },
  };
}

export function decodeOpenIn(b: Uint8Array): { flags: number } | null {
  if (b.length < OPEN_IN_SIZE) return null;
  return { flags: view(b).getUint32(0, true) };
}

export function encodeOpenOut(fh: bigint, openFlags: number): Uint8Array {
  const b = new Uint8Array(OPEN_OUT_SIZE);
  const v = view(b);
  v.setBigUint64(0, fh, true);
  v.setUint32(8, openFlags, true);
  return b;
}

/** fuse_read_in and fuse_write_in share their first fields; a write's data follows the struct. */
export function decodeReadIn(b: Uint8Array): { fh: bigint; offset: bigint; size: number } | null {
  if (b.length < READ_IN_SIZE) return null;
  const v = view(b);
  return { fh: v.getBigUint64(0, true), offset: v.getBigUint64(8, true), size: v.getUint32(16, true) };
}

export function decodeWriteIn(b: Uint8Array): { fh: bigint; offset: bigint; data: Uint8Array } | null {
  if (b.length < WRITE_IN_SIZE) return null;
  const v = view(b);
  const size = v.getUint32(16, true);
  if (WRITE_IN_SIZE + size > b.length) return null;
  return { fh: v.getBigUint64(0, true), offset: v.getBigUint64(8, true), data: b.subarray(WRITE_IN_SIZE, WRITE_IN_SIZE + size) };
}

export function encodeWriteOut(size: number): Uint8Array {
  const b = new Uint8Array(WRITE_OUT_SIZE);
  view(b).setUint32(0, size, true);
  return b;
}

export function decodeReleaseIn(b: Uint8Array): { fh: bigint } | null {
  if (b.length < RELEASE_IN_SIZE) return null;
  return { fh: view(b).getBigUint64(0, true) };
}

export function decodeSetattrIn(b: Uint8Array): { valid: number } | null {
  if (b.length < SETATTR_IN_SIZE) return null;
  return { valid: view(b).getUint32(0, true) };
}

export function encodeStatfsOut(s: KStatfs): Uint8Array {
  const b = new Uint8Array(STATFS_OUT_SIZE);
  const v = view(b);
  v.setUint32(40, s.bsize, true);
  v.setUint32(44, s.namelen, true);
  v.setUint32(48, s.frsize, true);
  return b;
}
