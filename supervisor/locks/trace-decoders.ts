// How --trace shows the lock calls and the closes that release locks.
import { nr } from '../../src/syscalls/table.js';
import {
  F_GETLK,
  F_OFD_GETLK,
  F_OFD_SETLKW,
  F_SETLK,
  F_SETLKW,
  LOCK_EX,
  LOCK_MAND,
  LOCK_NB,
  LOCK_SH,
  LOCK_UN,
  O_CLOEXEC,
} from '../../src/syscalls/constants.js';
import { flags, hex, type Tracer } from '../trace.js';

const FCNTL_CMDS: Record<number, string> = {
  0: 'F_DUPFD',
  1: 'F_GETFD',
  2: 'F_SETFD',
  3: 'F_GETFL',
  4: 'F_SETFL',
  5: 'F_GETLK',
  6: 'F_SETLK',
  7: 'F_SETLKW',
  8: 'F_SETOWN',
  9: 'F_GETOWN',
  10: 'F_SETSIG',
  11: 'F_GETSIG',
  15: 'F_SETOWN_EX',
  16: 'F_GETOWN_EX',
  36: 'F_OFD_GETLK',
  37: 'F_OFD_SETLK',
  38: 'F_OFD_SETLKW',
  1024: 'F_SETLEASE',
  1025: 'F_GETLEASE',
  1026: 'F_NOTIFY',
  1030: 'F_DUPFD_CLOEXEC',
  1031: 'F_SETPIPE_SZ',
  1032: 'F_GETPIPE_SZ',
  1033: 'F_ADD_SEALS',
  1034: 'F_GET_SEALS',
};
const LOCK_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [LOCK_SH, 'LOCK_SH'],
  [LOCK_EX, 'LOCK_EX'],
  [LOCK_UN, 'LOCK_UN'],
  [LOCK_NB, 'LOCK_NB'],
  [LOCK_MAND, 'LOCK_MAND'],
];

export function decodeLockCalls(t: Tracer): void {
  t.decodeWith(nr('fcntl'), (a) => {
    const cmd = a.int(1);
    const name = FCNTL_CMDS[cmd] ?? String(cmd);
    const lockCmd = cmd === F_GETLK || cmd === F_SETLK || cmd === F_SETLKW || (cmd >= F_OFD_GETLK && cmd <= F_OFD_SETLKW);
    return `${a.int(0)}, ${name}, ${lockCmd ? hex(a.u64(2)) : a.u64(2)}`;
  });
  t.decodeWith(nr('flock'), (a) => `${a.int(0)}, ${flags(a.int(1), LOCK_FLAGS, (v) => String(v))}`);
  t.decodeWith(nr('close'), (a) => `${a.int(0)}`);
  t.decodeWith(nr('dup2'), (a) => `${a.int(0)}, ${a.int(1)}`);
  t.decodeWith(nr('dup3'), (a) => `${a.int(0)}, ${a.int(1)}, ${a.int(2) & O_CLOEXEC ? 'O_CLOEXEC' : a.int(2)}`);
  t.decodeWith(nr('close_range'), (a) => `${a.int(0) >>> 0}, ${a.int(1) >>> 0}, ${a.int(2) >>> 0}`);
}
