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
 * Where a running sandbox without --dump-state writes its state on SIGUSR1:
 * sysvisor-PID.json in the private run directory (made by the run, only
 * opened by `ps/ipcs --pid`).
 */
export function liveDumpSlot(pid: number, create: boolean): FileSlot {
  const dir = runDirectoryPath();
  const name = `sysvisor-${pid}.json`;
  return { dirFd: openRunDirectory(dir, create), name, path: `${dir}/${name}` };
}
