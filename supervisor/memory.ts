// Reading and writing the target's memory with process_vm_readv/writev into
// one preallocated native scratch buffer (fallback: /proc/PID/mem). Every
// pointer from the target is hostile: a short or failed access is EFAULT.
// Callers must check ID_VALID after reading and before acting (TOCTOU).
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { allocNative, errno, processVmReadv, processVmWritev, type NativeBuffer } from './ffi.js';
import { EFAULT, ENOSYS, EPERM, ESRCH } from '../src/syscalls/errno.js';

const MAX_ACCESS = 1 << 24;
/**
 * x86_64 user addresses end below 2^47 (TASK_SIZE_MAX); anything above is
 * EFAULT, as for the kernel. Checked on the number before it is split into
 * 32-bit halves (near 2^64 a JS number rounds up to 2^64 and would wrap to 0).
 */
const USER_END = 2 ** 47;

export class TargetMemory {
  private scratch: NativeBuffer;
  private readonly localIov: NativeBuffer;
  private readonly remoteIov: NativeBuffer;

  constructor(initialSize = 1 << 16) {
    this.scratch = allocNative(initialSize);
    this.localIov = allocNative(16);
    this.remoteIov = allocNative(16);
  }

  private ensure(len: number): void {
    if (len <= this.scratch.bytes.length) return;
    let size = this.scratch.bytes.length;
    while (size < len) size *= 2;
    this.scratch = allocNative(size);
  }

  /**
   * Read `len` bytes at `addr` of process `pid`. Returns a view into the
   * scratch buffer (valid until the next call) or a negated errno.
   */
  read(pid: number, addr: number, len: number): Uint8Array | number {
    if (len === 0) return this.scratch.bytes.subarray(0, 0);
    if (len < 0 || len > MAX_ACCESS || addr + len > USER_END) return -EFAULT;
    this.ensure(len);
    this.setIov(addr, len);
    const n = processVmReadv(pid, this.localIov.ptr, 1, this.remoteIov.ptr, 1, 0);
    if (n === len) return this.scratch.bytes.subarray(0, len);
    if (n >= 0) return -EFAULT;
    const e = errno();
    if (e === EPERM || e === ENOSYS) return this.procMem(pid, addr, len, null);
    return e === ESRCH ? -ESRCH : -EFAULT;
  }

  /** Write `data` at `addr` of process `pid`; 0 or a negated errno. */
  write(pid: number, addr: number, data: Uint8Array): number {
    const len = data.length;
    if (len === 0) return 0;
    if (len > MAX_ACCESS || addr + len > USER_END) return -EFAULT;
    this.ensure(len);
    this.scratch.bytes.set(data);
    this.setIov(addr, len);
    const n = processVmWritev(pid, this.localIov.ptr, 1, this.remoteIov.ptr, 1, 0);
    if (n === len) return 0;
    if (n >= 0) return -EFAULT;
    const e = errno();
    if (e === EPERM || e === ENOSYS) {
      const r = this.procMem(pid, addr, len, data);
      return typeof r === 'number' ? r : 0;
    }
    return e === ESRCH ? -ESRCH : -EFAULT;
  }

  /** A NUL-terminated string of at most `max` bytes (paths: PATH_MAX). */
  readString(pid: number, addr: number, max = 4096): string | number {
    let chunk = 256;
    for (;;) {
      const bytes = this.readUpTo(pid, addr, Math.min(chunk, max));
      if (typeof bytes === 'number') return bytes;
      const nul = bytes.indexOf(0);
      if (nul >= 0) return Buffer.from(bytes.buffer, bytes.byteOffset, nul).toString('utf8');
      if (bytes.length >= max) return -36; // ENAMETOOLONG
      chunk *= 4;
    }
  }

  /** Like read, but a string may end just before an unmapped page. */
  private readUpTo(pid: number, addr: number, len: number): Uint8Array | number {
    const whole = this.read(pid, addr, len);
    if (typeof whole !== 'number') return whole;
    const toPageEnd = 4096 - (addr % 4096);
    return toPageEnd < len ? this.read(pid, addr, toPageEnd) : whole;
  }

  private setIov(addr: number, len: number): void {
    setU64(this.localIov.view, 0, this.scratch.address);
    setU64(this.localIov.view, 8, len);
    setU64(this.remoteIov.view, 0, addr);
    setU64(this.remoteIov.view, 8, len);
  }

  private procMem(pid: number, addr: number, len: number, data: Uint8Array | null): Uint8Array | number {
    let fd = -1;
    try {
      fd = openSync(`/proc/${pid}/mem`, data ? 'r+' : 'r');
      const buf = this.scratch.bytes.subarray(0, len);
      const n = data ? writeSync(fd, data, 0, len, addr) : readSync(fd, buf, 0, len, addr);
      return n === len ? buf : -EFAULT;
    } catch {
      return -EFAULT;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
}

function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 4294967296, true);
  view.setUint32(offset + 4, Math.floor(value / 4294967296), true);
}
