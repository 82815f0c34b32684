// Real programs from Debian's packages, natively and under sysvisor, for the
// bench's second table: a prefork Apache with a SysV semaphore accept mutex
// (two listeners, so the mutex is used) serving a small static file to `ab`
// with 16 concurrent clients (requests/s), and four concurrent sqlite3
// writers on one database with a rollback journal (wall time). Either is
// skipped, saying why, when its programs are missing (`.ci/run` does not
// install them; `apt-get install apache2 apache2-utils sqlite3`).
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
  sysvisor: number | null;
  /** sysvisor as a fraction of native throughput (requests/s), or native time over sysvisor's (s): >= 1 is as fast. */
  share: number | null;
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
      'Mutex sysvsem default',
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

/** Requests per second `ab` reaches against one server start (native or sandboxed). */
async function apacheOnce(sandboxed: boolean, manifest: Manifest, requests: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sysvisor-bench-httpd-'));
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const conf = apacheConfig(dir, [base, base + 1]);
  const args = ['-f', conf, '-DFOREGROUND'];
  let done: Promise<unknown>;
  // Not through httpd.pid: in the sandbox's PID namespace Apache writes its own namespace's pid there.
  let stop: () => void;
  if (sandboxed) {
    const sandbox = new Sandbox();
    done = sandbox.run(APACHE, args, { manifest, stdio: 'pipe' });
    stop = () => sandbox.kill('SIGTERM');
  } else {
    // Its own process group: at shutdown prefork sends SIGTERM to its whole group.
    const child = spawn(APACHE, args, { stdio: 'ignore', detached: true });
    done = new Promise((resolve) => child.on('close', resolve));
    stop = () => child.kill('SIGTERM');
  }
  try {
    await waitForPort(base, 20_000);
    const out = await run(AB, ['-q', '-n', String(requests), '-c', String(CLIENTS), `http://127.0.0.1:${base}/f.html`]);
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
async function sqliteOnce(sandboxed: boolean, manifest: Manifest, rows: number): Promise<number> {
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
    if (sandboxed) {
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

async function pair(reps: number, once: (sandboxed: boolean) => Promise<number>): Promise<[number, number]> {
  const native: number[] = [];
  const sandboxed: number[] = [];
  for (let i = 0; i < reps; i++) {
    native.push(await once(false));
    sandboxed.push(await once(true));
  }
  return [median(native), median(sandboxed)];
}

export async function realPrograms(manifest: Manifest, opts: { quick: boolean; reps: number }): Promise<RealRow[]> {
  const rows: RealRow[] = [];
  const reps = Math.min(opts.reps, 3);
  const server: RealRow = {
    name: 'apache prefork',
    what: `Apache 2.4 prefork, SysV semaphore accept mutex, 2 listeners; ab -c ${CLIENTS}, a 0.5 KiB file`,
    unit: 'requests/s',
    native: null,
    sysvisor: null,
    share: null,
  };
  const missing = [APACHE, AB].filter((f) => !existsSync(f));
  if (missing.length > 0) {
    server.note = `skipped: ${missing.join(', ')} not installed (apt-get install apache2 apache2-utils)`;
  } else {
    try {
      [server.native, server.sysvisor] = await pair(reps, (s) => apacheOnce(s, manifest, opts.quick ? 2000 : 6000));
      server.share = server.sysvisor / server.native;
    } catch (err) {
      server.note = `failed: ${(err as Error).message}`;
    }
  }
  rows.push(server);
  const writers: RealRow = {
    name: 'sqlite3 writers',
    what: `${WRITERS} concurrent sqlite3 processes, one transaction per row, rollback journal`,
    unit: 's',
    native: null,
    sysvisor: null,
    share: null,
  };
  if (!existsSync(SQLITE)) {
    writers.note = `skipped: ${SQLITE} not installed (apt-get install sqlite3)`;
  } else {
    try {
      [writers.native, writers.sysvisor] = await pair(reps, (s) => sqliteOnce(s, manifest, opts.quick ? 100 : 300));
      writers.share = writers.native / writers.sysvisor;
    } catch (err) {
      writers.note = `failed: ${(err as Error).message}`;
    }
  }
  rows.push(writers);
  return rows;
}

export function realTable(rows: readonly RealRow[]): string {
  const fmt = (v: number | null, unit: RealRow['unit']) => (v === null ? '-' : unit === 's' ? `${v.toFixed(2)} s` : `${v.toFixed(0)}/s`);
  const lines = [`${'real program'.padEnd(18)}${'native'.padStart(12)}${'sysvisor'.padStart(12)}${'speed vs native'.padStart(17)}`];
  for (const r of rows) {
    lines.push(
      `${r.name.padEnd(18)}${fmt(r.native, r.unit).padStart(12)}${fmt(r.sysvisor, r.unit).padStart(12)}${(r.share === null ? '-' : `${r.share.toFixed(2)}x`).padStart(17)}${r.note ? `  (${r.note})` : ''}`,
    );
  }
  return lines.join('\n');
}
