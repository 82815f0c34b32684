// `sysvisor run`: the program under the supervisor, its exit status passed on.
import { syscallName } from '../src/syscalls/table.js';
import { renderStall } from '../src/waits/render.js';
import { refusedExecsSummary } from '../supervisor/features/exec.js';
import { ControlServer } from '../supervisor/control-socket.js';
import { Sandbox, SandboxError, type RunResult, type StallReport } from '../supervisor/index.js';
import { closeSlot, openForWriting, removeSlot, type FileSlot } from '../supervisor/safe-file.js';
import type { TraceOptions } from '../supervisor/trace.js';
import { errColor, EXIT_SUPERVISOR, EXIT_USAGE, fail, noColor, paint } from './common.js';
import { readManifest } from './manifest.js';
import { renderStats } from './report.js';
import { liveDumpSlot, userSlot } from './slots.js';

export async function run(argv: {
  manifest?: string;
  trace: boolean;
  traceContinued: boolean;
  traceFile?: string;
  stats: boolean;
  dumpState?: string;
  command: string[];
}) {
  if (argv.command.length === 0) fail('nothing to run: give a command after --, e.g. `sysvisor run -- /bin/true`', EXIT_USAGE);
  const manifest = readManifest(argv.manifest);
  let trace: TraceOptions | undefined;
  if (argv.trace || argv.traceFile) {
    if (argv.traceFile) {
      const slot = userSlot('--trace-file', argv.traceFile);
      try {
        trace = { fd: openForWriting(slot), color: false, continued: argv.traceContinued };
      } catch (err) {
        fail(`--trace-file: ${(err as Error).message}`, EXIT_USAGE);
      } finally {
        closeSlot(slot);
      }
    } else {
      trace = { fd: 2, color: !noColor && (process.stderr.isTTY as boolean | undefined) === true, continued: argv.traceContinued }; // isTTY is undefined off a terminal
    }
  }
  const dumpSlot = argv.dumpState === undefined ? undefined : userSlot('--dump-state', argv.dumpState);
  const [cmd, ...args] = argv.command;
  const sandbox = new Sandbox();
  // Made now; a failure is told at SIGUSR1 (sent on purpose: the CLI asks the control socket).
  let liveSlot: FileSlot | Error;
  try {
    liveSlot = dumpSlot ?? liveDumpSlot(process.pid);
  } catch (err) {
    liveSlot = err as Error;
  }
  const onUsr1 = () => {
    if (liveSlot instanceof Error) process.stderr.write(`${errColor.red('sysvisor:')} no state dump: ${liveSlot.message}\n`);
    else
      sandbox
        .dumpState(liveSlot)
        .catch((err: unknown) =>
          process.stderr.write(`${errColor.red('sysvisor:')} ${err instanceof Error ? err.message : String(err)}\n`),
        );
  };
  process.on('SIGUSR1', onUsr1);
  // What `sysvisor ps` lists and `ps/ipcs/waits --pid` ask; without it the run goes on, unlisted.
  let control: ControlServer | null = null;
  try {
    control = await ControlServer.listen(sandbox, argv.command.join(' '));
  } catch (err) {
    process.stderr.write(
      `${errColor.yellow('sysvisor: warning:')} no control socket (\`sysvisor ps\` will not list this sandbox): ${(err as Error).message}\n`,
    );
  }
  let result: RunResult;
  try {
    // One sandbox, and a main thread that only forwards signals and dumps meanwhile: no second isolate for the loop.
    result = await sandbox.run(cmd, args, {
      manifest,
      trace,
      dumpState: dumpSlot,
      forwardSignals: true,
      subreaper: true,
      mainThreadLoop: true,
      warn: (message) => process.stderr.write(`${errColor.yellow('sysvisor: warning:')} ${message}\n`),
      onStall: reportStall,
    });
  } catch (err) {
    if (err instanceof SandboxError) fail(err.message, EXIT_SUPERVISOR);
    throw err;
  } finally {
    process.off('SIGUSR1', onUsr1);
    control?.close();
    if (!(liveSlot instanceof Error) && liveSlot !== dumpSlot) {
      // The live dump is for the user who sent SIGUSR1, while the run lasts.
      removeSlot(liveSlot);
      closeSlot(liveSlot);
    }
    if (dumpSlot !== undefined) closeSlot(dumpSlot);
  }
  if (result.launchError) fail(`cannot start ${cmd}: ${result.launchError}`, EXIT_SUPERVISOR);
  if (result.stalled) {
    process.stderr.write(
      `${errColor.red('sysvisor:')} the watchdog ended the sandbox after a ${result.stalled.stall.kind} of ` +
        `${result.stalled.stallMs} ms ([watchdog] action = "kill"): exit status ${result.status}\n`,
    );
  } else if (result.signal === 'SIGSYS') {
    process.stderr.write(
      `${errColor.red('sysvisor:')} ${cmd} was killed by SIGSYS: it made a syscall the policy forbids ` +
        `(a 32-bit int 0x80 or x32 syscall, or one listed under syscalls.kill)\n`,
    );
  } else if (result.signal) {
    process.stderr.write(`${errColor.yellow('sysvisor:')} ${cmd} was killed by ${result.signal}\n`);
  }
  const refused = refusedExecsSummary(result.state);
  if (refused) process.stderr.write(`${errColor.red('sysvisor:')} ${refused}\n`);
  if (argv.stats) process.stderr.write(renderStats(result, errColor, syscallName));
  process.exitCode = result.status;
}

/** The watchdog found a deadlock or stall: the graph on stderr, and where the state at that moment went. */
function reportStall(r: StallReport): void {
  process.stderr.write(`${errColor.red('sysvisor:')} ${renderStall(r.stall, r.graph, r.stallMs, paint(errColor))}`);
  if (r.file !== null)
    process.stderr.write(`${errColor.red('sysvisor:')} the state at the ${r.stall.kind} is in ${r.file} (\`sysvisor waits ${r.file}\`)\n`);
  if (r.fileError !== undefined)
    process.stderr.write(`${errColor.yellow('sysvisor: warning:')} could not write the state at the ${r.stall.kind}: ${r.fileError}\n`);
}
