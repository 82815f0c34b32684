// Process lifecycle under load: a multithreaded parent forks while its other
// threads run semop and fcntl; the sandboxed run must end exactly as the
// native one, and the supervisor's final state must hold nothing of the dead.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { C_BIN, exec, sysvisor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sysvisor-lifecycle-'));
const ROUNDS = process.env.SYSVISOR_STRESS_ROUNDS ?? '3000';

t.test('multithreaded fork with concurrent semop and fcntl: nothing corrupt, nothing leaked', async (t) => {
  const emulate = ['semget', 'semop', 'semtimedop', 'semctl', 'fcntl', 'flock'];
  const manifest = join(dir, 'mtfork.toml');
  writeFileSync(manifest, `version = 1\n[syscalls]\nemulate = ${JSON.stringify(emulate)}\n`);
  const dump = join(dir, 'state.json');
  const native = await exec(`${C_BIN}proc_mtfork`, [ROUNDS]);
  const sandboxed = await sysvisor(['run', '-m', manifest, '--dump-state', dump, '--', `${C_BIN}proc_mtfork`, ROUNDS], {
    timeoutMs: 120_000,
  });
  t.equal(native.stdout, 'mutex free: yes\ncounter counts every round: yes\nfile lock free for another process: yes\ndone\n');
  t.equal(sandboxed.stdout, native.stdout);
  t.equal(sandboxed.status, 0);
  const state = JSON.parse(readFileSync(dump, 'utf8')) as { processes: unknown[]; sem: { sets: unknown[] }; locks?: { files: unknown[] } };
  t.same(state.processes, [], 'no process left in the table');
  t.same(state.sem.sets, [], 'no set left');
  t.same(state.locks?.files, [], 'no lock left');
});
