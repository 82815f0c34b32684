export { SYSCALL_TABLE, SYSCALL_NAMES, MAX_SYSCALL_NR, syscallNumber, syscallName, nr } from './table.js';
export { ERRNO_TABLE, ERRNO_NAMES, ERRNO_ALIASES, KERNEL_INTERNAL_ERRNOS, MAX_ERRNO, errnoName, errnoNumber } from './errno.js';
