import t from 'tap';
import {
  ManifestError,
  defaultManifest,
  describeManifest,
  editDistance,
  manifestWarnings,
  locateKeys,
  manifestFilterSpec,
  parseDuration,
  parseManifest,
  renderPath,
  suggest,
  type Manifest,
} from '../../src/manifest/index.js';

const EMULABLE: ReadonlySet<string> = new Set(['semget', 'semop', 'semtimedop', 'semctl', 'fcntl', 'flock']);
const parse = (text: string): Manifest => parseManifest(text, 'm.toml', { emulable: EMULABLE });

/** The message of the (first) ManifestError `text` raises. */
function errorOf(text: string): ManifestError {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof ManifestError) return e;
    throw e;
  }
  throw new Error('no error');
}
const messages = (text: string): string[] => errorOf(text).errors.map((e) => e.message);

t.test('ManifestError fields and rendering', async (t) => {
  const e = errorOf('version = 1\n[syscalls]\nemulate = ["semget", "semop", "semopp"]\n');
  t.ok(e instanceof Error);
  t.equal(e.name, 'ManifestError');
  t.equal(e.file, 'm.toml');
  t.equal(e.line, 3);
  t.equal(e.keyPath, 'syscalls.emulate[2]');
  t.equal(e.reason, 'unknown syscall "semopp" (did you mean "semop"?)');
  t.equal(e.message, 'm.toml:3: syscalls.emulate[2]: unknown syscall "semopp" (did you mean "semop"?)');
  t.same(e.errors, [e]);
});

t.test("TOML syntax errors use smol-toml's position", async (t) => {
  const e = errorOf('version = 1\n[syscalls]\nemulate = ["semget",\n  "semop"\nkill = []\n');
  t.equal(e.line, 5);
  t.equal(e.keyPath, '');
  t.equal(e.message, 'm.toml:5: invalid TOML: expected comma or end of structure');
  t.equal(errorOf('version = 1\nx = "abc').message, 'm.toml:2: invalid TOML: unfinished string');
  t.equal(
    errorOf('version = 1\n[sem]\nsemmsl = 1\n[sem]\n').message,
    'm.toml:4: invalid TOML: trying to redefine an already defined table or value',
  );
});

t.test('version', async (t) => {
  t.same(messages('[sem]\nsemmsl = 5\n'), ['m.toml:1: version: missing (this reader understands version = 1)']);
  t.same(messages('\n\nversion = 2\n'), ['m.toml:3: version: unsupported manifest version 2 (expected 1)']);
  t.same(messages('version = "1"\n'), ['m.toml:1: version: expected an integer, got string']);
  t.same(messages('version = 1.0\n'), ['m.toml:1: version: expected an integer, got float']);
});

t.test('unknown keys at every level, with suggestions', async (t) => {
  t.same(messages('version = 1\n[syscals]\nemulate = []\n'), ['m.toml:2: syscals: unknown key (did you mean "syscalls"?)']);
  t.same(messages('version = 1\n[syscalls]\nemulte = ["semop"]\n'), ['m.toml:3: syscalls.emulte: unknown key (did you mean "emulate"?)']);
  t.same(messages('version = 1\nfoo = 1\n'), [
    'm.toml:2: foo: unknown key (expected one of: version, syscalls, filesystem, exec, env, sem, locks, process, ipc, watchdog, proc)',
  ]);
  t.same(messages('version = 1\n[sem]\nsemmax = 1\n'), ['m.toml:3: sem.semmax: unknown key (did you mean "semmsl"?)']);
  t.same(messages('version = 1\n\n[env]\ninherit = true\n  [env.extra]\n  x = 1\n'), [
    'm.toml:5: env.extra: unknown key (expected one of: inherit, pass, set)',
  ]);
  t.same(messages('version = 1\nlocks.modes = "fast"\n'), ['m.toml:2: locks.modes: unknown key (did you mean "mode"?)']);
  t.same(messages('version = 1\nprocess = { max = 5, mx = 1 }\n'), ['m.toml:2: process.mx: unknown key (did you mean "max"?)']);
  t.same(messages('version = 1\n[[ipc]]\npersist = ""\n'), ['m.toml:2: ipc: expected a table, got array']);
  t.same(messages('version = 1\n[[extra]]\na = 1\n[[extra]]\n'), [
    'm.toml:2: extra: unknown key (expected one of: version, syscalls, filesystem, exec, env, sem, locks, process, ipc, watchdog, proc)',
  ]);
});

t.test('wrong types', async (t) => {
  t.same(messages('version = 1\n[syscalls]\nemulate = 5\n'), ['m.toml:3: syscalls.emulate: expected a string array, got integer']);
  t.same(messages('version = 1\n[syscalls]\nemulate = ["semop", 5]\n'), ['m.toml:3: syscalls.emulate[1]: expected a string, got integer']);
  t.same(messages('version = 1\nsyscalls = 1\n'), ['m.toml:2: syscalls: expected a table, got integer']);
  t.same(messages('version = 1\n[syscalls]\ndeny = ["ptrace"]\n'), ['m.toml:3: syscalls.deny: expected a table, got array']);
  t.same(messages('version = 1\n[env]\ninherit = "yes"\n'), ['m.toml:3: env.inherit: expected a boolean, got string']);
  t.same(messages('version = 1\n[env]\nset = { LANG = 1 }\n'), ['m.toml:3: env.set.LANG: expected a string, got integer']);
  t.same(messages('version = 1\n[sem]\nsemmsl = 1979-05-27\n'), ['m.toml:3: sem.semmsl: expected an integer, got datetime']);
  t.same(messages('version = 1\n[locks]\nmode = true\n'), ['m.toml:3: locks.mode: expected a string, got boolean']);
  t.same(messages('version = 1\n[ipc]\npersist = ["/x"]\n'), ['m.toml:3: ipc.persist: expected a string, got array']);
  t.same(messages('version = 1\n[filesystem]\nread = "/"\n'), ['m.toml:3: filesystem.read: expected a string array, got string']);
});

t.test('syscall names', async (t) => {
  t.same(messages('version = 1\n[syscalls]\nemulate = ["semget", "semop", "semopp"]\n'), [
    'm.toml:3: syscalls.emulate[2]: unknown syscall "semopp" (did you mean "semop"?)',
  ]);
  t.same(messages('version = 1\n[syscalls]\nkill = ["xyzzyq"]\n'), ['m.toml:3: syscalls.kill[0]: unknown syscall "xyzzyq"']);
  t.same(messages('version = 1\n[syscalls]\ndeny = { ptrac = "EPERM" }\n'), [
    'm.toml:3: syscalls.deny.ptrac: unknown syscall "ptrac" (did you mean "ptrace"?)',
  ]);
  t.same(messages('version = 1\n[syscalls]\nemulate = ["read"]\n'), ['m.toml:3: syscalls.emulate[0]: no emulation for "read"']);
  t.same(messages('version = 1\n[syscalls]\ndeny = { execve = "EPERM" }\n'), [
    'm.toml:3: syscalls.deny.execve: "execve" cannot be denied: the launcher needs it to start the program (restrict filesystem.exec instead)',
  ]);
  t.same(messages('version = 1\n[syscalls]\nkill = ["uretprobe"]\n'), [
    'm.toml:3: syscalls.kill[0]: the kernel never passes "uretprobe" to seccomp filters',
  ]);
});

t.test('a syscall listed twice', async (t) => {
  t.same(messages('version = 1\n[syscalls]\nemulate = ["semop", "semget", "semop"]\n'), [
    'm.toml:3: syscalls.emulate[2]: "semop" is already listed in syscalls.emulate',
  ]);
  t.same(messages('version = 1\n[syscalls]\ndeny = { ptrace = "EPERM" }\nkill = ["reboot", "ptrace"]\n'), [
    'm.toml:4: syscalls.kill[1]: "ptrace" is already listed in syscalls.deny',
  ]);
  // reported where it appears second in the file, whatever the list
  t.same(messages('version = 1\n[syscalls]\nkill = ["ptrace"]\ndeny = { ptrace = "EPERM" }\n'), [
    'm.toml:4: syscalls.deny.ptrace: "ptrace" is already listed in syscalls.kill',
  ]);
  // the default emulate list counts, and is named as the default: the file has no syscalls.emulate to blame
  t.same(messages('version = 1\n[syscalls]\ndeny = { semop = "ENOSYS" }\n'), [
    'm.toml:3: syscalls.deny.semop: "semop" is emulated by default (the built-in syscalls.emulate list); to list it in syscalls.deny, write a syscalls.emulate without it',
  ]);
  t.same(messages('version = 1\n[syscalls]\nkill = ["flock"]\n'), [
    'm.toml:3: syscalls.kill[0]: "flock" is emulated by default (the built-in syscalls.emulate list); to list it in syscalls.kill, write a syscalls.emulate without it',
  ]);
  t.same(
    [...parse('version = 1\n[syscalls]\nemulate = ["semget"]\ndeny = { semop = "ENOSYS" }\n').syscalls.deny.keys()],
    ['semop'],
    'with its own emulate list, the file may deny what the default emulates',
  );
  t.same(messages('version = 1\n[syscalls]\nemulate = ["semop"]\n\nkill = [\n  "reboot",\n  "semop",\n]\n'), [
    'm.toml:7: syscalls.kill[1]: "semop" is already listed in syscalls.emulate',
  ]);
});

t.test('errno values', async (t) => {
  t.same(messages('version = 1\n[syscalls]\ndeny = { ptrace = "EPRM" }\n'), [
    'm.toml:3: syscalls.deny.ptrace: unknown errno "EPRM" (did you mean "EPERM"?)',
  ]);
  t.same(messages('version = 1\n[syscalls]\ndeny = { ptrace = "eperm" }\n'), [
    'm.toml:3: syscalls.deny.ptrace: unknown errno "eperm" (did you mean "EPERM"?)',
  ]);
  t.same(messages('version = 1\n[syscalls]\ndeny = { ptrace = "NOPE_AT_ALL" }\n'), [
    'm.toml:3: syscalls.deny.ptrace: unknown errno "NOPE_AT_ALL"',
  ]);
  t.same(messages('version = 1\n[syscalls]\ndeny = { ptrace = 0 }\n'), [
    'm.toml:3: syscalls.deny.ptrace: 0 out of range 1..4095 (MAX_ERRNO)',
  ]);
  t.same(messages('version = 1\n[syscalls]\ndeny = { ptrace = 1.5 }\n'), [
    'm.toml:3: syscalls.deny.ptrace: expected an errno name or number, got float',
  ]);
  const m = parse('version = 1\n[syscalls]\ndeny = { ptrace = "EPERM", bpf = 38, mbind = "EWOULDBLOCK" }\n');
  t.same(
    [...m.syscalls.deny],
    [
      ['ptrace', 1],
      ['bpf', 38],
      ['mbind', 11],
    ],
  );
});

t.test('limits', async (t) => {
  t.same(messages('version = 1\n[sem]\nsemmni = 32769\n'), ['m.toml:3: sem.semmni: 32769 out of range 1..32768 (IPCMNI)']);
  t.same(messages('version = 1\n[sem]\nsemmsl = 0\n'), ['m.toml:3: sem.semmsl: 0 out of range 1..2147483647 (INT_MAX)']);
  t.same(messages('version = 1\n[sem]\nsemopm = -1\n'), ['m.toml:3: sem.semopm: -1 out of range 1..2147483647 (INT_MAX)']);
  t.same(messages('version = 1\n[sem]\nsemmns = 2147483648\n'), ['m.toml:3: sem.semmns: 2147483648 out of range 1..2147483647 (INT_MAX)']);
  t.same(messages('version = 1\n[sem]\nsemmns = 99999999999999999999\n'), [
    'm.toml:3: sem.semmns: 99999999999999999999 out of range 1..2147483647 (INT_MAX)',
  ]);
  t.same(messages('version = 1\n[process]\nmax = 4194305\n'), ['m.toml:3: process.max: 4194305 out of range 1..4194304 (PID_MAX_LIMIT)']);
  t.same(messages('version = 1\n[locks]\nmax = 0\n'), ['m.toml:3: locks.max: 0 out of range 1..2147483647 (INT_MAX)']);
  t.same(messages('version = 1\n[locks]\nmode = "slow"\n'), ['m.toml:3: locks.mode: expected "exact" or "fast", got "slow"']);
  t.same(messages('version = 1\n[locks]\nhost = "shared"\n'), ['m.toml:3: locks.host: expected "coherent" or "isolated", got "shared"']);
  t.equal(parse('version = 1\n[locks]\nhost = "isolated"\n').locks.host, 'isolated');
  const m = parse('version = 1\n[sem]\nsemmni = 32768\nsemmsl = 2147483647\n[locks]\nmode = "fast"\n');
  t.equal(m.locks.host, 'coherent', 'coherent by default');
  t.equal(m.sem.semmni, 32768);
  t.equal(m.sem.semmsl, 2147483647);
  t.equal(m.locks.mode, 'fast');
});

t.test('paths and environment', async (t) => {
  t.same(messages('version = 1\n[filesystem]\nread = ["/", "usr/lib"]\n'), [
    'm.toml:3: filesystem.read[1]: "usr/lib" is not an absolute path',
  ]);
  t.same(messages('version = 1\n[filesystem]\nexec = [""]\n'), ['m.toml:3: filesystem.exec[0]: "" is not an absolute path']);
  t.same(messages('version = 1\n[ipc]\npersist = "state.json"\n'), ['m.toml:3: ipc.persist: "state.json" is not an absolute path']);
  t.same(messages('version = 1\n[ipc]\nnamespace = "shared"\n'), [
    'm.toml:3: ipc.namespace: expected "private", "auto" or "host", got "shared"',
  ]);
  t.same(messages('version = 1\n[ipc]\nnamespace = true\n'), ['m.toml:3: ipc.namespace: expected a string, got boolean']);
  t.same(messages('version = 1\n[filesystem]\nread = ["/a\\u0000b"]\n'), ['m.toml:3: filesystem.read[0]: contains a NUL character']);
  t.same(messages('version = 1\n[env]\npass = ["PATH"]\n'), [
    'm.toml:3: env.pass: has no effect when env.inherit = true (set inherit = false to pass only these)',
  ]);
  t.same(messages('version = 1\n[env]\ninherit = false\npass = ["A=B"]\n'), [
    'm.toml:4: env.pass[0]: "A=B" is not a valid environment variable name',
  ]);
  t.same(messages('version = 1\n[env]\nset."A=B" = "x"\n'), ['m.toml:3: env.set."A=B": "A=B" is not a valid environment variable name']);
  const m = parse(
    'version = 1\n[filesystem]\nread = ["/usr"]\n[env]\ninherit = false\npass = ["PATH", "HOME"]\nset = { LANG = "C", "MY VAR" = "a b" }\n[ipc]\npersist = "/var/tmp/s.json"\n',
  );
  t.same(m.filesystem, { read: ['/usr'], write: [], exec: [] });
  t.same(m.env, { inherit: false, pass: ['PATH', 'HOME'], set: { LANG: 'C', 'MY VAR': 'a b' } });
  t.equal(m.ipc.persist, '/var/tmp/s.json');
  t.equal(m.ipc.namespace, 'auto');
  t.equal(parse('version = 1\n[ipc]\nnamespace = "host"\n').ipc.namespace, 'host');
});

t.test('[proc] views', async (t) => {
  for (const v of ['auto', 'fuse', 'notify', 'off']) t.equal(parse(`version = 1\n[proc]\nviews = "${v}"\n`).proc.views, v);
  t.same(messages('version = 1\n\n[proc]\nviews = "mount"\n'), [
    'm.toml:4: proc.views: expected "auto", "fuse", "notify" or "off", got "mount"',
  ]);
  t.same(messages('version = 1\n[proc]\nviews = 1\n'), ['m.toml:3: proc.views: expected a string, got integer']);
  t.same(messages('version = 1\n[proc]\nview = "fuse"\n'), ['m.toml:3: proc.view: unknown key (did you mean "views"?)']);
  t.match(describeManifest(parse('version = 1\n[proc]\nviews = "off"\n')), /proc: +views=off/);
});

t.test('[proc] pid_namespace', async (t) => {
  t.equal(parse('version = 1\n').proc.pidNamespace, 'auto');
  for (const v of ['auto', 'private', 'host']) t.equal(parse(`version = 1\n[proc]\npid_namespace = "${v}"\n`).proc.pidNamespace, v);
  t.same(messages('version = 1\n\n[proc]\npid_namespace = "off"\n'), [
    'm.toml:4: proc.pid_namespace: expected "private", "auto" or "host", got "off"',
  ]);
  t.same(messages('version = 1\n[proc]\npid_namespace = true\n'), ['m.toml:3: proc.pid_namespace: expected a string, got boolean']);
  t.match(describeManifest(parse('version = 1\n[proc]\npid_namespace = "host"\n')), /proc: +views=auto pid_namespace=host/);
});

t.test('[exec] trusted files and only_trusted', async (t) => {
  const h = 'ab'.repeat(32);
  const m = parse(
    `version = 1\n[exec]\ntrusted = { "/usr/bin/b" = "sha256:${h}", "/opt/a" = "sha256:${h.toUpperCase()}" }\nonly_trusted = true\n`,
  );
  t.same(
    [...m.exec.trusted],
    [
      ['/usr/bin/b', h],
      ['/opt/a', h],
    ],
    'file order, hex lower-cased',
  );
  t.equal(m.exec.onlyTrusted, true);
  t.same(parse('version = 1\n[exec]\n').exec, { trusted: new Map(), onlyTrusted: false });
  const multi = parse(`version = 1\n[exec.trusted]\n"/x" = "sha256:${h}"\n`);
  t.same([...multi.exec.trusted.keys()], ['/x']);
  t.match(
    describeManifest(m),
    `exec:       trusted /usr/bin/b=sha256:${h.slice(0, 12)}… /opt/a=sha256:${h.slice(0, 12)}…; nothing else may be executed`,
  );
  t.match(describeManifest(parse('version = 1\n')), /exec: {7}trusted \(none\)\n/);

  t.same(
    messages(
      [
        'version = 1', // 1
        '[exec]', // 2
        'trusted = {', // 3
        `  "bin/x" = "sha256:${h}",`, // 4
        '  "/usr/bin/y" = "md5:d41d8cd98f00b204e9800998ecf8427e",', // 5
        `  "/usr/bin/z" = "sha256:${h}0",`, // 6
        '  "/usr/bin/w" = 1,', // 7
        `  "/usr/bin/v" = "${h}",`, // 8
        '}', // 9
        'only_trusted = "yes"', // 10
        'onlytrusted = true', // 11
      ].join('\n'),
    ),
    [
      'm.toml:4: exec.trusted."bin/x": "bin/x" is not an absolute path',
      'm.toml:5: exec.trusted."/usr/bin/y": expected "sha256:" followed by 64 hex digits, got "md5:d41d8cd98f00b204e9800998ecf8427e"',
      `m.toml:6: exec.trusted."/usr/bin/z": expected "sha256:" followed by 64 hex digits, got "sha256:${h}0"`,
      'm.toml:7: exec.trusted."/usr/bin/w": expected a string, got integer',
      `m.toml:8: exec.trusted."/usr/bin/v": expected "sha256:" followed by 64 hex digits, got "${h}"`,
      'm.toml:10: exec.only_trusted: expected a boolean, got string',
      'm.toml:11: exec.onlytrusted: unknown key (did you mean "only_trusted"?)',
    ],
  );
  t.same(messages('version = 1\n[exec]\ntrusted = ["/usr/bin/x"]\n'), ['m.toml:3: exec.trusted: expected a table, got array']);
  t.same(messages('version = 1\n[exec]\nonly_trusted = true\n'), [
    "m.toml:3: exec.only_trusted: true with no exec.trusted entries would refuse every exec, the program's own included",
  ]);
  t.same(messages('version = 1\n[exec]\ntrusted = {}\nonly_trusted = true\n'), [
    "m.toml:4: exec.only_trusted: true with no exec.trusted entries would refuse every exec, the program's own included",
  ]);
  t.same(messages(`version = 1\n[exec]\ntrusted = { "/a\\u0000b" = "sha256:${h}" }\n`), [
    'm.toml:3: exec.trusted."/a\\u0000b": contains a NUL character',
  ]);
  t.same(messages('version = 1\nexec = "/bin/sh"\n'), ['m.toml:2: exec: expected a table, got string']);
});

t.test('every problem is collected, earliest line first', async (t) => {
  const e = errorOf(
    [
      'version = 1', // 1
      '[sem]', // 2
      'semmni = 0', // 3
      '[syscalls]', // 4
      'emulate = ["semopp"]', // 5
      '[locks]', // 6
      'mode = "x"', // 7
      '[bogus]', // 8
    ].join('\n'),
  );
  t.same(
    e.errors.map((x) => x.message),
    [
      'm.toml:3: sem.semmni: 0 out of range 1..32768 (IPCMNI)',
      'm.toml:5: syscalls.emulate[0]: unknown syscall "semopp" (did you mean "semop"?)',
      'm.toml:7: locks.mode: expected "exact" or "fast", got "x"',
      'm.toml:8: bogus: unknown key (expected one of: version, syscalls, filesystem, exec, env, sem, locks, process, ipc, watchdog, proc)',
    ],
  );
  t.equal(e, e.errors[0]);
});

t.test('lines of nested, dotted and inline-table keys', async (t) => {
  const text = [
    '# comment', // 1
    'version = 1 # trailing', // 2
    '', // 3
    '[syscalls]', // 4
    'emulate = [', // 5
    '  "semget", # one', // 6
    '  # a comment line', // 7
    '  "semopp",', // 8
    ']', // 9
    'deny = { ptrace = "EPERM", \'kexec_load\' = "EPRM" }', // 10
    '', // 11
    '[ "env" ]', // 12
    'set = { A = "x", B = """', // 13
    'multi', // 14
    'line""", C = 3 }', // 15
    '', // 16
    '[sem]', // 17
    'semmsl = 1', // 18
    '  semmni = 99999', // 19
    'process . max = 0', // 20
  ].join('\n');
  const lines = locateKeys(text);
  t.equal(lines.get('version'), 2);
  t.equal(lines.get('syscalls'), 4);
  t.equal(lines.get('syscalls.emulate'), 5);
  t.equal(lines.get('syscalls.emulate[0]'), 6);
  t.equal(lines.get('syscalls.emulate[1]'), 8);
  t.equal(lines.get('syscalls.deny.kexec_load'), 10);
  t.equal(lines.get('env.set.A'), 13);
  t.equal(lines.get('env.set.C'), 15);
  t.equal(lines.get('sem.semmni'), 19);
  t.equal(lines.get('sem.process.max'), 20);

  const e = errorOf(text);
  t.same(
    e.errors.map((x) => x.message),
    [
      'm.toml:8: syscalls.emulate[1]: unknown syscall "semopp" (did you mean "semop"?)',
      'm.toml:10: syscalls.deny.kexec_load: unknown errno "EPRM" (did you mean "EPERM"?)',
      'm.toml:15: env.set.C: expected a string, got integer',
      'm.toml:19: sem.semmni: 99999 out of range 1..32768 (IPCMNI)',
      'm.toml:20: sem.process: unknown key (expected one of: semmsl, semmns, semopm, semmni)',
    ],
  );
});

t.test('lines of keys inside multi-line inline tables and nested tables', async (t) => {
  const text = [
    'version = 1', // 1
    '[syscalls]', // 2
    'deny = {', // 3
    '  ptrace = "EPERM",', // 4
    '  kexec_load = "EPERM",', // 5
    '  bogus_call = "EPERM",', // 6
    '}', // 7
    '[syscalls.extra]', // 8
    'x = { y = { z = 1 } }', // 9
  ].join('\n');
  t.same(messages(text), [
    'm.toml:6: syscalls.deny.bogus_call: unknown syscall "bogus_call"',
    'm.toml:8: syscalls.extra: unknown key (expected one of: emulate, deny, kill)',
  ]);
  const lines = locateKeys(text);
  t.equal(lines.get('syscalls.extra.x.y.z'), 9);
  t.equal(lines.get('syscalls.deny.ptrace'), 4);
});

t.test('locator copes with every string form and odd spacing', async (t) => {
  const text = [
    'a = "x # not a comment [ { "', // 1
    "b = 'c:\\path'", // 2
    "c = '''", // 3
    "]]] ''' ", // 4 (content continues? no: ends here)
    'd."e.f" . g = [ [1, 2], [', // 5
    '  3 ] ]', // 6
    '[t]', // 7
    'h = 1979-05-27 07:32:00Z', // 8
    'i = { j = [ \'k\', "l\\"" ] }', // 9
    '[[arr]]', // 10
    'm = 1', // 11
    '[[arr]]', // 12
    'm = 2', // 13
  ].join('\n');
  const lines = locateKeys(text);
  t.equal(lines.get('b'), 2);
  t.equal(lines.get('c'), 3);
  t.equal(lines.get('d."e.f".g'), 5);
  t.equal(lines.get('d."e.f".g[1][0]'), 6);
  t.equal(lines.get('t.h'), 8);
  t.equal(lines.get('t.i.j[1]'), 9);
  t.equal(lines.get('arr[0].m'), 11);
  t.equal(lines.get('arr[1].m'), 13);
  t.equal(lines.get('arr'), 10);
});

t.test('defaults', async (t) => {
  const d = defaultManifest(EMULABLE);
  t.same(d, {
    version: 1,
    file: '<default>',
    syscalls: {
      emulate: ['semget', 'semop', 'semtimedop', 'semctl', 'fcntl', 'flock'],
      deny: new Map([
        ['io_uring_setup', 38],
        ['io_uring_enter', 38],
        ['io_uring_register', 38],
      ]),
      kill: [],
    },
    filesystem: null,
    exec: { trusted: new Map(), onlyTrusted: false },
    env: { inherit: true, pass: [], set: {} },
    sem: { semmsl: 32000, semmns: 1024000000, semopm: 500, semmni: 32000 },
    locks: { mode: 'exact', host: 'coherent', max: 1048576 },
    process: { max: 4096 },
    ipc: { persist: '', namespace: 'auto' },
    watchdog: { stallMs: 0, action: 'report' },
    proc: { views: 'auto', pidNamespace: 'auto' },
  });
  t.equal(d.syscalls.deny.size, 3);
  // A section only overrides what it names.
  const m = parse('version = 1\n[sem]\nsemopm = 32\n[syscalls]\nkill = ["reboot"]\n[filesystem]\nread = ["/"]\n');
  t.same(m.sem, { semmsl: 32000, semmns: 1024000000, semopm: 32, semmni: 32000 });
  t.same(m.syscalls.emulate, ['semget', 'semop', 'semtimedop', 'semctl', 'fcntl', 'flock']);
  t.same(m.syscalls.kill, ['reboot']);
  t.same(m.filesystem, { read: ['/'], write: [], exec: [] });
  t.same(parse('version = 1\n[filesystem]\n').filesystem, { read: [], write: [], exec: [] });
  t.same(parse('version = 1\n[syscalls]\nemulate = []\n').syscalls.emulate, []);
  // Fresh objects every time.
  defaultManifest(EMULABLE).syscalls.emulate.push('x');
  t.equal(defaultManifest(EMULABLE).syscalls.emulate.length, 6);
});

t.test('defaults never fall back to host IPC silently', async (t) => {
  t.throws(() => defaultManifest(new Set(['semget'])), {
    message:
      '<default>:1: syscalls.emulate: default entries "semop", "semtimedop", "semctl", "fcntl", "flock" have no emulation in this build; set syscalls.emulate explicitly',
  });
  const m = parseManifest('version = 1\n[syscalls]\nemulate = []\n', 'x.toml', { emulable: new Set() });
  t.same(m.syscalls.emulate, []);
});

t.test('io_uring: denied by default, a deny table replaces the default', async (t) => {
  const uring = ['io_uring_setup', 'io_uring_enter', 'io_uring_register'];
  t.same(
    [...parse('version = 1\n').syscalls.deny],
    uring.map((n) => [n, 38]),
  );
  t.same(
    [...parse('version = 1\n[syscalls]\nemulate = ["semop"]\n').syscalls.deny],
    uring.map((n) => [n, 38]),
  );
  t.same([...parse('version = 1\n[syscalls]\ndeny = {}\n').syscalls.deny], [], 'an empty table allows io_uring');
  t.same([...parse('version = 1\n[syscalls]\ndeny = { ptrace = "EPERM" }\n').syscalls.deny], [['ptrace', 1]]);
  const killed = parse('version = 1\n[syscalls]\nkill = ["io_uring_setup"]\n');
  t.same(killed.syscalls.kill, ['io_uring_setup']);
  t.same([...killed.syscalls.deny.keys()], ['io_uring_enter', 'io_uring_register'], 'kill takes a call out of the default');
  t.same(messages('version = 1\n[syscalls]\ndeny = { io_uring_setup = "EPERM" }\nkill = ["io_uring_setup"]\n'), [
    'm.toml:4: syscalls.kill[0]: "io_uring_setup" is already listed in syscalls.deny',
  ]);
});

t.test('manifestWarnings: one line when io_uring is allowed', async (t) => {
  t.same(manifestWarnings(defaultManifest(EMULABLE)), []);
  t.same(manifestWarnings(parse('version = 1\n[syscalls]\nkill = ["io_uring_setup"]\n')), []);
  const allowed = manifestWarnings(parse('version = 1\n[syscalls]\ndeny = {}\n'));
  t.equal(allowed.length, 1);
  t.notMatch(allowed[0]!, /\n/);
  t.match(allowed[0]!, /io_uring is allowed/);
  t.match(allowed[0]!, /releases no POSIX locks/);
  t.match(allowed[0]!, /\/proc\/locks/);
  t.same(manifestWarnings(parse('version = 1\n[syscalls]\nemulate = []\ndeny = {}\n')), [], 'nothing emulated, nothing bypassed');
});

t.test('[watchdog]: stall durations and the action', async (t) => {
  t.same(parse('version = 1\n').watchdog, { stallMs: 0, action: 'report' }, 'off by default');
  t.same(parse('version = 1\n[watchdog]\nstall = "5s"\naction = "kill"\n').watchdog, { stallMs: 5000, action: 'kill' });
  for (const [text, ms] of [
    ['500ms', 500],
    ['1.5s', 1500],
    ['2m', 120000],
    ['24h', null],
    ['5', null],
    ['-1s', null],
    ['s', null],
  ] as const) {
    t.equal(parseDuration(text), ms, text);
  }
  t.same(messages('version = 1\n[watchdog]\n\nstall = "5 s"\n'), [
    'm.toml:4: watchdog.stall: expected a duration such as "500ms", "5s" or "2m", got "5 s"',
  ]);
  t.same(messages('version = 1\n[watchdog]\nstall = "0ms"\n'), ['m.toml:3: watchdog.stall: "0ms" out of range 1ms..24h (one day)']);
  t.same(messages('version = 1\n[watchdog]\nstall = 5\n'), ['m.toml:3: watchdog.stall: expected a string, got integer']);
  t.same(messages('version = 1\n[watchdog]\nstall = "1s"\naction = "abort"\n'), [
    'm.toml:4: watchdog.action: expected "report" or "kill", got "abort"',
  ]);
  t.same(messages('version = 1\n[watchdog]\naction = "kill"\n'), [
    'm.toml:3: watchdog.action: has no effect without watchdog.stall (the watchdog is off)',
  ]);
  t.same(messages('version = 1\n[watchdog]\nstal = "1s"\n'), ['m.toml:3: watchdog.stal: unknown key (did you mean "stall"?)']);
  t.match(describeManifest(parse('version = 1\n[watchdog]\nstall = "2m"\n')), /watchdog: {3}stall=120000ms action=report/);
  t.match(describeManifest(parse('version = 1\n')), /watchdog: {3}off/);
});

t.test('describeManifest', async (t) => {
  const text = describeManifest(
    parse(
      'version = 1\n[syscalls]\ndeny = { ptrace = "EPERM" }\nkill = ["reboot"]\n[filesystem]\nread = ["/usr"]\n[env]\ninherit = false\npass = ["PATH"]\nset = { LANG = "C" }\n[ipc]\npersist = "/p"\n',
    ),
  );
  t.match(text, /emulate semget semop semtimedop semctl/);
  t.match(text, /deny ptrace=EPERM/);
  t.match(text, /kill reboot/);
  t.match(text, /read \/usr/);
  t.match(text, /write \(none\)/);
  t.match(text, /only PATH; set LANG="C"/);
  t.match(text, /semmsl=32000 semmns=1024000000 semopm=500 semmni=32000/);
  t.match(text, /persist=\/p/);
  t.match(describeManifest(defaultManifest(EMULABLE)), /every path/);
});

t.test('helpers', async (t) => {
  t.equal(renderPath(['syscalls', 'emulate', 2]), 'syscalls.emulate[2]');
  t.equal(renderPath(['env', 'set', 'MY VAR']), 'env.set."MY VAR"');
  t.equal(renderPath([]), '');
  t.equal(editDistance('semopp', 'semop'), 1);
  t.equal(editDistance('emualte', 'emulate'), 1);
  t.equal(editDistance('', 'abc'), 3);
  t.equal(suggest('emulte', ['emulate', 'deny', 'kill']), 'emulate');
  t.equal(suggest('zzz', ['emulate', 'deny', 'kill']), undefined);
});

t.test('the filter refuses the mount calls Landlock has no hook for, unless the manifest refuses them itself', async (t) => {
  const [OPEN_TREE, FSOPEN, FSPICK, FSMOUNT, MOUNT_SETATTR, OPEN_TREE_ATTR] = [428, 430, 433, 432, 442, 467];
  const EPERM = 1;
  const spec = manifestFilterSpec(parse('version = 1\n'));
  for (const nr of [FSOPEN, FSPICK, FSMOUNT, MOUNT_SETATTR, OPEN_TREE_ATTR]) t.equal(spec.errno.get(nr), EPERM, `nr ${nr}`);
  const pathOnly = 0o2000000 | 0x1000 | 0x800 | 0x100 | 0x8000; // O_CLOEXEC AT_EMPTY_PATH AT_NO_AUTOMOUNT AT_SYMLINK_NOFOLLOW AT_RECURSIVE
  t.same(spec.errnoIf?.get(OPEN_TREE), { test: { arg: 2, mask: ~pathOnly >>> 0 }, errno: EPERM }, 'open_tree with any other flag');
  t.equal((spec.errnoIf?.get(OPEN_TREE)?.test as { mask: number }).mask & 0b11, 0b11, 'OPEN_TREE_CLONE and OPEN_TREE_NAMESPACE');
  const own = manifestFilterSpec(parse('version = 1\n[syscalls]\ndeny = { fsopen = "ENOSYS" }\nkill = ["open_tree"]\n'));
  t.equal(own.errno.get(FSOPEN), 38, "the manifest's own errno");
  t.same(own.kill, [OPEN_TREE], 'killed, whatever its flags');
  t.notOk(own.errnoIf?.has(OPEN_TREE), 'open_tree not tested when killed');
  t.equal(own.errno.get(FSMOUNT), EPERM, 'the others still refused');
});

t.test('the filter refuses a new mount or IPC namespace (unshare, clone) and answers clone3 ENOSYS', async (t) => {
  const [CLONE, UNSHARE, CLONE3] = [56, 272, 435];
  const [EPERM, ENOSYS, CLONE_NEWNS, CLONE_NEWIPC] = [1, 38, 0x20000, 0x8000000];
  const spec = manifestFilterSpec(parse('version = 1\n'));
  t.same(spec.errnoIf?.get(UNSHARE), { test: { arg: 0, mask: CLONE_NEWNS | CLONE_NEWIPC }, errno: EPERM });
  t.same(spec.errnoIf?.get(CLONE), { test: { arg: 0, mask: CLONE_NEWNS | CLONE_NEWIPC }, errno: EPERM });
  t.equal(spec.errno.get(CLONE3), ENOSYS, 'clone3: C libraries fall back to clone');
  const own = manifestFilterSpec(parse('version = 1\n[syscalls]\ndeny = { clone3 = "EPERM", unshare = "EINVAL" }\n'));
  t.equal(own.errno.get(CLONE3), EPERM, "the manifest's own errno for clone3");
  t.equal(own.errno.get(UNSHARE), 22, "the manifest's own errno for unshare, whatever its flags");
  t.notOk(own.errnoIf?.has(UNSHARE));
  t.ok(own.errnoIf?.has(CLONE), 'clone still tested');
});
