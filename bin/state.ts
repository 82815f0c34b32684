// `sysvisor ipcs` and `sysvisor ps`: views of a state dump, or of a running sandbox asked for one.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isStateDump, renderIpcs, renderPs, type StateDump } from '../src/state-view.js';
import { EXIT_SUPERVISOR, EXIT_USAGE, fail, liveDumpPath } from './common.js';

export async function ipcs(file: string | undefined, pid: number | undefined): Promise<void> {
  process.stdout.write(renderIpcs(await readState(file, pid)));
}

export async function ps(file: string | undefined, pid: number | undefined): Promise<void> {
  process.stdout.write(renderPs(await readState(file, pid)));
}

/** Read a state dump: from a file, or by asking a running sandbox (SIGUSR1) for a fresh one. */
async function readState(file: string | undefined, pid: number | undefined): Promise<StateDump> {
  let path = file;
  if (pid !== undefined) {
    path ??= liveDumpPath(pid);
    const before = existsSync(path) ? statSync(path).mtimeMs : 0;
    try {
      process.kill(pid, 'SIGUSR1');
    } catch (err) {
      fail(`cannot signal sysvisor process ${pid}: ${(err as Error).message}`, EXIT_USAGE);
    }
    for (let i = 0; i < 100 && (!existsSync(path) || statSync(path).mtimeMs === before); i++) await new Promise((r) => setTimeout(r, 50));
    if (!existsSync(path) || statSync(path).mtimeMs === before) fail(`sysvisor process ${pid} wrote no state to ${path} (is it a sysvisor run?)`, EXIT_SUPERVISOR);
  }
  if (path === undefined) fail('give a state file (from --dump-state) or --pid of a running `sysvisor run`', EXIT_USAGE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`cannot read state ${path}: ${(err as Error).message}`, EXIT_USAGE);
  }
  if (!isStateDump(parsed)) fail(`${path} is not a sysvisor state dump`, EXIT_USAGE);
  return parsed;
}
