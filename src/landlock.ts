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

/** The filesystem rights the domain handles (everything else is not checked) and its rules. */
export interface LandlockDomain {
  handled: bigint;
  rules: LandlockRule[];
}

/**
 * What an unrestricted domain handles, all granted on "/". Landlock refuses
 * mount changes to any domain that handles a filesystem right (the [proc]
 * views are mounts the program must not remove), and checks an open only for
 * the rights it handles, so opens cost no walk up the path (~0.5 µs each here
 * with every right handled; bench/README.md). Block-device creation is the
 * right handled for that; REFER too, because any such domain refuses to link
 * or rename a file into another directory (EXDEV) unless a rule grants REFER
 * (security/landlock/fs.c, ACCESS_INITIALLY_DENIED).
 */
const UNRESTRICTED_HANDLED = FS.MAKE_BLOCK | FS.REFER;

/** [exec] as Landlock sees it: the pinned files, and whether nothing else may be executed. */
export interface ExecPins {
  files: readonly string[];
  onlyTrusted: boolean;
}

const NO_PINS: ExecPins = { files: [], onlyTrusted: false };

/**
 * The domain for the launcher; `null` policy = every path with every right
 * (still a Landlock domain, handling one right granted everywhere). Pinned
 * files may be executed (and read); with only_trusted they are the only files
 * that may.
 */
export function landlockDomain(policy: FilesystemPolicy | null, pins: ExecPins = NO_PINS): LandlockDomain {
  if (policy === null && !pins.onlyTrusted) return { handled: UNRESTRICTED_HANDLED, rules: [{ path: '/', access: UNRESTRICTED_HANDLED }] };
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
  return { handled: ALL_RIGHTS, rules: [...rights].map(([path, access]) => ({ path, access })) };
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
  landlock: LandlockDomain,
  namespaces: { ipc: IpcNamespace; pid: PidNamespace },
  views: readonly LauncherView[] = [],
  fallback: Uint8Array | null = null,
): string {
  const lines = [`filter ${Buffer.from(filter).toString('hex')}`, `ipc ${namespaces.ipc}`, `pid ${namespaces.pid}`];
  for (const v of views) lines.push(`view ${v.fd} ${v.mode.toString(8)} ${v.path}`);
  if (views.length > 0 && fallback !== null) lines.push(`view-fallback ${Buffer.from(fallback).toString('hex')}`);
  lines.push(`fs-handled ${landlock.handled}`);
  for (const r of landlock.rules) {
    if (r.path.includes('\n')) throw new Error(`filesystem path ${JSON.stringify(r.path)} contains a newline`);
    lines.push(`fs ${r.access} ${r.path}`);
  }
  lines.push('go');
  return lines.join('\n') + '\n';
}
