// The wait-for graph (src/waits): edges and their certainty from real
// registry snapshots, cycles, the deadlock verdict, the watchdog's judgement
// and the text/DOT views.
import t from 'tap';
import { type FileId, LockRegistry, type LockType } from '../../src/locks/index.js';
import { F_WRLCK } from '../../src/syscalls/constants.js';
import { SEM_UNDO } from '../../src/sem/constants.js';
import { SemRegistry } from '../../src/sem/registry.js';
import { UndoList } from '../../src/sem/undo.js';
import { buildWaitGraph, type WaitGraph, type WaitInput } from '../../src/waits/graph.js';
import { renderStall, renderWaitsDot, renderWaitsText } from '../../src/waits/render.js';
import { findStall, StallWatch } from '../../src/waits/watchdog.js';

const T0 = 1_700_000_000_000;
const root = (pid: number) => ({ pid, uid: 0, gid: 0, isRoot: true });
const proc = (pid: number, tasks = [pid]) => ({ pid, ppid: 1, name: `p${pid}`, threads: [pid], tasks });

/** A semaphore registry; every sleeper gets since = T0 + its pid (ms), no deadline. */
function semState() {
  const reg = new SemRegistry<number>(
    { semmsl: 10, semmns: 100, semopm: 10, semmni: 10 },
    { isAlive: () => true, complete: () => true },
    { monoNs: () => 0n, realSec: () => 1 },
  );
  const undo = new Map<number, UndoList>();
  const list = (pid: number) => undo.get(pid) ?? undo.set(pid, new UndoList(pid)).get(pid)!;
  const op = (pid: number, id: number, num: number, o: number, flg = 0) =>
    reg.semop(root(pid), list(pid), id, [{ num, op: o, flg }], null, pid);
  const snapshot = () => reg.snapshot((w) => ({ tid: w.pid, since: T0 + w.pid, deadline: null }));
  return { reg, op, snapshot };
}

const edgeList = (g: WaitGraph) => g.edges.map((e) => `${e.from}>${e.to}${e.certain ? '' : '?'}`);

t.test('two processes each holding SEM_UNDO credit the other waits for: a certain cycle, a deadlock', async (t) => {
  const s = semState();
  const id = s.reg.semget(root(10), 0, 2, 0o600);
  s.op(10, id, 0, 1);
  s.op(10, id, 1, 1);
  s.op(10, id, 0, -1, SEM_UNDO);
  s.op(20, id, 1, -1, SEM_UNDO);
  t.type(s.op(10, id, 1, -1, SEM_UNDO), 'object', '10 sleeps');
  t.type(s.op(20, id, 0, -1, SEM_UNDO), 'object', '20 sleeps');
  const g = buildWaitGraph({ time: T0 + 5000, processes: [proc(10), proc(20)], sem: s.snapshot() });
  t.same(edgeList(g), ['pid:20>pid:10', 'pid:10>pid:20'], 'guesses add nothing: the undo holder is also the last changer');
  t.match(g.edges[1], {
    certain: true,
    why: 'holds SEM_UNDO credit +1, given back at its exit',
    resource: { kind: 'sem', semid: id, num: 1, op: -1, value: 0 },
    since: T0 + 10,
  });
  t.same(g.cycles, [{ nodes: ['pid:10', 'pid:20'], edges: [1, 0], certain: true }], 'from the lowest pid');
  t.equal(g.deadlock, true);
  t.same(
    g.nodes.map((n) => [n.id, n.blocked, n.blockedSince]),
    [
      ['pid:10', true, T0 + 10],
      ['pid:20', true, T0 + 20],
    ],
  );
});

t.test("without SEM_UNDO the edges are guesses: the last changer and the set's other users", async (t) => {
  const s = semState();
  const id = s.reg.semget(root(10), 0, 1, 0o600);
  s.op(30, id, 0, 1); // 30 posted once and runs on
  s.op(20, id, 0, -1);
  s.op(10, id, 0, -1); // sleeps: value 0
  const g = buildWaitGraph({ time: T0, processes: [proc(10), proc(20), proc(30)], sem: s.snapshot() });
  t.same(edgeList(g), ['pid:10>pid:20?', 'pid:10>pid:30?']);
  t.same(
    g.edges.map((e) => e.why),
    ['changed it last (sempid)', 'has operated on the set'],
  );
  t.same(g.cycles, []);
  t.equal(g.deadlock, false, '20 and 30 run');
  const exited = buildWaitGraph({ time: T0, processes: [proc(10), proc(20)], sem: s.snapshot() });
  t.same(edgeList(exited), ['pid:10>pid:20?'], 'a process gone from the table is no candidate');
  s.reg.forgetUser(30);
  t.same(s.snapshot().sets[0]!.users, [10, 20], 'an exited process leaves the users');
});

t.test("in a PID namespace sempid is the namespace's pid: the last changer is found by its nspid", async (t) => {
  const s = semState();
  const id = s.reg.semget(root(1010), 0, 1, 0o600);
  s.reg.semop({ ...root(1020), sempid: 2 }, new UndoList(1020), id, [{ num: 0, op: 1, flg: 0 }], null, 1020);
  s.reg.semop({ ...root(1020), sempid: 2 }, new UndoList(1020), id, [{ num: 0, op: -1, flg: 0 }], null, 1020);
  s.reg.semop({ ...root(1010), sempid: 3 }, new UndoList(1010), id, [{ num: 0, op: -1, flg: 0 }], null, 1010); // sleeps
  const inNamespace = (pid: number, nspid: number) => ({ ...proc(pid), nspid });
  const g = buildWaitGraph({ time: T0, processes: [inNamespace(1010, 3), inNamespace(1020, 2), proc(2)], sem: s.snapshot() });
  t.same(edgeList(g).slice(0, 1), ['pid:1010>pid:1020?'], "sempid 2 is process 1020, not the host's pid 2");
  t.equal(g.edges[0]!.why, 'changed it last (sempid)');
});

t.test('a wait-for-zero waits for whoever takes units back at exit', async (t) => {
  const s = semState();
  const id = s.reg.semget(root(10), 0, 1, 0o600);
  s.op(20, id, 0, 2, SEM_UNDO); // semadj -2: 20's exit lowers the value
  s.op(10, id, 0, 0);
  const g = buildWaitGraph({ time: T0, processes: [proc(10), proc(20)], sem: s.snapshot() });
  t.match(g.edges, [{ from: 'pid:10', to: 'pid:20', certain: true, why: 'its exit takes 2 back (SEM_UNDO)' }]);
});

t.test('guess cycles are reported as guesses; a process with a running thread is in no cycle', async (t) => {
  const s = semState();
  const id = s.reg.semget(root(10), 0, 2, 0o600);
  s.op(20, id, 0, 1);
  s.op(20, id, 0, -1); // 20 changed #0 last
  s.op(10, id, 1, 1);
  s.op(10, id, 1, -1); // 10 changed #1 last
  s.op(10, id, 0, -1);
  s.op(20, id, 1, -1);
  const both = buildWaitGraph({ time: T0, processes: [proc(10), proc(20)], sem: s.snapshot() });
  t.same(both.cycles, [{ nodes: ['pid:10', 'pid:20'], edges: [0, 1], certain: false }], 'through the sempid guesses');
  t.same(edgeList(both), ['pid:10>pid:20?', 'pid:20>pid:10?']);
  t.equal(both.deadlock, true, 'nobody else could post');
  const threaded = buildWaitGraph({ time: T0, processes: [proc(10, [10, 11]), proc(20)], sem: s.snapshot() });
  t.same(threaded.cycles, [], 'thread 11 of 10 still runs');
  t.equal(threaded.deadlock, false);
  t.equal(threaded.nodes[0]!.blocked, false);
});

t.test('lock waits: POSIX owners, description holders, the request queued ahead, outside descriptions', async (t) => {
  const file: FileId = { major: 8, minor: 1, ino: 42n };
  const reg = new LockRegistry<number>({ isAlive: () => true, complete: () => true });
  const whole = { type: F_WRLCK as LockType, start: 0n, end: 9n };
  t.equal(reg.setLk(file, { pid: 10 }, whole, true, 10), 0);
  t.type(reg.setLk(file, { pid: 20 }, whole, true, 20), 'object', '20 waits for 10');
  t.type(reg.setLk(file, { pid: 30 }, whole, true, 30), 'object', '30 waits for 10, queued behind 20');
  t.equal(reg.flock(file, { pid: 40, desc: 7 }, F_WRLCK, true, 40), 0);
  t.type(reg.flock(file, { pid: 50, desc: 8 }, F_WRLCK, true, 50), 'object', '50 waits for description 7');
  const locks = { ...reg.snapshot((w) => ({ tid: w.token, since: T0 })), descriptions: [{ id: 7, holders: [40, 60] }] };
  const g = buildWaitGraph({ time: T0, processes: [10, 20, 30, 40, 50, 60].map((p) => proc(p)), locks });
  t.same(edgeList(g), ['pid:20>pid:10', 'pid:30>pid:10', 'pid:30>pid:20', 'pid:50>pid:40', 'pid:50>pid:60']);
  t.same(
    g.edges.map((e) => e.why),
    [
      'holds a POSIX WRITE lock 0-9',
      'holds a POSIX WRITE lock 0-9',
      'asked first for the same lock (queued ahead)',
      'holds an fd to the open file description with the flock LOCK_EX',
      'holds an fd to the open file description with the flock LOCK_EX',
    ],
  );
  t.match(g.waits[0], { pid: 20, tid: 20, since: T0, resource: { kind: 'posix', file: '8:1:42', type: 'WRITE', start: '0', end: '9' } });

  const passedOut = buildWaitGraph({
    time: T0,
    processes: [proc(40), proc(50)],
    locks: { ...locks, descriptions: [{ id: 7, holders: [] }] },
  });
  const out = passedOut.edges.find((e) => e.from === 'pid:50')!;
  t.equal(out.to, 'outside:desc:7', 'a description no sandboxed process holds is an outside node');
  t.match(
    passedOut.nodes.find((n) => n.id === 'outside:desc:7'),
    { kind: 'outside', pid: null },
  );
  t.equal(passedOut.deadlock, false, 'waiting for the outside is no deadlock');
});

t.test('a process whose two descriptions conflict waits for itself', async (t) => {
  const file: FileId = { major: 8, minor: 1, ino: 43n };
  const reg = new LockRegistry<number>({ isAlive: () => true, complete: () => true });
  reg.flock(file, { pid: 10, desc: 1 }, F_WRLCK, true, 10);
  reg.flock(file, { pid: 10, desc: 2 }, F_WRLCK, true, 10);
  const g = buildWaitGraph({ time: T0, processes: [proc(10)], locks: { ...reg.snapshot(), descriptions: [{ id: 1, holders: [10] }] } });
  t.same(g.cycles, [{ nodes: ['pid:10'], edges: [0], certain: true }]);
});

/** A hand-made graph input: `waits` are [pid, semid, since, deadline]; each semaphore i is held (undo) by holder[i]. */
function ring(pids: number[], since: number[], deadline: Array<number | null> = pids.map(() => null), others: number[] = []): WaitInput {
  return {
    time: T0 + 10_000,
    processes: [...pids, ...others].map((p) => proc(p)),
    sem: {
      limits: { semmsl: 1, semmns: 1, semopm: 1, semmni: 1 },
      usedSems: pids.length,
      sets: pids.map((pid, i) => ({
        id: i,
        index: i,
        perm: { key: 0, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 0o600, seq: 0 },
        otime: 0,
        ctime: 0,
        nsems: 1,
        values: [0],
        pids: [0],
        users: [],
        undo: [{ owner: pids[(i + 1) % pids.length]!, adj: [1] }],
        waiters: [
          {
            pid,
            tid: pid,
            sops: [{ num: 0, op: -1, flg: SEM_UNDO }],
            blocking: 0,
            deadlineNs: null,
            since: since[i]!,
            deadline: deadline[i]!,
          },
        ],
      })),
    },
  };
}

t.test('the watchdog: a deadlock once it lasted the threshold, a stall for a cycle while others run, never for timeouts', async (t) => {
  const dead = buildWaitGraph(ring([10, 20], [T0 + 1000, T0 + 4000]));
  t.equal(findStall(dead, 7000), null, 'blocked for 6 s (since the later wait): under 7 s');
  t.same(findStall(dead, 6000), { kind: 'deadlock', since: T0 + 4000, nodes: ['pid:10', 'pid:20'], cycle: null });
  const stalled = buildWaitGraph(ring([10, 20], [T0, T0], undefined, [30]));
  t.equal(stalled.deadlock, false, '30 runs');
  t.match(findStall(stalled, 5000), { kind: 'stall', nodes: ['pid:10', 'pid:20'], cycle: { certain: true } });
  const timed = buildWaitGraph(ring([10, 20], [T0, T0], [null, T0 + 20_000]));
  t.equal(timed.deadlock, false, 'a timeout is pending');
  t.equal(findStall(timed, 1000), null, 'a cycle with a timeout pending is no stall');

  const watch = new StallWatch(5000);
  t.equal(watch.check(dead)?.kind, 'deadlock');
  t.equal(watch.check(dead), null, 'the same deadlock is reported once');
  t.equal(watch.check(buildWaitGraph(ring([10, 20], [T0 + 1000, T0 + 9000]))), null, 'it resolved (blocked for 1 s only)');
  t.equal(watch.check(dead)?.kind, 'deadlock', 'a new deadlock is reported again');
});

t.test('text and DOT views', async (t) => {
  const g = buildWaitGraph(ring([10, 20], [T0 + 1000, T0 + 4000]));
  const text = renderWaitsText(g);
  const lines = text.trimEnd().split('\n');
  t.equal(lines[0], 'deadlock: every process of the sandbox waits in an emulated call, with no timeout pending');
  t.equal(lines[1], 'cycle 1: 10 p10 -> 20 p20 -> 10 p10');
  t.match(
    lines[2],
    /^10 p10 waits on semaphore 0\[0\] -1 \(value 0\) for 9\.0s \(since \d\d:\d\d:\d\d\.000\) -> 20 \(holds SEM_UNDO credit \+1, given back at its exit\)$/,
  );
  t.match(lines[3], /^20 p20 waits on semaphore 1\[0\] -1 \(value 0\) for 6\.0s/);
  t.equal(lines.length, 4);
  t.match(
    renderStall(findStall(g, 1000)!, g, 1000),
    /^deadlock: every process of the sandbox \(10 p10, 20 p20\) has waited in emulated IPC for 6\.0s \(threshold 1\.0s\)/,
  );
  t.equal(renderWaitsText(buildWaitGraph({ time: T0, processes: [proc(10)] })), 'no process waits in an emulated call\n');

  const dot = renderWaitsDot(g);
  t.match(dot, /^digraph waits \{\n/);
  t.match(dot, /\n {2}"pid:10" \[label="10 p10\\nblocked 9\.0s", color="#c0392b", penwidth=2\];\n/);
  t.match(
    dot,
    /\n {2}"pid:10" -> "pid:20" \[label="semaphore 0\[0\] -1 \(value 0\)\\nholds SEM_UNDO credit \+1, given back at its exit", color="#c0392b", penwidth=2\];\n/,
  );
  t.match(dot, /\}\n$/);
  const guessed = buildWaitGraph({ ...ring([10], [T0]), processes: [proc(10), proc(30)] });
  guessed.edges.forEach((e) => {
    e.certain = false;
  });
  t.match(renderWaitsDot(guessed), /style=dashed/, 'guesses are dashed');
});
