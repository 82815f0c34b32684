// Credential bookkeeping: System V IPC checks the caller's effective ids and
// capabilities, which set*id(2)/capset(2) change per thread. The supervisor
// caches them per thread and drops the cache when the thread makes one of
// these calls; the call itself runs in the kernel (CONTINUE is bookkeeping
// here, never a security decision).
import { nr } from '../../src/syscalls/table.js';
import type { FeatureModule } from './contract.js';
import { CONTINUE } from '../loop/loop.js';

const CREDENTIAL_SYSCALLS = [
  'setuid',
  'setgid',
  'setreuid',
  'setregid',
  'setresuid',
  'setresgid',
  'setfsuid',
  'setfsgid',
  'setgroups',
  'capset',
];

export const credentialsFeature: FeatureModule = {
  name: 'credentials',
  emulates: [],
  observes: CREDENTIAL_SYSCALLS,
  install(ctx) {
    for (const name of CREDENTIAL_SYSCALLS) {
      ctx.loop.on(nr(name), (n) => {
        ctx.processes.forgetCredentials(n.tid);
        return CONTINUE;
      });
    }
    return { name: 'credentials' };
  },
};
