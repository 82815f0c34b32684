// The [proc] views as FUSE file systems, served in the loop's thread: one
// /dev/fuse connection per file, each mounted by the launcher over its /proc
// file in the sandbox's mount namespace (docs/PROC-VIEWS.md). The fd is
// non-blocking and in the loop's epoll set; each wake-up reads one request
// and answers it at once (src/fuse/single-file.ts decides the answer), so a
// request never waits behind the loop and the loop never waits on a request.
//
// The loop must never touch a view itself: a stat, open or page fault of a
// view from this thread would send it a request only this thread can answer.
// The supervisor reads the program's fds with AT_STATX_DONT_SYNC (fds.ts)
// and leaves the views' devices alone (exec.ts).
import { SingleFileServer, type Caller, type ServedFile } from '../src/fuse/single-file.js';
import { MIN_READ_BUFFER } from '../src/fuse/abi.js';
import { allocNative, errno, read, write } from './ffi.js';
import type { NotificationLoop } from './loop/loop.js';
import { readCredentials } from './procfs.js';
import type { VirtualFile, VirtualFiles } from './virtual-files.js';
import { EACCES, EAGAIN, EINTR, ENOENT } from '../src/syscalls/errno.js';

/** One request: a WRITE of MAX_WRITE bytes and its headers fit twice over. */
const READ_BUFFER = 2 * MIN_READ_BUFFER;

export interface MountedView {
  /** Our /dev/fuse fd of the connection mounted over `path`. */
  fd: number;
  path: string;
  mode: number;
}

export class ProcFuse {
  private readonly buffer = allocNative(READ_BUFFER);
  /** Requests answered, for --stats. */
  requests = 0;

  constructor(
    private readonly loop: NotificationLoop,
    views: readonly MountedView[],
    files: VirtualFiles,
  ) {
    const now = Math.floor(Date.now() / 1000);
    for (const v of views) {
      const file = files.file(v.path);
      if (file === undefined) throw new Error(`[proc] view ${v.path} is mounted but no feature serves it`);
      const server = new SingleFileServer(served(file), v.mode, now);
      loop.watchRequests(v.fd, () => this.serve(v.fd, server));
    }
  }

  /** Read one request from `fd` and answer it. */
  private serve(fd: number, server: SingleFileServer): void {
    const got = read(fd, this.buffer.ptr, READ_BUFFER);
    if (got < 0) {
      const e = errno();
      // Nothing queued, or the request was interrupted before we read it.
      if (e === EAGAIN || e === EINTR || e === ENOENT) return;
      // ENODEV: the mount is gone (the sandbox's last process exited); a dead fd would wake epoll
      // forever. The main thread closes it (sandbox.ts) when the sandbox is over.
      this.loop.unwatchFd(fd);
      return;
    }
    const reply = server.handle(this.buffer.bytes.subarray(0, got));
    this.requests++;
    // ENOENT: the caller was interrupted meanwhile and no longer waits; nothing to undo (writes apply at once, as procfs's).
    if (reply !== null) write(fd, reply, reply.length);
  }
}

/** A VirtualFile as a FUSE file: a write is refused (EACCES) unless the writer may write it (as procfs checks at each write). */
function served(file: VirtualFile): ServedFile {
  const writer = file.writer;
  if (writer === undefined) return { render: () => file.render() };
  return {
    render: () => file.render(),
    writeAt: (data: Uint8Array, pos: number, caller: Caller) => {
      const creds = readCredentials(caller.pid);
      if (creds === null || !writer.mayOpen(creds)) return -EACCES;
      return writer.writeAt(data, pos, creds);
    },
  };
}
