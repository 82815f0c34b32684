// What the commands share: exit statuses, error output (chalk honours
// NO_COLOR/FORCE_COLOR and non-TTY output), the colours of the wait graph.
import { Chalk } from 'chalk';
import type { Paint } from '../src/waits/render.js';

export const noColor = 'NO_COLOR' in process.env && process.env.NO_COLOR !== '';
export const errColor = new Chalk({ level: !noColor && process.stderr.isTTY ? 1 : 0 });
export const outColor = new Chalk({ level: !noColor && process.stdout.isTTY ? 1 : 0 });
export const paint = (c: typeof errColor): Paint => ({ alarm: (s) => c.red.bold(s), warn: (s) => c.yellow(s), dim: (s) => c.dim(s) });

/** Exit status for failures of sysvisor itself (as env(1)/docker use 125). */
export const EXIT_SUPERVISOR = 125;
export const EXIT_USAGE = 2;

export function fail(message: string, status: number): never {
  process.stderr.write(`${errColor.red('sysvisor:')} ${message}\n`);
  process.exit(status);
}
