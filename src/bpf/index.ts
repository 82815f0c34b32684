export * from './consts.js';
export { buildFilter, buildFilterInsns, type FilterSpec } from './build.js';
export {
  BpfError,
  decode,
  encode,
  validateFilter,
  runFilter,
  traceFilter,
  kernelCacheAllows,
  type Insn,
  type SeccompData,
  type FilterTrace,
} from './interp.js';
export { disassemble } from './disasm.js';
export { actionName, archName } from './actions.js';
