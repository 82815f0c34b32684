// `sysvisor learn`: run a program with observation on and write the
// least-privilege manifest for that run (src/manifest/learn.ts decides it).
import { closeSync, existsSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EXIT_SUPERVISOR, EXIT_USAGE, fail } from './common.js';

interface LearnArgs {
  manifest?: string;
  output: string;
  merge: boolean;
  command: string[];
}

export async function learn(argv: LearnArgs): Promise<void> {
  const { builtinManifest, loadManifest, manifestFromText, ManifestError, Sandbox, SandboxError } = await import('../supervisor/index.js');
  const { learnPolicy, renderLearned } = await import('../src/manifest/learn.js');
  if (argv.command.length === 0)
    fail('nothing to learn from: give a command after --, e.g. `sysvisor learn -o out.toml -- /bin/true`', EXIT_USAGE);
  const load = (file: string, what: string) => {
    try {
      return loadManifest(file);
    } catch (err) {
      if (err instanceof ManifestError) fail(`${what}: ${err.message}`, EXIT_USAGE);
      fail(`cannot read ${what} ${file}: ${(err as Error).message}`, EXIT_USAGE);
    }
  };
  const base = argv.manifest === undefined ? builtinManifest() : load(argv.manifest, 'base manifest');
  const previous = argv.merge && existsSync(argv.output) ? load(argv.output, '--merge') : null;
  const [cmd, ...args] = argv.command;
  let result: Awaited<ReturnType<typeof Sandbox.run>>;
  try {
    result = await Sandbox.run(cmd, args, {
      manifest: base,
      learn: true,
      forwardSignals: true,
      subreaper: true,
      warn: (message) => process.stderr.write(`sysvisor: warning: ${message}\n`),
    });
  } catch (err) {
    if (err instanceof SandboxError) fail(err.message, EXIT_SUPERVISOR);
    throw err;
  }
  if (result.launchError) fail(`cannot start ${cmd}: ${result.launchError}`, EXIT_SUPERVISOR);
  if (result.learned === undefined) fail('the learning run recorded nothing (the supervisor loop ended early)', EXIT_SUPERVISOR);
  if (result.learned.execs.length === 0) fail(`${cmd} was never executed: nothing to learn (is it on PATH?)`, EXIT_SUPERVISOR);
  const policy = learnPolicy(result.learned, base, previous);
  const text = renderLearned(policy, result.learned, base, {
    command: argv.command,
    status: result.status,
    mergedWith: previous === null ? null : basename(argv.output),
  });
  try {
    manifestFromText(text, argv.output); // what `manifest check` will say of it
  } catch (err) {
    fail(`internal error: the learned manifest does not validate: ${(err as Error).message}`, EXIT_SUPERVISOR);
  }
  writeReplacing(argv.output, text);
  const l = result.learned;
  process.stderr.write(
    `sysvisor: learned ${l.files.length} files, ${l.execs.length} executables, ${l.sem.sets} semaphore sets, ` +
      `${l.processes} processes at once${previous === null ? '' : ', merged'}: wrote ${argv.output}\n`,
  );
  process.exitCode = result.status;
}

/**
 * Write `file` through a new file beside it renamed over it: the program just
 * run could have planted a symlink at that name, and rename replaces the
 * link itself (O_EXCL never follows one).
 */
function writeReplacing(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    if (existsSync(tmp)) unlinkSync(tmp);
    fail(`cannot write ${file}: ${(err as Error).message}`, EXIT_SUPERVISOR);
  }
}
