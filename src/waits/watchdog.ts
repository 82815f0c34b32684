/**
 * The stall watchdog's judgement ([watchdog] in the manifest), on a wait-for
 * graph. What counts (docs/WAITS.md):
 *  - deadlock: the graph's `deadlock` (every live process sleeps in an
 *    emulated call, none with a timeout, none for an outside node) has held
 *    for the threshold: counted from the latest of those calls;
 *  - stall: a cycle of certain edges, none of its calls with a timeout, has
 *    held for the threshold while other processes still run (a cycle of
 *    guesses is no stall: a running process may post the semaphore).
 * Waiting for a timeout, for something outside the sandbox or in a call
 * that is not emulated (a signal, a pipe, sleep) is neither.
 */
import type { WaitCycle, WaitGraph } from './graph.js';

export interface Stall {
  kind: 'deadlock' | 'stall';
  /** Since when it holds (epoch ms). */
  since: number;
  /** The processes caught (node ids). */
  nodes: string[];
  /** For a stall: the cycle. */
  cycle: WaitCycle | null;
}

/** A deadlock or stall that has held for at least `stallMs` at the graph's time, or null. */
export function findStall(g: WaitGraph, stallMs: number): Stall | null {
  const blockedSince = new Map(g.nodes.map((n) => [n.id, n.blockedSince]));
  const latest = (ids: readonly string[]): number | null => {
    let t = -Infinity;
    for (const id of ids) {
      const s = blockedSince.get(id);
      if (s === null || s === undefined) return null;
      t = Math.max(t, s);
    }
    return t;
  };
  if (g.deadlock) {
    const ids = g.nodes.filter((n) => n.kind === 'process').map((n) => n.id);
    const since = latest(ids);
    if (since !== null && g.time - since >= stallMs) return { kind: 'deadlock', since, nodes: ids, cycle: null };
    return null;
  }
  for (const c of g.cycles) {
    if (!c.certain || c.edges.some((i) => g.waits[g.edges[i]!.wait]!.deadline !== null)) continue;
    const since = latest(c.nodes);
    if (since !== null && g.time - since >= stallMs) return { kind: 'stall', since, nodes: c.nodes, cycle: c };
  }
  return null;
}

/** Reports each stall once: until what is stuck changes, the same stall is not reported again. */
export class StallWatch {
  private reported: string | null = null;

  constructor(readonly stallMs: number) {}

  /** The stall to report now, or null (none, or already reported). */
  check(g: WaitGraph): Stall | null {
    const s = findStall(g, this.stallMs);
    const key = s === null ? null : `${s.kind} ${s.since} ${s.nodes.join(' ')}`;
    if (key === this.reported) return null;
    this.reported = key;
    return s;
  }
}
