/**
 * Text rendering of a seccomp program (tcpdump -d style, absolute jump
 * targets), annotated with syscall names, arch names and actions.
 */
import {
  BPF_A,
  BPF_ABS,
  BPF_ALU,
  BPF_IMM,
  BPF_JMP,
  BPF_LD,
  BPF_LDX,
  BPF_LEN,
  BPF_MEM,
  BPF_MISC,
  BPF_NEG,
  BPF_RET,
  BPF_ST,
  BPF_STX,
  BPF_TXA,
  BPF_W,
  BPF_X,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_ARGS,
  SECCOMP_DATA_IP,
  SECCOMP_DATA_NR,
  bpfClass,
  bpfMode,
  bpfOp,
  bpfSize,
} from './consts.js';
import { decode } from './interp.js';
import { actionName, archName } from './actions.js';
import { syscallName } from '../syscalls/table.js';

const ALU_NAMES: Partial<Record<number, string>> = {
  0x00: 'add',
  0x10: 'sub',
  0x20: 'mul',
  0x30: 'div',
  0x40: 'or',
  0x50: 'and',
  0x60: 'lsh',
  0x70: 'rsh',
  0x90: 'mod',
  0xa0: 'xor',
};
const JMP_NAMES: Partial<Record<number, string>> = { 0x10: 'jeq', 0x20: 'jgt', 0x30: 'jge', 0x40: 'jset' };

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

function fieldName(off: number): string {
  if (off === SECCOMP_DATA_NR) return 'nr';
  if (off === SECCOMP_DATA_ARCH) return 'arch';
  if (off === SECCOMP_DATA_IP) return 'ip';
  if (off === SECCOMP_DATA_IP + 4) return 'ip.hi';
  if (off >= SECCOMP_DATA_ARGS && off < SECCOMP_DATA_ARGS + 48) {
    const i = (off - SECCOMP_DATA_ARGS) >> 3;
    return (off - SECCOMP_DATA_ARGS) % 8 === 0 ? `args[${i}]` : `args[${i}].hi`;
  }
  return '?';
}

/** Disassemble a program; never throws on bad opcodes (shows them raw). */
export function disassemble(prog: Uint8Array): string {
  const insns = decode(prog);
  const width = String(Math.max(insns.length - 1, 0)).length;
  const at = (n: number): string => String(n).padStart(width, '0');
  // What A holds, as far as a linear scan can tell, for annotations.
  let loaded: string | undefined;
  const lines = insns.map((ins, pc) => {
    const { code, jt, jf, k } = ins;
    let text: string;
    let note = '';
    const cls = bpfClass(code);
    if (code === (BPF_LD | BPF_W | BPF_ABS)) {
      text = `ld [${k}]`;
      loaded = fieldName(k);
      note = loaded;
    } else if (cls === BPF_LD || cls === BPF_LDX) {
      const reg = cls === BPF_LD ? 'ld' : 'ldx';
      const mode = bpfMode(code);
      if (bpfSize(code) !== BPF_W && mode !== BPF_IMM && mode !== BPF_MEM) text = `.insn ${hex(code)} ${jt} ${jf} ${hex(k)}`;
      else if (mode === BPF_IMM) text = `${reg} #${hex(k)}`;
      else if (mode === BPF_MEM) text = `${reg} M[${k}]`;
      else if (mode === BPF_LEN) text = `${reg} #len`;
      else text = `.insn ${hex(code)} ${jt} ${jf} ${hex(k)}`;
      if (cls === BPF_LD) loaded = undefined;
    } else if (code === BPF_ST || code === BPF_STX) {
      text = `${code === BPF_ST ? 'st' : 'stx'} M[${k}]`;
    } else if (cls === BPF_ALU) {
      if (bpfOp(code) === BPF_NEG) text = 'neg';
      else {
        const name = ALU_NAMES[bpfOp(code)];
        text = name === undefined ? `.insn ${hex(code)} ${jt} ${jf} ${hex(k)}` : `${name} ${(code & BPF_X) !== 0 ? 'x' : `#${hex(k)}`}`;
      }
      loaded = undefined;
    } else if (cls === BPF_JMP) {
      if (bpfOp(code) === 0) {
        text = `ja ${at(pc + 1 + k)}`;
      } else {
        const name = JMP_NAMES[bpfOp(code)];
        const decimal = loaded === 'nr' && bpfOp(code) !== 0x40;
        const src = (code & BPF_X) !== 0 ? 'x' : decimal ? `#${k}` : `#${hex(k)}`;
        text =
          name === undefined
            ? `.insn ${hex(code)} ${jt} ${jf} ${hex(k)}`
            : `${name.padEnd(4)} ${src.padEnd(12)} jt ${at(pc + 1 + jt)} jf ${at(pc + 1 + jf)}`;
        if ((code & BPF_X) === 0 && name !== undefined) {
          const rel: Record<string, string> = { jeq: '==', jgt: '>', jge: '>=' };
          if (loaded === 'nr' && name !== 'jset') note = `nr ${rel[name]} ${syscallName(k)}`;
          else if (loaded === 'nr' && name === 'jset') note = 'x32 bit';
          else if (loaded === 'arch') note = archName(k);
        }
      }
    } else if (cls === BPF_RET) {
      if ((code & 0x18) === BPF_A) text = 'ret a';
      else {
        text = `ret #${hex(k)}`;
        note = actionName(k);
      }
    } else if (cls === BPF_MISC) {
      text = (code & 0xf8) === BPF_TXA ? 'txa' : 'tax';
      loaded = undefined;
    } else {
      text = `.insn ${hex(code)} ${jt} ${jf} ${hex(k)}`;
    }
    return `${at(pc)}: ${note ? `${text.padEnd(36)} ; ${note}` : text}`;
  });
  return lines.join('\n') + '\n';
}
