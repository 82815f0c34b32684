// Real tools inside the sandbox: util-linux ipcmk, ipcs and ipcrm see the
// sandbox's semaphores and never the host's; /proc/sys/kernel/sem reads the
// sandbox's limits and a root write changes them (only inside).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { C_BIN, sysvisor } from './helpers.js';

const sh = (script: string) => sysvisor(['run', '--', '/bin/sh', '-c', script]);

t.test("ipcmk, ipcs -s and ipcrm work on the sandbox's sets", async (t) => {
  const r = await sh(`
    ipcmk -S 3 -p 0640 | sed 's/[0-9][0-9]*$/ID/'
    id=$(ipcs -s | awk '/^0x/ {print $2}')
    ipcs -s | awk '/^0x/ {print "perms", $4, "nsems", $5}'
    ipcs -s -i "$id" | grep -c '^[0-9]'
    ipcrm -s "$id" && echo removed
    ipcs -s | grep -c '^0x'
    exit 0
  `);
  t.equal(r.stdout, 'Semaphore id: ID\nperms 640 nsems 3\n3\nremoved\n0\n');
  t.equal(r.status, 0);
});

t.test("the host's sets are invisible and unreachable by key", async (t) => {
  const key = 0x5e7a0000 | (process.pid & 0xffff);
  // semget(key, 2, IPC_CREAT|0644) on the host, with the raw-syscall probe.
  const created = execFileSync(`${C_BIN}sys_probe`, ['64', String(key), '2', String(0o1644)]).toString();
  const hostId = /^ret (\d+)$/m.exec(created)![1];
  t.teardown(() => execFileSync(`${C_BIN}sys_probe`, ['66', hostId, '0', '0']));
  const r = await sh(
    `ipcs -s | grep -ci 0x${key.toString(16)}; ${C_BIN}sys_probe 64 ${key} 0 0; ${C_BIN}sys_probe 66 ${hostId} 0 2; ` +
      `${C_BIN}sys_probe 64 ${key} 1 ${String(0o1600)} | sed 's/[0-9]*$/ID/'`,
  );
  t.equal(r.stdout, '0\nret -1 ENOENT\nret -1 EINVAL\nret ID\n', 'not listed, not found by key or id; the key makes a fresh sandbox set');
  t.match(
    execFileSync('ipcs', ['-s']).toString(),
    new RegExp(`0x0*${key.toString(16)}\\s+${hostId}\\s+\\S+\\s+644\\s+2`),
    'the host set is untouched',
  );
});

t.test('/proc/sys/kernel/sem: sandbox limits, root writes change them inside only', async (t) => {
  const host = readFileSync('/proc/sys/kernel/sem', 'utf8');
  const r = await sh(`
    echo "10 100 5 3" > /proc/sys/kernel/sem && cat /proc/sys/kernel/sem
    ipcmk -S 11 2>&1 | sed 's/^ipcmk: //'
    ipcmk -S 10 >/dev/null && echo ten-ok
    ipcs -l | grep -i 'max semaphores per array'
  `);
  t.equal(r.stdout.split('\n').slice(0, 3).join('\n'), '10\t100\t5\t3\ncreate semaphore failed: Invalid argument\nten-ok');
  t.match(r.stdout, /max semaphores per array = 10/);
  t.equal(readFileSync('/proc/sys/kernel/sem', 'utf8'), host, 'the host keeps its limits');
  const nobody = await sh(
    'setpriv --reuid 65534 --regid 65534 --clear-groups sh -c "echo 1 2 3 4 > /proc/sys/kernel/sem" 2>&1; cat /proc/sys/kernel/sem',
  );
  t.match(nobody.stdout, /Permission denied/);
  t.match(nobody.stdout, /32000\t1024000000\t500\t32000\n$/);
});

t.test("the manifest sets the sandbox's kernel.sem", async (t) => {
  const r = await sysvisor([
    'run',
    '-m',
    new URL('../../policies/strict.toml', import.meta.url).pathname,
    '--',
    '/bin/cat',
    '/proc/sys/kernel/sem',
  ]);
  t.equal(r.status, 0);
  t.equal(r.stdout, '250\t32000\t32\t128\n');
});
