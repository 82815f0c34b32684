// Virtual files: /proc entries whose truth lives in the supervisor
// (/proc/sysvipc/sem, /proc/sys/kernel/sem, /proc/locks). Where they are not
// mounted over the /proc files (proc-fuse.ts) the open family is notified
// ([proc] views "notify", or "auto" unprivileged); an open of a virtual path is answered with a memfd holding the
// rendered text (reads) or with the write end of a pipe the supervisor drains
// (writes, keeping only as many bytes as the file's parser would look at),
// installed atomically with SECCOMP_ADDFD_FLAG_SEND. Every other
// open is CONTINUEd to the kernel; Landlock, not this, decides access.
import { readlinkSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { nr } from '../src/syscalls/table.js';
import type { FdPool } from './fd-budget.js';
import type { Credentials } from '../src/procfs.js';
import { allocNative, close, errno, fcntl, lseek, memfdCreate, pipe2, read, write } from './ffi.js';
import { ANSWERED, CONTINUE, type NotificationLoop } from './loop/loop.js';
import { NativeRule } from './loop/native-rules.js';
import type { TargetMemory } from './memory.js';
import type { Notification } from './loop/notification.js';
import { hex, type Tracer } from './trace.js';
import { AT_FDCWD, F_SETFL, MFD_CLOEXEC, O_ACCMODE, O_CLOEXEC, O_NONBLOCK, O_PATH } from '../src/syscalls/constants.js';
import { EACCES, EMFILE, ENFILE } from '../src/syscalls/errno.js';

export interface VirtualFile {
  /** The file's text, rendered at open time (as the kernel's seq_file does at first read). */
  render(): string;
  /** Absent = read-only (EACCES for writers). */
  writer?: VirtualWriter;
}

export interface VirtualWriter {
  /**
   * Bytes of what a writer writes that are kept for apply(): the rest is
   * read and discarded, so a writer can never make the supervisor hold more.
   */
  keep: number;
  /** May this caller open it for writing? (procfs checks the file mode: root only for sysctls.) */
  mayOpen(creds: Credentials): boolean;
  /** Apply what a writer wrote (its first `keep` bytes) once it closes (notified views: the writer holds a pipe). */
  apply(bytes: Uint8Array, creds: Credentials): void;
  /** One write(2) of `data` at offset `pos`, applied at once (the FUSE views see each): bytes taken or -errno. */
  writeAt(data: Uint8Array, pos: number, creds: Credentials): number;
}

export const OPEN_SYSCALLS = ['open', 'openat', 'openat2'] as const;

export class VirtualFiles {
  private readonly files = new Map<string, VirtualFile>();
  private readonly basenames = new Set<string>();
  private readonly drain = allocNative(65536);
  private readonly writers = new Set<PendingWriter>();

  constructor(
    private readonly loop: NotificationLoop,
    private readonly memory: TargetMemory,
    private readonly credentials: (tid: number) => Credentials | null,
    /** The process (tgid) a thread belongs to, which the writer pool charges. */
    private readonly processOf: (tid: number) => number | null,
    private readonly pool: FdPool,
    tracer: Tracer | null,
  ) {
    const nrOpen = nr('open');
    const nrOpenat = nr('openat');
    const nrOpenat2 = nr('openat2');
    loop.on(nrOpen, (n) => this.open(n, AT_FDCWD, n.u64(0), n.int(1)));
    loop.on(nrOpenat, (n) => this.open(n, n.int(0), n.u64(1), n.int(2)));
    loop.on(nrOpenat2, (n) => this.openat2(n));
    // A path whose last component names no served file is answered CONTINUE without JS, as open() would.
    loop.decideNatively(nrOpen, NativeRule.OpenPath0);
    loop.decideNatively(nrOpenat, NativeRule.OpenPath1);
    loop.decideNatively(nrOpenat2, NativeRule.OpenPath1);
    if (tracer) {
      const path = (tid: number, addr: number) => {
        const s = memory.readString(tid, addr);
        return typeof s === 'number' ? hex(addr) : JSON.stringify(s);
      };
      const dirfd = (fd: number) => (fd === AT_FDCWD ? 'AT_FDCWD' : String(fd));
      tracer.decodeWith(nrOpen, (a, tid) => `${path(tid, a.u64(0))}, ${hex(a.int(1) >>> 0)}`);
      tracer.decodeWith(nrOpenat, (a, tid) => `${dirfd(a.int(0))}, ${path(tid, a.u64(1))}, ${hex(a.int(2) >>> 0)}`);
      tracer.decodeWith(nrOpenat2, (a, tid) => `${dirfd(a.int(0))}, ${path(tid, a.u64(1))}, ${hex(a.u64(2))}, ${a.u64(3)}`);
    }
  }

  register(path: string, file: VirtualFile): void {
    this.files.set(path, file);
    this.basenames.add(posix.basename(path));
    this.loop.native.setServedNames(this.basenames);
  }

  /** The file registered under `path`. */
  file(path: string): VirtualFile | undefined {
    return this.files.get(path);
  }

  private openat2(n: Notification): number {
    const how = this.memory.read(n.tid, n.u64(2), 8);
    if (typeof how === 'number') return CONTINUE; // the kernel reports the EFAULT itself
    const flags = new DataView(how.buffer, how.byteOffset, 8).getUint32(0, true);
    return this.open(n, n.int(0), n.u64(1), flags);
  }

  private open(n: Notification, dirfd: number, pathAddr: number, flags: number): number {
    const raw = this.memory.readString(n.tid, pathAddr);
    if (typeof raw === 'number' || !this.basenames.has(posix.basename(raw)) || (flags & O_PATH) !== 0) return CONTINUE;
    const path = this.resolve(n.tid, dirfd, raw);
    const file = path === null ? undefined : this.files.get(path);
    if (file === undefined || !this.loop.currentValid()) return CONTINUE;
    const cloexec = (flags & O_CLOEXEC) !== 0;
    if ((flags & O_ACCMODE) === 0) return this.serveText(file.render(), cloexec);
    const creds = this.credentials(n.tid);
    const owner = this.processOf(n.tid);
    if (creds === null || owner === null || file.writer === undefined || !file.writer.mayOpen(creds)) return -EACCES;
    // Each open writer holds one of our fds until it closes: past a process's
    // share it is as if its own fd table were full, past the pool the system's.
    const refused = this.pool.take(owner);
    if (refused !== null) return refused === 'owner' ? -EMFILE : -ENFILE;
    const result = this.serveWriter(file.writer, creds, owner, cloexec);
    if (result !== ANSWERED) this.pool.give(owner);
    return result;
  }

  /** Absolute, normalised path as the target named it; symlinks resolved as the kernel would. */
  private resolve(tid: number, dirfd: number, raw: string): string | null {
    let full = raw;
    if (!raw.startsWith('/')) {
      try {
        const base = dirfd === AT_FDCWD ? readlinkSync(`/proc/${tid}/cwd`) : readlinkSync(`/proc/${tid}/fd/${dirfd}`);
        full = posix.join(base, raw);
      } catch {
        return null;
      }
    }
    const normal = posix.normalize(full);
    if (this.files.has(normal)) return normal;
    try {
      return realpathSync(normal);
    } catch {
      return null;
    }
  }

  private serveText(text: string, cloexec: boolean): number {
    const fd = memfdCreate('sysvisor-proc', MFD_CLOEXEC);
    if (fd < 0) return -errno();
    const bytes = Buffer.from(text);
    const ok = bytes.length === 0 || write(fd, bytes, bytes.length) === bytes.length;
    // The target shares this open file description, offset included: rewind it.
    const result = ok && lseek(fd, 0, 0) === 0 ? this.loop.answerWithFd(fd, cloexec) : -errno();
    close(fd);
    return result;
  }

  private serveWriter(file: VirtualWriter, creds: Credentials, owner: number, cloexec: boolean): number {
    const fds = [0, 0];
    if (pipe2(fds, O_CLOEXEC) < 0) return -errno();
    const [readEnd, writeEnd] = fds;
    fcntl(readEnd, F_SETFL, O_NONBLOCK);
    const result = this.loop.answerWithFd(writeEnd, cloexec);
    close(writeEnd);
    if (result !== ANSWERED) {
      close(readEnd);
      return result;
    }
    const writer: PendingWriter = { readEnd, held: Buffer.alloc(file.keep), length: 0, file, creds, owner };
    this.writers.add(writer);
    this.loop.watchFd(readEnd, () => this.drainWriter(writer));
    return result;
  }

  /**
   * Apply every write whose writer has closed the file. A handler whose
   * answer depends on written state calls this first, so that
   * `echo ... > /proc/sys/kernel/sem; ipcmk` sees the new limits.
   */
  flush(): void {
    for (const w of this.writers) this.drainWriter(w);
  }

  get pendingWrites(): number {
    return this.writers.size;
  }

  private drainWriter(w: PendingWriter): void {
    for (;;) {
      const got = read(w.readEnd, this.drain.ptr, this.drain.bytes.length);
      if (got > 0) {
        const kept = Math.min(got, w.held.length - w.length);
        w.held.set(this.drain.bytes.subarray(0, kept), w.length);
        w.length += kept;
        continue;
      }
      if (got === 0) {
        // EOF: every copy of the write end is closed
        this.writers.delete(w);
        this.loop.unwatchFd(w.readEnd);
        close(w.readEnd);
        this.pool.give(w.owner);
        w.file.apply(w.held.subarray(0, w.length), w.creds);
      }
      return;
    }
  }
}

interface PendingWriter {
  readEnd: number;
  /** The first bytes written, up to file.keep; what comes after is discarded. */
  held: Buffer;
  length: number;
  file: VirtualWriter;
  creds: Credentials;
  /** The opener, charged for our fd until every copy of the write end is closed. */
  owner: number;
}
