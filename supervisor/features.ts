// The feature modules the supervisor ships, and the syscall sets they imply.
// Imported by the main thread (to build the filter and validate manifests)
// and by the loop's thread (to install handlers).
import { syscallNumber } from '../src/syscalls/table.js';
import type { FeatureModule } from './feature.js';
import { credentialsFeature } from './handlers/credentials.js';
import { semFeature } from './handlers/sem.js';

export const FEATURES: readonly FeatureModule[] = [credentialsFeature, semFeature];

/** Every syscall name some feature can emulate: what a manifest may list. */
export const EMULABLE: ReadonlySet<string> = new Set(FEATURES.flatMap((f) => f.emulates));

/** The features a manifest's emulate list turns on. */
export function enabledFeatures(emulate: readonly string[]): FeatureModule[] {
  const wanted = new Set(emulate);
  return FEATURES.filter((f) => f.emulates.length === 0 || f.emulates.some((s) => wanted.has(s)));
}

/** Syscall numbers the filter must notify: the emulated ones plus what enabled features observe. */
export function notifiedSyscalls(emulate: readonly string[]): number[] {
  const names = new Set(emulate);
  for (const f of enabledFeatures(emulate)) for (const s of f.observes) names.add(s);
  return [...names].map((name) => {
    const nr = syscallNumber(name);
    if (nr === undefined) throw new Error(`unknown syscall ${name}`);
    return nr;
  });
}
