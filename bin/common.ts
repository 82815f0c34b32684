// What the commands share: exit statuses, error output (chalk honours
// NO_COLOR/FORCE_COLOR and non-TTY output), where a live sandbox dumps its state.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Chalk } from 'chalk';

export const noColor = 'NO_COLOR' in process.env && process.env.NO_COLOR !== '';
export const errColor = new Chalk({ level: !noColor && process.stderr.isTTY ? 1 : 0 });

/** Exit status for failures of sysvisor itself (as env(1)/docker use 125). */
export const EXIT_SUPERVISOR = 125;
export const EXIT_USAGE = 2;

export function fail(message: string, status: number): never {
  process.stderr.write(`${errColor.red('sysvisor:')} ${message}\n`);
  process.exit(status);
}

/** Where a running sandbox without --dump-state writes its state on SIGUSR1. */
export function liveDumpPath(pid: number): string {
  return join(tmpdir(), `sysvisor-${pid}.json`);
}
