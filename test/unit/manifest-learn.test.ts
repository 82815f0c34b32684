// The learned-manifest writer (src/manifest/learn.ts): collapse rules,
// headroom, emulate/deny, --merge, and that its text parses back to the
// same policy.
import t from 'tap';
import { defaultManifest, parseManifest, type Manifest } from '../../src/manifest/index.js';
import {
  DENSE,
  headroom,
  learnPolicy,
  processHeadroom,
  renderLearned,
  type LearnedPolicy,
  type LearnedRun,
} from '../../src/manifest/learn.js';

const EMULABLE: ReadonlySet<string> = new Set(['semget', 'semop', 'semtimedop', 'semctl', 'fcntl', 'flock']);
const parse = (text: string): Manifest => parseManifest(text, 'learned.toml', { emulable: EMULABLE });
const base = defaultManifest(EMULABLE);
const HASH = 'a'.repeat(64);

function run(overrides: Partial<LearnedRun> = {}): LearnedRun {
  return {
    files: [],
    changedDirs: [],
    created: [],
    execs: [{ path: '/usr/bin/prog', sha256: HASH, interpreter: false }],
    calls: {},
    sem: { sets: 0, sems: 0, perSet: 0, opsPerCall: 0, keys: [] },
    locks: { records: 0, files: [] },
    processes: 1,
    ...overrides,
  };
}
const render = (p: LearnedPolicy, r: LearnedRun, previous: string | null = null) =>
  renderLearned(p, r, base, { command: ['prog', 'arg'], status: 0, mergedWith: previous });

t.test('headroom: a quarter more, at least 1; processes twice, at least +4', async (t) => {
  t.same([0, 1, 3, 4, 10].map(headroom), [1, 2, 4, 5, 13]);
  t.same([0, 1, 3, 10].map(processHeadroom), [4, 5, 7, 20]);
});

t.test('files collapse by the documented rule, never to / or a top-level directory', async (t) => {
  const dense = Array.from({ length: DENSE }, (_, i) => ({ path: `/data/set/f${i}`, access: 'read' as const }));
  const p = learnPolicy(
    run({
      files: [
        { path: '/usr/lib/x86_64-linux-gnu/libc.so.6', access: 'read' },
        { path: '/usr/lib/x86_64-linux-gnu/libm.so.6', access: 'read' },
        { path: '/etc/hostname', access: 'read' },
        { path: '/etc/passwd', access: 'read' },
        { path: '/etc/group', access: 'read' },
        { path: '/etc/hosts', access: 'read' },
        { path: '/proc/4242/status', access: 'read' },
        { path: '/dev/pts/3', access: 'write' },
        { path: '/data/one/file', access: 'read' },
        { path: '/data/one/file2', access: 'write' },
        { path: '/lib64-ish', access: 'read' },
        ...dense,
      ],
      changedDirs: ['/data/out'],
    }),
    base,
    null,
  );
  t.same(
    p.filesystem.read.sort(),
    [
      '/data/one/file',
      '/data/set',
      '/etc/group',
      '/etc/hostname',
      '/etc/hosts',
      '/etc/passwd',
      '/lib64-ish',
      '/proc',
      '/usr/lib/x86_64-linux-gnu',
    ],
    'libraries by directory, /proc/PID as /proc, a dense directory whole; /etc (just below /) never collapsed',
  );
  t.same(p.filesystem.write.sort(), ['/data/one/file2', '/data/out', '/dev/pts'], 'written files, changed directories, terminals');
  t.same(p.filesystem.exec, [], 'exec rights come from the pins');
  t.equal(p.reasons.get('/data/set'), `${DENSE} files used`);
  const fewer = learnPolicy(run({ files: dense.slice(1) }), base, null);
  t.notOk(fewer.filesystem.read.includes('/data/set'), `${DENSE - 1} files stay files`);
  const top = learnPolicy(
    run({ files: Array.from({ length: DENSE }, (_, i) => ({ path: `/f${i}`, access: 'read' as const })) }),
    base,
    null,
  );
  t.notOk(top.filesystem.read.includes('/'), 'never /');
});

t.test('paths beneath a writable entry are not listed again', async (t) => {
  const p = learnPolicy(
    run({
      files: [
        { path: '/w/dir/a', access: 'read' },
        { path: '/w/dir/sub/b', access: 'write' },
      ],
      changedDirs: ['/w/dir'],
    }),
    base,
    null,
  );
  t.same(p.filesystem.read, []);
  t.same(p.filesystem.write, ['/w/dir']);
});

t.test('emulate keeps what was used and fcntl; the unused emulable calls are denied ENOSYS', async (t) => {
  const p = learnPolicy(run({ calls: { semget: 2, semtimedop: 2, semctl: 2 } }), base, null);
  t.same(p.emulate, ['semget', 'semtimedop', 'semctl', 'fcntl']);
  t.equal(p.deny.get('semop'), 38);
  t.equal(p.deny.get('flock'), 38);
  t.equal(p.deny.get('io_uring_setup'), 38, "the base's denials stay");
  t.notOk(p.deny.has('semget'));
});

t.test('the rendered manifest parses back to the same policy, comments and all', async (t) => {
  const r = run({
    files: [
      { path: '/etc/hostname', access: 'read' },
      { path: '/tmp/x y/"q"', access: 'write' },
    ],
    created: ['/tmp/x y/new'],
    execs: [
      { path: '/usr/bin/dash', sha256: HASH, interpreter: false },
      { path: '/lib64/ld-linux-x86-64.so.2', sha256: 'b'.repeat(64), interpreter: true },
    ],
    calls: { semget: 4, semtimedop: 9, semctl: 4, fcntl: 1 },
    sem: { sets: 4, sems: 8, perSet: 2, opsPerCall: 3, keys: [0x1234] },
    locks: { records: 2, files: ['/tmp/x y/"q"'] },
    processes: 3,
  });
  const p = learnPolicy(r, base, null);
  const text = render(p, r);
  const m = parse(text);
  t.same(m.syscalls.emulate, p.emulate);
  t.same(m.syscalls.deny, p.deny);
  t.same(m.syscalls.kill, p.kill);
  t.same(m.filesystem, p.filesystem);
  t.same(m.exec.trusted, p.trusted);
  t.equal(m.exec.onlyTrusted, true);
  t.same(m.sem, { semmsl: 3, semmns: 10, semopm: 4, semmni: 5 });
  t.same(m.sem, p.sem);
  t.equal(m.locks.max, 3);
  t.equal(m.process.max, 7);
  t.same(m.env, base.env);
  t.same(m.ipc, base.ipc);
  t.match(text, /# Emulated calls made: semget x4, semtimedop x9, semctl x4, fcntl x1\./);
  t.match(text, /# Keys: 0x00001234\./);
  t.match(text, /Files locked: \/tmp\/x y\/"q"\./);
  t.match(text, /"\/lib64\/ld-linux-x86-64.so.2" = "sha256:b{64}" # interpreter/);
  t.match(text, /# Created by the run: \/tmp\/x y\/new\./);
});

t.test('--merge: union of paths and pins, the larger of each limit', async (t) => {
  const first = run({
    files: [{ path: '/etc/a', access: 'read' }],
    sem: { sets: 8, sems: 8, perSet: 1, opsPerCall: 1, keys: [] },
    calls: { semget: 1 },
    processes: 10,
  });
  const firstText = render(learnPolicy(first, base, null), first);
  const previous = parse(firstText);
  const second = run({
    files: [
      { path: '/etc/b', access: 'read' },
      { path: '/etc/a', access: 'write' },
    ],
    execs: [{ path: '/usr/bin/other', sha256: 'c'.repeat(64), interpreter: false }],
    sem: { sets: 1, sems: 40, perSet: 40, opsPerCall: 1, keys: [] },
    calls: { flock: 1 },
    processes: 1,
  });
  const p = learnPolicy(second, base, previous);
  const m = parse(render(p, second, 'learned.toml'));
  t.same(m.filesystem?.read, ['/etc/b'], '/etc/a is now written: listed once, under write');
  t.same(m.filesystem?.write, ['/etc/a']);
  t.same([...m.exec.trusted.keys()], ['/usr/bin/prog', '/usr/bin/other']);
  t.same(m.sem, { semmsl: 50, semmns: 50, semopm: 2, semmni: 10 });
  t.equal(m.process.max, 20);
  t.same(m.syscalls.emulate, ['semget', 'fcntl', 'flock'], 'calls used by either run');
  t.notOk(m.syscalls.deny.has('flock'), 'a call the first run denied is emulated once another run used it');
});

t.test('a base with its own env, ipc and lock mode carries them over', async (t) => {
  const own = parse(
    'version = 1\n[syscalls]\ndeny = {}\n[env]\ninherit = false\npass = ["PATH"]\nset = { LANG = "C" }\n[locks]\nmode = "fast"\n[ipc]\nnamespace = "host"\n',
  );
  const r = run();
  const m = parse(renderLearned(learnPolicy(r, own, null), r, own, { command: ['prog'], status: 0, mergedWith: null }));
  t.same(m.env, own.env);
  t.same(m.ipc, own.ipc);
  t.equal(m.locks.mode, 'fast');
  t.same(
    [...m.syscalls.deny.keys()],
    ['semget', 'semop', 'semtimedop', 'semctl', 'flock'],
    'only the unused emulable calls: the base denies nothing',
  );
});
