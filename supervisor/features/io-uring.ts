// io_uring. What a ring does (IORING_OP_CLOSE, IORING_OP_OPENAT, ...) never
// passes the seccomp filter: a close through a ring releases no POSIX lock
// here, an open through one reaches the real /proc files, not the ones the
// supervisor serves. The built-in default and the shipped manifests deny
// io_uring_setup, io_uring_enter and io_uring_register with ENOSYS in BPF.
// A manifest that allows io_uring_setup gets it notified only to count the
// rings asked for (--stats); the call itself runs in the kernel. A denied or
// killed call never reaches the supervisor (compileFilter drops it).
import { nr } from '../../src/syscalls/table.js';
import type { FeatureModule } from './contract.js';
import { CONTINUE } from '../loop/loop.js';

export const ioUringFeature: FeatureModule = {
  name: 'io_uring',
  emulates: [],
  observes: ['io_uring_setup'],
  install(ctx) {
    ctx.loop.on(nr('io_uring_setup'), () => CONTINUE);
    return { name: 'io_uring' };
  },
};
