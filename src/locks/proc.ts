/**
 * /proc/locks, byte for byte as fs/locks.c prints it (locks_show,
 * lock_get_status): one numbered line per applied lock, and under it the
 * requests blocked on it, depth first, indented one space per level. Pids
 * are those of the /proc mount's PID namespace (locks_translate_pid).
 */
import { F_RDLCK, F_WRLCK } from '../syscalls/constants.js';
import { OFFSET_MAX } from './abi.js';
import { type Lock, type Node, waitTree } from './node.js';

const KIND = { posix: 'POSIX  ADVISORY  ', ofd: 'OFDLCK ADVISORY  ', flock: 'FLOCK  ADVISORY  ' } as const;

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/**
 * A pid in the reader's namespace: the holder's pid in the PID namespace of
 * the /proc mount, 0 when it is gone or outside it (pid_nr_ns).
 */
export type PidTranslation = (pid: number) => number;

/** locks_translate_pid: OFD locks show -1, others the translated pid. */
const shownPid = <T>(n: Node<T>, pidOf: PidTranslation): number => (n.kind === 'ofd' ? -1 : pidOf(n.pid));

function status<T>(id: number, n: Node<T>, level: number, pidOf: PidTranslation): string {
  const pfx = level > 0 ? `${' '.repeat(level - 1)}-> ` : '';
  const type = n.type === F_WRLCK ? 'WRITE' : n.type === F_RDLCK ? 'READ' : 'UNLCK';
  const pid = shownPid(n, pidOf);
  const dev = `${hex2(n.file.major)}:${hex2(n.file.minor)}:${n.file.ino}`;
  const range = n.kind === 'flock' ? '0 EOF' : n.end === OFFSET_MAX ? `${n.start} EOF` : `${n.start} ${n.end}`;
  return `${id}: ${pfx}${KIND[n.kind]}${type} ${pid} ${dev} ${range}\n`;
}

/**
 * `locks` in global list order; every line of a tree carries its lock's
 * number. A lock whose holder the namespace cannot see is left out, number
 * and all (locks_show); a request blocked under a shown one shows pid 0.
 */
export function renderProcLocks<T>(locks: readonly Lock<T>[], pidOf: PidTranslation = (pid) => pid): string {
  const out: string[] = [];
  locks.forEach((l, i) => {
    if (shownPid(l, pidOf) === 0) return;
    out.push(status(i + 1, l, 0, pidOf));
    for (const [w, depth] of waitTree(l)) out.push(status(i + 1, w, depth, pidOf));
  });
  return out.join('');
}
