// The supervisor's file descriptors, which the program could otherwise make
// it exhaust: a pipe per open writer of a virtual file, a duplicate per open
// file description that holds OFD or flock locks (and per locked fd across an
// exec), a pidfd per process. Each kind draws from a pool of its own carved
// out of the supervisor's RLIMIT_NOFILE, and one process may take at most a
// quarter of a pool, so a flood of one kind costs neither the other kinds
// nor the supervisor's own work: RESERVE is left for the fds a call uses
// for a moment (memfd answers, /proc reads, pidfd_getfd probes) and for
// the main thread. What each pool's refusal answers is the caller's rule.
import { readFileSync } from 'node:fs';
import { procNumbers } from './procfs.js';

/** Left for the supervisor's transient fds, its own and the main thread's. */
export const RESERVE = 256;
/** A process may hold this fraction of a pool. */
const OWNER_SHARE = 4;

export type Refusal = 'owner' | 'total';

/** A count of fds held, in total and per process (tgid), with a ceiling for each. */
export class FdPool {
  private held = 0;
  private readonly byOwner = new Map<number, number>();
  readonly perOwner: number;

  constructor(readonly max: number) {
    this.perOwner = Math.max(1, Math.floor(max / OWNER_SHARE));
  }

  get size(): number {
    return this.held;
  }

  /** Take one for `owner`; null when taken, else which ceiling refused it. */
  take(owner: number): Refusal | null {
    const mine = this.byOwner.get(owner) ?? 0;
    if (mine >= this.perOwner) return 'owner';
    if (this.held >= this.max) return 'total';
    this.byOwner.set(owner, mine + 1);
    this.held++;
    return null;
  }

  give(owner: number): void {
    const mine = this.byOwner.get(owner) ?? 0;
    if (mine === 0) return;
    if (mine === 1) this.byOwner.delete(owner);
    else this.byOwner.set(owner, mine - 1);
    this.held--;
  }
}

export interface FdBudget {
  /** Processes the supervisor can hold a pidfd for: [process] max is lowered to this. */
  processes: number;
  /** Pipes of open writers of virtual files. */
  writers: FdPool;
  /** Duplicates kept by the file-lock code (descriptions, fds across an exec). */
  locks: FdPool;
}

/**
 * The pools for this process: what RLIMIT_NOFILE leaves after the fds open
 * now and RESERVE, half for pidfds and a quarter each for the others.
 */
export function fdBudget(): FdBudget {
  const usable = Math.max(4 * OWNER_SHARE, openFileLimit() - (procNumbers('/proc/self/fd')?.length ?? 0) - RESERVE);
  return {
    processes: Math.floor(usable / 2),
    writers: new FdPool(Math.floor(usable / 4)),
    locks: new FdPool(Math.floor(usable / 4)),
  };
}

/** The soft RLIMIT_NOFILE, from /proc/self/limits (1024, the usual default, if it cannot be read). */
function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    return m === null ? 1024 : Number(m[1]);
  } catch {
    return 1024;
  }
}
