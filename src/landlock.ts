// Landlock rules from the manifest's filesystem allowlists: one
// path_beneath rule per path with the union of the rights its lists grant.
// The launcher masks the bits to what the running kernel's ABI handles.
//
// Files pinned by [exec] trusted get a rule of their own with the right to
// execute them (a file-level right: Landlock accepts it on a regular file).
// With only_trusted no other rule keeps EXECUTE, so the kernel itself refuses
// to execve anything else, whatever the path string says by the time it
// reads it. A rule names the inode opened when the sandbox starts: a pinned
// file replaced by rename is no longer executable.

import type { IpcNamespace, PidNamespace } from './manifest/types.js';

export const FS = {
  EXECUTE: 1n << 0n,
  WRITE_FILE: 1n << 1n,
  READ_FILE: 1n << 2n,
  READ_DIR: 1n << 3n,
  REMOVE_DIR: 1n << 4n,
  REMOVE_FILE: 1n << 5n,
  MAKE_CHAR: 1n << 6n,
  MAKE_DIR: 1n << 7n,
  MAKE_REG: 1n << 8n,
  MAKE_SOCK: 1n << 9n,
  MAKE_FIFO: 1n << 10n,
  MAKE_BLOCK: 1n << 11n,
  MAKE_SYM: 1n << 12n,
  REFER: 1n << 13n,
  TRUNCATE: 1n << 14n,
  IOCTL_DEV: 1n << 15n,
} as const;

export const READ_RIGHTS = FS.READ_FILE | FS.READ_DIR;
export const WRITE_RIGHTS =
  FS.WRITE_FILE |
  FS.REMOVE_DIR |
  FS.REMOVE_FILE |
  FS.MAKE_CHAR |
  FS.MAKE_DIR |
  FS.MAKE_REG |
  FS.MAKE_SOCK |
  FS.MAKE_FIFO |
  FS.MAKE_BLOCK |
  FS.MAKE_SYM |
  FS.REFER |
  FS.TRUNCATE |
  FS.IOCTL_DEV;
export const EXEC_RIGHTS = FS.EXECUTE;
export const ALL_RIGHTS = READ_RIGHTS | WRITE_RIGHTS | EXEC_RIGHTS;

export interface FilesystemPolicy {
  read: readonly string[];
  write: readonly string[];
  exec: readonly string[];
}

export interface LandlockRule {
  path: string;
  access: bigint;
}

/** [exec] as Landlock sees it: the pinned files, and whether nothing else may be executed. */
export interface ExecPins {
  files: readonly string[];
  onlyTrusted: boolean;
}

const NO_PINS: ExecPins = { files: [], onlyTrusted: false };

/**
 * Rules for the launcher; `null` policy = every path with every right (still
 * a Landlock domain). Pinned files may be executed (and read); with
 * only_trusted they are the only files that may.
 *
 * The launcher makes the domain handle every right even for `null`, though
 * each open then pays Landlock's walk up the path (~0.5 µs here): that walk
 * is what refuses a path outside the tree the rule on "/" covers, such as the
 * /proc of a mount namespace that died (its [proc] views detached from it).
 * A domain handling fewer rights let such a /proc read the kernel's files
 * (bench/README.md, "Opening files"). The filter also refuses making a mount
 * namespace (src/manifest/compile.ts); the walk is the second wall.
 */
export function landlockRules(policy: FilesystemPolicy | null, pins: ExecPins = NO_PINS): LandlockRule[] {
  const rights = new Map<string, bigint>();
  const grant = (paths: readonly string[], access: bigint) => {
    for (const p of paths) rights.set(p, (rights.get(p) ?? 0n) | access);
  };
  if (policy === null) grant(['/'], ALL_RIGHTS);
  else {
    grant(policy.read, READ_RIGHTS);
    grant(policy.write, WRITE_RIGHTS | READ_RIGHTS);
    grant(policy.exec, EXEC_RIGHTS | FS.READ_FILE);
  }
  if (pins.onlyTrusted) for (const [path, access] of rights) rights.set(path, access & ~EXEC_RIGHTS);
  grant(pins.files, EXEC_RIGHTS | FS.READ_FILE);
  return [...rights].map(([path, access]) => ({ path, access }));
}

/** A [proc] view for the launcher to mount: the FUSE connection it inherits on `fd`, over `path`, a file of `mode`. */
export interface LauncherView {
  fd: number;
  mode: number;
  path: string;
}

/**
 * The launcher's configuration text (see shims/launcher.c). With views and a
 * `fallback` program, the launcher installs the fallback when it cannot mount
 * them; without one, that failure stops the launch.
 */
export function launcherConfig(
  filter: Uint8Array,
  rules: readonly LandlockRule[],
  namespaces: { ipc: IpcNamespace; pid: PidNamespace },
  views: readonly LauncherView[] = [],
  fallback: Uint8Array | null = null,
): string {
  const lines = [`filter ${Buffer.from(filter).toString('hex')}`, `ipc ${namespaces.ipc}`, `pid ${namespaces.pid}`];
  for (const v of views) lines.push(`view ${v.fd} ${v.mode.toString(8)} ${v.path}`);
  if (views.length > 0 && fallback !== null) lines.push(`view-fallback ${Buffer.from(fallback).toString('hex')}`);
  for (const r of rules) {
    if (r.path.includes('\n')) throw new Error(`filesystem path ${JSON.stringify(r.path)} contains a newline`);
    lines.push(`fs ${r.access} ${r.path}`);
  }
  lines.push('go');
  return lines.join('\n') + '\n';
}
