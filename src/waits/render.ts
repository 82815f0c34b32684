/**
 * Views of a wait-for graph: text for a terminal (`sysvisor waits`, the
 * watchdog's report) and DOT for Graphviz. JSON is the graph itself.
 */
import type { Wait, WaitGraph, WaitNode, WaitResource } from './graph.js';
import type { Stall } from './watchdog.js';

/** Colours for the text view (identity functions for none). */
export interface Paint {
  /** Cycles, deadlocks: what to look at first. */
  alarm(s: string): string;
  /** Cycles made of guesses. */
  warn(s: string): string;
  dim(s: string): string;
}

export const NO_PAINT: Paint = { alarm: (s) => s, warn: (s) => s, dim: (s) => s };

export function describeResource(r: WaitResource): string {
  if (r.kind === 'sem') return `semaphore ${r.semid}[${r.num}] ${r.op === 0 ? 'to be zero' : `${r.op}`} (value ${r.value})`;
  if (r.kind === 'flock') return `flock ${r.type === 'WRITE' ? 'LOCK_EX' : 'LOCK_SH'} on ${r.file}`;
  return `${r.kind === 'ofd' ? 'OFD' : 'POSIX'} ${r.type} lock on ${r.file} ${r.start}-${r.end}`;
}

const clock = (ms: number): string => {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

const seconds = (ms: number): string => `${(Math.max(0, ms) / 1000).toFixed(1)}s`;

function label(g: WaitGraph, id: string): string {
  const n = g.nodes.find((x) => x.id === id);
  if (n === undefined || n.kind === 'outside') return n?.name ?? id;
  return `${n.pid} ${n.name}`;
}

function waitLine(g: WaitGraph, w: Wait, i: number): string {
  const who = w.tid === w.pid ? `${w.pid}` : `${w.pid}/${w.tid}`;
  const name = g.nodes.find((n) => n.pid === w.pid)?.name ?? '?';
  const since = w.since === null ? '' : ` for ${seconds(g.time - w.since)} (since ${clock(w.since)})`;
  const timeout = w.deadline === null ? '' : ` [times out in ${seconds(w.deadline - g.time)}]`;
  const targets = g.edges
    .filter((e) => e.wait === i)
    .map((e) => {
      const n = g.nodes.find((x) => x.id === e.to);
      const target = n?.kind === 'process' ? `${n.pid}` : (n?.name ?? e.to);
      return `${target}${e.certain ? '' : '?'} (${e.why})`;
    });
  const whom = targets.length === 0 ? 'nobody known' : targets.join(', ');
  return `${who} ${name} waits on ${describeResource(w.resource)}${since}${timeout} -> ${whom}`;
}

/** One line per cycle (first), then one per blocked call: what, since when, for whom. */
export function renderWaitsText(g: WaitGraph, paint: Paint = NO_PAINT): string {
  const lines: string[] = [];
  if (g.deadlock) lines.push(paint.alarm('deadlock: every process of the sandbox waits in an emulated call, with no timeout pending'));
  g.cycles.forEach((c, k) => {
    const ring = [...c.nodes, c.nodes[0]!].map((id) => label(g, id)).join(' -> ');
    lines.push(
      c.certain ? paint.alarm(`cycle ${k + 1}: ${ring}`) : paint.warn(`cycle ${k + 1} (guessed: some edges are guesses): ${ring}`),
    );
  });
  const inCycle = new Set(g.cycles.flatMap((c) => c.nodes));
  const order = g.waits.map((w, i) => ({ w, i })).sort((a, b) => a.w.pid - b.w.pid || a.w.tid - b.w.tid);
  for (const { w, i } of order) {
    const line = waitLine(g, w, i);
    lines.push(inCycle.has(`pid:${w.pid}`) ? paint.alarm(line) : line);
  }
  if (g.waits.length === 0) lines.push('no process waits in an emulated call');
  if (g.edges.some((e) => !e.certain))
    lines.push(paint.dim('(? = a guess: a process that may change the semaphore; nothing says it will)'));
  return lines.join('\n') + '\n';
}

/** The watchdog's message: what happened, then the graph. */
export function renderStall(s: Stall, g: WaitGraph, stallMs: number, paint: Paint = NO_PAINT): string {
  const who = s.nodes.map((id) => label(g, id)).join(', ');
  const head =
    s.kind === 'deadlock'
      ? `deadlock: every process of the sandbox (${who}) has waited in emulated IPC for ${seconds(g.time - s.since)} (threshold ${seconds(stallMs)}) with no timeout pending; only they could wake each other`
      : `stall: processes ${who} have waited for each other in a cycle for ${seconds(g.time - s.since)} (threshold ${seconds(stallMs)})`;
  return `${paint.alarm(head)}\n${renderWaitsText(g, paint)}`;
}

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

function nodeLine(n: WaitNode, g: WaitGraph, inCycle: boolean): string {
  const attrs =
    n.kind === 'outside'
      ? [`label=${quote(n.name)}`, 'shape=ellipse', 'style=dashed']
      : [
          `label=${quote(`${n.pid} ${n.name}${n.blocked ? `\nblocked${n.blockedSince === null ? '' : ` ${seconds(g.time - n.blockedSince)}`}` : '\nrunning'}`)}`,
        ];
  if (inCycle) attrs.push('color="#c0392b"', 'penwidth=2');
  return `  ${quote(n.id)} [${attrs.join(', ')}];`;
}

/** Graphviz: `sysvisor waits --format dot | dot -Tsvg > waits.svg`. Cycles red, guesses dashed. */
export function renderWaitsDot(g: WaitGraph): string {
  const cycleEdges = new Set(g.cycles.flatMap((c) => c.edges));
  const cycleNodes = new Set(g.cycles.flatMap((c) => c.nodes));
  const touched = new Set(g.edges.flatMap((e) => [e.from, e.to]));
  const lines = [
    'digraph waits {',
    '  rankdir=LR;',
    '  node [shape=box, style=rounded, fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  for (const n of g.nodes) if (touched.has(n.id) || n.blocked) lines.push(nodeLine(n, g, cycleNodes.has(n.id)));
  g.edges.forEach((e, i) => {
    const attrs = [`label=${quote(`${describeResource(e.resource)}\n${e.why}`)}`];
    if (!e.certain) attrs.push('style=dashed');
    if (cycleEdges.has(i)) attrs.push('color="#c0392b"', 'penwidth=2');
    lines.push(`  ${quote(e.from)} -> ${quote(e.to)} [${attrs.join(', ')}];`);
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}
