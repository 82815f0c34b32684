// `sysvisor manifest check`, and the manifest reading `run` shares with it.
import { disassemble } from '../src/bpf/interp.js';
import { describeManifest, manifestWarnings } from '../src/manifest/index.js';
import { builtinManifest, loadManifest, ManifestError, sandboxFilter, type Manifest } from '../supervisor/index.js';
import { errColor, EXIT_USAGE, fail } from './common.js';

export function readManifest(file: string | undefined): Manifest {
  try {
    return file === undefined ? builtinManifest() : loadManifest(file);
  } catch (err) {
    if (err instanceof ManifestError) fail(err.message, EXIT_USAGE);
    const e = err as NodeJS.ErrnoException;
    if (e.code) fail(`cannot read manifest ${file}: ${e.message}`, EXIT_USAGE);
    throw err;
  }
}

export function check(argv: { file: string; bpf: boolean }) {
  const manifest = readManifest(argv.file);
  process.stdout.write(`${argv.file}: ok\n${describeManifest(manifest)}\n`);
  for (const w of manifestWarnings(manifest)) process.stderr.write(`${errColor.yellow('sysvisor: warning:')} ${argv.file}: ${w}\n`);
  if (argv.bpf) process.stdout.write(disassemble(sandboxFilter(manifest)) + '\n');
}
