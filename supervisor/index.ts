// The programmatic API: `import { Sandbox, loadManifest } from 'sysvisor'`.
import { readFileSync } from 'node:fs';
import { defaultManifest, parseManifest, type Manifest } from '../src/manifest/index.js';
import { EMULABLE } from './features/index.js';

export { EXIT_STALLED, Sandbox, type RunOptions, type RunResult } from './sandbox.js';
export { SandboxError } from './sandbox-error.js';
export { sandboxFilter } from './sandbox-filter.js';
export type { StallReport } from './watchdog.js';
export { ManifestError, type Manifest } from '../src/manifest/index.js';
export { EMULABLE, observedSyscalls } from './features/index.js';

/** Read and validate a manifest file; throws ManifestError naming the key and line. */
export function loadManifest(file: string): Manifest {
  return parseManifest(readFileSync(file, 'utf8'), file, { emulable: EMULABLE });
}

/** Validate manifest text that did not come from a file. */
export function manifestFromText(text: string, name = '<manifest>'): Manifest {
  return parseManifest(text, name, { emulable: EMULABLE });
}

/** The manifest used when none is given: policies/default.toml's settings. */
export function builtinManifest(): Manifest {
  return defaultManifest(EMULABLE);
}
