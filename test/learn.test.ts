// `sysvisor learn`: a C program and a shell pipeline are learned, rerun under
// the learned manifest (same output, same status), then varied and refused
// (another file read: EACCES from Landlock; another program executed: EACCES;
// more semaphore sets than learned: ENOSPC, as Linux at SEMMNI); --merge of
// two runs; `manifest check` accepts what learn writes; bad input is a
// clear error.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { C_BIN, sysvisor } from './helpers.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'sysvisor-learn-')));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, 'data');
const work = join(dir, 'work');
mkdirSync(data);
mkdirSync(work);
const A = join(data, 'a.txt');
const B = join(data, 'b.txt');
writeFileSync(A, 'alpha\n');
writeFileSync(B, 'beta\n');
const PROG = `${C_BIN}learn_prog`;
const env = { ...process.env, NO_COLOR: '1' };

const learn = (out: string, command: string[], extra: string[] = []) =>
  sysvisor(['learn', '-o', out, ...extra, '--', ...command], { env, cwd: work });
const runUnder = (manifest: string, command: string[]) => sysvisor(['run', '-m', manifest, '--', ...command], { env, cwd: work });

t.test('a C program: learned, rerun identically, deviations refused', async (t) => {
  const out = join(dir, 'prog.toml');
  const learned = await learn(out, [PROG, '3', A, '/usr/bin/true']);
  t.equal(learned.status, 0, learned.stderr);
  t.match(learned.stderr, /sysvisor: learned \d+ files, 3 executables, 3 semaphore sets/);
  const text = readFileSync(out, 'utf8');
  t.match(text, /^emulate = \["semget", "semtimedop", "semctl", "fcntl"\]$/m, 'only the emulated calls used (and fcntl)');
  t.match(text, /^semmni = 4$/m, '3 sets seen, a quarter more');
  t.match(text, /^semmsl = 3$/m);
  t.match(text, /^only_trusted = true$/m);
  t.match(text, new RegExp(`^"${PROG}" = "sha256:[0-9a-f]{64}"$`, 'm'), 'the program is pinned');
  t.match(text, /# interpreter$/m, 'and its ELF interpreter');
  t.match(text, new RegExp(`Files locked: ${A}\\.`), 'the lock file is named');

  const check = await sysvisor(['manifest', 'check', out], { env });
  t.equal(check.status, 0, check.stderr);
  t.match(check.stdout, /nothing else may be executed/);

  const again = await runUnder(out, [PROG, '3', A, '/usr/bin/true']);
  t.equal(again.status, 0, again.stderr);
  t.equal(again.stdout, learned.stdout, 'the same run passes with the same output');
  t.equal(
    again.stdout,
    'file says: alpha\nread lock: 0\nsemget 1: ok, semop: 0\nsemget 2: ok, semop: 0\nsemget 3: ok, semop: 0\nexec: ran, exit status 0\n',
  );

  const otherFile = await runUnder(out, [PROG, '3', B]);
  t.match(otherFile.stdout, /^open file: -1 EACCES$/m, 'a file outside the learned set: EACCES (Landlock)');
  const moreSets = await runUnder(out, [PROG, '5', A]);
  t.match(moreSets.stdout, /^semget 4: ok, semop: 0\nsemget 5: -1 ENOSPC$/m, 'more sets than learned (plus headroom): ENOSPC');
  const otherProgram = await runUnder(out, [PROG, '0', A, '/usr/bin/false']);
  t.match(otherProgram.stdout, /^exec: -1 EACCES$/m, 'an unpinned program: EACCES');
  t.match(otherProgram.stderr, /sysvisor: refused 1 exec: \/usr\/bin\/false \(not in exec\.trusted\)/, 'and the refusal is reported');
});

t.test('a shell pipeline: learned, rerun identically, deviations refused', async (t) => {
  const out = join(dir, 'sh.toml');
  const script = `tr a-z A-Z < ${A} | cat > result.txt; cat result.txt`;
  const learned = await learn(out, ['/bin/sh', '-c', script]);
  t.equal(learned.status, 0, learned.stderr);
  t.equal(learned.stdout, 'ALPHA\n');
  const text = readFileSync(out, 'utf8');
  t.match(text, new RegExp(`Created by the run: ${work}/result\\.txt\\.`), 'the file the run created is noted');
  t.match(text, new RegExp(`^  "${work}", # entries created`, 'm'), 'and its directory is writable');
  t.match(text, /^emulate = \["fcntl"\]$/m);
  t.match(text, /semget = "ENOSYS"/, 'semaphores unused: denied');

  const again = await runUnder(out, ['/bin/sh', '-c', script]);
  t.equal(again.status, 0, again.stderr);
  t.equal(again.stdout, 'ALPHA\n', 'identical output');
  const otherFile = await runUnder(out, ['/bin/sh', '-c', `cat ${B}`]);
  t.not(otherFile.status, 0);
  t.match(otherFile.stderr, /Permission denied/, 'reading another file is refused');
  const otherProgram = await runUnder(out, ['/bin/sh', '-c', `head -1 ${A}`]);
  t.equal(otherProgram.status, 126, 'the shell reports the refused exec');
  t.match(otherProgram.stderr, /sysvisor: refused \d+ execs?: \S+\/head \(not in exec\.trusted/);
});

t.test('--merge adds a second run: both pass under the merged manifest', async (t) => {
  const out = join(dir, 'merged.toml');
  const first = await learn(out, ['/bin/sh', '-c', `cat ${A}`]);
  t.equal(first.status, 0, first.stderr);
  const before = await runUnder(out, ['/bin/sh', '-c', `wc -c < ${B}`]);
  t.not(before.status, 0, 'the first manifest does not allow the second run');
  const second = await learn(out, ['/bin/sh', '-c', `wc -c < ${B}`], ['--merge']);
  t.equal(second.status, 0, second.stderr);
  t.match(second.stderr, /merged: wrote/);
  const text = readFileSync(out, 'utf8');
  t.match(text, /^# Merged with the previous merged\.toml/m);
  t.match(text, /\/usr\/bin\/cat" = "sha256:/, 'pins of the first run kept');
  t.match(text, /\/usr\/bin\/wc" = "sha256:/, 'pins of the second run added');
  t.equal((await runUnder(out, ['/bin/sh', '-c', `cat ${A}`])).stdout, 'alpha\n');
  t.equal((await runUnder(out, ['/bin/sh', '-c', `wc -c < ${B}`])).stdout, '5\n');
  t.equal((await sysvisor(['manifest', 'check', out], { env })).status, 0);
});

t.test("exit status is the program's; bad input is a clear error", async (t) => {
  const out = join(dir, 'status.toml');
  const failing = await learn(out, ['/bin/sh', '-c', 'exit 3']);
  t.equal(failing.status, 3, "the program's exit status");
  t.match(readFileSync(out, 'utf8'), /\(exit status 3\)/);

  const none = await sysvisor(['learn', '-o', out], { env });
  t.equal(none.status, 2);
  t.match(none.stderr, /nothing to learn from: give a command after --/);
  const noOut = await sysvisor(['learn', '--', '/bin/true'], { env });
  t.equal(noOut.status, 2);
  t.match(noOut.stderr, /Missing required argument: o/);
  const missing = await learn(out, ['/nonexistent/program']);
  t.equal(missing.status, 125);
  t.match(missing.stderr, /sysvisor: \/nonexistent\/program was never executed: nothing to learn/);
  t.notMatch(missing.stderr, /\n\s+at /, 'no stack trace');

  const broken = join(dir, 'broken.toml');
  writeFileSync(broken, 'version = 1\n[sem]\nsemmni = "many"\n');
  const merge = await learn(broken, ['/bin/true'], ['--merge']);
  t.equal(merge.status, 2);
  t.match(merge.stderr, /--merge: .*broken\.toml:3: sem\.semmni: expected an integer, got string/);
  t.equal(readFileSync(broken, 'utf8'), 'version = 1\n[sem]\nsemmni = "many"\n', 'left as it was');
  const badBase = await sysvisor(['learn', '-m', broken, '-o', out, '--', '/bin/true'], { env });
  t.equal(badBase.status, 2);
  t.match(badBase.stderr, /base manifest: .*broken\.toml:3: sem\.semmni/);
});

t.test('the manifest is written through a rename: a symlink the program plants at its name is replaced, not followed', async (t) => {
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'untouched\n');
  const out = join(work, 'planted.toml');
  const r = await learn(out, ['/bin/ln', '-s', victim, out]);
  t.equal(r.status, 0, r.stderr);
  t.equal(readFileSync(victim, 'utf8'), 'untouched\n');
  t.match(readFileSync(out, 'utf8'), /^version = 1$/m);
});
