// The feature modules the supervisor ships, and the syscall sets they imply.
// Imported by the main thread (to build the filter and validate manifests)
// and by the loop's thread (to install handlers).
import type { FeatureModule, FeatureSettings } from './feature.js';
import { credentialsFeature } from './handlers/credentials.js';
import { execFeature } from './handlers/exec.js';
import { lifecycleFeature } from './handlers/lifecycle.js';
import { locksFeature } from './handlers/locks.js';
import { semFeature } from './handlers/sem.js';

// exec comes after lifecycle and locks: it chains to their execve/exit_group handlers.
export const FEATURES: readonly FeatureModule[] = [credentialsFeature, lifecycleFeature, semFeature, locksFeature, execFeature];

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
  return [...names];
}
