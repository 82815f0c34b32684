// [proc] views, the main thread's side: which /proc files the enabled
// features serve, whether to try the FUSE mounts (a /dev/fuse connection per
// file, handed to the launcher), and what the launcher reported.
// docs/PROC-VIEWS.md has the design; proc-fuse.ts serves the mounts.
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { viewDevices } from '../src/fuse/mountinfo.js';
import type { LauncherView } from '../src/landlock.js';
import type { Manifest, ProcViews } from '../src/manifest/index.js';
import type { ProcView } from './features/contract.js';
import { procViews } from './features/index.js';

/** The launcher's first view fd: after stdin, stdout, stderr and the control socket. */
const FIRST_VIEW_FD = 4;

export type ViewsPlan =
  | { kind: 'off' | 'notify' }
  /** Mount these; `fallback`: notify instead if that fails ("auto"), else the launch fails. */
  | { kind: 'fuse'; files: ProcView[]; fds: number[]; fallback: boolean }
  | { kind: 'error'; message: string };

/** What to do for the manifest's [proc] views; opens /dev/fuse when the mounts are to be tried. */
export function planViews(m: Manifest): ViewsPlan {
  const files = procViews(m.syscalls.emulate);
  const asked = m.proc.views;
  if (files.length === 0 || asked === 'off') return { kind: 'off' };
  if (asked === 'notify') return { kind: 'notify' };
  const fds: number[] = [];
  try {
    // Non-blocking for the loop's epoll; node opens it close-on-exec, spawn gives the launcher its own copy.
    while (fds.length < files.length) fds.push(openSync('/dev/fuse', constants.O_RDWR | constants.O_NONBLOCK));
  } catch (err) {
    closeViews(fds);
    if (asked === 'fuse') return { kind: 'error', message: `proc.views = "fuse": cannot open /dev/fuse: ${(err as Error).message}` };
    return { kind: 'notify' }; // unprivileged: /dev/fuse is root's
  }
  return { kind: 'fuse', files, fds, fallback: asked === 'auto' };
}

/** The manifest as the filter sees it once the views are decided. */
export function withViews(m: Manifest, views: ProcViews): Manifest {
  return { ...m, proc: { ...m.proc, views } };
}

/** The "view" lines of the launcher's configuration: the fds as the launcher has them (spawn's stdio order). */
export function launcherViews(plan: ViewsPlan): LauncherView[] {
  if (plan.kind !== 'fuse') return [];
  return plan.files.map((f, i) => ({ fd: FIRST_VIEW_FD + i, mode: f.mode, path: f.path }));
}

/** The launcher's "views=" report: "fuse", "none", or "notify (why)". */
export function reportedViews(plan: ViewsPlan, report: string | undefined): { served: 'fuse' | 'notify' | 'off'; why: string } {
  if (plan.kind === 'off') return { served: 'off', why: '' };
  if (plan.kind === 'fuse' && report === 'fuse') return { served: 'fuse', why: '' };
  return { served: 'notify', why: report?.startsWith('notify (') ? report.slice(8, -1) : '' };
}

/** The st_dev of the views mounted in the mount namespace of process `pid`. */
export function mountedDevices(pid: number): string[] {
  try {
    return viewDevices(readFileSync(`/proc/${pid}/mountinfo`, 'latin1'));
  } catch {
    return [];
  }
}

export function closeViews(fds: readonly number[]): void {
  for (const fd of fds) closeSync(fd);
}
