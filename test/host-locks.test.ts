// Host-coherent file locks ([locks] host = "coherent", the default): one
// host_lock client (test/c/host_lock.c) runs on the host and one under
// sysvisor (or two sandboxes), taking turns through marker files. Where one
// side must be asleep in a lock call before the other acts, the test waits
// until the host's /proc/locks lists a blocked request on the file (the
// sandbox's wait runs there on a helper thread), never for a time.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { C_BIN, CLI, type Exec, hostProcLocks, procLocksId } from './helpers.js';

const HL = `${C_BIN}host_lock`;
const SQLITE = ['/usr/bin/sqlite3', '/bin/sqlite3'].find((p) => existsSync(p));
const POLL_MS = 10;
const LIMIT_MS = 60_000;

const scratch = (t: { teardown(fn: () => void): void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-hostlocks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** A manifest emulating the lock calls with [locks] host and mode as given. */
function manifest(dir: string, host: 'coherent' | 'isolated', mode: 'exact' | 'fast' = 'exact'): string {
  const path = join(dir, `${host}-${mode}.toml`);
  writeFileSync(path, `version = 1\n[syscalls]\nemulate = ["fcntl", "flock"]\n[locks]\nmode = "${mode}"\nhost = "${host}"\n`);
  return path;
}

interface Run {
  pid: number;
  done: Promise<Exec>;
}

function start(cmd: string, args: readonly string[]): Run {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
  const done = new Promise<Exec>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
  return { pid: child.pid!, done };
}

const host = (file: string, ops: readonly string[]): Run => start(HL, [file, ...ops]);
const sandboxed = (m: string, file: string, ops: readonly string[], extra: readonly string[] = []): Run =>
  start(process.execPath, [CLI, 'run', '-m', m, ...extra, '--', HL, file, ...ops]);

/** The lines a client printed for its lock calls and probes (marks, awaits and sleeps left out). */
const results = (r: Exec): string[] =>
  r.stdout
    .trim()
    .split('\n')
    .filter((l) => / = /.test(l));

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let waited = 0; !ok(); waited += POLL_MS) {
    if (waited > LIMIT_MS) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Requests blocked on the file in the host's /proc/locks (host processes and the sandbox's helpers alike). */
const blockedOn = (file: string): number => hostProcLocks(` ${procLocksId(file)} `).filter((l) => l.includes('->')).length;

const whenBlocked = (file: string): Promise<void> => until(`a blocked request on ${file} in /proc/locks`, () => blockedOn(file) > 0);

const marker = (file: string, name: string) => `${file}.${name}`;
const markerPid = (file: string, name: string) => Number(readFileSync(marker(file, name), 'utf8').trim());
const mark = (file: string, name: string) => writeFileSync(marker(file, name), '0\n');

/** NSpid (the pid in each PID namespace, the host's first) and PPid of a process, or null once it is gone. */
function ids(pid: number): { nspid: number[]; ppid: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const nspid = (/^NSpid:\s+(.*)$/m.exec(status)?.[1] ?? String(pid)).trim().split(/\s+/).map(Number);
    return { nspid, ppid: Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1] ?? 0) };
  } catch {
    return null;
  }
}

/**
 * The host's pid of the sandboxed process that wrote its own pid (its PID
 * namespace's, as root) into marker `name`: the process below `run` whose
 * last NSpid it is.
 */
function sandboxedPid(file: string, name: string, run: Run): number {
  const own = markerPid(file, name);
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || ids(pid)?.nspid.at(-1) !== own) continue;
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++, p = ids(p)?.ppid ?? 0) if (p === run.pid) return pid;
  }
  throw new Error(`no process below sysvisor ${run.pid} has pid ${own} in its namespace`);
}

t.test('POSIX, sandbox to host: ranges, splits, merges, downgrades and unlocks are what the host sees', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'f');
  const m = manifest(dir, 'coherent');
  const sbx = sandboxed(m, file, [
    'set:posix:w:0:100',
    'set:posix:u:40:10',
    'mark:split',
    'await:go1',
    'set:posix:w:40:10',
    'mark:merged',
    'await:go2',
    'set:posix:r:0:100',
    'mark:down',
    'await:go3',
    'set:posix:u:0:0',
    'await:go4',
  ]);
  const h = host(file, [
    'await:split',
    'hostlocks',
    'get:posix:w:0:0',
    'set:posix:r:45:1',
    'set:posix:u:45:1',
    'set:posix:r:20:1',
    'mark:go1',
    'await:merged',
    'hostlocks',
    'mark:go2',
    'await:down',
    'hostlocks',
    'set:posix:r:10:1',
    'set:posix:w:50:1',
    'mark:blocking',
    'wait:posix:w:0:0',
    'hostlocks',
    'mark:go4',
  ]);
  await until('the host client to ask for the write lock', () => existsSync(marker(file, 'blocking')));
  await whenBlocked(file);
  mark(file, 'go3');
  const [s, o] = await Promise.all([sbx.done, h.done]);
  t.equal(s.status, 0, s.stderr);
  t.equal(o.status, 0, o.stderr);
  t.same(
    results(o),
    [
      'hostlocks = OFDLCK WRITE 0 39, OFDLCK WRITE 50 99',
      'get:posix:w:0:0 = F_WRLCK 0 40 pid -1',
      'set:posix:r:45:1 = 0',
      'set:posix:u:45:1 = 0',
      'set:posix:r:20:1 = -1 EAGAIN',
      'hostlocks = OFDLCK WRITE 0 99',
      'hostlocks = OFDLCK READ 0 99',
      'set:posix:r:10:1 = 0',
      'set:posix:w:50:1 = -1 EAGAIN',
      'wait:posix:w:0:0 = 0',
      'hostlocks = POSIX WRITE 0 EOF',
    ],
    "the host saw each state and was woken by the sandbox's unlock",
  );
  t.same(results(s), [
    'set:posix:w:0:100 = 0',
    'set:posix:u:40:10 = 0',
    'set:posix:w:40:10 = 0',
    'set:posix:r:0:100 = 0',
    'set:posix:u:0:0 = 0',
  ]);
});

t.test("POSIX, sandbox to host: a read-only fd's read locks carry over when a write lock needs a writable description", async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'f');
  writeFileSync(file, '');
  const sbx = sandboxed(manifest(dir, 'coherent'), file, [
    'fd:ro',
    'set:posix:r:0:10',
    'fd:rw',
    'set:posix:w:20:10',
    'mark:held',
    'await:go',
  ]);
  const h = host(file, ['await:held', 'hostlocks', 'set:posix:w:5:1', 'mark:go']);
  const [s, o] = await Promise.all([sbx.done, h.done]);
  t.equal(s.status, 0, s.stderr);
  t.same(results(s), ['fd:ro = 0', 'set:posix:r:0:10 = 0', 'fd:rw = 0', 'set:posix:w:20:10 = 0']);
  t.same(results(o), ['hostlocks = OFDLCK READ 0 9, OFDLCK WRITE 20 29', 'set:posix:w:5:1 = -1 EAGAIN']);
});

t.test('POSIX and OFD, host to sandbox: conflicts, F_GETLK reports the host holder, a wait is woken by the host unlock', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'f');
  const h = host(file, ['set:posix:w:0:10', 'set:ofd:r:20:5', 'mark:held', 'await:go', 'set:posix:u:0:10', 'await:done']);
  const sbx = sandboxed(manifest(dir, 'coherent'), file, [
    'await:held',
    'get:posix:w:0:0',
    'get:ofd:w:15:100',
    'set:posix:r:5:1',
    'set:ofd:w:22:1',
    'set:posix:r:20:5',
    'mark:tried',
    'wait:posix:w:0:10',
    'mark:done',
  ]);
  await until('the sandboxed client to try', () => existsSync(marker(file, 'tried')));
  await whenBlocked(file);
  mark(file, 'go');
  const [s, o] = await Promise.all([sbx.done, h.done]);
  t.equal(s.status, 0, s.stderr);
  t.equal(o.status, 0, o.stderr);
  // As root the sandbox has a PID namespace of its own, where a host holder has no pid: l_pid 0 (locks_translate_pid).
  const holder = process.getuid?.() === 0 ? 0 : h.pid;
  t.same(results(s), [
    `get:posix:w:0:0 = F_WRLCK 0 10 pid ${holder}`,
    'get:ofd:w:15:100 = F_RDLCK 20 5 pid -1',
    'set:posix:r:5:1 = -1 EAGAIN',
    'set:ofd:w:22:1 = -1 EAGAIN',
    'set:posix:r:20:5 = 0',
    'wait:posix:w:0:10 = 0',
  ]);
});

t.test('OFD and flock, both ways: conflicts, sharing, waits woken from the other side', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'f');
  const sbx = sandboxed(manifest(dir, 'coherent'), file, [
    'set:ofd:w:0:10',
    'flock:ex',
    'mark:held',
    'await:go',
    'set:ofd:u:0:10',
    'flock:un',
    'await:hostheld',
    'flock:sh:nb',
    'flock:ex:nb',
    'set:ofd:w:0:1',
    'mark:tried',
    'flock:ex',
    'mark:done',
  ]);
  const h = host(file, [
    'await:held',
    'get:ofd:r:5:1',
    'set:posix:r:5:1',
    'flock:sh:nb',
    'mark:blocking',
    'wait:ofd:r:0:1',
    'flock:sh',
    'mark:hostheld',
    'await:go2',
    'flock:un',
    'await:done',
  ]);
  await until('the host client to ask', () => existsSync(marker(file, 'blocking')));
  await whenBlocked(file);
  mark(file, 'go');
  await until('the sandboxed client to try', () => existsSync(marker(file, 'tried')));
  await whenBlocked(file);
  mark(file, 'go2');
  const [s, o] = await Promise.all([sbx.done, h.done]);
  t.equal(s.status, 0, s.stderr);
  t.equal(o.status, 0, o.stderr);
  t.same(results(o), [
    'get:ofd:r:5:1 = F_WRLCK 0 10 pid -1',
    'set:posix:r:5:1 = -1 EAGAIN',
    'flock:sh:nb = -1 EAGAIN',
    'wait:ofd:r:0:1 = 0',
    'flock:sh = 0',
    'flock:un = 0',
  ]);
  t.same(
    results(s),
    [
      'set:ofd:w:0:10 = 0',
      'flock:ex = 0',
      'set:ofd:u:0:10 = 0',
      'flock:un = 0',
      'flock:sh:nb = 0',
      'flock:ex:nb = -1 EAGAIN',
      'set:ofd:w:0:1 = -1 EAGAIN',
      'flock:ex = 0',
    ],
    'the host shares a flock read lock, refuses the rest, and its unlock wakes the sandbox',
  );
});

for (const [kind, op] of [
  ['POSIX', 'wait:posix:w:0:0'],
  ['flock', 'flock:ex'],
] as const) {
  for (const restart of [false, true]) {
    t.test(`${kind}: a signal during a wait on a host-held lock, handler ${restart ? 'with' : 'without'} SA_RESTART`, async (t) => {
      const dir = scratch(t);
      const file = join(dir, 'f');
      const hostOps = kind === 'POSIX' ? ['set:posix:w:0:0'] : ['flock:ex'];
      // Without SA_RESTART the host holds on until the sandbox has its EINTR and its helper gave up
      // waiting (checked below); with it, until the signal was handled.
      const h = host(file, [
        ...hostOps,
        'mark:held',
        restart ? 'await:signalled' : 'await:checked',
        kind === 'POSIX' ? 'set:posix:u:0:0' : 'flock:un',
        'await:done',
      ]);
      // The sandbox stays until the check: a supervisor that exits takes its helpers along.
      const sbx = sandboxed(manifest(dir, 'coherent'), file, [
        'await:held',
        `handler:${restart ? 'restart' : 'norestart'}`,
        'mark:sbx',
        op,
        'mark:done',
        ...(restart ? [] : ['await:checked']),
      ]);
      await until('the sandboxed client', () => existsSync(marker(file, 'sbx')));
      await whenBlocked(file);
      process.kill(sandboxedPid(file, 'sbx', sbx), 'SIGUSR1');
      if (!restart) {
        await until('the EINTR', () => existsSync(marker(file, 'done')));
        await until('the helper to stop waiting in the host kernel', () => blockedOn(file) === 0);
        mark(file, 'checked');
      }
      const [s, o] = await Promise.all([sbx.done, h.done]);
      t.equal(s.status, 0, s.stderr);
      t.equal(o.status, 0, o.stderr);
      t.same(results(s).slice(-1), [`${op} = ${restart ? '0' : '-1 EINTR'}`]);
      // Nothing the interrupted wait asked for is left on the host: a fresh client gets the lock at once.
      const after = await host(file, kind === 'POSIX' ? ['wait:posix:w:0:0', 'hostlocks'] : ['flock:ex', 'hostlocks']).done;
      t.same(results(after).slice(-1), [`hostlocks = ${kind === 'POSIX' ? 'POSIX WRITE 0 EOF' : 'FLOCK WRITE 0 EOF'}`]);
    });
  }
}

for (const mode of ['exact', 'fast'] as const)
  t.test(`kill -9 of the sandboxed holder releases what the host saw (${mode} mode)`, async (t) => {
    const dir = scratch(t);
    const file = join(dir, 'f');
    const sbx = sandboxed(manifest(dir, 'coherent', mode), file, [
      'set:posix:w:0:10',
      'set:ofd:r:100:1',
      'flock:sh',
      'mark:held',
      'sleep:60000',
    ]);
    const h = host(file, ['await:held', 'hostlocks', 'mark:seen', 'wait:posix:w:0:0', 'flock:ex', 'hostlocks']);
    await until('the host client to look', () => existsSync(marker(file, 'seen')));
    process.kill(sandboxedPid(file, 'held', sbx), 'SIGKILL');
    const [s, o] = await Promise.all([sbx.done, h.done]);
    t.not(s.status, 0, 'the sandboxed program was killed');
    t.equal(o.status, 0, o.stderr);
    t.same(results(o), [
      'hostlocks = FLOCK READ 0 EOF, OFDLCK READ 100 100, OFDLCK WRITE 0 9',
      'wait:posix:w:0:0 = 0',
      'flock:ex = 0',
      'hostlocks = FLOCK WRITE 0 EOF, POSIX WRITE 0 EOF',
    ]);
  });

t.test('two sandboxes are coherent with each other through the host', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'f');
  const m = manifest(dir, 'coherent');
  const a = sandboxed(m, file, ['flock:ex', 'set:posix:w:0:10', 'mark:held', 'await:go']);
  const b = sandboxed(m, file, [
    'await:held',
    'flock:ex:nb',
    'set:posix:w:5:1',
    'get:posix:w:0:0',
    'mark:go',
    'wait:posix:w:0:0',
    'flock:ex',
  ]);
  const [ra, rb] = await Promise.all([a.done, b.done]);
  t.equal(ra.status, 0, ra.stderr);
  t.equal(rb.status, 0, rb.stderr);
  t.same(results(rb), [
    'flock:ex:nb = -1 EAGAIN',
    'set:posix:w:5:1 = -1 EAGAIN',
    'get:posix:w:0:0 = F_WRLCK 0 10 pid -1',
    'wait:posix:w:0:0 = 0',
    'flock:ex = 0',
  ]);
});

t.test('host = "isolated": the sandbox\'s locks are its own, as before', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'f');
  const sbx = sandboxed(manifest(dir, 'isolated'), file, ['flock:ex', 'set:posix:w:0:0', 'mark:held', 'await:go']);
  const h = host(file, ['await:held', 'flock:ex:nb', 'set:posix:w:0:0', 'hostlocks', 'mark:go']);
  const [s, o] = await Promise.all([sbx.done, h.done]);
  t.equal(s.status, 0, s.stderr);
  t.same(results(o), ['flock:ex:nb = 0', 'set:posix:w:0:0 = 0', 'hostlocks = FLOCK WRITE 0 EOF, POSIX WRITE 0 EOF']);
});

t.test('a file the supervisor cannot reopen keeps sandbox-only POSIX locks, with one warning, in --stats', async (t) => {
  const dir = scratch(t);
  const fifo = join(dir, 'fifo');
  const mk = spawn('mkfifo', [fifo]);
  await new Promise((r) => mk.on('close', r));
  const r = await sandboxed(manifest(dir, 'coherent'), fifo, ['set:posix:w:0:0', 'set:posix:u:0:0', 'set:posix:r:0:0'], ['--stats']).done;
  t.equal(r.status, 0, r.stderr);
  t.same(results(r), ['set:posix:w:0:0 = 0', 'set:posix:u:0:0 = 0', 'set:posix:r:0:0 = 0'], 'the locks work in the sandbox');
  t.equal(
    r.stderr.match(/warning: locks on file \S+ stay in the sandbox, invisible to the host \(not a regular file or directory\)/g)?.length,
    1,
    r.stderr,
  );
  t.match(r.stderr, /locks: 1 file held in the sandbox only/);
});

for (const journal of ['delete', 'wal'] as const) {
  t.test(
    `sqlite3 writers on the host and in two sandboxes (journal_mode ${journal}): every row, integrity ok`,
    { skip: SQLITE ? false : 'SQLITE3 MISSING: install sqlite3 (apt-get install -y sqlite3) to run the mixed-writer test' },
    async (t) => {
      const dir = scratch(t);
      const db = join(dir, 'db');
      const ROWS = 150;
      const setup = await start(SQLITE!, [db, `pragma journal_mode=${journal}; create table t(w text, i int);`]).done;
      t.equal(setup.status, 0, setup.stderr);
      const script = (w: string) => {
        const path = join(dir, `${w}.sql`);
        const lines = ['.bail on', '.timeout 30000'];
        for (let i = 1; i <= ROWS; i++) lines.push(`BEGIN IMMEDIATE; INSERT INTO t VALUES('${w}', ${i}); COMMIT;`);
        writeFileSync(path, lines.join('\n') + '\n');
        return path;
      };
      const m = manifest(dir, 'coherent');
      const writers = [
        start('/bin/sh', ['-c', `${SQLITE} ${db} < ${script('h1')}`]),
        start('/bin/sh', ['-c', `${SQLITE} ${db} < ${script('h2')}`]),
        start(process.execPath, [CLI, 'run', '-m', m, '--', '/bin/sh', '-c', `${SQLITE} ${db} < ${script('s1')}`]),
        start(process.execPath, [CLI, 'run', '-m', m, '--', '/bin/sh', '-c', `${SQLITE} ${db} < ${script('s2')}`]),
      ];
      const done = await Promise.all(writers.map((w) => w.done));
      for (const [i, r] of done.entries())
        t.same({ status: r.status, stderr: r.stderr }, { status: 0, stderr: '' }, `writer ${i} had no error`);
      const check = await start(SQLITE!, [db, 'select w, count(*) from t group by w order by w; pragma integrity_check;']).done;
      t.equal(check.stdout, `h1|${ROWS}\nh2|${ROWS}\ns1|${ROWS}\ns2|${ROWS}\nok\n`, 'every row of every writer, and integrity_check ok');
    },
  );
}
