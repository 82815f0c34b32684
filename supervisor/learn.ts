// Learning runs (`sysvisor learn`): record what the program opens, executes
// and changes, with real paths resolved as the kernel resolved them for the
// caller, and the peak use of what the features emulate. src/manifest/learn.ts
// turns the record into a manifest.
//
// The open family, the exec family and the calls that add or remove
// directory entries are notified (LEARN_SYSCALLS) and each is recorded
// before it is answered, while the caller's memory and cwd are what the
// kernel will use. The recorder is also the loop's observer: it sees every
// answered notification (so every notified call goes to JS, whatever it
// costs; learning is not the fast path) and keeps the peaks after each.
// The supervisor resolves and hashes paths the program names: it only stats,
// reads links and reads regular files, opened through an O_PATH fd so a path
// swapped meanwhile is hashed as the file it names then.
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { INTERPRETER_HEAD, interpreterOf } from '../src/interpreter.js';
import type { LearnedRun } from '../src/manifest/learn.js';
import { nr, syscallName } from '../src/syscalls/table.js';
import type { Feature, SupervisorContext } from './features/contract.js';
import { nodeCrypto } from './lazy-crypto.js';
import { CONTINUE, PENDING, type Handler, type Observer } from './loop/loop.js';
import type { Notification } from './loop/notification.js';
import { AT_EMPTY_PATH, AT_FDCWD, O_ACCMODE, O_CREAT, O_PATH, O_TRUNC } from '../src/syscalls/constants.js';

/** binfmt_script and binfmt_elf nest at most this deep (fs/exec.c search_binary_handler). */
const INTERPRETER_DEPTH = 5;
/** Lock files and keys kept for the comments. */
const NOTED_MAX = 100;
/** Links followed in one path before giving up, as the kernel's ELOOP (MAXSYMLINKS). */
const SYMLINKS_MAX = 40;
/** The magic links of a process: an fd, cwd, exe or root; their text is a path only for a file. */
const PROC_MAGIC = /^\/proc\/\d+\/(task\/\d+\/)?(fd\/\d+|cwd|exe|root)$/;

/** A path argument: which args hold the dirfd (or null: AT_FDCWD) and the path. */
interface PathArg {
  dirfd: number | null;
  path: number;
}
const at = (dirfd: number | null, path: number): PathArg => ({ dirfd, path });
/** Calls that add, remove or rename entries of the directories their paths name. */
const ENTRY_CHANGES: Record<string, readonly PathArg[]> = {
  mkdir: [at(null, 0)],
  mkdirat: [at(0, 1)],
  rmdir: [at(null, 0)],
  unlink: [at(null, 0)],
  unlinkat: [at(0, 1)],
  rename: [at(null, 0), at(null, 1)],
  renameat: [at(0, 1), at(2, 3)],
  renameat2: [at(0, 1), at(2, 3)],
  link: [at(null, 0), at(null, 1)],
  linkat: [at(0, 1), at(2, 3)],
  symlink: [at(null, 1)],
  symlinkat: [at(1, 2)],
  mknod: [at(null, 0)],
  mknodat: [at(0, 1)],
};

/** What a learning run has notified besides what the manifest's features need. */
export const LEARN_SYSCALLS: readonly string[] = [
  'open',
  'openat',
  'openat2',
  'execve',
  'execveat',
  'truncate',
  ...Object.keys(ENTRY_CHANGES),
];

export class LearnRecorder implements Observer {
  private readonly files = new Map<string, 'read' | 'write'>();
  private readonly changedDirs = new Set<string>();
  private readonly created = new Set<string>();
  private readonly execs = new Map<string, { sha256: string; interpreter: boolean }>();
  private readonly calls = new Map<string, number>();
  private readonly emulated: ReadonlySet<number>;
  private readonly sem = { sets: 0, sems: 0, perSet: 0, opsPerCall: 0, keys: new Set<number>() };
  private readonly locks = { records: 0, files: new Set<string>() };
  private processes = 0;

  constructor(
    private readonly ctx: SupervisorContext,
    private readonly features: readonly Feature[],
    private readonly next: Observer | null,
  ) {
    const { loop } = ctx;
    this.emulated = new Set(ctx.config.emulate.map((n) => nr(n)));
    const wrap = (name: string, record: (n: Notification) => void) => {
      const number = nr(name);
      const inner: Handler = loop.handlerOf(number) ?? (() => CONTINUE);
      loop.on(number, (n) => {
        const r = inner(n);
        // A served /proc file or a refused call is not an access Landlock will see.
        if (r === CONTINUE) record(n);
        return r;
      });
    };
    wrap('open', (n) => this.opened(n.tid, AT_FDCWD, n.u64(0), n.int(1)));
    wrap('openat', (n) => this.opened(n.tid, n.int(0), n.u64(1), n.int(2)));
    wrap('openat2', (n) => {
      const how = ctx.memory.read(n.tid, n.u64(2), 8);
      if (typeof how !== 'number') this.opened(n.tid, n.int(0), n.u64(1), new DataView(how.buffer, how.byteOffset, 8).getUint32(0, true));
    });
    wrap('execve', (n) => this.executed(n.tid, AT_FDCWD, n.u64(0), 0));
    wrap('execveat', (n) => this.executed(n.tid, n.int(0), n.u64(1), n.int(4)));
    wrap('truncate', (n) => {
      const real = this.resolve(n.tid, AT_FDCWD, n.u64(0));
      if (real !== null && real.exists) this.files.set(real.path, 'write');
    });
    for (const [name, args] of Object.entries(ENTRY_CHANGES)) {
      wrap(name, (n) => {
        for (const a of args) this.changed(n.tid, a.dirfd === null ? AT_FDCWD : n.int(a.dirfd), n.u64(a.path));
      });
    }
  }

  answered(n: Notification, result: number): void {
    this.next?.answered(n, result);
    this.processes = Math.max(this.processes, this.ctx.processes.processes.size);
    for (const f of this.features) {
      const u = f.usage?.();
      if (u === undefined) continue;
      if (u.sets !== undefined) this.sem.sets = Math.max(this.sem.sets, u.sets);
      if (u.sems !== undefined) this.sem.sems = Math.max(this.sem.sems, u.sems);
      if (u.lockRecords !== undefined) this.locks.records = Math.max(this.locks.records, u.lockRecords);
    }
    if (!this.emulated.has(n.nr)) return;
    const name = syscallName(n.nr);
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    const succeeded = result >= 0 || result === PENDING;
    if (name === 'semget' && succeeded) {
      this.sem.perSet = Math.max(this.sem.perSet, n.int(1));
      if (n.int(0) !== 0 && this.sem.keys.size < NOTED_MAX) this.sem.keys.add(n.int(0));
    } else if ((name === 'semop' || name === 'semtimedop') && succeeded) {
      this.sem.opsPerCall = Math.max(this.sem.opsPerCall, n.uint(2));
    } else if ((name === 'fcntl' || name === 'flock') && this.locks.files.size < NOTED_MAX) {
      try {
        const file = readlinkSync(`/proc/${n.tid}/fd/${n.int(0)}`);
        if (file.startsWith('/')) this.locks.files.add(file);
      } catch {
        // The fd is gone (or never was: the call failed with EBADF).
      }
    }
  }

  result(): LearnedRun {
    return {
      files: [...this.files].map(([path, access]) => ({ path, access })),
      changedDirs: [...this.changedDirs],
      created: [...this.created],
      execs: [...this.execs].map(([path, e]) => ({ path, ...e })),
      calls: Object.fromEntries(this.calls),
      sem: { sets: this.sem.sets, sems: this.sem.sems, perSet: this.sem.perSet, opsPerCall: this.sem.opsPerCall, keys: [...this.sem.keys] },
      locks: { records: this.locks.records, files: [...this.locks.files] },
      processes: this.processes,
    };
  }

  private opened(tid: number, dirfd: number, pathAddr: number, flags: number): void {
    if ((flags & O_PATH) !== 0) return; // Landlock checks no right for O_PATH
    const real = this.resolve(tid, dirfd, pathAddr);
    if (real === null) return;
    const writes = (flags & O_ACCMODE) !== 0 || (flags & O_TRUNC) !== 0;
    if (real.exists) {
      if (writes || !this.files.has(real.path)) this.files.set(real.path, writes ? 'write' : 'read');
    } else if ((flags & O_CREAT) !== 0) {
      this.changedDirs.add(posix.dirname(real.path));
      this.created.add(real.path);
    }
  }

  /** A call that adds, removes or renames the entry `pathAddr` names: its directory is changed. */
  private changed(tid: number, dirfd: number, pathAddr: number): void {
    const full = this.absolute(tid, dirfd, pathAddr, false);
    const dir = full === null ? null : this.realPath(posix.dirname(full), tid);
    if (dir !== null && dir.exists) this.changedDirs.add(dir.path);
  }

  private executed(tid: number, dirfd: number, pathAddr: number, atFlags: number): void {
    const full = this.absolute(tid, dirfd, pathAddr, (atFlags & AT_EMPTY_PATH) !== 0);
    if (full !== null) this.pin(full, false, tid, 0);
  }

  /** Pin the regular file at `full` and, recursively, the interpreter the kernel opens for it. */
  private pin(full: string, interpreter: boolean, tid: number, depth: number): void {
    const real = this.realPath(full, tid);
    if (real === null || !real.exists || this.execs.has(real.path)) return; // missing: the exec fails with ENOENT
    let next: string | null = null;
    let fd: number;
    try {
      fd = openSync(real.path, O_PATH | constants.O_NOFOLLOW);
    } catch {
      return;
    }
    try {
      if (!fstatSync(fd).isFile()) return;
      const file = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
      try {
        const bytes = readFileSync(file);
        this.execs.set(real.path, { sha256: nodeCrypto().createHash('sha256').update(bytes).digest('hex'), interpreter });
        next = interpreterOf(bytes.subarray(0, INTERPRETER_HEAD));
      } finally {
        closeSync(file);
      }
    } catch {
      return; // unreadable or gone: the run did not get to execute it either
    } finally {
      closeSync(fd);
    }
    if (next === null || depth >= INTERPRETER_DEPTH) return;
    const from = next.startsWith('/') ? '/' : this.cwdOf(tid); // the kernel opens a relative "#!" path from the cwd
    if (from !== null) this.pin(posix.resolve(from, next), true, tid, depth + 1);
  }

  private cwdOf(tid: number): string | null {
    try {
      return readlinkSync(`/proc/${tid}/cwd`);
    } catch {
      return null;
    }
  }

  /**
   * The absolute path a path argument names for thread `tid` (relative ones
   * against its cwd or dirfd; with `emptyIsFd`, "" names the dirfd itself),
   * or null.
   */
  private absolute(tid: number, dirfd: number, pathAddr: number, emptyIsFd: boolean): string | null {
    const raw = this.ctx.memory.readString(tid, pathAddr);
    if (typeof raw === 'number' || (raw === '' && !emptyIsFd)) return null;
    if (raw.startsWith('/')) return posix.normalize(raw);
    try {
      const base = readlinkSync(dirfd === AT_FDCWD ? `/proc/${tid}/cwd` : `/proc/${tid}/fd/${dirfd}`);
      return base.startsWith('/') ? posix.resolve(base, raw) : null;
    } catch {
      return null;
    }
  }

  private resolve(tid: number, dirfd: number, pathAddr: number): { path: string; exists: boolean } | null {
    const full = this.absolute(tid, dirfd, pathAddr, false);
    return full === null ? null : this.realPath(full, tid);
  }

  /**
   * `full` with every symlink resolved as the kernel resolves it for thread
   * `tid` (/proc/self is the caller, not the supervisor), and whether it
   * exists; a missing last component is kept as named. Null when a directory
   * on the way is missing, the links loop, or a /proc/PID/fd link names no
   * file (a pipe, a socket).
   */
  private realPath(full: string, tid: number): { path: string; exists: boolean } | null {
    const tgid = this.ctx.processes.knownProcessOf(tid)?.tgid ?? tid;
    const pending = full.split('/').filter((c) => c !== '');
    let cur = '/';
    for (let links = 0; pending.length > 0;) {
      const c = pending.shift()!;
      if (c === '.') continue;
      if (c === '..') {
        cur = posix.dirname(cur);
        continue;
      }
      const next = posix.join(cur, c);
      if (next === '/proc/self' || next === '/proc/thread-self') {
        cur = next === '/proc/self' ? `/proc/${tgid}` : `/proc/${tgid}/task/${tid}`;
        continue;
      }
      let isLink: boolean;
      try {
        isLink = lstatSync(next).isSymbolicLink();
      } catch {
        return pending.length === 0 ? { path: next, exists: false } : null;
      }
      if (!isLink) {
        cur = next;
        continue;
      }
      if (++links > SYMLINKS_MAX) return null;
      let target: string;
      try {
        target = readlinkSync(next);
      } catch {
        return null;
      }
      if (!target.startsWith('/') && PROC_MAGIC.test(next)) return null; // "pipe:[123]", "socket:[...]"
      if (target.startsWith('/')) cur = '/';
      pending.unshift(...target.split('/').filter((s) => s !== ''));
    }
    return { path: cur, exists: true };
  }
}
