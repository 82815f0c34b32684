/**
 * SEM_UNDO bookkeeping: one UndoList per process (shared by CLONE_SYSVSEM
 * sharers), holding one adjustment array per set the process used with
 * SEM_UNDO (Linux's sem_undo_list and sem_undo).
 */

/** The adjustments of one UndoList for one set (Linux struct sem_undo). */
export class UndoEntry {
  /**
   * @param list the owning list
   * @param semid the full id of the set
   * @param adj one adjustment per semaphore, added back at exit
   */
  constructor(
    readonly list: UndoList,
    readonly semid: number,
    readonly adj: Int16Array,
  ) {}
}

/**
 * The SEM_UNDO state of a process. Create one (empty) per process after fork
 * or unshare(CLONE_SYSVSEM); call share() for each further process that gets
 * it through clone(CLONE_SYSVSEM); pass it to SemRegistry.exitUndo() when each
 * holder exits: the adjustments apply when the last holder is gone.
 */
export class UndoList {
  /** @internal Entries by semid; Map order is least to most recently used. */
  readonly entries = new Map<number, UndoEntry>();
  /** @internal Processes holding this list. */
  refs = 1;

  /** @param owner tgid of the process that created the list (shown in snapshots) */
  constructor(readonly owner = 0) {}

  /** Adds a holder (clone with CLONE_SYSVSEM) and returns this list. */
  share(): this {
    this.refs++;
    return this;
  }
}
