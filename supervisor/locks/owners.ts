// POSIX lock owners. Linux's fl_owner for a POSIX lock is the files table
// (current->files), not the process: a child made by clone(CLONE_FILES)
// without CLONE_THREAD shares its parent's table, so the two hold one set of
// locks (no conflict between them, a close in either releases them, and a
// sharer's exit releases nothing while the table lives on in another).
//
// Each process gets an owner record; a new process whose files table is its
// parent's (kcmp(KCMP_FILES), when the child is learnt) joins the parent's.
// A record's locks go when its last member exits.
//
// Known limits: a child learnt only after its parent exited cannot be
// compared with it (the parent's table is gone) and gets an owner of its
// own; a sharer that leaves the table by unshare(CLONE_FILES), or by an
// exec during which none of its close-on-exec fds mattered to locks, is
// still counted as sharing.
import type { FileId } from '../../src/locks/index.js';
import { SYS, syscall6 } from '../ffi.js';
import type { ProcessEntry, ProcessTable } from '../processes.js';
import { KCMP_FILES } from '../../src/syscalls/constants.js';

export interface PosixOwner {
  /** The registry's owner (FcntlCaller.owner). */
  readonly id: number;
  /** Files the owner may hold POSIX locks on (a superset: entries leave on release, not on unlock). */
  readonly files: Map<string, FileId>;
  /** The processes sharing the files table (tgids). */
  readonly members: Set<number>;
}

export class PosixOwners {
  /** Owner ids are not pids: a table outlives the process that made it, and pids are reused. */
  private nextId = 1;
  /** Owners whose `files` is not empty: while there is none, no close can release a POSIX lock. */
  private readonly withFiles = new Set<PosixOwner>();

  constructor(processes: ProcessTable) {
    processes.onNew((p, parent) => {
      if (parent !== null && parent.tgid === p.ppid && sameFilesTable(p.tgid, parent.tgid)) this.join(p, this.of(parent));
    });
  }

  /** The owner of the process's POSIX locks: its files table. */
  of(p: ProcessEntry): PosixOwner {
    const owner = p.state.posixOwner;
    return owner ?? this.join(p, { id: this.nextId++, files: new Map(), members: new Set() });
  }

  /** The owner if it may hold POSIX locks, else undefined (nothing to look up). */
  holding(p: ProcessEntry): PosixOwner | undefined {
    const owner = p.state.posixOwner;
    return owner !== undefined && owner.files.size > 0 ? owner : undefined;
  }

  /** Does any owner possibly hold a POSIX lock? */
  get anyHolding(): boolean {
    return this.withFiles.size > 0;
  }

  /** The owner may now hold POSIX locks on `file`. */
  addFile(owner: PosixOwner, key: string, file: FileId): void {
    owner.files.set(key, file);
    this.withFiles.add(owner);
  }

  /** The owner's POSIX locks on the file are gone. */
  removeFile(owner: PosixOwner, key: string): void {
    owner.files.delete(key);
    if (owner.files.size === 0) this.withFiles.delete(owner);
  }

  /** The process execed: Linux gave it a files table of its own (unshare_files). */
  detach(p: ProcessEntry): void {
    const owner = p.state.posixOwner;
    if (owner === undefined || owner.members.size < 2) return;
    owner.members.delete(p.tgid);
    delete p.state.posixOwner;
  }

  /** The process exited: the owner whose locks must go when its files table died with it, else null. */
  leave(p: ProcessEntry): number | null {
    const owner = p.state.posixOwner;
    if (owner === undefined) return null;
    owner.members.delete(p.tgid);
    if (owner.members.size > 0) return null;
    this.withFiles.delete(owner);
    return owner.id;
  }

  private join(p: ProcessEntry, owner: PosixOwner): PosixOwner {
    owner.members.add(p.tgid);
    p.state.posixOwner = owner;
    return owner;
  }
}

/** Whether two processes share one fd table (clone(CLONE_FILES)); a process shares its own. */
export function sameFilesTable(a: number, b: number): boolean {
  return a === b || syscall6(SYS.kcmp, a, b, KCMP_FILES, 0, 0, 0) === 0;
}
