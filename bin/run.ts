// `sysvisor run`: the program under the supervisor, its exit status passed on.
import { openSync } from 'node:fs';
import { syscallName } from '../src/syscalls/table.js';
import { refusedExecsSummary } from '../supervisor/handlers/exec.js';
import { Sandbox, SandboxError, type RunResult } from '../supervisor/index.js';
import { errColor, EXIT_SUPERVISOR, EXIT_USAGE, fail, liveDumpPath, noColor } from './common.js';
import { readManifest } from './manifest.js';
import { renderStats } from './report.js';

export async function run(argv: { manifest?: string; trace: boolean; traceFile?: string; stats: boolean; dumpState?: string; command: string[] }) {
  if (argv.command.length === 0) fail('nothing to run: give a command after --, e.g. `sysvisor run -- /bin/true`', EXIT_USAGE);
  const manifest = readManifest(argv.manifest);
  let trace: { fd: number; color: boolean } | undefined;
  if (argv.trace || argv.traceFile) {
    if (argv.traceFile) {
      try {
        trace = { fd: openSync(argv.traceFile, 'w'), color: false };
      } catch (err) {
        fail(`cannot open trace file ${argv.traceFile}: ${(err as Error).message}`, EXIT_USAGE);
      }
    } else {
      trace = { fd: 2, color: !noColor && process.stderr.isTTY === true };
    }
  }
  const [cmd, ...args] = argv.command;
  const sandbox = new Sandbox();
  const dumpFile = argv.dumpState ?? liveDumpPath(process.pid);
  const onUsr1 = () => {
    sandbox.dumpState(dumpFile).catch((err: Error) => process.stderr.write(`${errColor.red('sysvisor:')} ${err.message}\n`));
  };
  process.on('SIGUSR1', onUsr1);
  let result: RunResult;
  try {
    result = await sandbox.run(cmd, args, { manifest, trace, dumpState: argv.dumpState, forwardSignals: true, subreaper: true,
      warn: (message) => process.stderr.write(`${errColor.yellow('sysvisor: warning:')} ${message}\n`) });
  } catch (err) {
    if (err instanceof SandboxError) fail(err.message, EXIT_SUPERVISOR);
    throw err;
  } finally {
    process.off('SIGUSR1', onUsr1);
  }
  if (result.launchError) fail(`cannot start ${cmd}: ${result.launchError}`, EXIT_SUPERVISOR);
  if (result.signal === 'SIGSYS') {
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
