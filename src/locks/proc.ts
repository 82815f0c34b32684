/**
 * /proc/locks, byte for byte as fs/locks.c prints it (locks_show,
 * lock_get_status): one numbered line per applied lock, and under it the
 * requests blocked on it, depth first, indented one space per level.
 */
import { F_RDLCK, F_WRLCK } from '../syscalls/constants.js';
import { OFFSET_MAX } from './abi.js';
import { type Lock, type Node, waitTree } from './node.js';

const KIND = { posix: 'POSIX  ADVISORY  ', ofd: 'OFDLCK ADVISORY  ', flock: 'FLOCK  ADVISORY  ' } as const;

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function status<T>(id: number, n: Node<T>, level: number): string {
  const pfx = level > 0 ? `${' '.repeat(level - 1)}-> ` : '';
  const type = n.type === F_WRLCK ? 'WRITE' : n.type === F_RDLCK ? 'READ' : 'UNLCK';
  const pid = n.kind === 'ofd' ? -1 : n.pid; // locks_translate_pid: OFD locks show -1
  const dev = `${hex2(n.file.major)}:${hex2(n.file.minor)}:${n.file.ino}`;
  const range = n.kind === 'flock' ? '0 EOF' : n.end === OFFSET_MAX ? `${n.start} EOF` : `${n.start} ${n.end}`;
  return `${id}: ${pfx}${KIND[n.kind]}${type} ${pid} ${dev} ${range}\n`;
}

/** `locks` in global list order; every line of a tree carries its lock's number. */
export function renderProcLocks<T>(locks: readonly Lock<T>[]): string {
  const out: string[] = [];
  locks.forEach((l, i) => {
    out.push(status(i + 1, l, 0));
    for (const [w, depth] of waitTree(l)) out.push(status(i + 1, w, depth));
  });
  return out.join('');
}
