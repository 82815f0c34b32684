#!/usr/bin/env node
// The sysvisor command line: thin over supervisor/ (yargs for parsing,
// chalk for colour; chalk honours NO_COLOR/FORCE_COLOR and non-TTY output).
import { readFileSync, type Stats } from 'node:fs';
import { Chalk } from 'chalk';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { syscallName } from '../src/syscalls/table.js';
import {
  builtinManifest, loadManifest, ManifestError, Sandbox, SandboxError, sandboxFilter, type Manifest, type RunResult, type StallReport,
} from '../supervisor/index.js';
import { learnCommand } from './learn.js';
import { renderStats } from './report.js';
import { refusedExecsSummary } from '../supervisor/handlers/exec.js';
import { describeManifest, manifestWarnings } from '../src/manifest/index.js';
import { disassemble } from '../src/bpf/interp.js';
import { isStateDump, renderIpcs, renderPs, type StateDump } from '../src/state-view.js';
import {
  closeSlot, openForWriting, openRunDirectory, openSlot, readSlot, removeSlot, runDirectoryPath, statAt, type FileSlot,
} from '../supervisor/safe-file.js';
import { buildWaitGraph } from '../src/waits/graph.js';
import { type Paint, renderStall, renderWaitsDot, renderWaitsText } from '../src/waits/render.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const noColor = 'NO_COLOR' in process.env && process.env.NO_COLOR !== '';
const errColor = new Chalk({ level: !noColor && process.stderr.isTTY ? 1 : 0 });
const outColor = new Chalk({ level: !noColor && process.stdout.isTTY ? 1 : 0 });
const paint = (c: typeof errColor): Paint => ({ alarm: (s) => c.red.bold(s), warn: (s) => c.yellow(s), dim: (s) => c.dim(s) });

/** Exit status for failures of sysvisor itself (as env(1)/docker use 125). */
const EXIT_SUPERVISOR = 125;
const EXIT_USAGE = 2;

function fail(message: string, status: number): never {
  process.stderr.write(`${errColor.red('sysvisor:')} ${message}\n`);
  process.exit(status);
}

function readManifest(file: string | undefined): Manifest {
  try {
    return file === undefined ? builtinManifest() : loadManifest(file);
  } catch (err) {
    if (err instanceof ManifestError) fail(err.message, EXIT_USAGE);
    const e = err as NodeJS.ErrnoException;
    if (e.code) fail(`cannot read manifest ${file}: ${e.message}`, EXIT_USAGE);
    throw err;
  }
}

async function run(argv: { manifest?: string; trace: boolean; traceFile?: string; stats: boolean; dumpState?: string; command: string[] }) {
  if (argv.command.length === 0) fail('nothing to run: give a command after --, e.g. `sysvisor run -- /bin/true`', EXIT_USAGE);
  const manifest = readManifest(argv.manifest);
  let trace: { fd: number; color: boolean } | undefined;
  if (argv.trace || argv.traceFile) {
    if (argv.traceFile) {
      const slot = userSlot('--trace-file', argv.traceFile);
      try {
        trace = { fd: openForWriting(slot), color: false };
      } catch (err) {
        fail(`--trace-file: ${(err as Error).message}`, EXIT_USAGE);
      } finally {
        closeSlot(slot);
      }
    } else {
      trace = { fd: 2, color: !noColor && process.stderr.isTTY === true };
    }
  }
  const dumpSlot = argv.dumpState === undefined ? undefined : userSlot('--dump-state', argv.dumpState);
  const [cmd, ...args] = argv.command;
  const sandbox = new Sandbox();
  // Made now, so that `ps/ipcs --pid` finds the directory before its first SIGUSR1; a failure is told at SIGUSR1.
  let liveSlot: FileSlot | Error;
  try {
    liveSlot = dumpSlot ?? liveDumpSlot(process.pid, true);
  } catch (err) {
    liveSlot = err as Error;
  }
  const onUsr1 = () => {
    if (liveSlot instanceof Error) process.stderr.write(`${errColor.red('sysvisor:')} no state dump: ${liveSlot.message}\n`);
    else sandbox.dumpState(liveSlot).catch((err: Error) => process.stderr.write(`${errColor.red('sysvisor:')} ${err.message}\n`));
  };
  process.on('SIGUSR1', onUsr1);
  let result: RunResult;
  try {
    result = await sandbox.run(cmd, args, { manifest, trace, dumpState: dumpSlot, forwardSignals: true, subreaper: true,
      warn: (message) => process.stderr.write(`${errColor.yellow('sysvisor: warning:')} ${message}\n`), onStall: reportStall });
  } catch (err) {
    if (err instanceof SandboxError) fail(err.message, EXIT_SUPERVISOR);
    throw err;
  } finally {
    process.off('SIGUSR1', onUsr1);
    if (!(liveSlot instanceof Error) && liveSlot !== dumpSlot) {
      // The live dump is for `ps/ipcs --pid` while the run lasts.
      removeSlot(liveSlot);
      closeSlot(liveSlot);
    }
    if (dumpSlot !== undefined) closeSlot(dumpSlot);
  }
  if (result.launchError) fail(`cannot start ${cmd}: ${result.launchError}`, EXIT_SUPERVISOR);
  if (result.stalled) {
    process.stderr.write(`${errColor.red('sysvisor:')} the watchdog ended the sandbox after a ${result.stalled.stall.kind} of `
      + `${result.stalled.stallMs} ms ([watchdog] action = "kill"): exit status ${result.status}\n`);
  } else if (result.signal === 'SIGSYS') {
    process.stderr.write(`${errColor.red('sysvisor:')} ${cmd} was killed by SIGSYS: it made a syscall the policy forbids `
      + `(a 32-bit int 0x80 or x32 syscall, or one listed under syscalls.kill)\n`);
  } else if (result.signal) {
    process.stderr.write(`${errColor.yellow('sysvisor:')} ${cmd} was killed by ${result.signal}\n`);
  }
  const refused = refusedExecsSummary(result.state);
  if (refused) process.stderr.write(`${errColor.red('sysvisor:')} ${refused}\n`);
  if (argv.stats) process.stderr.write(renderStats(result, errColor, syscallName));
  process.exitCode = result.status;
}

/** A path the user gave for sysvisor to write: its directory opened once, a link or a non-regular file refused. */
function userSlot(option: string, path: string): FileSlot {
  try {
    return openSlot(path);
  } catch (err) {
    fail(`${option}: ${(err as Error).message}`, EXIT_USAGE);
  }
}

/** The watchdog found a deadlock or stall: the graph on stderr, and where the state at that moment went. */
function reportStall(r: StallReport): void {
  process.stderr.write(`${errColor.red('sysvisor:')} ${renderStall(r.stall, r.graph, r.stallMs, paint(errColor))}`);
  if (r.file !== null) process.stderr.write(`${errColor.red('sysvisor:')} the state at the ${r.stall.kind} is in ${r.file} (\`sysvisor waits ${r.file}\`)\n`);
  if (r.fileError !== undefined) process.stderr.write(`${errColor.yellow('sysvisor: warning:')} could not write the state at the ${r.stall.kind}: ${r.fileError}\n`);
}

/** `sysvisor waits`: the wait-for graph of a dump or of a running sandbox. */
function waits(state: StateDump, format: string): string {
  const graph = buildWaitGraph(state);
  if (format === 'json') return JSON.stringify(graph, null, 2) + '\n';
  if (format === 'dot') return renderWaitsDot(graph);
  return renderWaitsText(graph, paint(outColor));
}

/**
 * Where a running sandbox without --dump-state writes its state on SIGUSR1:
 * sysvisor-PID.json in the private run directory (made by the run, only
 * opened by `ps/ipcs --pid`).
 */
function liveDumpSlot(pid: number, create: boolean): FileSlot {
  const dir = runDirectoryPath();
  const name = `sysvisor-${pid}.json`;
  return { dirFd: openRunDirectory(dir, create), name, path: `${dir}/${name}` };
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

function check(argv: { file: string; bpf: boolean }) {
  const manifest = readManifest(argv.file);
  process.stdout.write(`${argv.file}: ok\n${describeManifest(manifest)}\n`);
  for (const w of manifestWarnings(manifest)) process.stderr.write(`${errColor.yellow('sysvisor: warning:')} ${argv.file}: ${w}\n`);
  if (argv.bpf) process.stdout.write(disassemble(sandboxFilter(manifest)) + '\n');
}

await yargs(hideBin(process.argv))
  .scriptName('sysvisor')
  .usage('$0 <command>\n\nRun unmodified Linux programs with System V semaphores, file locks and the process lifecycle emulated by a seccomp supervisor.')
  .command('run [command..]', 'run a program under the supervisor', (y) => y
    .usage('$0 run [-m manifest.toml] [--trace] [--stats] -- program [args...]')
    .option('manifest', { alias: 'm', type: 'string', describe: 'policy manifest (TOML); default: built-in, same as policies/default.toml' })
    .option('trace', { type: 'boolean', default: false, describe: 'print every notified syscall with decoded arguments and result to stderr' })
    .option('trace-file', { type: 'string', describe: 'write the trace to this file instead of stderr' })
    .option('stats', { type: 'boolean', default: false, describe: 'print counts and p50/p99 service latency per syscall at exit' })
    .option('dump-state', { type: 'string', describe: 'write the supervisor state as JSON to this file at exit and on SIGUSR1 (default for SIGUSR1: sysvisor-PID.json in $XDG_RUNTIME_DIR/sysvisor, /run/sysvisor for root, else $TMPDIR/sysvisor-UID)' })
    .positional('command', { type: 'string', array: true, describe: 'program and arguments (after --)' })
    .parserConfiguration({ 'populate--': true, 'unknown-options-as-args': false }),
  async (argv) => {
    const command = [...((argv.command as string[] | undefined) ?? []), ...((argv['--'] as string[] | undefined) ?? [])].map(String);
    await run({ manifest: argv.manifest, trace: argv.trace, traceFile: argv.traceFile, stats: argv.stats, dumpState: argv.dumpState, command });
  })
  .command(learnCommand)
  .command('manifest check <file>', 'validate a manifest and summarise it', (y) => y
    .positional('file', { type: 'string', demandOption: true })
    .option('bpf', { type: 'boolean', default: false, describe: 'also print the seccomp program' }),
  (argv) => check({ file: argv.file as string, bpf: argv.bpf }))
  .command('ipcs [file]', 'show the semaphores of a running sandbox (--pid) or of a state dump', (y) => y
    .positional('file', { type: 'string', describe: 'state dump written by --dump-state' })
    .option('pid', { type: 'number', describe: 'pid of a running `sysvisor run` (it dumps its state on SIGUSR1)' }),
  async (argv) => { process.stdout.write(renderIpcs(await readState(argv.file, argv.pid))); })
  .command('ps [file]', 'show the process tree of a running sandbox (--pid) or of a state dump, with what each holds', (y) => y
    .positional('file', { type: 'string', describe: 'state dump written by --dump-state' })
    .option('pid', { type: 'number', describe: 'pid of a running `sysvisor run`' }),
  async (argv) => { process.stdout.write(renderPs(await readState(argv.file, argv.pid))); })
  .command('waits [file]', 'show who waits for whom in a running sandbox (--pid) or a state dump: blocked calls, cycles, deadlock', (y) => y
    .positional('file', { type: 'string', describe: 'state dump written by --dump-state (or by the watchdog at a stall)' })
    .option('pid', { type: 'number', describe: 'pid of a running `sysvisor run`' })
    .option('format', { choices: ['text', 'json', 'dot'] as const, default: 'text' as const, describe: 'text for a terminal, JSON (docs/WAITS.md), DOT for Graphviz' }),
  async (argv) => { process.stdout.write(waits(await readState(argv.file, argv.pid), argv.format)); })
  .demandCommand(1, 'give a command: run, learn, manifest check, ipcs, ps, waits')
  .strict()
  .version(pkg.version)
  .help()
  .fail((msg, err) => {
    if (err) throw err;
    fail(`${msg}\nrun \`sysvisor --help\` for usage`, EXIT_USAGE);
  })
  .parseAsync();
