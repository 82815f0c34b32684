// The program the kernel opens to run a file: the ELF interpreter named by
// PT_INTERP (fs/binfmt_elf.c) or the "#!" line's interpreter
// (fs/binfmt_script.c). The kernel opens it with open_exec(), so Landlock
// checks the right to execute it as it checks the file's own.

/** How much of a file's start interpreterOf looks at (the headers of every ordinary ELF file fit). */
export const INTERPRETER_HEAD = 64 * 1024;

const PT_INTERP = 3;
/** binfmt_script reads at most BINPRM_BUF_SIZE bytes of the "#!" line. */
const BINPRM_BUF_SIZE = 256;

/**
 * The interpreter of a file from its first bytes, or null: a static ELF
 * file, a file the kernel does not run through an interpreter, or headers
 * beyond `head`.
 */
export function interpreterOf(head: Uint8Array): string | null {
  if (head[0] === 0x23 && head[1] === 0x21) return shebang(head.subarray(2, BINPRM_BUF_SIZE));
  if (head.length < 64 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return null;
  // ELFCLASS64, little endian: the only kind an x86_64 sandbox runs natively.
  if (head[4] !== 2 || head[5] !== 1) return null;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (phentsize < 56 || at + 56 > head.length) return null;
    if (view.getUint32(at, true) !== PT_INTERP) continue;
    const offset = Number(view.getBigUint64(at + 8, true));
    const size = Number(view.getBigUint64(at + 32, true));
    if (size < 2 || offset + size > head.length) return null;
    return Buffer.from(head.subarray(offset, offset + size - 1)).toString('latin1');
  }
  return null;
}

/** The interpreter path of a "#!" line (after the "#!"): spaces and tabs skipped, up to the next blank or newline. */
function shebang(line: Uint8Array): string | null {
  let start = 0;
  while (start < line.length && (line[start] === 0x20 || line[start] === 0x09)) start++;
  let end = start;
  while (end < line.length && line[end] !== 0x20 && line[end] !== 0x09 && line[end] !== 0x0a && line[end] !== 0) end++;
  return end > start ? Buffer.from(line.subarray(start, end)).toString('latin1') : null;
}
