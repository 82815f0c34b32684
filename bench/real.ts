// Real programs from Debian's packages, natively and under sysvisor, for the
// bench's second table: a prefork Apache serving a small static file to `ab`
// with 16 concurrent clients (requests/s), twice: with one listener, so
// Apache takes no accept mutex (Debian's default ports.conf), and with two
// listeners and a SysV semaphore accept mutex, also under the C floor
// (bench/floor.c) to show what any seccomp-notify design pays for its two
// semops per request; and four concurrent sqlite3 writers on one database
// with a rollback journal (wall time). Either is skipped, saying why, when
// its programs are missing (`.ci/run` does not install them;
// `apt-get install apache2 apache2-utils sqlite3`).
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox, type Manifest } from '../supervisor/index.js';
import { median } from './median.js';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const AB = '/usr/bin/ab';
const SQLITE = '/usr/bin/sqlite3';
const CLIENTS = 16;
const WRITERS = 4;

export interface RealRow {
  name: string;
  what: string;
  unit: 'requests/s' | 's';
  native: number | null;
  /** Under the C floor supervisor, for the rows where only System V semaphores matter; null where not run. */
  floor: number | null;
  sysvisor: number | null;
  /** sysvisor as a fraction of native throughput (requests/s), or native time over sysvisor's (s): >= 1 is as fast. */
  share: number | null;
  /** The same for the C floor. */
  floorShare: number | null;
  note?: string;
}

function run(cmd: string, args: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1 << 22, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim().split('\n').pop() ?? err.message}`));
      else resolve(stdout);
    });
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms / 1000} s`);
}

type Mode = 'native' | 'floor' | 'sysvisor';

function apacheConfig(dir: string, ports: readonly number[]): string {
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'f.html'), `<html><body>${'x'.repeat(512)}</body></html>\n`);
  chmodSync(dir, 0o755);
  const conf = join(dir, 'httpd.conf');
  writeFileSync(
    conf,
    [
      ...ports.map((p) => `Listen 127.0.0.1:${p}`),
      `LoadModule mpm_prefork_module ${MODULES}/mod_mpm_prefork.so`,
      `LoadModule authz_core_module ${MODULES}/mod_authz_core.so`,
      'ServerName localhost',
      `DefaultRuntimeDir ${dir}`,
      `PidFile ${dir}/httpd.pid`,
      `ErrorLog ${dir}/error.log`,
      'User nobody',
      'Group nogroup',
      `DocumentRoot ${www}`,
      `<Directory ${www}>`,
      '  Require all granted',
      '</Directory>',
      ...(ports.length > 1 ? ['Mutex sysvsem default'] : []),
      'StartServers 8',
      'MinSpareServers 8',
      'MaxSpareServers 16',
      'ServerLimit 16',
      'MaxRequestWorkers 16',
      'MaxConnectionsPerChild 0',
      'KeepAlive Off',
      '',
    ].join('\n'),
  );
  return conf;
}

/** Send a signal to a process group; false once no process is left in it. */
function signalGroup(group: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-group, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves when the process group is empty (the floor's Apache outlives the
 * floor by its shutdown), killing what is left of it after `ms`.
 */
async function groupGone(group: number, ms = 20_000): Promise<void> {
  const until = performance.now() + ms;
  while (signalGroup(group, 0)) {
    if (performance.now() > until) {
      signalGroup(group, 'SIGKILL');
      return;
    }
    await sleep(50);
  }
}

interface ApacheRun {
  mode: Mode;
  manifest: Manifest;
  floor: string;
  listeners: 1 | 2;
  requests: number;
}

/** Requests per second `ab` reaches against one server start. */
async function apacheOnce(r: ApacheRun): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-bench-httpd-'));
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const conf = apacheConfig(dir, r.listeners === 1 ? [base] : [base, base + 1]);
  const args = ['-f', conf, '-DFOREGROUND'];
  let done: Promise<unknown>;
  // Not through httpd.pid: in the sandbox's PID namespace Apache writes its own namespace's pid there.
  let stop: () => void;
  if (r.mode === 'sysvisor') {
    const sandbox = new Sandbox();
    done = sandbox.run(APACHE, args, { manifest: r.manifest, stdio: 'pipe' });
    stop = () => sandbox.kill('SIGTERM');
  } else {
    // Its own process group: at shutdown prefork sends SIGTERM to its whole group (the floor is in it, and
    // dies of it, which is fine: its semaphores live only in its memory).
    const [cmd, argv] = r.mode === 'floor' ? [r.floor, ['--sem', '--', APACHE, ...args]] : [APACHE, args];
    const child = spawn(cmd, argv, { stdio: 'ignore', detached: true });
    if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
    const group = child.pid;
    done = new Promise((resolve) => child.on('close', resolve)).then(() => groupGone(group));
    stop = () => signalGroup(group, 'SIGTERM');
  }
  try {
    await waitForPort(base, 20_000);
    const out = await run(AB, ['-q', '-n', String(r.requests), '-c', String(CLIENTS), `http://127.0.0.1:${base}/f.html`]);
    const m = /Requests per second:\s+([\d.]+)/.exec(out);
    const failed = /Failed requests:\s+(\d+)/.exec(out);
    if (m === null) throw new Error(`no "Requests per second" in ab's output`);
    if (failed !== null && failed[1] !== '0') throw new Error(`ab: ${failed[1]} failed requests`);
    return Number(m[1]);
  } finally {
    stop();
    await Promise.race([done, sleep(20_000)]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Wall seconds of WRITERS concurrent sqlite3 writers inserting `rows` rows each, one transaction per row. */
async function sqliteOnce(mode: Mode, manifest: Manifest, rows: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-bench-sqlite-'));
  try {
    const db = join(dir, 'db');
    await run(SQLITE, [db, 'CREATE TABLE t (w INTEGER, i INTEGER, pad TEXT);']);
    for (let w = 0; w < WRITERS; w++) {
      const lines = ['.timeout 20000'];
      for (let i = 0; i < rows; i++) lines.push(`BEGIN IMMEDIATE; INSERT INTO t VALUES (${w}, ${i}, '${'p'.repeat(64)}'); COMMIT;`);
      writeFileSync(join(dir, `w${w}.sql`), lines.join('\n') + '\n');
    }
    const script = Array.from({ length: WRITERS }, (_, w) => `${SQLITE} ${db} < ${dir}/w${w}.sql &`).join(' ') + ' wait';
    const t0 = performance.now();
    if (mode === 'sysvisor') {
      const r = await Sandbox.run('/bin/sh', ['-c', script], { manifest, stdio: 'pipe' });
      if (r.status !== 0) throw new Error(`sqlite writers under sysvisor: exit ${r.status}: ${r.stderr?.toString().trim()}`);
    } else {
      await run('/bin/sh', ['-c', script]);
    }
    const seconds = (performance.now() - t0) / 1000;
    const count = Number((await run(SQLITE, [db, 'SELECT count(*) FROM t;'])).trim());
    if (count !== WRITERS * rows) throw new Error(`${count} rows of ${WRITERS * rows}: writes were lost`);
    return seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fill the row's cells with the median of `reps` rounds, the modes taking turns within each round. */
async function measure(row: RealRow, modes: readonly Mode[], reps: number, once: (mode: Mode) => Promise<number>): Promise<void> {
  const samples = new Map<Mode, number[]>(modes.map((m) => [m, []]));
  for (let i = 0; i < reps; i++) for (const m of modes) samples.get(m)?.push(await once(m));
  const cell = (m: Mode) => (modes.includes(m) ? median(samples.get(m) ?? []) : null);
  row.native = cell('native');
  row.floor = cell('floor');
  row.sysvisor = cell('sysvisor');
  // Throughput: the share is the sandbox's over native; time: native's over the sandbox's.
  const share = (v: number | null) =>
    v === null || row.native === null ? null : row.unit === 'requests/s' ? v / row.native : row.native / v;
  row.share = share(row.sysvisor);
  row.floorShare = share(row.floor);
}

function emptyRow(name: string, what: string, unit: RealRow['unit']): RealRow {
  return { name, what, unit, native: null, floor: null, sysvisor: null, share: null, floorShare: null };
}

export interface RealSetup {
  /** The default policy: exact POSIX lock semantics, so every close is notified. */
  manifest: Manifest;
  /** The same with `[locks] mode = "fast"`: closes run natively. */
  fastLocks: Manifest;
  /** The C floor supervisor's binary. */
  floor: string;
}

export async function realPrograms(setup: RealSetup, opts: { quick: boolean; reps: number }): Promise<RealRow[]> {
  const rows: RealRow[] = [];
  const reps = Math.min(opts.reps, 3);
  const requests = opts.quick ? 2000 : 6000;
  const { manifest, fastLocks, floor } = setup;
  const servers: [RealRow, Omit<ApacheRun, 'mode' | 'requests'>, Mode[]][] = [
    [
      emptyRow('apache', `Apache 2.4 prefork, 1 listener (no accept mutex); ab -c ${CLIENTS}, a 0.5 KiB file`, 'requests/s'),
      { manifest, floor, listeners: 1 },
      ['native', 'sysvisor'],
    ],
    [
      emptyRow('apache, fast locks', 'the same under [locks] mode = "fast" (closes not notified)', 'requests/s'),
      { manifest: fastLocks, floor, listeners: 1 },
      ['native', 'sysvisor'],
    ],
    [
      emptyRow('apache sysvsem', 'the same with 2 listeners and a SysV semaphore accept mutex (2 semops per request)', 'requests/s'),
      { manifest, floor, listeners: 2 },
      ['native', 'floor', 'sysvisor'],
    ],
  ];
  const missing = [APACHE, AB].filter((f) => !existsSync(f));
  for (const [row, server, modes] of servers) {
    if (missing.length > 0) {
      row.note = `skipped: ${missing.join(', ')} not installed (apt-get install apache2 apache2-utils)`;
    } else {
      try {
        await measure(row, modes, reps, (mode) => apacheOnce({ ...server, mode, requests }));
      } catch (err) {
        row.note = `failed: ${(err as Error).message}`;
      }
    }
    rows.push(row);
  }
  const writers = emptyRow('sqlite3 writers', `${WRITERS} concurrent sqlite3 processes, one transaction per row, rollback journal`, 's');
  if (!existsSync(SQLITE)) {
    writers.note = `skipped: ${SQLITE} not installed (apt-get install sqlite3)`;
  } else {
    try {
      await measure(writers, ['native', 'sysvisor'], reps, (mode) => sqliteOnce(mode, manifest, opts.quick ? 100 : 300));
    } catch (err) {
      writers.note = `failed: ${(err as Error).message}`;
    }
  }
  rows.push(writers);
  return rows;
}

export function realTable(rows: readonly RealRow[]): string {
  const fmt = (v: number | null, unit: RealRow['unit']) => (v === null ? '-' : unit === 's' ? `${v.toFixed(2)} s` : `${v.toFixed(0)}/s`);
  const share = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}x`);
  const head = [
    'real program'.padEnd(18),
    ...['native', 'C floor', 'sysvisor', 'floor vs native', 'sysvisor vs native'].map((h, i) => h.padStart(i < 3 ? 12 : 20)),
  ];
  const lines = [head.join('')];
  for (const r of rows) {
    const cells = [fmt(r.native, r.unit), fmt(r.floor, r.unit), fmt(r.sysvisor, r.unit)].map((c) => c.padStart(12));
    const shares = [share(r.floorShare), share(r.share)].map((c) => c.padStart(20));
    lines.push(`${r.name.padEnd(18)}${cells.join('')}${shares.join('')}${r.note ? `  (${r.note})` : ''}`);
  }
  return lines.join('\n');
}
