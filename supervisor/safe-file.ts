// Safe file creation. The supervisor runs as root and writes state dumps,
// crash reports, the [ipc] persist snapshot and the trace in directories the
// sandboxed program may be able to write to. Nothing it writes may land in
// another file through a link or a rename the program planted there:
//
// - A directory is opened once (FileSlot.dirFd); every later operation names
//   the file relative to that descriptor, so no path is resolved twice.
// - A file is never written in place: a temporary file with a random name is
//   created with O_CREAT|O_EXCL|O_NOFOLLOW (nothing that exists, link or not,
//   is ever opened), written, fsync'ed, and renamed over the name (rename
//   replaces a planted link, it never follows it), then the directory is
//   fsync'ed. "new" files use renameat2(RENAME_NOREPLACE) instead.
// - A name the user gave that is a link or not a regular file is refused
//   with the reason, before the program runs.
// - Dumps without a user-given path go to a private run directory (0700,
//   owned by us, checked on the open descriptor, never through a link).
import { fchmodSync, fstatSync, fsyncSync, readSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { close, errno, linkat, mkdirat, openat, renameat2, unlinkat } from './ffi.js';
import {
  AT_FDCWD,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOCTTY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
  RENAME_NOREPLACE,
} from '../src/syscalls/constants.js';
import { EEXIST, EINVAL, ELOOP, ENOENT, ENOTDIR } from '../src/syscalls/errno.js';
import { nodeCrypto } from './lazy-crypto.js';

/** Attempts at a fresh random temporary name, or at a file that vanished between two looks. */
const ATTEMPTS = 8;

/** Why a file could not be created or opened safely; the message starts with the path. */
export class FileError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * A file by name in a directory opened once. Plain data: it crosses to the
 * loop's thread (the descriptor is the process's). `path` is for messages.
 */
export interface FileSlot {
  dirFd: number;
  name: string;
  path: string;
}

/**
 * Open the directory of a path the user gave (following links there: the
 * user wrote them) and check its last component: absent, or a regular file.
 */
export function openSlot(path: string): FileSlot {
  const full = resolve(path);
  const name = basename(full);
  if (name === '' || full.endsWith('/')) throw new FileError(`${path}: names a directory, not a file`);
  const dirFd = openat(AT_FDCWD, dirname(full), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 'uint32', 0);
  if (dirFd < 0) throw failure(path, `cannot open its directory ${dirname(full)}`, errno());
  const slot = { dirFd, name, path };
  try {
    const st = statAt(slot);
    if (st !== null) refuseUnlessRegular(slot, st);
  } catch (err) {
    close(dirFd);
    throw err;
  }
  return slot;
}

export function closeSlot(slot: FileSlot): void {
  close(slot.dirFd);
}

/** lstat of the slot's name (relative to its directory); null when there is none. */
export function statAt(slot: FileSlot): Stats | null {
  const fd = openat(slot.dirFd, slot.name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 'uint32', 0);
  if (fd < 0) {
    const e = errno();
    if (e === ENOENT) return null;
    throw failure(slot.path, 'cannot look at it', e);
  }
  try {
    return fstatSync(fd);
  } finally {
    close(fd);
  }
}

/** The slot's file as text, or null when there is none; a link or a non-regular file is refused. */
export function readSlot(slot: FileSlot): string | null {
  // O_NONBLOCK: a FIFO planted under the name must not block the open.
  const fd = openat(slot.dirFd, slot.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 'uint32', 0);
  if (fd < 0) {
    const e = errno();
    if (e === ENOENT) return null;
    if (e === ELOOP) throw new FileError(`${slot.path}: is a symbolic link (sysvisor does not read or write through links)`);
    throw failure(slot.path, 'cannot open it', e);
  }
  try {
    refuseUnlessRegular(slot, fstatSync(fd));
    const chunks: Buffer[] = [];
    const buf = Buffer.allocUnsafe(1 << 16);
    for (let pos = 0; ;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      pos += n;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    close(fd);
  }
}

/**
 * Write `data` as the slot's file, atomically and durably: a temporary file
 * in the same directory, fsync, rename, fsync of the directory. A crash
 * leaves the old file or the new one, never a mix. "replace" replaces what
 * the name holds (a planted link is replaced, not followed); "new" fails
 * with FileError code EEXIST when the name is taken.
 */
export function writeSlot(slot: FileSlot, data: string | Uint8Array | ((fd: number) => void), how: 'replace' | 'new'): void {
  const { fd, temp } = createTemp(slot);
  try {
    if (typeof data === 'function') {
      data(fd); // a writer that streams (json-stream.ts)
    } else {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
    }
    fsyncSync(fd);
  } catch (err) {
    close(fd);
    unlinkat(slot.dirFd, temp, 0);
    throw new FileError(`${slot.path}: cannot write it: ${(err as Error).message}`);
  }
  close(fd);
  const e = how === 'replace' ? renameOver(slot, temp) : renameNew(slot, temp);
  if (e !== 0) {
    unlinkat(slot.dirFd, temp, 0);
    if (e === EEXIST) throw new FileError(`${slot.path}: exists already`, 'EEXIST');
    throw failure(slot.path, 'cannot rename the new file into place', e);
  }
  try {
    fsyncSync(slot.dirFd);
  } catch (err) {
    throw new FileError(`${slot.path}: written, but its directory could not be synced: ${(err as Error).message}`);
  }
}

/** Remove the slot's name (unlinkat: a link is removed, never followed); false when there was none. */
export function removeSlot(slot: FileSlot): boolean {
  return unlinkat(slot.dirFd, slot.name, 0) === 0;
}

/**
 * Open the slot's file for writing from the start (the trace): created new,
 * or an existing regular file with one link, truncated. Whatever else the
 * name holds is refused without being opened: the name is opened O_PATH
 * (which opens no device or FIFO), checked, and reopened through our own
 * descriptor (/proc/self/fd/N names that inode, it resolves no path).
 */
export function openForWriting(slot: FileSlot): number {
  for (let i = 0; i < ATTEMPTS; i++) {
    const fd = openat(slot.dirFd, slot.name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 'uint32', 0o644);
    if (fd >= 0) return fd;
    const created = errno();
    if (created !== EEXIST) throw failure(slot.path, 'cannot create it', created);
    const pathFd = openat(slot.dirFd, slot.name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 'uint32', 0);
    if (pathFd < 0) {
      const e = errno();
      if (e === ENOENT) continue; // removed since: create it again
      throw failure(slot.path, 'cannot open it', e);
    }
    try {
      const st = fstatSync(pathFd);
      refuseUnlessRegular(slot, st);
      // A second name would let a planted hard link make us truncate another file.
      if (st.nlink > 1) throw new FileError(`${slot.path}: has ${st.nlink} hard links; sysvisor truncates only a file with one name`);
      const fd = openat(AT_FDCWD, `/proc/self/fd/${pathFd}`, O_WRONLY | O_TRUNC | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 'uint32', 0);
      if (fd < 0) throw failure(slot.path, 'cannot open it', errno());
      return fd;
    } finally {
      close(pathFd);
    }
  }
  throw new FileError(`${slot.path}: keeps changing while it is opened`);
}

/**
 * The private directory for files nobody named (live state dumps, crash
 * reports): $XDG_RUNTIME_DIR/sysvisor when that directory is ours, else
 * /run/sysvisor for root, else $TMPDIR/sysvisor-UID.
 */
export function runDirectoryPath(env: NodeJS.ProcessEnv = process.env, euid = process.geteuid!()): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && xdg.startsWith('/')) {
    try {
      if (statSync(xdg).uid === euid) return `${xdg.replace(/\/+$/, '')}/sysvisor`;
    } catch {
      // not there: the next choice
    }
  }
  if (euid === 0) return '/run/sysvisor';
  return `${(env.TMPDIR || '/tmp').replace(/\/+$/, '')}/sysvisor-${euid}`;
}

/**
 * Open (and with `create`, make) the run directory; returns its descriptor.
 * Checked on the open descriptor: a real directory (opened O_NOFOLLOW),
 * owned by our uid, with no access for group or others. Refused otherwise:
 * in a directory others can write, someone else may have made it first.
 */
export function openRunDirectory(path: string, create: boolean): number {
  const parent = openat(AT_FDCWD, dirname(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 'uint32', 0);
  if (parent < 0) throw failure(`run directory ${path}`, `cannot open ${dirname(path)}`, errno());
  const name = basename(path);
  try {
    const made = create && mkdirat(parent, name, 0o700) === 0;
    const mkdirErr = made || !create ? 0 : errno();
    if (mkdirErr !== 0 && mkdirErr !== EEXIST) throw failure(`run directory ${path}`, 'cannot create it', mkdirErr);
    const fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 'uint32', 0);
    if (fd < 0) {
      const e = errno();
      // O_DIRECTORY|O_NOFOLLOW on a link fails ENOTDIR: look again (O_PATH) only to word the refusal.
      if (e === ENOTDIR || e === ELOOP) {
        const link = statAt({ dirFd: parent, name, path })?.isSymbolicLink() ?? false;
        throw new FileError(`run directory ${path}: is ${link ? 'a symbolic link' : 'not a directory'}`);
      }
      throw failure(`run directory ${path}`, 'cannot open it', e);
    }
    try {
      if (made) fchmodSync(fd, 0o700); // the umask may have taken bits we want
      const st = fstatSync(fd);
      const euid = process.geteuid!();
      if (st.uid !== euid) throw new FileError(`run directory ${path}: is owned by uid ${st.uid}, not by uid ${euid} (sysvisor's)`);
      if ((st.mode & 0o077) !== 0) {
        throw new FileError(`run directory ${path}: has mode 0${(st.mode & 0o777).toString(8)}; it must be private (0700)`);
      }
    } catch (err) {
      close(fd);
      throw err;
    }
    return fd;
  } finally {
    close(parent);
  }
}

function refuseUnlessRegular(slot: FileSlot, st: Stats): void {
  if (st.isSymbolicLink()) throw new FileError(`${slot.path}: is a symbolic link (sysvisor does not read or write through links)`);
  if (!st.isFile()) throw new FileError(`${slot.path}: is not a regular file (${kindOf(st)})`);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a file';
}

/** A new file under a random name next to the slot's name, created where nothing exists (no link followed). */
function createTemp(slot: FileSlot): { fd: number; temp: string } {
  for (let i = 0; i < ATTEMPTS; i++) {
    const temp = `.${slot.name.slice(0, 100)}.${nodeCrypto().randomBytes(8).toString('hex')}.tmp`;
    const fd = openat(slot.dirFd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 'uint32', 0o600);
    if (fd >= 0) return { fd, temp };
    const e = errno();
    if (e !== EEXIST) throw failure(slot.path, 'cannot create a temporary file beside it', e);
  }
  throw new FileError(`${slot.path}: no free temporary name beside it after ${ATTEMPTS} tries`);
}

/** renameat: atomic replacement of whatever the name holds; 0 or the errno. */
function renameOver(slot: FileSlot, temp: string): number {
  return renameat2(slot.dirFd, temp, slot.dirFd, slot.name, 0) === 0 ? 0 : errno();
}

/** renameat2(RENAME_NOREPLACE), or link+unlink where the filesystem lacks it (EINVAL); 0 or the errno. */
function renameNew(slot: FileSlot, temp: string): number {
  if (renameat2(slot.dirFd, temp, slot.dirFd, slot.name, RENAME_NOREPLACE) === 0) return 0;
  const e = errno();
  if (e !== EINVAL) return e;
  if (linkat(slot.dirFd, temp, slot.dirFd, slot.name, 0) !== 0) return errno();
  unlinkat(slot.dirFd, temp, 0);
  return 0;
}

function failure(what: string, action: string, e: number): FileError {
  const [code, text] = getSystemErrorMap().get(-e) ?? [`errno ${e}`, 'unknown error'];
  return new FileError(`${what}: ${action}: ${text} (${code})`, code);
}
