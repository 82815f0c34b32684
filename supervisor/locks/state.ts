// What the lock feature's parts share: the registry, the tables that say
// which file and description an fd names, the POSIX owners, the host mirror,
// and the token that stands for one lock call.
import type { LockRegistry } from '../../src/locks/index.js';
import type { BlockedCall } from '../blocking.js';
import type { DescriptionTable, TargetFds } from '../fds.js';
import type { HostLocks } from './host.js';
import type { PosixOwners } from './owners.js';

/** The supervisor's handle on one lock call: set once the call sleeps. */
export class LockToken {
  blocked: BlockedCall | null = null;
  /** Answered (or found dead) while the call that made it was still being handled. */
  done = false;
  constructor(readonly pid: number) {}
}

export interface LockTables {
  readonly registry: LockRegistry<LockToken>;
  readonly fds: TargetFds;
  readonly descs: DescriptionTable;
  readonly owners: PosixOwners;
  /** [locks] host = "coherent": the host kernel holds the sandbox's locks too (null: "isolated"). */
  readonly host: HostLocks<LockToken> | null;
  /** [locks] mode = "exact": closes, dups and execs are trapped (false: "fast"). */
  readonly exact: boolean;
}
