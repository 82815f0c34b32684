// The feature modules the supervisor ships, and the syscall sets they imply.
// Imported by the main thread (to build the filter and validate manifests)
// and by the loop's thread (to install them).
import type { ArgTest } from '../../src/bpf/build.js';
import type { ArgCondition, FeatureModule, FeatureSettings, ProcView } from './contract.js';
import { credentialsFeature } from './credentials.js';
import { execFeature } from './exec.js';
import { ioUringFeature } from './io-uring.js';
import { lifecycleFeature } from './lifecycle.js';
import { locksFeature } from '../locks/feature.js';
import { reachFeature } from './reach.js';
import { semFeature } from '../sem/feature.js';
import { OPEN_SYSCALLS } from '../virtual-files.js';

// exec comes after lifecycle and locks: it chains to their execve/exit_group handlers.
export const FEATURES: readonly FeatureModule[] = [
  credentialsFeature,
  lifecycleFeature,
  reachFeature,
  semFeature,
  locksFeature,
  execFeature,
  ioUringFeature,
];

/** Every syscall name some feature can emulate: what a manifest may list. */
export const EMULABLE: ReadonlySet<string> = new Set(FEATURES.flatMap((f) => f.emulates));

/** The features a manifest's emulate list turns on. */
export function enabledFeatures(emulate: readonly string[]): FeatureModule[] {
  const wanted = new Set(emulate);
  return FEATURES.filter((f) => f.emulates.length === 0 || f.emulates.some((s) => wanted.has(s)));
}

const DEFAULT_SETTINGS: FeatureSettings = { locks: { mode: 'exact' } };

/** Syscalls the enabled features must see besides the emulated ones (bookkeeping). */
export function observedSyscalls(emulate: readonly string[], settings: FeatureSettings = DEFAULT_SETTINGS): string[] {
  const names = new Set<string>();
  for (const f of enabledFeatures(emulate)) {
    for (const s of f.observes) names.add(s);
    for (const s of f.observesWith?.(settings) ?? []) names.add(s);
  }
  // The views are served through the notified open family unless they are mounted (or off).
  const views = settings.proc?.views ?? 'auto';
  if ((views === 'notify' || views === 'auto') && procViews(emulate).length > 0) for (const s of OPEN_SYSCALLS) names.add(s);
  // Any notified call can be cut off by a signal: the handler's rt_sigreturn is
  // where the supervisor makes it restart (see BlockedCalls).
  if (names.size > 0 || emulate.length > 0) names.add('rt_sigreturn');
  return [...names];
}

/** Syscalls the enabled features observe only under an argument condition (see FeatureModule.observesIf). */
export function conditionallyObserved(emulate: readonly string[]): Map<string, ArgTest> {
  const out = new Map<string, ArgTest>();
  const wanted = new Set(emulate);
  for (const f of enabledFeatures(emulate)) {
    for (const { name, ...test } of f.observesIf ?? ([] as readonly ArgCondition[])) {
      // An emulated syscall's test applies only when the manifest emulates it.
      if (!f.emulates.includes(name) || wanted.has(name)) out.set(name, test);
    }
  }
  return out;
}

/** The /proc files the enabled features serve. */
export function procViews(emulate: readonly string[]): ProcView[] {
  return enabledFeatures(emulate).flatMap((f) => f.views ?? []);
}
