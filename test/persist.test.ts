// [ipc] persist end to end: semaphores survive a restart of the sandbox, and
// a corrupt file stops the launch with a clear error.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { C_BIN, sysvisor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sysvisor-persist-'));
const state = join(dir, 'sem.json');
const manifest = join(dir, 'persist.toml');
writeFileSync(manifest, `version = 1\n[ipc]\npersist = "${state}"\n`);
const probe = (args: string) => `${C_BIN}sys_probe ${args}`;
const KEY = 0x7e57;
const IPC_CREAT_0600 = 0o1600;

t.test('values survive a restart', async (t) => {
  // semget(0x7e57, 2, IPC_CREAT|0600); semctl(id, 1, SETVAL, 42)
  const first = await sysvisor([
    'run',
    '-m',
    manifest,
    '--',
    '/bin/sh',
    '-c',
    `${probe(`64 ${KEY} 2 ${IPC_CREAT_0600}`)}; ${probe('66 0 1 16 42')}`,
  ]);
  t.equal(first.stdout, 'ret 0\nret 0\n');
  const second = await sysvisor([
    'run',
    '-m',
    manifest,
    '--',
    '/bin/sh',
    '-c',
    `${probe(`64 ${KEY} 0 0`)}; ${probe('66 0 1 12')}; ${probe('66 0 0 12')}`,
  ]);
  t.equal(second.stdout, 'ret 0\nret 42\nret 0\n', 'same id by key, value kept');
  const third = await sysvisor(['run', '-m', manifest, '--', '/bin/sh', '-c', probe('66 0 0 0')]);
  t.equal(third.stdout, 'ret 0\n', 'removed');
  const fourth = await sysvisor(['run', '-m', manifest, '--', '/bin/sh', '-c', probe(`64 ${KEY} 0 0`)]);
  t.equal(fourth.stdout, 'ret -1 ENOENT\n', 'a removal persists too');
});

t.test('a corrupt or foreign state file stops the launch', async (t) => {
  writeFileSync(state, '{"format": "something-else"}');
  const r = await sysvisor(['run', '-m', manifest, '--', '/bin/true'], { env: { ...process.env, NO_COLOR: '1' } });
  t.equal(r.status, 125);
  t.equal(r.stderr, `sysvisor: ipc.persist: ${state}: not a sysvisor semaphore state (format is not "sysvisor-sem-state")\n`);
});
