// execve/execveat: the manifest's [exec] checks, and exec tracking for the
// process table.
//
// Checks ([exec] trusted, only_trusted): the supervisor reads the path the
// program passes, resolves it as the kernel will for the caller (openat2:
// absolute paths from the caller's root, RESOLVE_IN_ROOT; relative ones from
// its cwd or dirfd; execveat AT_EMPTY_PATH names the fd itself), and when the
// file's real path is listed, hashes it (sha256, cached by dev/ino/size/
// mtime/ctime) and answers EACCES when the hash differs; with only_trusted,
// an exec of an existing file that is not listed is refused too. A path the
// supervisor cannot resolve as the caller's is refused while checking: one
// through a /proc magic link (/dev/fd/N, a link to /proc/self/exe: the
// supervisor would follow its own "self"; /proc/self/exe and /proc/self/fd/N
// named as such are resolved with the caller's pid), or, in a chroot, a
// relative path that leaves its directory. Everything else is CONTINUEd.
// This is the content check, not the wall: the file can be rewritten between
// the check and the kernel's exec, and another thread can rewrite the path
// string (TOCTOU); CONTINUE is never a security decision. The wall is
// Landlock (src/landlock.ts): pinned files carry the right to execute, and
// with only_trusted nothing else does.
//
// Tracking: the result of a CONTINUEd exec is never seen, so an exec the
// supervisor is shown marks its process; the name is refreshed from /proc
// once the thread has left execve (looked at ~1 ms later, then every 2 ms
// while it is still inside: off the target's path). A process that calls
// exit_group first drops its mark. Nothing is added to other syscalls' path.
//
// execve/execveat are observed only when [exec] has something to check (or
// another feature wants them: locks in "exact" mode). Not always, although
// one notification per exec is cheap next to the exec itself: a notified
// call that a signal interrupts returns -ERESTARTSYS, so a signal handler
// installed without SA_RESTART that runs during the round trip makes execve
// fail with EINTR, which Linux never does (seen here: 7..14 of 2000 execs
// under a stream of signals). With --trace, the name is refreshed at every
// exit_group, so exit events name the program that ran.
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync, statSync, type BigIntStats } from 'node:fs';
import { posix } from 'node:path';
import { INTERPRETER_HEAD, interpreterOf } from '../../src/interpreter.js';
import { getSystemErrorMap } from 'node:util';
import { nr } from '../../src/syscalls/table.js';
import type { Feature, FeatureModule, SupervisorContext } from './contract.js';
import { allocNative, close, errno, openat2, openPath, RESOLVE, STATX, statx } from '../ffi.js';
import { nodeCrypto } from '../lazy-crypto.js';
import { CONTINUE, type Handler, type NotificationLoop } from '../loop/loop.js';
import type { Notification } from '../loop/notification.js';
import { inExec } from '../procfs.js';
import { flags, hex } from '../trace.js';
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_CLOEXEC, O_NOFOLLOW, O_PATH } from '../../src/syscalls/constants.js';
import { EACCES, EAGAIN, ELOOP, ENOENT, EXDEV } from '../../src/syscalls/errno.js';

/** openat2 with RESOLVE_BENEATH/IN_ROOT answers EAGAIN when a rename raced a ".." walk: tries. */
const RESOLVE_TRIES = 3;
const AT_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [AT_SYMLINK_NOFOLLOW, 'AT_SYMLINK_NOFOLLOW'],
  [AT_EMPTY_PATH, 'AT_EMPTY_PATH'],
];
/** Failures to resolve a path that the kernel's exec reports itself (execvp's PATH search relies on ENOENT). */
const KERNEL_REPORTS = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);
/** Bounds: digests cached, refusals kept for the final state. */
const DIGESTS_MAX = 1024;
const REFUSALS_KEPT = 100;
/** When a marked exec is first looked at, and how often after that while it is still running. */
const FIRST_LOOK_MS = 1;
const LOOK_AGAIN_MS = 2;
const HASH_CHUNK = 1 << 20;

const NR_EXECVE = nr('execve');
const NR_EXECVEAT = nr('execveat');
const NR_EXIT_GROUP = nr('exit_group');

/** One refused exec, as the final state (`state.exec.refused`) lists it. */
export interface ExecRefusal {
  pid: number;
  /** The real path of the file, or the path as the program gave it if it could not be resolved. */
  path: string;
  reason: string;
}

export const execFeature: FeatureModule = {
  name: 'exec',
  emulates: [],
  observes: [],
  // Nothing is observed unless there is something to check: every notified
  // call is one more that a signal can cut off. exit_group only refreshes names.
  observesWith: (settings) =>
    settings.exec !== undefined && (settings.exec.trusted.size > 0 || settings.exec.onlyTrusted)
      ? ['execve', 'execveat', 'exit_group']
      : [],
  install(ctx) {
    return new ExecFeature(ctx);
  },
};

class ExecFeature implements Feature {
  readonly name = 'exec';
  /** Real path -> expected sha256 hex; null when two listed names of one file disagree. */
  private readonly trusted = new Map<string, string | null>();
  private readonly onlyTrusted: boolean;
  private readonly checking: boolean;
  /** "dev:ino:size:mtime:ctime" -> sha256 hex. */
  private readonly digests = new Map<string, string>();
  private chunk: Buffer | null = null;
  private readonly root = statSync('/');
  /** Processes whose name may have changed: tgid -> the thread that called exec. */
  private readonly pending = new Map<number, number>();
  private deadline = Infinity;
  private execs = 0;
  private readonly refused: ExecRefusal[] = [];
  private refusedTotal = 0;
  /** The path the last exec named, for the trace line (its memory is gone once the exec succeeds). */
  private lastTid = -1;
  private lastPath: string | null = null;
  /** st_dev ("major:minor") of the [proc] views mounted in the sandbox. */
  private readonly viewDevices: ReadonlySet<string>;
  private readonly stat = allocNative(STATX.SIZE);

  constructor(private readonly ctx: SupervisorContext) {
    const { loop, config } = ctx;
    for (const [listed, hash] of config.exec.trusted) {
      const real = realPathOf(listed);
      const before = this.trusted.get(real);
      this.trusted.set(real, before === undefined || before === hash ? hash : null);
    }
    this.onlyTrusted = config.exec.onlyTrusted;
    this.viewDevices = new Set(config.views.devices);
    this.checking = this.trusted.size > 0 || this.onlyTrusted;
    // Other features may watch these calls too (locks releases close-on-exec
    // fds): the check runs first, and a refused exec never reaches them.
    // Installed even when nothing is checked: if another feature has execve
    // notified, tracking comes for free.
    chain(loop, NR_EXECVE, (n) => this.exec(n, AT_FDCWD, n.u64(0), 0));
    chain(loop, NR_EXECVEAT, (n) => this.exec(n, n.int(0), n.u64(1), n.int(4)));
    // A process on its way out needs its new name only for the trace's exit
    // event: without --trace the mark is just dropped, off the exit's path.
    chain(loop, NR_EXIT_GROUP, (n) => {
      if (this.pending.size === 0 && ctx.tracer === null) return CONTINUE;
      const p = ctx.processes.knownProcessOf(n.tid);
      if (p === null) return CONTINUE;
      this.pending.delete(p.tgid);
      if (ctx.tracer !== null) ctx.processes.renamed(p.tgid);
      return CONTINUE;
    });
    ctx.processes.onExit((p) => this.pending.delete(p.tgid));
    if (ctx.tracer) {
      const t = ctx.tracer;
      const dirfd = (fd: number) => (fd === AT_FDCWD ? 'AT_FDCWD' : String(fd));
      t.decodeWith(NR_EXECVE, (a, tid) => `${this.pathArg(tid, a.u64(0))}, ${hex(a.u64(1))}, ${hex(a.u64(2))}`);
      t.decodeWith(
        NR_EXECVEAT,
        (a, tid) =>
          `${dirfd(a.int(0))}, ${this.pathArg(tid, a.u64(1))}, ${hex(a.u64(2))}, ${hex(a.u64(3))}, ${flags(a.int(4), AT_FLAGS, hex)}`,
      );
    }
  }

  nextDeadline(): number {
    return this.pending.size > 0 ? this.deadline : Infinity;
  }

  onTimer(): void {
    if (this.pending.size === 0 || performance.now() < this.deadline) return;
    for (const [tgid, tid] of this.pending) this.settle(tgid, tid);
    this.deadline = performance.now() + LOOK_AGAIN_MS;
  }

  snapshot(): unknown {
    return {
      trusted: [...this.trusted.keys()],
      onlyTrusted: this.onlyTrusted,
      execs: this.execs,
      refusedTotal: this.refusedTotal,
      refused: this.refused,
    };
  }

  private exec(n: Notification, dirfd: number, pathAddr: number, atFlags: number): number {
    this.execs++;
    const p = this.ctx.processes.processOf(n.tid);
    if (p !== null) {
      if (this.pending.size === 0) this.deadline = performance.now() + FIRST_LOOK_MS;
      this.pending.set(p.tgid, n.tid);
    }
    if (!this.checking && this.ctx.tracer === null) return CONTINUE;
    const raw = this.ctx.memory.readString(n.tid, pathAddr);
    this.lastTid = n.tid;
    this.lastPath = typeof raw === 'number' ? null : raw;
    if (!this.checking) return CONTINUE;
    const refusal = this.check(p?.tgid ?? n.tid, n.tid, dirfd, raw, atFlags);
    // A notification that is no longer valid was read from a task that is gone: nothing to refuse.
    if (refusal === null || !this.ctx.loop.currentValid()) return CONTINUE;
    const pid = p?.tgid ?? n.tid;
    this.refusedTotal++;
    if (this.refused.length < REFUSALS_KEPT) this.refused.push({ pid, path: refusal.path, reason: refusal.reason });
    this.ctx.tracer?.event(n.tid, `exec of ${refusal.path} refused: ${refusal.reason}`);
    return -EACCES;
  }

  /** Why this exec must be refused, or null to let the kernel decide. */
  private check(tgid: number, tid: number, dirfd: number, raw: string | number, atFlags: number): { path: string; reason: string } | null {
    if (typeof raw === 'number') {
      // The kernel would fail with EFAULT; a task whose memory cannot be read is not let through unchecked.
      return this.onlyTrusted ? { path: '(unreadable)', reason: 'the path could not be read' } : null;
    }
    if (raw === '' && (atFlags & AT_EMPTY_PATH) === 0) return null; // ENOENT
    const fd = this.resolve(tgid, tid, dirfd, raw, (atFlags & AT_SYMLINK_NOFOLLOW) !== 0);
    if (typeof fd === 'string') return { path: raw, reason: fd };
    if (fd < 0) {
      const code = errnoName(-fd);
      return this.onlyTrusted && !KERNEL_REPORTS.has(code) ? { path: raw, reason: `cannot be resolved (${code})` } : null;
    }
    try {
      // A [proc] view answers fstat from this very thread (proc-fuse.ts): it would wait forever. Its
      // mode (0444, 0644) has no execute bit, so the kernel refuses to execute it anyway.
      if (this.isView(fd)) return null;
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile()) return null; // the kernel executes regular files only (EACCES; ELOOP for a NOFOLLOW symlink)
      const real = readlinkSync(`/proc/self/fd/${fd}`);
      const expected = this.trusted.get(real);
      if (expected === undefined) return this.onlyTrusted ? { path: real, reason: 'not in exec.trusted' } : null;
      if (expected === null) return { path: real, reason: 'listed in exec.trusted under two names with different sha256' };
      let digest: string;
      try {
        digest = this.digest(fd, st);
      } catch (err) {
        return { path: real, reason: `cannot be read to check its sha256 (${codeOf(err)})` };
      }
      return digest === expected ? null : { path: real, reason: 'sha256 mismatch' };
    } catch (err) {
      // The file or the task vanished under us.
      return this.onlyTrusted ? { path: raw, reason: `cannot be checked (${codeOf(err)})` } : null;
    } finally {
      close(fd);
    }
  }

  /**
   * An O_PATH fd of the file the exec names, resolved as the kernel will for
   * `tid`; -errno when it cannot be (the kernel's own failures among them),
   * or why the supervisor cannot resolve it as the caller's. The start (the
   * caller's root, cwd or dirfd) is a /proc magic link opened on purpose;
   * the path crosses none, except the caller's own /proc/self/exe or
   * /proc/self/fd/N named as such (see procSelf).
   */
  private resolve(tgid: number, tid: number, dirfd: number, raw: string, nofollow: boolean): number | string {
    const absolute = raw.startsWith('/');
    const start = openPath(
      absolute ? `/proc/${tid}/root` : dirfd === AT_FDCWD ? `/proc/${tid}/cwd` : `/proc/${tid}/fd/${dirfd}`,
      O_PATH | O_CLOEXEC,
    );
    if (start < 0) return -errno();
    if (raw === '') return start; // AT_EMPTY_PATH: the fd itself
    try {
      // Relative paths resolve against our root; in a chroot, only beneath their start is that the caller's.
      const how = absolute ? RESOLVE.IN_ROOT : this.rootIsOurs(tid) ? 0 : RESOLVE.BENEATH;
      const flags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
      let fd = -EAGAIN;
      for (let i = 0; i < RESOLVE_TRIES && fd === -EAGAIN; i++) fd = openat2(start, raw, flags, how | RESOLVE.NO_MAGICLINKS);
      if (fd === -EXDEV) return 'a relative path that leaves its directory in a chroot cannot be checked';
      if (fd === -EAGAIN) return 'renames raced its resolution';
      if (fd === -ENOENT && absolute && this.crossesProcSelf(raw, flags)) fd = -ELOOP;
      if (fd !== -ELOOP) return fd;
      const own = procSelf(raw, tgid, tid);
      if (own !== null && this.rootIsOurs(tid)) return openat2(AT_FDCWD, own, flags, 0);
      // A symlink loop (the kernel's ELOOP too), or a magic link: allowed, only a loop fails the same way.
      const magic = openat2(start, raw, flags, how);
      if (magic >= 0) close(magic);
      return magic === -ELOOP
        ? fd
        : "it goes through a /proc magic link (/proc/self/fd, /dev/fd, /proc/PID/exe), which the supervisor cannot check as the program's";
    } finally {
      close(start);
    }
  }

  /**
   * In a PID namespace of the sandbox's, the program's /proc is that
   * namespace's, whose self and thread-self links lead nowhere for the
   * supervisor (ENOENT) where they lead the program to its own entry. A path
   * that crosses them meets a magic link (ELOOP) when resolved from our root.
   */
  private crossesProcSelf(raw: string, flags: number): boolean {
    if (this.ctx.config.init === 0) return false;
    const root = openPath('/', O_PATH | O_CLOEXEC);
    if (root < 0) return false;
    try {
      const fd = openat2(root, raw, flags, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
      if (fd >= 0) close(fd);
      return fd === -ELOOP;
    } finally {
      close(root);
    }
  }

  /** Is the caller's root directory ours (no chroot)? */
  private rootIsOurs(tid: number): boolean {
    try {
      const theirs = statSync(`/proc/${tid}/root`);
      return theirs.dev === this.root.dev && theirs.ino === this.root.ino;
    } catch {
      return false;
    }
  }

  /** Is our O_PATH `fd` one of the [proc] views? Asked with AT_STATX_DONT_SYNC, which never reaches the FUSE server. */
  private isView(fd: number): boolean {
    if (this.viewDevices.size === 0) return false;
    if (statx(fd, '', STATX.AT_EMPTY_PATH | STATX.AT_STATX_DONT_SYNC, STATX.BASIC_STATS, this.stat.ptr) < 0) return false;
    const v = this.stat.view;
    return this.viewDevices.has(`${v.getUint32(STATX.DEV_MAJOR, true)}:${v.getUint32(STATX.DEV_MINOR, true)}`);
  }

  /** sha256 hex of the file behind our O_PATH `fd` (throws the errno when it cannot be read). */
  private digest(fd: number, st: BigIntStats): string {
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    const cached = this.digests.get(key);
    if (cached !== undefined) return cached;
    const file = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    const hash = nodeCrypto().createHash('sha256');
    const chunk = (this.chunk ??= Buffer.allocUnsafe(HASH_CHUNK));
    try {
      for (let pos = 0; ;) {
        const n = readSync(file, chunk, 0, chunk.length, pos);
        if (n <= 0) break;
        hash.update(chunk.subarray(0, n));
        pos += n;
      }
    } finally {
      closeSync(file);
    }
    const digest = hash.digest('hex');
    if (this.digests.size >= DIGESTS_MAX) this.digests.clear();
    this.digests.set(key, digest);
    return digest;
  }

  /** Refresh the process's name once its thread has left execve. */
  private settle(tgid: number, tid: number): void {
    if (inExec(tid)) return;
    this.pending.delete(tgid);
    this.ctx.processes.renamed(tgid);
  }

  private pathArg(tid: number, addr: number): string {
    const known = tid === this.lastTid ? this.lastPath : null;
    this.lastTid = -1;
    return known === null ? hex(addr) : JSON.stringify(known);
  }
}

/** Install `first` for `nr`, running the handler already there (if any) when `first` CONTINUEs. */
function chain(loop: NotificationLoop, nr: number, first: Handler): void {
  const next = loop.handlerOf(nr);
  loop.on(
    nr,
    next === undefined
      ? first
      : (n) => {
          const r = first(n);
          return r === CONTINUE ? next(n) : r;
        },
  );
}

/**
 * The caller's exe or fd N named through /proc/self or /proc/thread-self,
 * spelled with its pid: those name whoever resolves them, so the supervisor
 * must not. Only these exact forms, whose one link is the final magic link;
 * null for anything else.
 */
function procSelf(raw: string, tgid: number, tid: number): string | null {
  const m = /^\/proc\/(self|thread-self)\/(exe|fd\/\d+)$/.exec(raw);
  if (m === null) return null;
  return m[1] === 'self' ? `/proc/${tgid}/${m[2]}` : `/proc/${tgid}/task/${tid}/${m[2]}`;
}

function errnoName(e: number): string {
  return getSystemErrorMap().get(-e)?.[0] ?? `errno ${e}`;
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EIO';
}

/**
 * With only_trusted the kernel runs a pinned file only if its interpreter (the
 * ELF loader, a script's "#!" program) may be executed too: Landlock checks
 * it as it checks the file. The first pinned file whose interpreter is not
 * pinned, as an error message; null when there is none.
 */
export function unpinnedInterpreter(exec: { trusted: ReadonlyMap<string, string>; onlyTrusted: boolean }): string | null {
  if (!exec.onlyTrusted) return null;
  const pinned = new Set([...exec.trusted.keys()].map(realPathOf));
  const head = Buffer.alloc(INTERPRETER_HEAD);
  for (const listed of exec.trusted.keys()) {
    let fd: number;
    try {
      fd = openSync(listed, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch {
      continue; // missing or unreadable: the exec fails on its own
    }
    let interpreter: string | null;
    try {
      interpreter = interpreterOf(head.subarray(0, readSync(fd, head, 0, head.length, 0)));
    } catch {
      interpreter = null;
    } finally {
      closeSync(fd);
    }
    if (interpreter !== null && !pinned.has(realPathOf(interpreter))) {
      return `exec.trusted."${listed}": its interpreter ${interpreter} is not in exec.trusted; with exec.only_trusted the kernel refuses to run it (pin the interpreter too)`;
    }
  }
  return null;
}

function realPathOf(listed: string): string {
  try {
    return realpathSync(listed);
  } catch {
    return posix.normalize(listed); // not there (yet): compared as written
  }
}

/**
 * The line `sysvisor run` prints on stderr at exit when execs were refused
 * (after "sysvisor: "), from the run's final state; null when none was.
 */
export function refusedExecsSummary(state: unknown): string | null {
  const exec = (state as { exec?: { refused?: ExecRefusal[]; refusedTotal?: number } } | null)?.exec;
  const list = exec?.refused ?? [];
  const total = exec?.refusedTotal ?? list.length;
  if (total === 0) return null;
  const times = new Map<string, number>();
  for (const r of list) times.set(`${r.path} (${r.reason}`, (times.get(`${r.path} (${r.reason}`) ?? 0) + 1);
  const shown = [...times].slice(0, 5).map(([what, n]) => `${what}${n > 1 ? `, ${n} times` : ''})`);
  const more = times.size - shown.length;
  return `refused ${total} exec${total === 1 ? '' : 's'}: ${shown.join(', ')}${more > 0 ? `, and ${more} more` : ''}`;
}
