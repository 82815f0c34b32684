import t from 'tap';
import {
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  BPF_ABS,
  BPF_ALU,
  BPF_ADD,
  BPF_DIV,
  BPF_IMM,
  BPF_JA,
  BPF_JEQ,
  BPF_JGT,
  BPF_JMP,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_LSH,
  BPF_MEM,
  BPF_MISC,
  BPF_RET,
  BPF_A,
  BPF_ST,
  BPF_TAX,
  BPF_TXA,
  BPF_W,
  BPF_X,
  BPF_H,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_USER_NOTIF,
  BpfError,
  actionName,
  buildFilter,
  buildFilterInsns,
  decode,
  disassemble,
  encode,
  kernelCacheAllows,
  runFilter,
  traceFilter,
  validateFilter,
  type FilterSpec,
  type Insn,
} from '../../src/bpf/index.js';

const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const ARCHES = [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, 0];
const X32 = 0x40000000;
// Every number 0..470, the x32 twins of each (0x40000000 + n, including the
// x32-only 512..547 range), and a few odd ones.
const NRS: number[] = [];
for (let n = 0; n <= 470; n++) NRS.push(n, X32 + n);
for (let n = 512; n <= 547; n++) NRS.push(n, X32 + n);
NRS.push(1000, 0x3fffffff, 0x7fffffff, 0x80000000, 0xbfffffff, 0xffffffff);

/** What the filter must answer, straight from the spec. */
function expected(spec: FilterSpec, arch: number, nr: number): number {
  if (arch !== AUDIT_ARCH_X86_64) return SECCOMP_RET_KILL_PROCESS;
  if ((nr & X32) !== 0) return SECCOMP_RET_KILL_PROCESS;
  if (spec.notify.includes(nr)) return SECCOMP_RET_USER_NOTIF;
  const e = spec.errno.get(nr);
  if (e !== undefined) return (SECCOMP_RET_ERRNO | e) >>> 0;
  if (spec.kill.includes(nr)) return SECCOMP_RET_KILL_PROCESS;
  return SECCOMP_RET_ALLOW;
}

function range(from: number, to: number, step = 1): number[] {
  const out: number[] = [];
  for (let n = from; n <= to; n += step) out.push(n);
  return out;
}

const POLICIES: Record<string, FilterSpec> = {
  empty: { notify: [], errno: new Map(), kill: [] },
  sem: { notify: [64, 65, 66, 220], errno: new Map(), kill: [] },
  strictish: {
    notify: [64, 65, 66, 220, 72, 3, 32, 33, 292, 436, 56, 57, 58, 435, 59, 322],
    errno: new Map([
      [101, 1],
      [311, 1],
      [246, 1],
      [175, 1],
      [313, 1],
      [321, 1],
      [165, 1],
      [166, 1],
      [155, 1],
      [167, 1],
      [168, 1],
      [0, 38],
      [469, 95],
    ]),
    kill: [169, 9999],
  },
  adjacentMixed: {
    notify: [10, 12, 14],
    errno: new Map([
      [11, 1],
      [13, 13],
      [15, 4095],
    ]),
    kill: [16, 17, 18],
  },
  // Every number 0..470 listed, alternating actions: a deep tree with many
  // out-of-reach targets (ret duplication and ja trampolines).
  dense: {
    notify: range(0, 470, 3),
    errno: new Map(range(1, 470, 3).map((n) => [n, (n % 133) + 1])),
    kill: range(2, 470, 3),
  },
  // Sparse huge numbers: still below the x32 bit.
  sparse: {
    notify: [0x3ffffffe, 123456],
    errno: new Map([[0x3fffffff, 1]]),
    kill: [471, 100000],
  },
};

t.test('every (arch, nr) gets the action of its policy', async (t) => {
  for (const [name, spec] of Object.entries(POLICIES)) {
    const prog = buildFilter(spec);
    validateFilter(prog);
    let bad = 0;
    for (const arch of ARCHES) {
      for (const nr of NRS) {
        const got = runFilter(prog, { nr, arch });
        const want = expected(spec, arch, nr);
        if (got !== want) {
          bad++;
          if (bad < 10) t.fail(`${name}: arch 0x${arch.toString(16)} nr ${nr}: ${actionName(got)} != ${actionName(want)}`);
        }
      }
    }
    // listed numbers beyond NRS
    for (const nr of [...spec.notify, ...spec.errno.keys(), ...spec.kill]) {
      const got = runFilter(prog, { nr, arch: AUDIT_ARCH_X86_64 });
      if (got !== expected(spec, AUDIT_ARCH_X86_64, nr)) bad++;
      if (nr + 1 < X32) t.equal(runFilter(prog, { nr: nr + 1, arch: AUDIT_ARCH_X86_64 }), expected(spec, AUDIT_ARCH_X86_64, nr + 1));
    }
    t.equal(bad, 0, `${name}: ${prog.length / 8} instructions, all answers right`);
  }
});

t.test('arguments and ip never change the answer', async (t) => {
  const spec = POLICIES.strictish!;
  const prog = buildFilter(spec);
  for (const nr of [0, 39, 64, 101, 169]) {
    const plain = runFilter(prog, { nr, arch: AUDIT_ARCH_X86_64 });
    const noisy = runFilter(prog, {
      nr,
      arch: AUDIT_ARCH_X86_64,
      ip: 0xffffffffffffffffn,
      args: [1, -1, 0xdeadbeefn, 2n ** 63n, 7, 0x40000000],
    });
    t.equal(noisy, plain);
  }
});

t.test('allowed path is short and the kernel action cache applies', async (t) => {
  const sem = buildFilter(POLICIES.sem!);
  const getpid = traceFilter(sem, { nr: 39, arch: AUDIT_ARCH_X86_64 });
  t.equal(getpid.action, SECCOMP_RET_ALLOW);
  t.ok(getpid.path.length <= 7, `getpid runs ${getpid.path.length} instructions`);
  t.ok(traceFilter(buildFilter(POLICIES.empty!), { nr: 39, arch: AUDIT_ARCH_X86_64 }).path.length <= 5);

  for (const [name, spec] of Object.entries(POLICIES)) {
    const prog = buildFilter(spec);
    const insns = decode(prog);
    // Only instructions the kernel's cache emulator understands.
    for (const ins of insns) {
      t.ok(
        [
          BPF_LD | BPF_W | BPF_ABS,
          BPF_RET | BPF_K,
          BPF_JMP | BPF_JA,
          BPF_JMP | BPF_JEQ | BPF_K,
          BPF_JMP | 0x30 | BPF_K,
          BPF_JMP | 0x40 | BPF_K,
        ].includes(ins.code),
        `${name}: cache-friendly opcode 0x${ins.code.toString(16)}`,
      );
    }
    let mismatch = 0;
    let maxPath = 0;
    for (let nr = 0; nr <= 470; nr++) {
      const { action, path } = traceFilter(prog, { nr, arch: AUDIT_ARCH_X86_64 });
      maxPath = Math.max(maxPath, path.length);
      if (kernelCacheAllows(prog, AUDIT_ARCH_X86_64, nr) !== (action === SECCOMP_RET_ALLOW)) mismatch++;
      if (kernelCacheAllows(prog, AUDIT_ARCH_I386, nr)) mismatch++;
    }
    t.equal(mismatch, 0, `${name}: cache verdict = ALLOW exactly for allowed x86_64 syscalls`);
    // balanced tree: preamble (4) + depth + ret (+ trampolines)
    const listed = spec.notify.length + spec.errno.size + spec.kill.length;
    const bound = 4 + 2 * Math.ceil(Math.log2(2 * listed + 2)) + 1;
    t.ok(maxPath <= bound, `${name}: longest path ${maxPath} <= ${bound}`);
  }
});

t.test('preamble order: arch, then x32', async (t) => {
  const insns = buildFilterInsns(POLICIES.sem!);
  t.same(insns[0], { code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: 4 });
  t.equal(insns[1]!.code, BPF_JMP | BPF_JEQ | BPF_K);
  t.equal(insns[1]!.k, AUDIT_ARCH_X86_64);
  t.same(insns[2], { code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: 0 });
  t.equal(insns[3]!.code, BPF_JMP | 0x40 | BPF_K);
  t.equal(insns[3]!.k, X32);
});

t.test('bad specs', async (t) => {
  const none = new Map<number, number>();
  t.throws(() => buildFilter({ notify: [1, 1], errno: none, kill: [] }), BpfError);
  t.throws(() => buildFilter({ notify: [1], errno: new Map([[1, 1]]), kill: [] }), /listed twice/);
  t.throws(() => buildFilter({ notify: [], errno: none, kill: [-1] }), /out of range/);
  t.throws(() => buildFilter({ notify: [X32], errno: none, kill: [] }), /out of range/);
  t.throws(() => buildFilter({ notify: [1.5], errno: none, kill: [] }), /out of range/);
  t.throws(() => buildFilter({ notify: [], errno: new Map([[1, 0]]), kill: [] }), /errno 0/);
  t.throws(() => buildFilter({ notify: [], errno: new Map([[1, 4096]]), kill: [] }), /errno 4096/);
  // Far too many alternating segments for 4096 instructions.
  t.throws(() => buildFilter({ notify: range(0, 12000, 2), errno: none, kill: [] }), /more than 4096 instructions/);
  // ... but a lot of consecutive numbers is one segment.
  const big = buildFilter({ notify: range(0, 100000), errno: none, kill: [] });
  t.ok(big.length / 8 < 12);
  t.equal(runFilter(big, { nr: 100000, arch: AUDIT_ARCH_X86_64 }), SECCOMP_RET_USER_NOTIF);
  t.equal(runFilter(big, { nr: 100001, arch: AUDIT_ARCH_X86_64 }), SECCOMP_RET_ALLOW);
});

t.test('largest programs stay within limits and correct', async (t) => {
  // Alternating notify/allow over many numbers: forces ja trampolines.
  const spec: FilterSpec = { notify: range(0, 2400, 2), errno: new Map(), kill: [] };
  const prog = buildFilter(spec);
  t.ok(prog.length / 8 <= 4096, `${prog.length / 8} instructions`);
  t.ok(
    decode(prog).some((i) => i.code === (BPF_JMP | BPF_JA)),
    'uses ja trampolines',
  );
  let bad = 0;
  for (let nr = 0; nr <= 2500; nr++) {
    if (runFilter(prog, { nr, arch: AUDIT_ARCH_X86_64 }) !== expected(spec, AUDIT_ARCH_X86_64, nr)) bad++;
  }
  t.equal(bad, 0);
});

const I = (code: number, k = 0, jt = 0, jf = 0): Insn => ({ code, jt, jf, k });

t.test('validator rejects what the kernel rejects', async (t) => {
  const ret = I(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  t.throws(() => validateFilter(new Uint8Array(0)), /empty/);
  t.throws(() => validateFilter(new Uint8Array(7)), /multiple of 8/);
  t.throws(() => validateFilter(encode(new Array(4097).fill(ret))), /more than the kernel's 4096/);
  t.throws(() => validateFilter(encode([I(BPF_LD | BPF_H | BPF_ABS, 0), ret])), /insn 0: opcode 0x28 is not allowed/);
  t.throws(() => validateFilter(encode([I(BPF_LD | BPF_W | BPF_ABS, 2), ret])), /unaligned/);
  t.throws(() => validateFilter(encode([I(BPF_LD | BPF_W | BPF_ABS, 64), ret])), /outside/);
  t.throws(() => validateFilter(encode([I(BPF_LD | BPF_W | BPF_ABS, 0)])), /last instruction is not ret/);
  t.throws(() => validateFilter(encode([I(BPF_JMP | BPF_JA, 1), ret])), /past the end/);
  t.throws(() => validateFilter(encode([I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), ret])), /past the end/);
  t.throws(() => validateFilter(encode([I(BPF_ALU | BPF_DIV | BPF_K, 0), ret])), /division by constant zero/);
  t.throws(() => validateFilter(encode([I(BPF_ALU | BPF_LSH | BPF_K, 32), ret])), /shift by 32/);
  t.throws(() => validateFilter(encode([I(BPF_LD | BPF_MEM, 16), ret])), /slot 16 out of range/);
  t.throws(() => validateFilter(encode([I(BPF_LD | BPF_MEM, 3), ret])), /read before written/);
  // written on one branch only
  t.throws(
    () => validateFilter(encode([I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), I(BPF_ST, 3), I(BPF_LD | BPF_MEM, 3), ret])),
    /read before written/,
  );
  t.throws(() => runFilter(encode([I(0x07 | 0x10), ret]), { nr: 0, arch: 0 }), BpfError);
  t.doesNotThrow(() => validateFilter(encode([I(BPF_ST, 3), I(BPF_LD | BPF_MEM, 3), ret])));
});

t.test('interpreter semantics', async (t) => {
  const data = { nr: 7, arch: AUDIT_ARCH_X86_64, args: [0x1_0000_0005n, 3], ip: 0x1234_5678_9abcn };
  const run = (insns: Insn[]): number => runFilter(encode(insns), data);
  const retA = I(BPF_RET | BPF_A);
  t.equal(run([I(BPF_LD | BPF_W | BPF_ABS, 16), retA]), 5, 'args[0] low word');
  t.equal(run([I(BPF_LD | BPF_W | BPF_ABS, 20), retA]), 1, 'args[0] high word');
  t.equal(run([I(BPF_LD | BPF_W | BPF_ABS, 8), retA]), 0x56789abc, 'ip low word');
  t.equal(run([I(BPF_LD | BPF_W | BPF_ABS, 12), retA]), 0x1234, 'ip high word');
  t.equal(run([I(BPF_LD | BPF_W | 0x80), retA]), 64, 'ld len');
  t.equal(run([I(BPF_LD | BPF_IMM, 10), I(BPF_ALU | BPF_ADD | BPF_K, 0xfffffff9), retA]), 3, 'add wraps');
  t.equal(run([I(BPF_LD | BPF_IMM, 1), I(BPF_ALU | 0x80), retA]), 0xffffffff, 'neg');
  t.equal(run([I(BPF_LDX | BPF_IMM, 0), I(BPF_ALU | BPF_DIV | BPF_X), retA]), 0, 'div by X=0 returns 0');
  t.equal(run([I(BPF_LD | BPF_IMM, 6), I(BPF_MISC | BPF_TAX), I(BPF_LD | BPF_IMM, 2), I(BPF_ALU | 0x20 | BPF_X), retA]), 12, 'tax, mul x');
  t.equal(run([I(BPF_LDX | BPF_IMM, 9), I(BPF_MISC | BPF_TXA), retA]), 9, 'txa');
  t.equal(run([I(BPF_LD | BPF_IMM, 1), I(BPF_LDX | BPF_IMM, 33), I(BPF_ALU | BPF_LSH | BPF_X), retA]), 2, 'shift masked');
  t.equal(
    run([I(BPF_LD | BPF_IMM, 5), I(BPF_ST, 0), I(BPF_LD | BPF_IMM, 0), I(BPF_LDX | BPF_MEM, 0), I(BPF_MISC | BPF_TXA), retA]),
    5,
    'scratch memory',
  );
  t.equal(
    run([I(BPF_LD | BPF_W | BPF_ABS, 0), I(BPF_JMP | BPF_JGT | BPF_K, 6, 1, 0), I(BPF_RET | BPF_K, 1), I(BPF_RET | BPF_K, 2)]),
    2,
    'jgt',
  );
  t.equal(run([I(BPF_LD | BPF_IMM, 0xffffffff), I(BPF_RET | BPF_A)]), 0xffffffff, 'results are unsigned');
  t.equal(runFilter(encode([I(BPF_LD | BPF_W | BPF_ABS, 0), retA]), { nr: -1, arch: 0 }), 0xffffffff, 'nr -1 reads as 0xffffffff');
  t.same(traceFilter(encode([I(BPF_JMP | BPF_JA, 1), I(BPF_RET | BPF_K, 1), I(BPF_RET | BPF_K, 2)]), data), {
    action: 2,
    path: [0, 2],
  });
  t.throws(() => runFilter(encode([retA]), { nr: 0, arch: 0, args: [1, 2, 3, 4, 5, 6, 7] }), /at most 6/);
});

t.test('kernel cache emulator gives up on argument loads', async (t) => {
  const prog = encode([
    I(BPF_LD | BPF_W | BPF_ABS, 0),
    I(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 2),
    I(BPF_LD | BPF_W | BPF_ABS, 16),
    I(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    I(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  ]);
  t.equal(kernelCacheAllows(prog, AUDIT_ARCH_X86_64, 39), false);
  t.equal(kernelCacheAllows(prog, AUDIT_ARCH_X86_64, 40), true);
});

t.test('actions and disassembly', async (t) => {
  t.equal(actionName(SECCOMP_RET_ALLOW), 'ALLOW');
  t.equal(actionName(SECCOMP_RET_KILL_PROCESS), 'KILL_PROCESS');
  t.equal(actionName(SECCOMP_RET_USER_NOTIF), 'USER_NOTIF');
  t.equal(actionName(SECCOMP_RET_ERRNO | 1), 'ERRNO(EPERM)');
  t.equal(actionName(0x00030005), 'TRAP(5)');
  t.equal(actionName(0), 'KILL_THREAD');
  t.equal(actionName(0x12340000), '0x12340000');
  const text = disassemble(buildFilter(POLICIES.sem!));
  t.match(text, /^0: ld \[4\] +; arch$/m);
  t.match(text, /jeq {2}#0xc000003e .*; AUDIT_ARCH_X86_64/);
  t.match(text, /jset #0x40000000 .*; x32 bit/);
  t.match(text, /jge {2}#64 .*; nr >= semget$/m);
  t.match(text, /ret #0x7fc00000 +; USER_NOTIF/);
  t.match(text, /ret #0x7fff0000 +; ALLOW/);
  t.match(text, /ret #0x80000000 +; KILL_PROCESS/);
  t.equal(text.trimEnd().split('\n').length, buildFilter(POLICIES.sem!).length / 8);
  // odd programs never make it throw
  t.match(disassemble(encode([I(BPF_LD | BPF_H | BPF_ABS, 0), I(0xffff), I(BPF_RET | BPF_A)])), /\.insn 0x28/);
});
