// The control socket of a running sandbox: `sysvisor ps/ipcs/waits --pid`
// and `sysvisor ps` ask it for the state instead of sending a signal (a
// signal to the wrong pid is a kill). One unix stream socket per sandbox,
// named by the supervisor's pid, in the private run directory
// (safe-file.ts: 0700, ours, checked on the open descriptor).
//
// Safety:
// - The socket is bound and connected through /proc/self/fd/N of a
//   descriptor already checked (the directory, or the socket inode opened
//   O_PATH|O_NOFOLLOW): no path is resolved twice, no planted link followed.
// - Mode 0600 from the moment it exists (umask around bind), checked after.
// - The sandboxed program must not reach it, and nothing in the kernel stops
//   it: Landlock scopes abstract sockets only, and connecting to a pathname
//   socket needs no filesystem right Landlock handles (up to ABI 7); a root
//   program passes the directory's mode. So every connection is checked on
//   its peer (SO_PEERPIDFD, SO_PEERCRED): our uid or root, and not a
//   descendant of the supervisor. Every process of the sandbox is one: the
//   CLI makes the supervisor a child subreaper, so orphans are reparented to
//   it, never out of its subtree.
//
// - The client believes only a listener whose pid (SO_PEERCRED) is the one
//   in the socket's name: a root program may bind sockets in the directory.
//
// Protocol: the client writes one line, "state" or "summary"; the answer is
// "ok\n" and the body (the state dump's JSON, streamed; or one JSON line of
// ControlSummary), or "error MESSAGE\n".
import { fstatSync, readdirSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { close, errno, getsockopt, openat, pidfdOpen, syscall6, SYS, unlinkat } from './ffi.js';
import { readStat } from './procfs.js';
import { O_CLOEXEC, O_NOFOLLOW, O_PATH, SO_PEERCRED, SO_PEERPIDFD, SOL_SOCKET } from '../src/syscalls/constants.js';
import { ENOENT } from '../src/syscalls/errno.js';
import { FileError, openRunDirectory, runDirectoryPath, statAt } from './safe-file.js';

/** A client that sends no query in this time is dropped (a descriptor is not held forever). */
const QUERY_TIMEOUT_MS = 30_000;
/** Longest query line read. */
const MAX_QUERY = 64;

export type ControlQuery = 'state' | 'summary';

/** One running sandbox, as `sysvisor ps` lists it. */
export interface ControlSummary {
  pid: number;
  program: string;
  /** Date.now() when the run started. */
  started: number;
  processes: number;
}

/** What answers the queries: Sandbox.query. */
export interface StateSource {
  query(what: ControlQuery, onChunk: (bytes: Uint8Array) => void): Promise<number>;
}

/** The socket's name for a supervisor pid. */
export const socketName = (pid: number) => `${pid}.sock`;
const SOCKET_NAME = /^([1-9][0-9]*)\.sock$/;

export class ControlServer {
  private constructor(
    private readonly server: Server,
    private readonly dirFd: number,
    readonly path: string,
  ) {}

  /**
   * Make the run directory if need be and listen on PID.sock there. Throws
   * FileError with the reason (a link, a directory of another uid, ...).
   */
  static async listen(source: StateSource, program: string, dir = runDirectoryPath()): Promise<ControlServer> {
    const dirFd = openRunDirectory(dir, true);
    const name = socketName(process.pid);
    const path = `${dir}/${name}`;
    // The name is our pid: whatever holds it is left by a dead supervisor. unlinkat removes a link, never follows it.
    unlinkat(dirFd, name, 0);
    const started = Date.now();
    const server = createServer((socket) => serve(socket, source, { pid: process.pid, program, started }));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.once('listening', resolve);
        const umask = process.umask(0o177);
        try {
          server.listen(`/proc/self/fd/${dirFd}/${name}`); // bind(2) runs now, under the umask
        } finally {
          process.umask(umask);
        }
      });
      const st = statAt({ dirFd, name, path });
      const euid = process.geteuid!();
      if (st === null || !st.isSocket() || st.uid !== euid || (st.mode & 0o777) !== 0o600) {
        throw new FileError(`${path}: not the socket just made (mode 0600, uid ${euid})`);
      }
    } catch (err) {
      server.close();
      close(dirFd);
      throw err instanceof FileError ? err : new FileError(`${path}: cannot listen: ${(err as Error).message}`);
    }
    server.unref();
    return new ControlServer(server, dirFd, path);
  }

  /** Stop answering and remove the socket. */
  close(): void {
    this.server.close();
    unlinkat(this.dirFd, socketName(process.pid), 0);
    close(this.dirFd);
  }
}

function serve(socket: Socket, source: StateSource, self: Omit<ControlSummary, 'processes'>): void {
  socket.on('error', () => socket.destroy()); // a client gone mid-answer is no error of the supervisor's
  const refused = whyRefused(socketFd(socket));
  if (refused !== null) {
    socket.end(`error ${refused}\n`);
    return;
  }
  socket.setTimeout(QUERY_TIMEOUT_MS, () => socket.destroy());
  let line = '';
  const onData = (chunk: Buffer) => {
    line += chunk.toString('latin1');
    const nl = line.indexOf('\n');
    if (nl < 0 && line.length < MAX_QUERY) return;
    socket.off('data', onData);
    socket.setTimeout(0);
    const query = line.slice(0, nl < 0 ? MAX_QUERY : nl);
    if (query !== 'state' && query !== 'summary') {
      socket.end(`error unknown query ${JSON.stringify(query)} (state, summary)\n`);
      return;
    }
    socket.write('ok\n');
    source
      .query(query, (bytes) => socket.write(bytes))
      .then(
        (processes) => socket.end(query === 'summary' ? JSON.stringify({ ...self, processes } satisfies ControlSummary) + '\n' : ''),
        () => socket.destroy(), // the client sees a cut answer
      );
  };
  socket.on('data', onData);
}

/** The descriptor under a net.Socket (libuv's; Node does not export it). */
function socketFd(socket: Socket): number {
  return (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
}

/**
 * Why the peer of a connection may not query, or null. Our uid or root, and
 * not a process of the sandbox. The peer is pinned by SO_PEERPIDFD (Linux
 * 6.5) and must still be alive after its ancestry was read, so a pid reused
 * meanwhile cannot pass for it; older kernels get a pidfd opened by pid.
 */
function whyRefused(fd: number): string | null {
  const peer = peerCredentials(fd);
  if (peer === null) return 'cannot tell who is asking (SO_PEERCRED)';
  const { pid, uid } = peer;
  const euid = process.geteuid!();
  if (uid !== euid && uid !== 0) return `uid ${uid} may not query a sandbox of uid ${euid}`;
  if (pid <= 0) return 'the asking process is in another pid namespace';
  const pidfdBytes = new Uint8Array(4);
  const pidfd =
    getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, pidfdBytes, [4]) === 0 ? new DataView(pidfdBytes.buffer).getInt32(0, true) : pidfdOpen(pid);
  if (pidfd < 0) return 'the asking process is gone';
  try {
    const inside = descendsFromUs(pid);
    if (syscall6(SYS.pidfd_send_signal, pidfd, 0, 0, 0, 0, 0) !== 0) return 'the asking process is gone';
    if (inside === null) return 'cannot tell whether the asking process is in the sandbox';
    if (inside) return 'a process of the sandbox may not query its supervisor';
    return null;
  } finally {
    close(pidfd);
  }
}

/** The pid and uid of the process at the other end of a unix socket (at its connect or listen), or null. */
function peerCredentials(fd: number): { pid: number; uid: number } | null {
  const cred = new Uint8Array(12);
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, [cred.length]) !== 0) return null;
  const view = new DataView(cred.buffer);
  return { pid: view.getInt32(0, true), uid: view.getUint32(4, true) };
}

/** Whether `pid` is this process or below it; null when a link of the chain vanished while read. */
function descendsFromUs(pid: number): boolean | null {
  for (let p = pid; ;) {
    if (p === process.pid) return true;
    if (p <= 1) return false;
    const st = readStat(p);
    if (st === null) return null;
    p = st.ppid;
  }
}

/** The run directory's descriptor for a client, or null when there is none (no sandbox ever ran). */
export function openControlDirectory(dir = runDirectoryPath()): number | null {
  try {
    return openRunDirectory(dir, false);
  } catch (err) {
    if (err instanceof FileError && err.code === 'ENOENT') return null;
    throw err;
  }
}

/** The supervisor pids that have a socket in the directory. */
export function listedPids(dirFd: number): number[] {
  return readdirSync(`/proc/self/fd/${dirFd}`)
    .flatMap((n) => {
      const m = SOCKET_NAME.exec(n);
      return m === null ? [] : [Number(m[1])];
    })
    .sort((a, b) => a - b);
}

/** A client's view of one query. */
export type ControlAnswer =
  | { kind: 'ok'; body: Buffer }
  | { kind: 'error'; message: string }
  /** No socket for that pid (not a sandbox of ours), or nobody listening on it. */
  | { kind: 'absent' }
  | { kind: 'refused' };

/**
 * Ask the sandbox of supervisor `pid` a query. The name is opened
 * O_PATH|O_NOFOLLOW and must be a socket of our uid; the connection goes
 * through that descriptor, so a link planted there is never followed.
 */
export async function askSandbox(dirFd: number, pid: number, what: ControlQuery): Promise<ControlAnswer> {
  const fd = openat(dirFd, socketName(pid), O_PATH | O_NOFOLLOW | O_CLOEXEC, 'uint32', 0);
  if (fd < 0) {
    const e = errno();
    if (e === ENOENT) return { kind: 'absent' };
    return { kind: 'error', message: `cannot open its control socket: errno ${e}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isSocket() || st.uid !== process.geteuid!())
      return { kind: 'error', message: `${socketName(pid)} is not a socket of uid ${process.geteuid!()}` };
    return await new Promise<ControlAnswer>((resolve) => {
      const chunks: Buffer[] = [];
      const socket = createConnection(`/proc/self/fd/${fd}`);
      socket.on('connect', () => {
        // Whoever can write the directory (a root program, with the default manifest) could bind a socket there:
        // only the process named by the socket's name is the supervisor.
        const server = peerCredentials(socketFd(socket))?.pid;
        if (server === pid) {
          socket.write(`${what}\n`);
        } else {
          socket.destroy();
          resolve({ kind: 'error', message: `${socketName(pid)} is served by process ${server ?? '?'}, not by the supervisor ${pid}` });
        }
      });
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') resolve({ kind: 'refused' });
        else resolve({ kind: 'error', message: err.message });
      });
      socket.on('end', () => {
        const all = Buffer.concat(chunks);
        const nl = all.indexOf(10);
        const head = all.subarray(0, nl < 0 ? all.length : nl).toString('utf8');
        if (head === 'ok') resolve({ kind: 'ok', body: all.subarray(nl + 1) });
        else resolve({ kind: 'error', message: head.startsWith('error ') ? head.slice(6) : 'it closed the connection without an answer' });
      });
    });
  } finally {
    close(fd);
  }
}

/** Remove the socket of a supervisor that is gone: only when nobody listens on it and no process has its pid. */
export function removeStale(dirFd: number, pid: number): boolean {
  if (readStat(pid) !== null) return false;
  return unlinkat(dirFd, socketName(pid), 0) === 0;
}
