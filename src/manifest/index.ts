export {
  DEFAULT_DENY,
  DEFAULT_EMULATE,
  SEM_DEFAULTS,
  LIMITS,
  IPCMNI,
  INT_MAX,
  PID_MAX_LIMIT,
  LOCKS_DEFAULT_MAX,
  PROCESS_DEFAULT_MAX,
  type Manifest,
  type FilesystemLists,
  type ExecPolicy,
  type SemLimits,
  type LockHost,
  type LockMode,
  type WatchdogAction,
  type ProcViews,
} from './types.js';
export { ManifestError, renderPath, suggest, editDistance, type PathSeg } from './error.js';
export { locateKeys, lineOf, type LineMap } from './locate.js';
export { parseManifest, defaultManifest, parseDuration, type ParseOptions } from './parse.js';
export {
  compileFilter,
  manifestFilterSpec,
  describeManifest,
  manifestWarnings,
  MOUNT_REFUSED,
  REFUSED_IF,
  CLONE3,
  type CompileOptions,
} from './compile.js';
