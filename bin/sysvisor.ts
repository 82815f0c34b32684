#!/usr/bin/env node
// The sysvisor command line: thin over supervisor/. A command's code is
// imported only when that command runs: `--help` and `--version` load
// neither the supervisor nor koffi nor the manifest reader.
import { readFileSync } from 'node:fs';
import { parseCommandLine, pidOption, UsageError, type CommandLine } from './args.js';

/** The parsed command line, or why it cannot run. */
function commandLine(): CommandLine | UsageError {
  try {
    const line = parseCommandLine(process.argv.slice(2));
    if (line.kind === 'command') pidOption(line.values.pid);
    return line;
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
}

async function usageError(message: string): Promise<void> {
  const { EXIT_USAGE, fail } = await import('./common.js');
  fail(`${message}\nrun \`sysvisor --help\` for usage`, EXIT_USAGE);
}

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

const line = commandLine();
if (line instanceof UsageError) {
  await usageError(line.message);
} else if (line.kind === 'help') {
  process.stdout.write(line.text);
} else if (line.kind === 'version') {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  process.stdout.write(`${pkg.version}\n`);
} else if (line.name === 'run') {
  const { run } = await import('./run.js');
  const v = line.values;
  await run({
    manifest: str(v.manifest),
    trace: v.trace !== undefined,
    traceContinued: v.trace === 'all',
    traceFile: str(v['trace-file']),
    stats: v.stats === true,
    dumpState: str(v['dump-state']),
    command: line.positionals,
  });
} else if (line.name === 'learn') {
  (await import('../supervisor/loop-thread.js')).LoopThread.warmUp();
  const { learn } = await import('./learn.js');
  const v = line.values;
  await learn({ manifest: str(v.manifest), output: str(v.output) ?? '', merge: v.merge === true, command: line.positionals });
} else if (line.name === 'manifest check') {
  const { check } = await import('./manifest.js');
  check({ file: line.positionals[0], bpf: line.values.bpf === true });
} else if (line.name === 'waits') {
  const { waits } = await import('./state.js');
  await waits(line.positionals[0], pidOption(line.values.pid), str(line.values.format) ?? 'text');
} else {
  const { ipcs, ps } = await import('./state.js');
  await (line.name === 'ipcs' ? ipcs : ps)(line.positionals[0], pidOption(line.values.pid));
}
