// `sysvisor ipcs`, `ps` and `waits`: views of a state dump, or of a running sandbox asked for one.
import { readFileSync, type Stats } from 'node:fs';
import { isStateDump, renderIpcs, renderPs, type StateDump } from '../src/state-view.js';
import { buildWaitGraph } from '../src/waits/graph.js';
import { renderWaitsDot, renderWaitsText } from '../src/waits/render.js';
import { closeSlot, openSlot, readSlot, statAt, type FileSlot } from '../supervisor/safe-file.js';
import { EXIT_SUPERVISOR, EXIT_USAGE, fail, outColor, paint } from './common.js';
import { liveDumpSlot } from './slots.js';

export async function ipcs(file: string | undefined, pid: number | undefined): Promise<void> {
  process.stdout.write(renderIpcs(await readState(file, pid)));
}

export async function ps(file: string | undefined, pid: number | undefined): Promise<void> {
  process.stdout.write(renderPs(await readState(file, pid)));
}

/** `sysvisor waits`: the wait-for graph of a dump or of a running sandbox. */
export async function waits(file: string | undefined, pid: number | undefined, format: string): Promise<void> {
  const graph = buildWaitGraph(await readState(file, pid));
  if (format === 'json') process.stdout.write(JSON.stringify(graph, null, 2) + '\n');
  else if (format === 'dot') process.stdout.write(renderWaitsDot(graph));
  else process.stdout.write(renderWaitsText(graph, paint(outColor)));
}

/** Which file a name holds now: a dump replaces the file (a new inode), so a change of identity means a new dump. */
const identity = (st: Stats | null) => (st === null ? '' : `${st.dev}:${st.ino}`);

/** Read a state dump: from a file, or by asking a running sandbox (SIGUSR1) for a fresh one. */
async function readState(file: string | undefined, pid: number | undefined): Promise<StateDump> {
  if (pid === undefined) {
    if (file === undefined) fail('give a state file (from --dump-state) or --pid of a running `sysvisor run`', EXIT_USAGE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      fail(`cannot read state ${file}: ${(err as Error).message}`, EXIT_USAGE);
    }
    return parseState(file, text);
  }
  const notOurs = whyNotOurRun(pid);
  if (notOurs !== null) fail(`process ${pid} ${notOurs}: nothing was sent to it`, EXIT_USAGE);
  let slot: FileSlot;
  try {
    slot = file === undefined ? liveDumpSlot(pid, false) : openSlot(file);
  } catch (err) {
    fail(`no state of sysvisor process ${pid}: ${(err as Error).message}`, EXIT_SUPERVISOR);
  }
  try {
    const now = () => {
      try {
        return identity(statAt(slot));
      } catch {
        return '';
      }
    };
    const before = now();
    try {
      process.kill(pid, 'SIGUSR1');
    } catch (err) {
      fail(`cannot signal sysvisor process ${pid}: ${(err as Error).message}`, EXIT_USAGE);
    }
    for (let i = 0; i < 100 && [before, ''].includes(now()); i++) await new Promise((r) => setTimeout(r, 50));
    if ([before, ''].includes(now())) fail(`sysvisor process ${pid} wrote no state to ${slot.path} (is it a sysvisor run?)`, EXIT_SUPERVISOR);
    let text: string | null = null;
    try {
      text = readSlot(slot);
    } catch (err) {
      fail(`cannot read state: ${(err as Error).message}`, EXIT_SUPERVISOR);
    }
    if (text === null) fail(`sysvisor process ${pid} wrote no state to ${slot.path}`, EXIT_SUPERVISOR);
    return parseState(slot.path, text);
  } finally {
    closeSlot(slot);
  }
}

/**
 * Why `pid` is not a `sysvisor run` of this user, or null when it is. Only
 * such a process answers SIGUSR1 with a dump; to any other the signal is a
 * kill (its default action), so nothing else is ever sent one.
 */
function whyNotOurRun(pid: number): string | null {
  let argv: string[];
  let uid: number;
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1]);
  } catch {
    return 'does not exist';
  }
  const script = argv.findIndex((a) => /(^|\/)sysvisor(\.js)?$/.test(a));
  if (script < 0 || !argv.slice(script + 1).includes('run')) return `is not a \`sysvisor run\` (${argv[0] ?? '?'})`;
  if (uid !== process.getuid?.()) return `is a \`sysvisor run\` of another user (uid ${uid})`;
  return null;
}

function parseState(path: string, text: string): StateDump {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    fail(`cannot read state ${path}: ${(err as Error).message}`, EXIT_USAGE);
  }
  if (!isStateDump(parsed)) fail(`${path} is not a sysvisor state dump`, EXIT_USAGE);
  return parsed;
}
