/**
 * Generation of the sysvisor seccomp program.
 *
 * Shape of the program:
 *
 *     ld   [4]                           ; arch
 *     jeq  #AUDIT_ARCH_X86_64  → next, else KILL_PROCESS
 *     ld   [0]                           ; nr
 *     jset #0x40000000         → KILL_PROCESS (x32 ABI), else tree
 *     <decision tree over nr>            ; each leaf is a ret
 *
 * The arch check comes first because i386 `int 0x80` reaches ipc() and the
 * i386 semop numbers, which would bypass the emulation; x32 numbers are
 * killed for the same reason. Both are security decisions and live in BPF.
 *
 * Why a decision tree, and why only these opcodes
 * -----------------------------------------------
 * The listed syscall numbers (notify / errno / kill) split 0..2^32-1 into
 * segments of consecutive numbers sharing an action; gaps are ALLOW. The tree
 * is a balanced binary search over the segment boundaries (`jge lo`), so any
 * syscall — allowed or not — costs ⌈log2(segments)⌉ comparisons plus the 4
 * preamble instructions; a lone listed number between two allowed gaps is
 * tested with a single `jeq` instead of two `jge`. With the default policy
 * (semget/semop/semctl 64..66 and semtimedop 220) getpid runs 7 instructions.
 *
 * More importantly, the program uses only `ld [nr]`, `ld [arch]`,
 * `jeq/jge/jset #k`, `ja` and `ret #k` and never reads args or ip. That is
 * exactly the subset the kernel's seccomp action cache can evaluate at load
 * time (kernel/seccomp.c seccomp_is_const_allow, Linux >= 5.11): for every
 * x86_64 syscall number whose answer is a constant ALLOW the kernel sets a
 * bit and never runs the filter again, so getpid pays one bitmap test, not a
 * BPF run. `kernelCacheAllows()` in interp.ts replays that emulator so tests
 * can check it. Keep it that way: loading an argument anywhere would make the
 * cache give up for every syscall that can reach that load.
 *
 * Jumps in classic BPF have 8-bit forward offsets. The program is emitted
 * backwards (targets before the jumps that reach them), so every offset is
 * known when its jump is written: a leaf reuses the nearest `ret` of the
 * same action if it is within 255 instructions and gets its own `ret`
 * otherwise; a subtree out of reach gets an unconditional `ja` (32-bit
 * offset) as a trampoline.
 */
import {
  AUDIT_ARCH_X86_64,
  BPF_ABS,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JMP,
  BPF_JSET,
  BPF_K,
  BPF_LD,
  BPF_MAXINSNS,
  BPF_RET,
  BPF_W,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_ARGS,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_USER_NOTIF,
  X32_SYSCALL_BIT,
} from './consts.js';
import { BpfError, encode, type Insn } from './interp.js';
import { MAX_ERRNO } from '../syscalls/errno.js';

/** What the filter does with each listed syscall number; the rest is allowed. */
export interface FilterSpec {
  /** Turned into user notifications for the supervisor. */
  notify: readonly number[];
  /** nr → errno returned without running the syscall. */
  errno: ReadonlyMap<number, number>;
  /** Kill the whole process. */
  kill: readonly number[];
  /**
   * Notified only under an argument test, allowed otherwise: e.g. clone
   * without CLONE_THREAD. The only place the program loads an argument, so
   * only these syscalls lose the kernel's action cache.
   */
  notifyIf?: ReadonlyMap<number, ArgTest>;
  /**
   * Refused with the errno only under an argument test, allowed otherwise
   * (open_tree with OPEN_TREE_CLONE), or notified otherwise if `notify` lists
   * it. A syscall may be in both maps (clone: refused with CLONE_NEWNS, else
   * notified without CLONE_THREAD): the refusal is tested first.
   */
  errnoIf?: ReadonlyMap<number, { test: ArgTest; errno: number }>;
}

/**
 * A syscall whose action depends on its arguments: the first step whose test
 * holds decides; if none does, `otherwise` (USER_NOTIF when `notify` lists
 * the syscall too, else ALLOW).
 */
interface Conditional {
  nr: number;
  steps: { test: ArgTest; action: number }[];
  otherwise: number;
}

function conditionals(spec: FilterSpec): Conditional[] {
  const byNr = new Map<number, Conditional>();
  const add = (nr: number, test: ArgTest, action: number): void => {
    const otherwise = spec.notify.includes(nr) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
    const c = byNr.get(nr) ?? { nr, steps: [], otherwise };
    c.steps.push({ test, action });
    byNr.set(nr, c);
  };
  for (const [nr, { test, errno }] of spec.errnoIf ?? []) {
    checkErrno(nr, errno);
    add(nr, test, (SECCOMP_RET_ERRNO | errno) >>> 0);
  }
  for (const [nr, test] of spec.notifyIf ?? []) add(nr, test, SECCOMP_RET_USER_NOTIF);
  return [...byNr.values()];
}

function checkErrno(nr: number, e: number): void {
  if (!Number.isInteger(e) || e < 1 || e > MAX_ERRNO) {
    throw new BpfError(`errno ${e} for syscall ${nr} out of range 1..${MAX_ERRNO}`);
  }
}

/**
 * A test of argument `arg` (its low 32 bits): true when it has a bit of
 * `mask` set, or with `clear`, when every bit of `mask` is clear; or, with
 * `values`, when it equals one of them (fcntl's lock commands).
 */
export type ArgTest = { arg: number; mask: number; clear?: boolean } | { arg: number; values: readonly number[] };

interface Segment {
  lo: number;
  hi: number;
  action: number;
}

type Target = { kind: 'leaf'; action: number } | { kind: 'label'; label: number };

const MAX_OFFSET = 255;

/** Sorted, merged segments covering 0..0xffffffff; conditional syscall i leads to pseudo-action -1 - i. */
function segments(spec: FilterSpec, conditional: readonly Conditional[]): Segment[] {
  const actions = new Map<number, number>();
  const add = (nr: number, action: number, what: string): void => {
    if (!Number.isInteger(nr) || nr < 0 || nr >= X32_SYSCALL_BIT) {
      throw new BpfError(`${what}: syscall number ${nr} out of range 0..${X32_SYSCALL_BIT - 1}`);
    }
    if (actions.has(nr)) throw new BpfError(`syscall number ${nr} listed twice`);
    actions.set(nr, action);
  };
  const tested = new Set(conditional.map((c) => c.nr));
  for (const nr of spec.notify) if (!tested.has(nr)) add(nr, SECCOMP_RET_USER_NOTIF, 'notify');
  for (const [nr, e] of spec.errno) {
    checkErrno(nr, e);
    add(nr, (SECCOMP_RET_ERRNO | e) >>> 0, 'errno');
  }
  for (const nr of spec.kill) add(nr, SECCOMP_RET_KILL_PROCESS, 'kill');
  // Each conditional syscall gets a unique negative pseudo-action: a leaf that jumps to its checks.
  conditional.forEach((c, i) => add(c.nr, -1 - i, 'conditional'));

  const out: Segment[] = [];
  const push = (lo: number, hi: number, action: number): void => {
    const last = out.at(-1);
    if (last && last.action === action && last.hi + 1 === lo) last.hi = hi;
    else out.push({ lo, hi, action });
  };
  let next = 0;
  for (const nr of [...actions.keys()].sort((a, b) => a - b)) {
    if (nr > next) push(next, nr - 1, SECCOMP_RET_ALLOW);
    push(nr, nr, actions.get(nr)!);
    next = nr + 1;
  }
  push(next, 0xffffffff, SECCOMP_RET_ALLOW);
  return out;
}

/** Backward emitter: `rev[i]` is the i-th instruction counted from the end. */
class Emitter {
  readonly rev: Insn[] = [];
  private readonly lastRet = new Map<number, number>();

  private labelOf(t: Target): number | undefined {
    return t.kind === 'label' ? t.label : this.lastRet.get(t.action);
  }

  /** Emit an instruction in front of everything so far; returns its label. */
  push(ins: Insn): number {
    if (this.rev.length >= BPF_MAXINSNS) {
      throw new BpfError(`program needs more than ${BPF_MAXINSNS} instructions`);
    }
    this.rev.push(ins);
    return this.rev.length - 1;
  }

  ret(action: number): number {
    const l = this.push({ code: BPF_RET | BPF_K, jt: 0, jf: 0, k: action });
    this.lastRet.set(action, l);
    return l;
  }

  /** Make `t` reachable from the next instruction with an 8-bit offset. */
  private reach(t: Target): void {
    if (t.kind === 'leaf') {
      this.ret(t.action);
    } else {
      const ja = this.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: this.rev.length - t.label - 1 });
      t.label = ja;
    }
  }

  private offset(t: Target): number | undefined {
    const l = this.labelOf(t);
    if (l === undefined) return undefined;
    const off = this.rev.length - l - 1;
    return off <= MAX_OFFSET ? off : undefined;
  }

  /** Emit a conditional jump; fixes up unreachable targets first. */
  cond(op: number, k: number, jt: Target, jf: Target): number {
    for (;;) {
      const t = this.offset(jt);
      if (t === undefined) {
        this.reach(jt);
        continue;
      }
      const f = this.offset(jf);
      if (f === undefined) {
        this.reach(jf);
        continue;
      }
      return this.push({ code: BPF_JMP | op | BPF_K, jt: t, jf: f, k });
    }
  }

  program(): Insn[] {
    return [...this.rev].reverse();
  }
}

function tree(e: Emitter, segs: readonly Segment[], lo: number, hi: number, checks: readonly number[]): Target {
  const leaf = (action: number): Target => (action < 0 ? { kind: 'label', label: checks[-1 - action]! } : { kind: 'leaf', action });
  if (hi - lo === 1) return leaf(segs[lo]!.action);
  if (hi - lo === 3) {
    const [a, m, b] = [segs[lo]!, segs[lo + 1]!, segs[lo + 2]!];
    if (m.lo === m.hi && a.action === b.action) {
      const label = e.cond(BPF_JEQ, m.lo, leaf(m.action), leaf(a.action));
      return { kind: 'label', label };
    }
  }
  const mid = (lo + hi) >> 1;
  const right = tree(e, segs, mid, hi, checks);
  const left = tree(e, segs, lo, mid, checks);
  return { kind: 'label', label: e.cond(BPF_JGE, segs[mid]!.lo, right, left) };
}

const KILL: Target = { kind: 'leaf', action: SECCOMP_RET_KILL_PROCESS };

/** Load the argument and test it: `action` when the test holds, `otherwise` when not. Returns the load's label. */
function argumentTest(e: Emitter, test: ArgTest, action: number, otherwise: Target): number {
  const { arg } = test;
  if (!Number.isInteger(arg) || arg < 0 || arg > 5) throw new BpfError(`argument test: argument ${arg} out of range 0..5`);
  const match: Target = { kind: 'leaf', action };
  if ('values' in test) {
    if (test.values.length === 0) throw new BpfError(`argument test: no values for argument ${arg}`);
    // A chain of jeq, emitted last to first: the first match takes the action, no match goes on.
    let next = otherwise;
    for (const v of [...test.values].reverse()) next = { kind: 'label', label: e.cond(BPF_JEQ, v >>> 0, match, next) };
  } else {
    e.cond(BPF_JSET, test.mask >>> 0, test.clear ? otherwise : match, test.clear ? match : otherwise);
  }
  return e.push({ code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: SECCOMP_DATA_ARGS + 8 * arg });
}

/** Build the instructions (see the file comment for the layout). */
export function buildFilterInsns(spec: FilterSpec): Insn[] {
  const conditional = conditionals(spec);
  const segs = segments(spec, conditional);
  const e = new Emitter();
  // Argument checks go last in the program, so they are emitted first; a
  // syscall's steps last to first, each falling through to the next.
  const checks: number[] = [];
  for (const { steps, otherwise } of conditional) {
    let next: Target = { kind: 'leaf', action: otherwise };
    let entry = 0;
    for (const { test, action } of [...steps].reverse()) {
      entry = argumentTest(e, test, action, next);
      next = { kind: 'label', label: entry };
    }
    checks.push(entry);
  }
  const dispatch = tree(e, segs, 0, segs.length, checks);
  e.cond(BPF_JSET, X32_SYSCALL_BIT, { ...KILL }, dispatch);
  const ldNr = e.push({ code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: SECCOMP_DATA_NR });
  e.cond(BPF_JEQ, AUDIT_ARCH_X86_64, { kind: 'label', label: ldNr }, { ...KILL });
  e.push({ code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: SECCOMP_DATA_ARCH });
  return e.program();
}

/**
 * Build the seccomp program for `spec` as `struct sock_filter[]` bytes,
 * ready for SECCOMP_SET_MODE_FILTER. Throws BpfError for numbers out of
 * range, a number listed twice, an errno outside 1..4095, or a program
 * longer than 4096 instructions.
 */
export function buildFilter(spec: FilterSpec): Uint8Array {
  return encode(buildFilterInsns(spec));
}
