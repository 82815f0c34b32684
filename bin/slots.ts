// The files sysvisor writes for the user, opened link-safe (supervisor/safe-file.ts).
import { openRunDirectory, openSlot, runDirectoryPath, type FileSlot } from '../supervisor/safe-file.js';
import { EXIT_USAGE, fail } from './common.js';

/** A path the user gave for sysvisor to write: its directory opened once, a link or a non-regular file refused. */
export function userSlot(option: string, path: string): FileSlot {
  try {
    return openSlot(path);
  } catch (err) {
    fail(`${option}: ${(err as Error).message}`, EXIT_USAGE);
  }
}

/**
 * Where a running sandbox without --dump-state writes its state on a SIGUSR1
 * the user sent: sysvisor-PID.json in the private run directory (made by the
 * run). The CLI itself never signals: it asks the control socket.
 */
export function liveDumpSlot(pid: number): FileSlot {
  const dir = runDirectoryPath();
  const name = `sysvisor-${pid}.json`;
  return { dirFd: openRunDirectory(dir, true), name, path: `${dir}/${name}` };
}
