/**
 * Manifest v1 reader: TOML text -> validated, fully defaulted Manifest.
 *
 * Every problem is reported as `FILE:LINE: key.path: reason`; all problems
 * are collected and the earliest (by line) is thrown, carrying the others
 * in `.errors`.
 */
import { parse as parseToml, TomlError } from 'smol-toml';
import { errnoNumber, ERRNO_NAMES, MAX_ERRNO } from '../syscalls/errno.js';
import { SYSCALL_NAMES, syscallNumber } from '../syscalls/table.js';
import { ManifestError, renderPath, suggest, type PathSeg } from './error.js';
import { lineOf, locateKeys, type LineMap } from './locate.js';
import {
  DEFAULT_DENY,
  DEFAULT_EMULATE,
  LIMITS,
  LOCKS_DEFAULT_MAX,
  PROCESS_DEFAULT_MAX,
  SEM_DEFAULTS,
  type FilesystemLists,
  type IpcNamespace,
  type PidNamespace,
  type LockHost,
  type LockMode,
  type Manifest,
  type WatchdogAction,
  type ProcViews,
} from './types.js';

export interface ParseOptions {
  /** Syscall names the supervisor can emulate (allowed in syscalls.emulate). */
  emulable: ReadonlySet<string>;
}

type Table = Record<string, unknown>;

/** Known keys of each table (order = documentation order). */
const SCHEMA: Partial<Record<string, readonly string[]>> = {
  '': ['version', 'syscalls', 'filesystem', 'exec', 'env', 'sem', 'locks', 'process', 'ipc', 'watchdog', 'proc'],
  syscalls: ['emulate', 'deny', 'kill'],
  filesystem: ['read', 'write', 'exec'],
  exec: ['trusted', 'only_trusted'],
  env: ['inherit', 'pass', 'set'],
  sem: ['semmsl', 'semmns', 'semopm', 'semmni'],
  locks: ['mode', 'host', 'max'],
  process: ['max'],
  ipc: ['persist', 'namespace'],
  watchdog: ['stall', 'action'],
  proc: ['views', 'pid_namespace'],
};

/** The kernel hands these to no seccomp filter (kernel/seccomp.c seccomp_uprobe_exception). */
const UNFILTERABLE: ReadonlySet<string> = new Set(['uretprobe', 'uprobe']);
/** The launcher execve()s the target after installing the filter. */
const LAUNCHER_NEEDS: ReadonlySet<string> = new Set(['execve']);

const ENV_NAME = /^[^=\0]+$/;

function tomlType(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return 'float';
  if (typeof v === 'boolean') return 'boolean';
  if (v instanceof Date) return 'datetime';
  if (Array.isArray(v)) return 'array';
  return 'table';
}

const isTable = (v: unknown): v is Table => tomlType(v) === 'table';

class Checker {
  readonly errors: ManifestError[] = [];
  constructor(
    readonly file: string,
    readonly lines: LineMap,
  ) {}

  report(path: readonly PathSeg[], reason: string): void {
    this.errors.push(new ManifestError(this.file, lineOf(this.lines, path), renderPath(path), reason));
  }

  wrongType(path: readonly PathSeg[], expected: string, v: unknown): undefined {
    this.report(path, `expected ${expected}, got ${tomlType(v)}`);
    return undefined;
  }

  /** Reports keys of `t` that the schema does not know. */
  unknownKeys(t: Table, path: readonly PathSeg[], known: readonly string[]): void {
    for (const k of Object.keys(t)) {
      if (known.includes(k)) continue;
      const near = suggest(k, known);
      this.report(
        [...path, k],
        near !== undefined ? `unknown key (did you mean "${near}"?)` : `unknown key (expected one of: ${known.join(', ')})`,
      );
    }
  }

  table(v: unknown, path: readonly PathSeg[]): Table | undefined {
    if (v === undefined) return undefined;
    if (!isTable(v)) return this.wrongType(path, 'a table', v);
    const known = SCHEMA[renderPath(path)];
    if (known) this.unknownKeys(v, path, known);
    return v;
  }

  bool(v: unknown, path: readonly PathSeg[]): boolean | undefined {
    if (v === undefined) return undefined;
    return typeof v === 'boolean' ? v : this.wrongType(path, 'a boolean', v);
  }

  string(v: unknown, path: readonly PathSeg[]): string | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return this.wrongType(path, 'a string', v);
    if (v.includes('\0')) {
      this.report(path, 'contains a NUL character');
      return undefined;
    }
    return v;
  }

  int(v: unknown, path: readonly PathSeg[], range: { min: number; max: number; why: string }): number | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'bigint') return this.wrongType(path, 'an integer', v);
    if (v < BigInt(range.min) || v > BigInt(range.max)) {
      this.report(path, `${v} out of range ${range.min}..${range.max} (${range.why})`);
      return undefined;
    }
    return Number(v);
  }

  /** An array of strings; bad elements are reported and dropped. */
  strings(v: unknown, path: readonly PathSeg[]): Array<{ value: string; path: PathSeg[] }> | undefined {
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return this.wrongType(path, 'a string array', v);
    const out: Array<{ value: string; path: PathSeg[] }> = [];
    v.forEach((el, i) => {
      const p = [...path, i];
      const s = this.string(el, p);
      if (s !== undefined) out.push({ value: s, path: p });
    });
    return out;
  }
}

/** A manifest with every default applied and nothing listed. */
function skeleton(file: string): Manifest {
  return {
    version: 1,
    file,
    syscalls: { emulate: [...DEFAULT_EMULATE], deny: new Map(DEFAULT_DENY), kill: [] },
    filesystem: null,
    exec: { trusted: new Map(), onlyTrusted: false },
    env: { inherit: true, pass: [], set: {} },
    sem: { ...SEM_DEFAULTS },
    locks: { mode: 'exact', host: 'coherent', max: LOCKS_DEFAULT_MAX },
    process: { max: PROCESS_DEFAULT_MAX },
    ipc: { persist: '', namespace: 'auto' },
    watchdog: { stallMs: 0, action: 'report' },
    proc: { views: 'auto', pidNamespace: 'auto' },
  };
}

type ListName = 'emulate' | 'deny' | 'kill';

function checkSyscalls(c: Checker, v: unknown, m: Manifest, opts: ParseOptions): void {
  const path = ['syscalls'];
  const t = c.table(v, path);
  if (t === undefined || t.emulate === undefined) checkDefaultEmulation(c, path, m, opts);
  if (t === undefined) return;

  // Gather every entry of the three lists, then judge them in file order so
  // that a duplicate is reported where it appears the second time.
  const entries: Array<{ name: string; path: PathSeg[]; list: ListName; errno?: number }> = [];
  const emulate = c.strings(t.emulate, [...path, 'emulate']);
  if (emulate !== undefined) {
    m.syscalls.emulate = [];
    for (const e of emulate) entries.push({ name: e.value, path: e.path, list: 'emulate' });
  }
  const denyPath = [...path, 'deny'];
  const deny = c.table(t.deny, denyPath);
  if (deny !== undefined) {
    m.syscalls.deny = new Map();
    for (const [name, val] of Object.entries(deny)) {
      const p = [...denyPath, name];
      const errno = parseErrno(c, val, p);
      entries.push({ name, path: p, list: 'deny', ...(errno !== undefined ? { errno } : {}) });
    }
  }
  const kill = c.strings(t.kill, [...path, 'kill']);
  if (kill !== undefined) for (const e of kill) entries.push({ name: e.value, path: e.path, list: 'kill' });

  const seen = new Map<string, ListName>();
  /** Emulated by the built-in list because the file has no syscalls.emulate: the user never wrote them. */
  const byDefault = new Set(emulate === undefined ? m.syscalls.emulate : []);
  for (const n of byDefault) seen.set(n, 'emulate');
  const ordered = entries.map((e, i) => ({ e, i, line: lineOf(c.lines, e.path) })).sort((x, y) => x.line - y.line || x.i - y.i);
  const accepted = new Set<number>();
  for (const { e, i } of ordered) {
    const { name, path: p, list } = e;
    if (syscallNumber(name) === undefined) {
      const near = suggest(name, SYSCALL_NAMES);
      c.report(p, `unknown syscall "${name}"${near !== undefined ? ` (did you mean "${near}"?)` : ''}`);
    } else if (list === 'emulate' && !opts.emulable.has(name)) {
      c.report(p, `no emulation for "${name}"`);
    } else if (UNFILTERABLE.has(name)) {
      c.report(p, `the kernel never passes "${name}" to seccomp filters`);
    } else if (list !== 'emulate' && LAUNCHER_NEEDS.has(name)) {
      c.report(
        p,
        `"${name}" cannot be ${list === 'deny' ? 'denied' : 'killed'}: the launcher needs it to start the program (restrict filesystem.exec instead)`,
      );
    } else if (byDefault.has(name)) {
      c.report(
        p,
        `"${name}" is emulated by default (the built-in syscalls.emulate list); to list it in syscalls.${list}, write a syscalls.emulate without it`,
      );
    } else if (seen.has(name)) {
      c.report(p, `"${name}" is already listed in syscalls.${seen.get(name)}`);
    } else {
      seen.set(name, list);
      accepted.add(i);
    }
  }
  // Keep file order within each list.
  entries.forEach((e, i) => {
    if (!accepted.has(i)) return;
    if (e.list !== 'deny') m.syscalls.deny.delete(e.name); // a default denial gives way to the file's own word
    if (e.list === 'emulate') m.syscalls.emulate.push(e.name);
    else if (e.list === 'kill') m.syscalls.kill.push(e.name);
    else if (e.errno !== undefined) m.syscalls.deny.set(e.name, e.errno);
  });
}

/** Defaults must be emulable too: never fall back to host IPC silently. */
function checkDefaultEmulation(c: Checker, path: PathSeg[], m: Manifest, opts: ParseOptions): void {
  const missing = m.syscalls.emulate.filter((n) => !opts.emulable.has(n));
  if (missing.length > 0) {
    c.report(
      [...path, 'emulate'],
      `default entries ${missing.map((n) => `"${n}"`).join(', ')} have no emulation in this build; set syscalls.emulate explicitly`,
    );
  }
}

function parseErrno(c: Checker, v: unknown, p: PathSeg[]): number | undefined {
  if (typeof v === 'string') {
    const n = errnoNumber(v);
    if (n === undefined) {
      const near = suggest(v, ERRNO_NAMES);
      c.report(p, `unknown errno "${v}"${near !== undefined ? ` (did you mean "${near}"?)` : ''}`);
    }
    return n;
  }
  if (typeof v === 'bigint') return c.int(v, p, { min: 1, max: MAX_ERRNO, why: 'MAX_ERRNO' });
  return c.wrongType(p, 'an errno name or number', v);
}

function absPaths(c: Checker, v: unknown, path: PathSeg[]): string[] | undefined {
  const list = c.strings(v, path);
  if (list === undefined) return undefined;
  const out: string[] = [];
  for (const { value, path: p } of list) {
    if (!value.startsWith('/')) c.report(p, `"${value}" is not an absolute path`);
    else out.push(value);
  }
  return out;
}

function checkFilesystem(c: Checker, v: unknown, m: Manifest): void {
  const path = ['filesystem'];
  const t = c.table(v, path);
  if (t === undefined) return;
  const fs: FilesystemLists = { read: [], write: [], exec: [] };
  for (const k of ['read', 'write', 'exec'] as const) {
    const list = absPaths(c, t[k], [...path, k]);
    if (list !== undefined) fs[k] = list;
  }
  m.filesystem = fs;
}

/** `sha256:` and 64 hex digits, as `sha256sum` prints them (either case). */
const SHA256 = /^sha256:([0-9a-fA-F]{64})$/;

function checkExec(c: Checker, v: unknown, m: Manifest): void {
  const path = ['exec'];
  const t = c.table(v, path);
  if (t === undefined) return;
  const trustedPath = [...path, 'trusted'];
  const trusted = c.table(t.trusted, trustedPath);
  if (trusted !== undefined) {
    for (const [file, val] of Object.entries(trusted)) {
      const p = [...trustedPath, file];
      const hash = c.string(val, p);
      if (file.includes('\0')) c.report(p, 'contains a NUL character');
      else if (!file.startsWith('/')) c.report(p, `"${file}" is not an absolute path`);
      else if (hash !== undefined) {
        const match = SHA256.exec(hash);
        if (match === null) c.report(p, `expected "sha256:" followed by 64 hex digits, got "${hash}"`);
        else m.exec.trusted.set(file, match[1]!.toLowerCase());
      }
    }
  }
  const only = c.bool(t.only_trusted, [...path, 'only_trusted']);
  if (only !== undefined) m.exec.onlyTrusted = only;
  if (only === true && (trusted === undefined || Object.keys(trusted).length === 0)) {
    c.report([...path, 'only_trusted'], "true with no exec.trusted entries would refuse every exec, the program's own included");
  }
}

function checkEnv(c: Checker, v: unknown, m: Manifest): void {
  const path = ['env'];
  const t = c.table(v, path);
  if (t === undefined) return;
  const inherit = c.bool(t.inherit, [...path, 'inherit']);
  if (inherit !== undefined) m.env.inherit = inherit;
  const pass = c.strings(t.pass, [...path, 'pass']);
  if (pass !== undefined) {
    for (const { value, path: p } of pass) {
      if (!ENV_NAME.test(value)) c.report(p, `"${value}" is not a valid environment variable name`);
      else m.env.pass.push(value);
    }
    if (m.env.inherit && pass.length > 0) {
      c.report([...path, 'pass'], 'has no effect when env.inherit = true (set inherit = false to pass only these)');
    }
  }
  const setPath = [...path, 'set'];
  const set = c.table(t.set, setPath);
  if (set !== undefined) {
    const entries: Array<[string, string]> = [];
    for (const [name, val] of Object.entries(set)) {
      const p = [...setPath, name];
      if (!ENV_NAME.test(name)) {
        c.report(p, `"${name}" is not a valid environment variable name`);
        continue;
      }
      const s = c.string(val, p);
      if (s !== undefined) entries.push([name, s]);
    }
    m.env.set = Object.fromEntries(entries);
  }
}

function checkSem(c: Checker, v: unknown, m: Manifest): void {
  const path = ['sem'];
  const t = c.table(v, path);
  if (t === undefined) return;
  for (const k of ['semmsl', 'semmns', 'semopm', 'semmni'] as const) {
    const n = c.int(t[k], [...path, k], LIMITS[k]);
    if (n !== undefined) m.sem[k] = n;
  }
}

function checkLocks(c: Checker, v: unknown, m: Manifest): void {
  const path = ['locks'];
  const t = c.table(v, path);
  if (t === undefined) return;
  const mode = c.string(t.mode, [...path, 'mode']);
  if (mode !== undefined) {
    if (mode === 'exact' || mode === 'fast') m.locks.mode = mode satisfies LockMode;
    else c.report([...path, 'mode'], `expected "exact" or "fast", got "${mode}"`);
  }
  const host = c.string(t.host, [...path, 'host']);
  if (host !== undefined) {
    if (host === 'coherent' || host === 'isolated') m.locks.host = host satisfies LockHost;
    else c.report([...path, 'host'], `expected "coherent" or "isolated", got "${host}"`);
  }
  const max = c.int(t.max, [...path, 'max'], LIMITS.locksMax);
  if (max !== undefined) m.locks.max = max;
}

function checkProcess(c: Checker, v: unknown, m: Manifest): void {
  const path = ['process'];
  const t = c.table(v, path);
  if (t === undefined) return;
  const max = c.int(t.max, [...path, 'max'], LIMITS.processMax);
  if (max !== undefined) m.process.max = max;
}

function checkIpc(c: Checker, v: unknown, m: Manifest): void {
  const path = ['ipc'];
  const t = c.table(v, path);
  if (t === undefined) return;
  const persist = c.string(t.persist, [...path, 'persist']);
  if (persist !== undefined) {
    if (persist !== '' && !persist.startsWith('/')) c.report([...path, 'persist'], `"${persist}" is not an absolute path`);
    else m.ipc.persist = persist;
  }
  const namespace = c.string(t.namespace, [...path, 'namespace']);
  if (namespace !== undefined) {
    if (namespace === 'private' || namespace === 'auto' || namespace === 'host') m.ipc.namespace = namespace satisfies IpcNamespace;
    else c.report([...path, 'namespace'], `expected "private", "auto" or "host", got "${namespace}"`);
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;

/** "500ms", "5s", "1.5s", "2m" -> milliseconds (rounded); null if it is no such duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text);
  return m === null ? null : Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

function checkWatchdog(c: Checker, v: unknown, m: Manifest): void {
  const path = ['watchdog'];
  const t = c.table(v, path);
  if (t === undefined) return;
  const stall = c.string(t.stall, [...path, 'stall']);
  if (stall !== undefined) {
    const ms = parseDuration(stall);
    const { min, max, why } = LIMITS.stallMs;
    if (ms === null) c.report([...path, 'stall'], `expected a duration such as "500ms", "5s" or "2m", got "${stall}"`);
    else if (ms < min || ms > max) c.report([...path, 'stall'], `"${stall}" out of range 1ms..24h (${why})`);
    else m.watchdog.stallMs = ms;
  }
  const action = c.string(t.action, [...path, 'action']);
  if (action !== undefined) {
    if (action === 'report' || action === 'kill') m.watchdog.action = action satisfies WatchdogAction;
    else c.report([...path, 'action'], `expected "report" or "kill", got "${action}"`);
    if (t.stall === undefined) c.report([...path, 'action'], 'has no effect without watchdog.stall (the watchdog is off)');
  }
}

function checkProc(c: Checker, v: unknown, m: Manifest): void {
  const path = ['proc'];
  const t = c.table(v, path);
  if (t === undefined) return;
  const views = c.string(t.views, [...path, 'views']);
  if (views !== undefined) {
    if (views === 'auto' || views === 'fuse' || views === 'notify' || views === 'off') m.proc.views = views satisfies ProcViews;
    else c.report([...path, 'views'], `expected "auto", "fuse", "notify" or "off", got "${views}"`);
  }
  const pidNamespace = c.string(t.pid_namespace, [...path, 'pid_namespace']);
  if (pidNamespace !== undefined) {
    if (pidNamespace === 'private' || pidNamespace === 'auto' || pidNamespace === 'host')
      m.proc.pidNamespace = pidNamespace satisfies PidNamespace;
    else c.report([...path, 'pid_namespace'], `expected "private", "auto" or "host", got "${pidNamespace}"`);
  }
}

function syntaxReason(e: TomlError): string {
  const first = e.message.split('\n')[0] ?? e.message;
  return `invalid TOML: ${first.replace(/^Invalid TOML document: /, '')}`;
}

/**
 * Parse and validate manifest text. `file` is only used in messages.
 * Throws ManifestError (the earliest problem; `.errors` has all of them).
 */
export function parseManifest(text: string, file: string, opts: ParseOptions): Manifest {
  let doc: Table;
  try {
    doc = parseToml(text, { integersAsBigInt: true }) as Table;
  } catch (e) {
    if (e instanceof TomlError) throw new ManifestError(file, e.line, '', syntaxReason(e));
    throw e;
  }
  const c = new Checker(file, locateKeys(text));
  const m = skeleton(file);
  c.unknownKeys(doc, [], SCHEMA['']!);

  if (doc.version === undefined) c.report(['version'], 'missing (this reader understands version = 1)');
  else if (typeof doc.version !== 'bigint') c.wrongType(['version'], 'an integer', doc.version);
  else if (doc.version !== 1n) c.report(['version'], `unsupported manifest version ${doc.version} (expected 1)`);

  checkSyscalls(c, doc.syscalls, m, opts);
  checkFilesystem(c, doc.filesystem, m);
  checkExec(c, doc.exec, m);
  checkEnv(c, doc.env, m);
  checkSem(c, doc.sem, m);
  checkLocks(c, doc.locks, m);
  checkProcess(c, doc.process, m);
  checkIpc(c, doc.ipc, m);
  checkWatchdog(c, doc.watchdog, m);
  checkProc(c, doc.proc, m);

  if (c.errors.length > 0) {
    const all = [...c.errors].sort((a, b) => a.line - b.line);
    const first = all[0]!;
    first.errors = all;
    throw first;
  }
  return m;
}

/**
 * The manifest a file with only `version = 1` gives — the same as
 * policies/default.toml. Throws ManifestError if the default emulated
 * syscalls are not all in `emulable`.
 */
export function defaultManifest(emulable: ReadonlySet<string>, file = '<default>'): Manifest {
  return parseManifest('version = 1\n', file, { emulable });
}
