// What a sandbox's seccomp filter notifies: the manifest's emulated calls,
// what the enabled features observe (unconditionally or under an argument
// test), and, learning, what `sysvisor learn` records.
import { compileFilter, type Manifest } from '../src/manifest/index.js';
import { syscallNumber } from '../src/syscalls/table.js';
import { conditionallyObserved, observedSyscalls } from './features/index.js';
import { LEARN_SYSCALLS } from './learn.js';

/** Every syscall name the filter of `m` notifies (unconditionally or under an argument test). */
export function notifiedNames(m: Manifest, learn: boolean): string[] {
  const blocked = new Set([...m.syscalls.deny.keys(), ...m.syscalls.kill]);
  const all = [...m.syscalls.emulate, ...learnedOrObserved(m, learn), ...conditionallyObserved(m.syscalls.emulate).keys()];
  return [...new Set(all)].filter((n) => !blocked.has(n));
}

/**
 * The seccomp program for a manifest: what it emulates, denies and kills,
 * plus what the enabled features observe (and, learning, what is recorded).
 */
export function sandboxFilter(m: Manifest, learn = false): Uint8Array {
  return compileFilter(m, {
    notify: [...learnedOrObserved(m, learn), ...testNotified()],
    notifyIf: conditionallyObserved(m.syscalls.emulate),
  });
}

/** Test hook: SYSVISOR_TEST_NOTIFY=name makes the filter notify a syscall no feature handles, to drive the loop's no-handler answer (ENOSYS) end to end. */
function testNotified(): string[] {
  const name = process.env.SYSVISOR_TEST_NOTIFY;
  return name !== undefined && syscallNumber(name) !== undefined ? [name] : [];
}

function learnedOrObserved(m: Manifest, learn: boolean): string[] {
  const observed = observedSyscalls(m.syscalls.emulate, m);
  return learn ? [...new Set([...observed, ...LEARN_SYSCALLS, 'rt_sigreturn'])] : observed;
}
