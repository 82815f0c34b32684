/**
 * The wait-for graph of a sandbox, built from a state dump (pure: the dump is
 * all it reads). Nodes are processes, plus outside nodes for what no process
 * of the sandbox holds; an edge says "this process's blocked call can only
 * finish once that one acts". docs/WAITS.md states the rules and the schema.
 *
 * Semaphores (ipc/sem.c). A semop sleeps on one operation, q->blocking: a
 * decrement needs some process to raise the value, a wait-for-zero needs one
 * to lower it. Linux records no owner, so who can do it is inferred:
 *  - certain: a process holding SEM_UNDO credit that does it. semadj is the
 *    negation of what the process applied (a SEM_UNDO decrement makes it
 *    positive) and is added to the value at its exit, so a positive semadj
 *    is a unit the process holds and gives back, like a lock owner;
 *  - guesses: the last process that changed the semaphore (sempid, what
 *    GETPID reports) and any live process that has called semop on the set.
 *    Any process with write permission could post, so these are marked
 *    certain: false. The waiter itself is no guess (it sleeps).
 * File locks (fs/locks.c). A blocked request waits for the owners of every
 * lock in its way, and for the request it is queued behind, if any. A POSIX
 * lock's owner is a process; an OFD or flock lock belongs to an open file
 * description, which every process holding an fd to it can release (close,
 * unlock); a description no process of the sandbox holds is an outside node.
 */
import type { LocksSnapshot, NodeSnapshot, WaiterSnapshot } from '../locks/registry.js';
import type { SemSnapshot } from '../sem/registry.js';

/** The part of a state dump the graph is built from (older dumps may lack the newer fields). */
export interface WaitInput {
  /** When the state was taken (epoch ms). */
  time?: number;
  /** `nspid`: the pid in its own PID namespace, what sempid records (the same as pid without one). */
  processes?: Array<{ pid: number; nspid?: number; name: string; threads: number[]; tasks?: number[] }>;
  sem?: SemSnapshot;
  locks?: Partial<LocksSnapshot> & { descriptions?: Array<{ id: number; holders?: number[] }> };
}

export type WaitResource =
  | { kind: 'sem'; semid: number; key: number; num: number; op: number; value: number }
  | { kind: 'posix' | 'ofd' | 'flock'; file: string; type: 'READ' | 'WRITE'; start: string; end: string };

/** One blocked call. */
export interface Wait {
  pid: number;
  tid: number;
  resource: WaitResource;
  /** When it started sleeping (epoch ms), null if the dump does not say. */
  since: number | null;
  /** When its timeout expires (semtimedop), or null. */
  deadline: number | null;
}

export interface WaitNode {
  /** "pid:N" for a process, "outside:desc:N" for a description no sandboxed process holds. */
  id: string;
  kind: 'process' | 'outside';
  pid: number | null;
  name: string;
  /** Every thread of the process sleeps in an emulated call. */
  blocked: boolean;
  /** When the last of those calls started (epoch ms): the process has been blocked since then. */
  blockedSince: number | null;
}

export interface WaitEdge {
  from: string;
  to: string;
  /** Index into `waits`: the call that waits. */
  wait: number;
  tid: number;
  resource: WaitResource;
  since: number | null;
  /** false: a guess (a process that may change the semaphore; nothing says it will). */
  certain: boolean;
  why: string;
}

export interface WaitCycle {
  /** Node ids in order, starting at the lowest pid; each waits for the next, the last for the first. */
  nodes: string[];
  /** Indices into `edges`, in the same order. */
  edges: number[];
  /** Every edge is certain. */
  certain: boolean;
}

export interface WaitGraph {
  version: 1;
  time: number;
  nodes: WaitNode[];
  waits: Wait[];
  edges: WaitEdge[];
  cycles: WaitCycle[];
  /**
   * Every live process sleeps in an emulated call, none with a timeout and
   * none for an outside node: only the sandbox's own processes could wake
   * them, and none runs. (A signal from outside could still end it.)
   */
  deadlock: boolean;
}

const pidId = (pid: number): string => `pid:${pid}`;

export function buildWaitGraph(state: WaitInput, now = Date.now()): WaitGraph {
  const time = state.time ?? now;
  const procs = [...(state.processes ?? [])].sort((a, b) => a.pid - b.pid);
  const live = new Map(procs.map((p) => [p.pid, p]));
  const bySempid = new Map(procs.map((p) => [p.nspid ?? p.pid, p.pid]));
  const waits: Wait[] = [];
  const edges: WaitEdge[] = [];
  const outside = new Map<string, WaitNode>();
  const seen = new Set<string>();
  const edge = (w: number, to: string, certain: boolean, why: string): void => {
    const wait = waits[w]!;
    const key = `${w} ${to}`;
    if (seen.has(key)) return; // the first reason wins: certain ones are added first
    seen.add(key);
    edges.push({ from: pidId(wait.pid), to, wait: w, tid: wait.tid, resource: wait.resource, since: wait.since, certain, why });
  };

  for (const set of state.sem?.sets ?? []) {
    for (const q of set.waiters) {
      const sop = q.sops[q.blocking] ?? q.sops[0]!;
      const w =
        waits.push({
          pid: q.pid,
          tid: q.tid ?? q.pid,
          since: q.since ?? null,
          deadline: q.deadline ?? null,
          resource: { kind: 'sem', semid: set.id, key: set.perm.key, num: sop.num, op: sop.op, value: set.values[sop.num] ?? 0 },
        }) - 1;
      const up = sop.op < 0; // a decrement waits for a raise, a wait-for-zero for a lowering
      for (const u of set.undo) {
        const adj = u.adj[sop.num] ?? 0;
        if (live.has(u.owner) && (up ? adj > 0 : adj < 0)) {
          edge(
            w,
            pidId(u.owner),
            true,
            up ? `holds SEM_UNDO credit +${adj}, given back at its exit` : `its exit takes ${-adj} back (SEM_UNDO)`,
          );
        }
      }
      const last = bySempid.get(set.pids[sop.num] ?? 0);
      if (last !== undefined && last !== q.pid) edge(w, pidId(last), false, 'changed it last (sempid)');
      // A dump read with --file may predate `users`.
      for (const pid of (set.users as number[] | undefined) ?? [])
        if (pid !== q.pid && live.has(pid)) edge(w, pidId(pid), false, 'has operated on the set');
    }
  }

  const holders = new Map((state.locks?.descriptions ?? []).map((d) => [String(d.id), d.holders ?? []]));
  const lockOwners = (w: number, n: NodeSnapshot): void => {
    const lock =
      n.kind === 'flock'
        ? `the flock ${n.type === 'WRITE' ? 'LOCK_EX' : 'LOCK_SH'}`
        : `${n.kind === 'ofd' ? 'an OFD' : 'a POSIX'} ${n.type} lock ${n.start}-${n.end}`;
    if (n.kind === 'posix') return edge(w, pidId(n.pid), true, `holds ${lock}`);
    const desc = n.desc ?? '?';
    const pids = holders.get(desc) ?? [];
    for (const pid of pids) edge(w, pidId(pid), true, `holds an fd to the open file description with ${lock}`);
    if (pids.length > 0) return;
    const id = `outside:desc:${desc}`;
    outside.set(id, {
      id,
      kind: 'outside',
      pid: null,
      name: `open file description ${desc} (no fd in the sandbox)`,
      blocked: false,
      blockedSince: null,
    });
    edge(w, id, true, `holds ${lock}`);
  };
  for (const q of (state.locks?.waiters ?? []) as WaiterSnapshot[]) {
    const w =
      waits.push({
        pid: q.pid,
        tid: q.tid ?? q.pid,
        since: q.since ?? null,
        deadline: null,
        resource: { kind: q.kind, file: q.file, type: q.type, start: q.start, end: q.end },
      }) - 1;
    for (const b of q.blockers) lockOwners(w, b);
    if (q.behind !== null) edge(w, pidId(q.behind.pid), true, 'asked first for the same lock (queued ahead)');
  }

  const nodes: WaitNode[] = procs.map((p) => {
    const tasks = p.tasks && p.tasks.length > 0 ? p.tasks : p.threads.length > 0 ? p.threads : [p.pid];
    const mine = waits.filter((w) => w.pid === p.pid);
    const waiting = new Set(mine.map((w) => w.tid));
    const blocked = mine.length > 0 && tasks.every((tid) => waiting.has(tid));
    const sinces = mine.map((w) => w.since);
    const blockedSince = blocked && sinces.every((s) => s !== null) ? Math.max(...(sinces as number[])) : null;
    return { id: pidId(p.pid), kind: 'process', pid: p.pid, name: p.name, blocked, blockedSince };
  });
  // A process that left the table between the features' snapshots still gets a node.
  for (const e of edges) {
    if (!e.to.startsWith('pid:') || nodes.some((n) => n.id === e.to)) continue;
    nodes.push({ id: e.to, kind: 'process', pid: Number(e.to.slice(4)), name: '?', blocked: false, blockedSince: null });
  }
  nodes.push(...[...outside.values()].sort((a, b) => a.id.localeCompare(b.id)));

  const cycles = findCycles(nodes, edges);
  const processes = nodes.filter((n) => n.kind === 'process');
  const deadlock =
    processes.length > 0 &&
    processes.every((n) => n.blocked) &&
    waits.every((w) => w.deadline === null) &&
    edges.every((e) => !e.to.startsWith('outside:'));
  return { version: 1, time, nodes, waits, edges, cycles, deadlock };
}

/**
 * Cycles among blocked processes (a process with a running thread can still
 * act). One cycle per strongly connected component (Tarjan) of the certain
 * edges, then one per component of all edges through a process no certain
 * cycle covers: a guess. Deterministic: nodes in pid order, shortest cycle
 * from the component's lowest pid.
 */
function findCycles(nodes: readonly WaitNode[], edges: readonly WaitEdge[]): WaitCycle[] {
  const blocked = new Set(nodes.filter((n) => n.blocked).map((n) => n.id));
  const order = new Map(nodes.map((n, i) => [n.id, i]));
  const usable = edges.map((e, i) => ({ e, i })).filter(({ e }) => blocked.has(e.from) && blocked.has(e.to));
  const cycles: WaitCycle[] = [];
  const covered = new Set<string>();
  for (const certainOnly of [true, false]) {
    const pool = usable.filter(({ e }) => !certainOnly || e.certain);
    for (const scc of components(
      [...blocked].sort((a, b) => order.get(a)! - order.get(b)!),
      pool,
    )) {
      const start = scc.find((id) => !covered.has(id));
      if (start === undefined) continue;
      const path = shortestCycle(start, new Set(scc), pool);
      if (path === null) continue; // a single node without a self-loop
      for (const id of scc) covered.add(id);
      cycles.push({ nodes: path.map((i) => edges[i]!.from), edges: path, certain: path.every((i) => edges[i]!.certain) });
    }
  }
  return cycles;
}

/** Tarjan's strongly connected components, each in node order. */
function components(ids: readonly string[], pool: ReadonlyArray<{ e: WaitEdge; i: number }>): string[][] {
  const out = new Map<string, string[]>();
  for (const { e } of pool) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of out.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      scc.push(w);
      if (w === v) break;
    }
    result.push(scc.sort((a, b) => ids.indexOf(a) - ids.indexOf(b)));
  };
  for (const v of ids) if (!index.has(v)) visit(v);
  return result.sort((a, b) => ids.indexOf(a[0]!) - ids.indexOf(b[0]!));
}

/** The shortest cycle through `start` inside `members` (breadth first, edges in order): edge indices, or null. */
function shortestCycle(start: string, members: ReadonlySet<string>, pool: ReadonlyArray<{ e: WaitEdge; i: number }>): number[] | null {
  const via = new Map<string, number>(); // node -> index of the edge it was reached by
  let frontier = [start];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const v of frontier) {
      for (const { e, i } of pool) {
        if (e.from !== v || !members.has(e.to)) continue;
        if (e.to === start) {
          const path = [i];
          for (let u = v; u !== start; u = pool.find((p) => p.i === via.get(u))!.e.from) path.unshift(via.get(u)!);
          return path;
        }
        if (via.has(e.to)) continue;
        via.set(e.to, i);
        next.push(e.to);
      }
    }
    frontier = next;
  }
  return null;
}
