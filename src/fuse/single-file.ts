/**
 * A FUSE file system of one regular file, its root (mounted over a /proc
 * file with rootmode=0100444 or 0100644): what it answers to each request,
 * as procfs would for that file. Pure: the caller reads the request from
 * /dev/fuse and writes the reply back.
 *
 * The text is rendered at OPEN (today's semantics; procfs's seq_file renders
 * at the first read) and read in slices of that snapshot; every open answers
 * FOPEN_DIRECT_IO, so the page cache never serves stale text and a size of 0
 * still reads, and FOPEN_NOFLUSH, so close(2) never waits for us (the
 * supervisor closes its own duplicates of the program's fds in its loop).
 * Each WRITE is applied at once, as procfs applies each write(2) to a sysctl.
 */
import {
  decodeInHeader,
  decodeInitIn,
  decodeOpenIn,
  decodeReadIn,
  decodeReleaseIn,
  decodeSetattrIn,
  decodeWriteIn,
  encodeAttrOut,
  encodeInitOut,
  encodeOpenOut,
  encodeReply,
  encodeStatfsOut,
  encodeWriteOut,
  FATTR_GID,
  FATTR_MODE,
  FATTR_UID,
  FOPEN_DIRECT_IO,
  FOPEN_NOFLUSH,
  IN_HEADER_SIZE,
  INIT_ATOMIC_O_TRUNC,
  KERNEL_MINOR_VERSION,
  KERNEL_VERSION,
  OP,
  type Attr,
} from './abi.js';
import { O_ACCMODE, O_RDONLY, O_WRONLY, S_IFREG } from '../syscalls/constants.js';
import { EACCES, EBADF, EIO, ENOSYS, ENOTTY, EPERM, EPROTO } from '../syscalls/errno.js';

/** Largest WRITE the kernel sends us (the minimum it accepts): a sysctl write is parsed from one page at most. */
export const MAX_WRITE = 4096;
/** The attributes never change: the kernel may keep them a day without asking. */
const ATTR_VALID_SEC = 86400;

/** Who made a request (fuse_in_header: fsuid, fsgid and thread id in the mounter's namespaces). */
export interface Caller {
  uid: number;
  gid: number;
  pid: number;
}

export interface ServedFile {
  /** The file's text, rendered at open. */
  render(): string;
  /** A write(2) of `data` at offset `pos`: bytes taken or -errno. Absent: read-only (opens for writing fail EACCES). */
  writeAt?(data: Uint8Array, pos: number, caller: Caller): number;
}

export class SingleFileServer {
  /** Open files by fh: the snapshot a reader reads, null for a write-only open. */
  private readonly handles = new Map<bigint, Uint8Array | null>();
  private nextFh = 1n;
  private readonly attr: Attr;

  /** `mode`: permission bits (0o444, 0o644); `timeSec`: its atime, mtime and ctime (procfs: when the inode was made). */
  constructor(
    private readonly file: ServedFile,
    mode: number,
    timeSec: number,
  ) {
    this.attr = { ino: 1n, size: 0n, mode: S_IFREG | mode, nlink: 1, uid: 0, gid: 0, blksize: 1024, time: BigInt(timeSec) };
  }

  /** Files open now. */
  get openFiles(): number {
    return this.handles.size;
  }

  /** The reply to one request as read from /dev/fuse, or null when it takes none (FORGET, INTERRUPT, unreadable header). */
  handle(request: Uint8Array): Uint8Array | null {
    const h = decodeInHeader(request);
    if (h === null) return null;
    if (h.len !== request.length) return encodeReply(h.unique, -EIO);
    const body = request.subarray(IN_HEADER_SIZE);
    switch (h.opcode) {
      case OP.INIT:
        return this.init(h.unique, body);
      case OP.GETATTR:
        return encodeReply(h.unique, 0, encodeAttrOut(this.attr, ATTR_VALID_SEC));
      case OP.SETATTR: {
        const s = decodeSetattrIn(body);
        if (s === null) return encodeReply(h.unique, -EIO);
        // procfs refuses chmod/chown of its files and ignores the rest (truncation, times).
        if ((s.valid & (FATTR_MODE | FATTR_UID | FATTR_GID)) !== 0) return encodeReply(h.unique, -EPERM);
        return encodeReply(h.unique, 0, encodeAttrOut(this.attr, ATTR_VALID_SEC));
      }
      case OP.OPEN:
        return this.open(h.unique, body);
      case OP.READ:
        return this.read(h.unique, body);
      case OP.WRITE:
        return this.write(h.unique, body, { uid: h.uid, gid: h.gid, pid: h.pid });
      case OP.RELEASE: {
        const r = decodeReleaseIn(body);
        if (r !== null) this.handles.delete(r.fh);
        return encodeReply(h.unique, r === null ? -EIO : 0);
      }
      case OP.FLUSH:
      case OP.ACCESS: // default_permissions: the kernel checked the mode already
      case OP.DESTROY:
        return encodeReply(h.unique, 0);
      case OP.STATFS:
        return encodeReply(h.unique, 0, encodeStatfsOut({ bsize: 4096, namelen: 255, frsize: 4096 }));
      case OP.IOCTL:
        return encodeReply(h.unique, -ENOTTY); // procfs files have no ioctl
      case OP.FORGET:
      case OP.BATCH_FORGET:
      case OP.INTERRUPT: // every request is answered before the next is read: nothing to interrupt
        return null;
      default:
        return encodeReply(h.unique, -ENOSYS); // xattrs: the kernel turns ENOSYS into EOPNOTSUPP, as procfs
    }
  }

  private init(unique: bigint, body: Uint8Array): Uint8Array {
    const i = decodeInitIn(body);
    if (i === null || i.major < KERNEL_VERSION) return encodeReply(unique, -EPROTO);
    // A newer major: answer ours, the kernel then sends an INIT it can agree on.
    const minor = i.major > KERNEL_VERSION ? KERNEL_MINOR_VERSION : Math.min(i.minor, KERNEL_MINOR_VERSION);
    return encodeReply(
      unique,
      0,
      encodeInitOut({
        major: KERNEL_VERSION,
        minor,
        maxReadahead: i.maxReadahead,
        flags: i.flags & INIT_ATOMIC_O_TRUNC,
        maxBackground: 16,
        congestionThreshold: 12,
        maxWrite: MAX_WRITE,
        timeGran: 1_000_000_000,
      }),
    );
  }

  private open(unique: bigint, body: Uint8Array): Uint8Array {
    const o = decodeOpenIn(body);
    if (o === null) return encodeReply(unique, -EIO);
    // The kernel checked the mode (default_permissions), which lets root open a 0444 file for writing.
    // procfs would too (and fail its writes with EIO); the notified open refuses it: so do we, alike in every mode.
    const access = o.flags & O_ACCMODE;
    if (access !== O_RDONLY && this.file.writeAt === undefined) return encodeReply(unique, -EACCES);
    const snapshot = access === O_WRONLY ? null : Buffer.from(this.file.render(), 'latin1');
    const fh = this.nextFh++;
    this.handles.set(fh, snapshot);
    return encodeReply(unique, 0, encodeOpenOut(fh, FOPEN_DIRECT_IO | FOPEN_NOFLUSH));
  }

  private read(unique: bigint, body: Uint8Array): Uint8Array {
    const r = decodeReadIn(body);
    if (r === null) return encodeReply(unique, -EIO);
    const snapshot = this.handles.get(r.fh);
    if (snapshot === undefined || snapshot === null) return encodeReply(unique, -EBADF);
    const start = r.offset >= BigInt(snapshot.length) ? snapshot.length : Number(r.offset);
    return encodeReply(unique, 0, snapshot.subarray(start, start + r.size));
  }

  private write(unique: bigint, body: Uint8Array, caller: Caller): Uint8Array {
    const w = decodeWriteIn(body);
    if (w === null) return encodeReply(unique, -EIO);
    // Only a writable open of a writable file gets WRITEs from the kernel.
    if (!this.handles.has(w.fh) || this.file.writeAt === undefined) return encodeReply(unique, -EBADF);
    // Any non-zero offset stays non-zero (sysctl_writes_strict ignores those writes).
    const pos = w.offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(w.offset);
    const result = this.file.writeAt(w.data, pos, caller);
    return result < 0 ? encodeReply(unique, result) : encodeReply(unique, 0, encodeWriteOut(result));
  }
}
