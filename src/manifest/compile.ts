/** Manifest -> seccomp program, and a short human summary. */
import { buildFilter, type ArgTest, type FilterSpec } from '../bpf/build.js';
import { CLONE_NEWIPC, CLONE_NEWNS, OPEN_TREE_PATH_ONLY } from '../syscalls/constants.js';
import { ENOSYS, EPERM, errnoName } from '../syscalls/errno.js';
import { syscallNumber } from '../syscalls/table.js';
import type { Manifest } from './types.js';

export interface CompileOptions {
  /**
   * Extra syscalls to notify besides syscalls.emulate — what the enabled
   * supervisor features observe (e.g. clone, close). A syscall the manifest
   * denies or kills stays denied or killed: those are security decisions.
   */
  notify?: Iterable<string>;
  /**
   * Syscalls notified only under an argument test (clone without
   * CLONE_THREAD; fcntl with a lock command). The test applies to an
   * emulated syscall too; one that `notify` lists stays unconditional.
   */
  notifyIf?: ReadonlyMap<string, ArgTest>;
}

/**
 * Refused (EPERM) whatever the manifest says, unless it refuses them its own
 * way: the calls that make a detached mount or change a mount's attributes.
 * Landlock refuses mount, umount, move_mount, pivot_root and remounts to the
 * program, but has no hook for these, and a detached copy of /proc
 * (open_tree with OPEN_TREE_CLONE, or fsopen + fsmount) reaches the files the
 * [proc] views cover. open_tree is in REFUSED_IF: it may still open a path.
 */
export const MOUNT_REFUSED: readonly string[] = ['fsopen', 'fspick', 'fsmount', 'open_tree_attr', 'mount_setattr'];
/**
 * Refused (EPERM) under an argument test, whatever the manifest says unless
 * it refuses the call itself: open_tree beyond opening a path, and a new
 * mount or IPC namespace. A mount namespace the program made and left keeps
 * its mounts alive through any fd into it, detached from one another when it
 * dies: a /proc kept that way no longer crosses the views. An IPC namespace
 * has its own /proc/sys/kernel/sem (Linux >= 5.19), which the view mounted
 * over the first one's does not cover, and its own sets, which the
 * emulation (the one IPC namespace of the sandbox) cannot follow.
 */
const NEW_NAMESPACE: ArgTest = { arg: 0, mask: CLONE_NEWNS | CLONE_NEWIPC };
export const REFUSED_IF: readonly { name: string; test: ArgTest }[] = [
  { name: 'open_tree', test: { arg: 2, mask: ~OPEN_TREE_PATH_ONLY >>> 0 } },
  { name: 'unshare', test: NEW_NAMESPACE },
  { name: 'clone', test: NEW_NAMESPACE },
];
/**
 * Answered ENOSYS, as Docker's default profile does, unless the manifest
 * refuses it itself: clone3's flags are in memory, out of the filter's reach
 * (and the supervisor's: the kernel reads them again after any look), so
 * a new namespace could not be refused. glibc, Go and Rust fall back to clone.
 */
export const CLONE3 = 'clone3';

function nr(name: string): number {
  const n = syscallNumber(name);
  if (n === undefined) throw new Error(`unknown syscall "${name}"`);
  return n;
}

/** Syscall numbers per action, as the BPF generator takes them. */
export function manifestFilterSpec(m: Manifest, opts: CompileOptions = {}): FilterSpec {
  const blockedByManifest = new Set<string>([...m.syscalls.deny.keys(), ...m.syscalls.kill]);
  const mountRefused = MOUNT_REFUSED.filter((name) => !blockedByManifest.has(name));
  const refusedIf = REFUSED_IF.filter(({ name }) => !blockedByManifest.has(name));
  const clone3 = blockedByManifest.has(CLONE3) ? [] : [CLONE3];
  const blocked = new Set<string>([...blockedByManifest, ...mountRefused, ...clone3]);
  const conditional = opts.notifyIf ?? new Map<string, ArgTest>();
  const notify = new Set<string>(m.syscalls.emulate.filter((name) => !conditional.has(name)));
  for (const name of opts.notify ?? []) if (!blocked.has(name)) notify.add(name);
  return {
    notify: [...notify].map(nr),
    notifyIf: new Map([...conditional].filter(([name]) => !blocked.has(name) && !notify.has(name)).map(([name, c]) => [nr(name), c])),
    errno: new Map([
      ...[...m.syscalls.deny].map(([name, e]) => [nr(name), e] as const),
      ...mountRefused.map((name) => [nr(name), EPERM] as const),
      ...clone3.map((name) => [nr(name), ENOSYS] as const),
    ]),
    errnoIf: new Map(refusedIf.map(({ name, test }) => [nr(name), { test, errno: EPERM }])),
    kill: m.syscalls.kill.map(nr),
  };
}

/** The seccomp program (struct sock_filter[] bytes) for a manifest. */
export function compileFilter(m: Manifest, opts: CompileOptions = {}): Uint8Array {
  return buildFilter(manifestFilterSpec(m, opts));
}

const list = (xs: readonly string[]): string => (xs.length === 0 ? '(none)' : xs.join(' '));

/** A few lines summarising what a manifest does, for `manifest check`. */
export function describeManifest(m: Manifest): string {
  const deny = [...m.syscalls.deny].map(([name, e]) => `${name}=${errnoName(e)}`);
  const lines = [
    `syscalls:   emulate ${list(m.syscalls.emulate)}`,
    `            deny ${list(deny)}`,
    `            kill ${list(m.syscalls.kill)}`,
  ];
  if (m.filesystem === null) {
    lines.push('filesystem: every path (no [filesystem] section; still inside a Landlock domain)');
  } else {
    lines.push(
      `filesystem: read ${list(m.filesystem.read)}`,
      `            write ${list(m.filesystem.write)}`,
      `            exec ${list(m.filesystem.exec)}`,
    );
  }
  const trusted = [...m.exec.trusted].map(([file, hash]) => `${file}=sha256:${hash.slice(0, 12)}…`);
  lines.push(`exec:       trusted ${list(trusted)}` + (m.exec.onlyTrusted ? '; nothing else may be executed' : ''));
  const set = Object.entries(m.env.set).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  lines.push(
    `env:        ${m.env.inherit ? "inherit the caller's environment" : `only ${list(m.env.pass)}`}` +
      (set.length > 0 ? `; set ${set.join(' ')}` : ''),
    `sem:        semmsl=${m.sem.semmsl} semmns=${m.sem.semmns} semopm=${m.sem.semopm} semmni=${m.sem.semmni}`,
    `locks:      mode=${m.locks.mode} host=${m.locks.host} max=${m.locks.max}`,
    `process:    max=${m.process.max}`,
    `ipc:        persist=${m.ipc.persist === '' ? 'off' : m.ipc.persist} namespace=${m.ipc.namespace}`,
    `watchdog:   ${m.watchdog.stallMs === 0 ? 'off' : `stall=${m.watchdog.stallMs}ms action=${m.watchdog.action}`}`,
    `proc:       views=${m.proc.views} pid_namespace=${m.proc.pidNamespace}`,
  );
  return lines.join('\n');
}

/**
 * Settings that let a program around the emulation, one line each, for
 * `manifest check` to print as warnings.
 */
export function manifestWarnings(m: Manifest): string[] {
  const blocked = (name: string): boolean => m.syscalls.deny.has(name) || m.syscalls.kill.includes(name);
  const warnings: string[] = [];
  if (m.syscalls.emulate.length > 0 && !blocked('io_uring_setup')) {
    warnings.push(
      'io_uring is allowed (io_uring_setup is neither denied nor killed): what a ring does bypasses the supervisor, ' +
        'so a close through a ring releases no POSIX locks and an open through one reads the real /proc/locks, ' +
        "/proc/sysvipc/sem and /proc/sys/kernel/sem instead of the sandbox's",
    );
  }
  return warnings;
}
