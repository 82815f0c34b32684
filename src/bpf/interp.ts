/**
 * Classic BPF for seccomp: encoding, the kernel's load-time checks, and an
 * interpreter.
 *
 * The interpreter accepts exactly the instruction set a seccomp filter may
 * contain (kernel/seccomp.c seccomp_check_filter) and applies the same
 * structural checks as the kernel (net/core/filter.c bpf_check_classic and
 * check_load_and_stores), so a program it runs is a program the kernel would
 * load, and a program it rejects would be rejected by the kernel too.
 */
import {
  BPF_A,
  BPF_ABS,
  BPF_ADD,
  BPF_ALU,
  BPF_AND,
  BPF_DIV,
  BPF_IMM,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JMP,
  BPF_JSET,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_LEN,
  BPF_LSH,
  BPF_MAXINSNS,
  BPF_MEM,
  BPF_MEMWORDS,
  BPF_MISC,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_RET,
  BPF_RSH,
  BPF_ST,
  BPF_STX,
  BPF_SUB,
  BPF_TAX,
  BPF_TXA,
  BPF_W,
  BPF_X,
  BPF_XOR,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_ARGS,
  SECCOMP_DATA_IP,
  SECCOMP_DATA_NR,
  SECCOMP_DATA_SIZE,
  SECCOMP_RET_ALLOW,
  SOCK_FILTER_SIZE,
  bpfClass,
} from './consts.js';

/** One `struct sock_filter`. */
export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** A program the kernel would refuse, or an impossible request. */
export class BpfError extends Error {
  /** Index of the offending instruction, when there is one. */
  readonly pc: number | undefined;
  constructor(message: string, pc?: number) {
    super(pc === undefined ? message : `insn ${pc}: ${message}`);
    this.name = 'BpfError';
    this.pc = pc;
  }
}

/** Serialise instructions as little-endian `struct sock_filter`s. */
export function encode(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * SOCK_FILTER_SIZE);
  const view = new DataView(out.buffer);
  insns.forEach((ins, i) => {
    const o = i * SOCK_FILTER_SIZE;
    view.setUint16(o, ins.code, true);
    view.setUint8(o + 2, ins.jt);
    view.setUint8(o + 3, ins.jf);
    view.setUint32(o + 4, ins.k >>> 0, true);
  });
  return out;
}

/** Parse little-endian `struct sock_filter`s (no semantic checks). */
export function decode(prog: Uint8Array): Insn[] {
  if (prog.length % SOCK_FILTER_SIZE !== 0) {
    throw new BpfError(`program length ${prog.length} is not a multiple of ${SOCK_FILTER_SIZE}`);
  }
  const view = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const insns: Insn[] = [];
  for (let o = 0; o < prog.length; o += SOCK_FILTER_SIZE) {
    insns.push({
      code: view.getUint16(o, true),
      jt: view.getUint8(o + 2),
      jf: view.getUint8(o + 3),
      k: view.getUint32(o + 4, true),
    });
  }
  return insns;
}

const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH];
const COND_JUMPS = [BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET];

/** Every opcode seccomp_check_filter lets through (after its rewrites). */
const SECCOMP_OPCODES: ReadonlySet<number> = new Set<number>([
  BPF_LD | BPF_W | BPF_ABS,
  BPF_LD | BPF_W | BPF_LEN,
  BPF_LDX | BPF_W | BPF_LEN,
  BPF_RET | BPF_K,
  BPF_RET | BPF_A,
  ...ALU_OPS.flatMap((op) => [BPF_ALU | op | BPF_K, BPF_ALU | op | BPF_X]),
  BPF_ALU | BPF_NEG,
  BPF_LD | BPF_IMM,
  BPF_LDX | BPF_IMM,
  BPF_MISC | BPF_TAX,
  BPF_MISC | BPF_TXA,
  BPF_LD | BPF_MEM,
  BPF_LDX | BPF_MEM,
  BPF_ST,
  BPF_STX,
  BPF_JMP | BPF_JA,
  ...COND_JUMPS.flatMap((op) => [BPF_JMP | op | BPF_K, BPF_JMP | op | BPF_X]),
]);

const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * Decode and check a seccomp program the way the kernel does at load time;
 * throws BpfError on the first problem.
 */
export function validateFilter(prog: Uint8Array): Insn[] {
  const insns = decode(prog);
  const len = insns.length;
  if (len === 0) throw new BpfError('empty program');
  if (len > BPF_MAXINSNS) throw new BpfError(`${len} instructions, more than the kernel's ${BPF_MAXINSNS}`);
  insns.forEach((ins, pc) => {
    const { code, k } = ins;
    if (!SECCOMP_OPCODES.has(code)) {
      throw new BpfError(`opcode ${hex(code)} is not allowed in a seccomp filter`, pc);
    }
    switch (code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (k >= SECCOMP_DATA_SIZE || (k & 3) !== 0) {
          throw new BpfError(`load offset ${k} outside struct seccomp_data or unaligned`, pc);
        }
        break;
      case BPF_ALU | BPF_DIV | BPF_K:
        if (k === 0) throw new BpfError('division by constant zero', pc);
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (k >= 32) throw new BpfError(`shift by ${k}`, pc);
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (k >= BPF_MEMWORDS) throw new BpfError(`scratch slot ${k} out of range`, pc);
        break;
      case BPF_JMP | BPF_JA:
        if (k >= len - pc - 1) throw new BpfError(`jump ${k} past the end`, pc);
        break;
      default:
        if (bpfClass(code) === BPF_JMP && (pc + 1 + ins.jt >= len || pc + 1 + ins.jf >= len)) {
          throw new BpfError(`jump ${ins.jt}/${ins.jf} past the end`, pc);
        }
    }
  });
  if (bpfClass(insns[len - 1]!.code) !== BPF_RET) throw new BpfError('last instruction is not ret', len - 1);
  checkLoadAndStores(insns);
  return insns;
}

/** Every read of a scratch slot must follow a write of it on all paths. */
function checkLoadAndStores(insns: readonly Insn[]): void {
  const masks = new Uint16Array(insns.length).fill(0xffff);
  let valid = 0;
  insns.forEach((ins, pc) => {
    valid &= masks[pc]!;
    const { code, k } = ins;
    if (code === BPF_ST || code === BPF_STX) {
      valid |= 1 << k;
    } else if (code === (BPF_LD | BPF_MEM) || code === (BPF_LDX | BPF_MEM)) {
      if ((valid & (1 << k)) === 0) throw new BpfError(`scratch slot ${k} read before written`, pc);
    } else if (code === (BPF_JMP | BPF_JA)) {
      masks[pc + 1 + k]! &= valid;
      valid = 0xffff;
    } else if (bpfClass(code) === BPF_JMP) {
      masks[pc + 1 + ins.jt]! &= valid;
      masks[pc + 1 + ins.jf]! &= valid;
      valid = 0xffff;
    }
  });
}

/** Input of a filter run: what the kernel puts in `struct seccomp_data`. */
export interface SeccompData {
  /** Syscall number (int in the kernel; taken modulo 2^32). */
  nr: number;
  /** AUDIT_ARCH_* value. */
  arch: number;
  /** Up to six arguments; missing ones are 0. */
  args?: ReadonlyArray<number | bigint>;
  /** Instruction pointer; 0 when absent. */
  ip?: number | bigint;
}

function seccompData(data: SeccompData): DataView {
  const view = new DataView(new ArrayBuffer(SECCOMP_DATA_SIZE));
  view.setUint32(SECCOMP_DATA_NR, data.nr >>> 0, true);
  view.setUint32(SECCOMP_DATA_ARCH, data.arch >>> 0, true);
  view.setBigUint64(SECCOMP_DATA_IP, BigInt.asUintN(64, BigInt(data.ip ?? 0)), true);
  const args = data.args ?? [];
  if (args.length > 6) throw new BpfError(`${args.length} syscall arguments, at most 6`);
  args.forEach((a, i) => view.setBigUint64(SECCOMP_DATA_ARGS + 8 * i, BigInt.asUintN(64, BigInt(a)), true));
  return view;
}

/** Result of a traced run. */
export interface FilterTrace {
  /** The value the program returned (a SECCOMP_RET_* action with data). */
  action: number;
  /** Indices of the executed instructions, in order. */
  path: number[];
}

/** Run a seccomp program and record the executed instructions. */
export function traceFilter(prog: Uint8Array, data: SeccompData): FilterTrace {
  const insns = validateFilter(prog);
  const mem = seccompData(data);
  const scratch = new Uint32Array(BPF_MEMWORDS);
  const path: number[] = [];
  let a = 0;
  let x = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    path.push(pc);
    const { code, jt, jf, k } = insns[pc]!;
    switch (code) {
      case BPF_LD | BPF_W | BPF_ABS:
        a = mem.getUint32(k, true);
        break;
      case BPF_LD | BPF_W | BPF_LEN:
        a = SECCOMP_DATA_SIZE;
        break;
      case BPF_LDX | BPF_W | BPF_LEN:
        x = SECCOMP_DATA_SIZE;
        break;
      case BPF_LD | BPF_IMM:
        a = k;
        break;
      case BPF_LDX | BPF_IMM:
        x = k;
        break;
      case BPF_LD | BPF_MEM:
        a = scratch[k]!;
        break;
      case BPF_LDX | BPF_MEM:
        x = scratch[k]!;
        break;
      case BPF_ST:
        scratch[k] = a;
        break;
      case BPF_STX:
        scratch[k] = x;
        break;
      case BPF_MISC | BPF_TAX:
        x = a;
        break;
      case BPF_MISC | BPF_TXA:
        a = x;
        break;
      case BPF_RET | BPF_K:
        return { action: k >>> 0, path };
      case BPF_RET | BPF_A:
        return { action: a >>> 0, path };
      case BPF_ALU | BPF_NEG:
        a = -a >>> 0;
        break;
      case BPF_JMP | BPF_JA:
        pc += k;
        break;
      default: {
        const operand = (code & BPF_X) !== 0 ? x : k;
        if (bpfClass(code) === BPF_ALU) {
          const op = code & 0xf0;
          if (op === BPF_DIV && operand === 0) return { action: 0, path }; // classic BPF: returns 0
          a = alu(op, a, operand);
        } else {
          const taken = cond(code & 0xf0, a, operand);
          pc += taken ? jt : jf;
        }
      }
    }
  }
  // validateFilter guarantees the last instruction is a ret and jumps stay inside.
  throw new BpfError('ran off the end of the program');
}

function alu(op: number, a: number, b: number): number {
  switch (op) {
    case BPF_ADD:
      return (a + b) >>> 0;
    case BPF_SUB:
      return (a - b) >>> 0;
    case BPF_MUL:
      return Math.imul(a, b) >>> 0;
    case BPF_DIV:
      return Math.floor(a / b) >>> 0;
    case BPF_AND:
      return (a & b) >>> 0;
    case BPF_OR:
      return (a | b) >>> 0;
    case BPF_XOR:
      return (a ^ b) >>> 0;
    // Shift counts are masked to 5 bits, as the kernel's eBPF interpreter
    // does for the 32-bit ALU the classic program is translated to.
    case BPF_LSH:
      return (a << (b & 31)) >>> 0;
    case BPF_RSH:
      return a >>> (b & 31);
  }
  throw new BpfError(`unknown ALU op ${hex(op)}`);
}

function cond(op: number, a: number, b: number): boolean {
  switch (op) {
    case BPF_JEQ:
      return a === b;
    case BPF_JGT:
      return a > b;
    case BPF_JGE:
      return a >= b;
    case BPF_JSET:
      return (a & b) !== 0;
  }
  throw new BpfError(`unknown jump op ${hex(op)}`);
}

/** Run a seccomp program; returns the SECCOMP_RET_* value (u32). */
export function runFilter(prog: Uint8Array, data: SeccompData): number {
  return traceFilter(prog, data).action;
}

/**
 * Replays the kernel's seccomp action-cache emulator
 * (kernel/seccomp.c seccomp_is_const_allow, Linux >= 5.11): true when the
 * kernel can prove at load time that `prog` returns ALLOW for this
 * (arch, nr) whatever the arguments, and will then skip running the filter
 * for that syscall (for nr below the architecture's NR_syscalls). The
 * emulator gives up (false) at any instruction other than ld [nr]/[arch],
 * ja, jeq/jge/jgt/jset #k, and #k, ret #k.
 */
export function kernelCacheAllows(prog: Uint8Array, arch: number, nr: number): boolean {
  const insns = decode(prog);
  let reg = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    const { code, jt, jf, k } = insns[pc]!;
    switch (code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (k === SECCOMP_DATA_NR) reg = nr >>> 0;
        else if (k === SECCOMP_DATA_ARCH) reg = arch >>> 0;
        else return false;
        break;
      case BPF_RET | BPF_K:
        return k >>> 0 === SECCOMP_RET_ALLOW;
      case BPF_JMP | BPF_JA:
        pc += k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
      case BPF_JMP | BPF_JGE | BPF_K:
      case BPF_JMP | BPF_JGT | BPF_K:
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += cond(code & 0xf0, reg, k) ? jt : jf;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        reg = (reg & k) >>> 0;
        break;
      default:
        return false;
    }
  }
  return false;
}

// Convenience re-export (bin/ imports it from here); the code lives in disasm.ts.
export { disassemble } from './disasm.js';
