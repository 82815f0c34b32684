// LTP, the external referee: every semaphore (and, once emulated, lock) test
// binary from $LTPROOT/bin (default /opt/ltp) runs natively and under
// `sysvisor run -m policies/ltp.toml`; the native run must pass, and the
// sandboxed one must end the same way. As root the native run gets a fresh
// IPC namespace of its own, as the sandbox does: semget05 fills the
// namespace to SEMMNI, which a busy host's sets would disturb. LTP is built
// by hand outside the repository (see docs/LTP.md); without it the tests
// are skipped, loudly.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadManifest } from '../supervisor/index.js';
import { CLI, exec, ROOT } from './helpers.js';

const LTPROOT = process.env.LTPROOT ?? '/opt/ltp';
const BIN = join(LTPROOT, 'bin');
const MANIFEST = `${ROOT}policies/ltp.toml`;

const SEM_TESTS = [
  'semctl01',
  'semctl02',
  'semctl03',
  'semctl04',
  'semctl05',
  'semctl06',
  'semctl07',
  'semctl08',
  'semctl09',
  'semget01',
  'semget02',
  'semget05',
  'semop01',
  'semop02',
  'semop03',
  'semop04',
  'semop05',
];
const LOCK_TESTS = [
  'fcntl11',
  'fcntl11_64',
  'fcntl14',
  'fcntl14_64',
  'fcntl16',
  'fcntl16_64',
  'fcntl17',
  'fcntl17_64',
  'fcntl34',
  'fcntl34_64',
  'fcntl36',
  'fcntl36_64',
  'flock01',
  'flock02',
  'flock03',
  'flock04',
  'flock06',
  'flock07',
];
/** LTP exit status bits: TFAIL 1, TBROK 2, TWARN 4, TCONF 32 (TCONF alone counts as a pass). */
const passed = (status: number | null) => status === 0 || status === 32;
/** Can the native runs have an IPC namespace of their own (root)? */
const UNSHARE = spawnSync('unshare', ['--ipc', 'true']).status === 0;

async function runOne(name: string, sandboxed: boolean) {
  const cwd = mkdtempSync(join(tmpdir(), `ltp-${name}-`));
  const env = { ...process.env, LTPROOT, TMPDIR: tmpdir(), PATH: `${BIN}:${process.env.PATH}`, LTP_TIMEOUT_MUL: '3' };
  try {
    const bin = join(BIN, name);
    return sandboxed
      ? await exec(process.execPath, [CLI, 'run', '-m', MANIFEST, '--', bin], { cwd, env, timeoutMs: 300_000 })
      : await exec(UNSHARE ? 'unshare' : bin, UNSHARE ? ['--ipc', '--', bin] : [], { cwd, env, timeoutMs: 300_000 });
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

function group(title: string, tests: string[], enabled: boolean, why: string) {
  t.test(title, { skip: enabled ? false : why, timeout: 600_000 }, async (t) => {
    let ok = 0;
    for (const name of tests) {
      if (!existsSync(join(BIN, name))) {
        t.fail(`${name}: missing from ${BIN} (LTP is only partly built)`);
        continue;
      }
      const [native, sandboxed] = await Promise.all([runOne(name, false), runOne(name, true)]);
      // Without a native pass there is nothing to hold the sandboxed run to.
      if (
        !t.ok(passed(native.status), `${name}: passes natively (exit ${native.status})`, {
          diagnostic: !passed(native.status),
          native: native.stdout.slice(-3000) + native.stderr.slice(-2000),
        })
      )
        continue;
      if (sandboxed.status === native.status) ok++;
      t.equal(
        sandboxed.status,
        native.status,
        `${name}: passes under sysvisor as natively (exit ${sandboxed.status}, native ${native.status})`,
        {
          diagnostic: sandboxed.status !== native.status,
          sandboxed: sandboxed.stdout.slice(-3000) + sandboxed.stderr.slice(-2000),
        },
      );
    }
    t.comment(
      `${title}: ${ok}/${tests.length} pass under sysvisor as natively${UNSHARE ? '' : ' (native runs in the host IPC namespace: not root)'}`,
    );
  });
}

const present = existsSync(BIN);
if (!present) {
  process.stderr.write(
    `\n*** LTP NOT FOUND: ${BIN} does not exist; the LTP tests are SKIPPED. ***\n` +
      '*** Build LTP by hand as docs/LTP.md says and set LTPROOT to run them. ***\n\n',
  );
}
const manifest = loadManifest(MANIFEST);
const emulates = (names: string[]) => names.every((n) => manifest.syscalls.emulate.includes(n));
group('LTP semaphores (semctl, semget, semop)', SEM_TESTS, present, `LTP not found in ${BIN}`);
group(
  'LTP file locks (fcntl, flock)',
  LOCK_TESTS,
  present && emulates(['fcntl', 'flock']),
  present ? 'policies/ltp.toml does not emulate fcntl and flock' : `LTP not found in ${BIN}`,
);
