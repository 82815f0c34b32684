// `sysvisor ipcs`, `ps` and `waits`: views of a state dump, or of a running
// sandbox asked through its control socket (supervisor/control-socket.ts);
// `sysvisor ps` alone lists the running sandboxes.
import { readFileSync } from 'node:fs';
import {
  askSandbox,
  listedPids,
  openControlDirectory,
  removeStale,
  socketName,
  type ControlSummary,
} from '../supervisor/control-socket.js';
import { close } from '../supervisor/ffi.js';
import { runDirectoryPath } from '../supervisor/safe-file.js';
import { isStateDump, renderIpcs, renderPs, type StateDump } from '../src/state-view.js';
import { buildWaitGraph } from '../src/waits/graph.js';
import { renderWaitsDot, renderWaitsText } from '../src/waits/render.js';
import { EXIT_SUPERVISOR, EXIT_USAGE, fail, outColor, paint } from './common.js';

export async function ipcs(file: string | undefined, pid: number | undefined): Promise<void> {
  process.stdout.write(renderIpcs(await readState(file, pid)));
}

export async function ps(file: string | undefined, pid: number | undefined): Promise<void> {
  if (file === undefined && pid === undefined) process.stdout.write(await listSandboxes());
  else process.stdout.write(renderPs(await readState(file, pid)));
}

/** `sysvisor waits`: the wait-for graph of a dump or of a running sandbox. */
export async function waits(file: string | undefined, pid: number | undefined, format: string): Promise<void> {
  const graph = buildWaitGraph(await readState(file, pid));
  if (format === 'json') process.stdout.write(JSON.stringify(graph, null, 2) + '\n');
  else if (format === 'dot') process.stdout.write(renderWaitsDot(graph));
  else process.stdout.write(renderWaitsText(graph, paint(outColor)));
}

/** Read a state dump: from a file, or from a running sandbox's control socket. */
async function readState(file: string | undefined, pid: number | undefined): Promise<StateDump> {
  if (file !== undefined && pid !== undefined) fail('give a state file or --pid, not both', EXIT_USAGE);
  if (pid !== undefined) return parseState(`the state of sysvisor process ${pid}`, await askState(pid));
  if (file === undefined)
    fail('give a state file (from --dump-state) or --pid of a running `sysvisor run` (`sysvisor ps` lists them)', EXIT_USAGE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    fail(`cannot read state ${file}: ${(err as Error).message}`, EXIT_USAGE);
  }
  return parseState(`state ${file}`, text);
}

/** The state of sandbox `pid`, asked through its socket; anything else with that pid is not touched. */
async function askState(pid: number): Promise<string> {
  const dir = runDirectoryPath();
  const dirFd = controlDirectory(dir);
  const notOurs = `${describeProcess(pid)} is not a sysvisor sandbox of this user (no control socket ${dir}/${socketName(pid)}): nothing was sent to it`;
  if (dirFd === null) fail(notOurs, EXIT_USAGE);
  try {
    const answer = await askSandbox(dirFd, pid, 'state');
    if (answer.kind === 'absent') fail(notOurs, EXIT_USAGE);
    if (answer.kind === 'refused')
      fail(`${describeProcess(pid)} does not answer on ${dir}/${socketName(pid)} (a sandbox that has ended?)`, EXIT_SUPERVISOR);
    if (answer.kind === 'error') fail(`sysvisor process ${pid}: ${answer.message}`, EXIT_SUPERVISOR);
    return answer.body.toString('utf8');
  } finally {
    close(dirFd);
  }
}

/** `sysvisor ps`: one line per running sandbox of this user; sockets left by dead supervisors are removed. */
async function listSandboxes(): Promise<string> {
  const dirFd = controlDirectory(runDirectoryPath());
  if (dirFd === null) return 'no running sandboxes\n';
  const rows: ControlSummary[] = [];
  try {
    for (const pid of listedPids(dirFd)) {
      const answer = await askSandbox(dirFd, pid, 'summary');
      if (answer.kind === 'refused') removeStale(dirFd, pid);
      if (answer.kind !== 'ok') continue;
      try {
        rows.push(JSON.parse(answer.body.toString('utf8')) as ControlSummary);
      } catch {
        // a sandbox that ended while answering: not running
      }
    }
  } finally {
    close(dirFd);
  }
  if (rows.length === 0) return 'no running sandboxes\n';
  const now = Date.now();
  const table = [
    ['PID', 'UPTIME', 'PROCESSES', 'PROGRAM'],
    ...rows.map((r) => [String(r.pid), uptime(now - r.started), String(r.processes), r.program]),
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => (i < 3 ? cell.padStart(widths[i]!) : cell)).join('  ')).join('\n') + '\n';
}

function controlDirectory(dir: string): number | null {
  try {
    return openControlDirectory(dir);
  } catch (err) {
    fail((err as Error).message, EXIT_SUPERVISOR);
  }
}

/** "process N (comm)", or that it does not exist. */
function describeProcess(pid: number): string {
  try {
    return `process ${pid} (${readFileSync(`/proc/${pid}/comm`, 'latin1').trim()})`;
  } catch {
    return `process ${pid} (none: no such process)`;
  }
}

/** Elapsed time as ps(1) shows it: [[D-]HH:]MM:SS. */
function uptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, '0');
  const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  return `${d > 0 ? `${d}-` : ''}${d > 0 || h > 0 ? `${two(h)}:` : ''}${two(m)}:${two(s % 60)}`;
}

function parseState(what: string, text: string): StateDump {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    fail(`cannot read ${what}: ${(err as Error).message}`, EXIT_USAGE);
  }
  if (!isStateDump(parsed)) fail(`${what} is not a sysvisor state dump`, EXIT_USAGE);
  return parsed;
}
