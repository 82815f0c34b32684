/**
 * Linux errno values (generic uapi numbering, used by x86_64).
 *
 * Generated once by hand from /usr/include/asm-generic/errno-base.h and
 * /usr/include/asm-generic/errno.h. Aliases (EWOULDBLOCK = EAGAIN,
 * EDEADLOCK = EDEADLK, and glibc's ENOTSUP = EOPNOTSUPP) resolve by name but
 * never come back from errnoName().
 *
 * The one errno table of the project: code imports the names (EAGAIN,
 * ENOLCK, ...) from here and answers a call with -errno, as the kernel does.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  ENOTBLK: 15,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  EIDRM: 43,
  ECHRNG: 44,
  EL2NSYNC: 45,
  EL3HLT: 46,
  EL3RST: 47,
  ELNRNG: 48,
  EUNATCH: 49,
  ENOCSI: 50,
  EL2HLT: 51,
  EBADE: 52,
  EBADR: 53,
  EXFULL: 54,
  ENOANO: 55,
  EBADRQC: 56,
  EBADSLT: 57,
  EBFONT: 59,
  ENOSTR: 60,
  ENODATA: 61,
  ETIME: 62,
  ENOSR: 63,
  ENONET: 64,
  ENOPKG: 65,
  EREMOTE: 66,
  ENOLINK: 67,
  EADV: 68,
  ESRMNT: 69,
  ECOMM: 70,
  EPROTO: 71,
  EMULTIHOP: 72,
  EDOTDOT: 73,
  EBADMSG: 74,
  EOVERFLOW: 75,
  ENOTUNIQ: 76,
  EBADFD: 77,
  EREMCHG: 78,
  ELIBACC: 79,
  ELIBBAD: 80,
  ELIBSCN: 81,
  ELIBMAX: 82,
  ELIBEXEC: 83,
  EILSEQ: 84,
  ERESTART: 85,
  ESTRPIPE: 86,
  EUSERS: 87,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95,
  EPFNOSUPPORT: 96,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENETRESET: 102,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETOOMANYREFS: 109,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  ESTALE: 116,
  EUCLEAN: 117,
  ENOTNAM: 118,
  ENAVAIL: 119,
  EISNAM: 120,
  EREMOTEIO: 121,
  EDQUOT: 122,
  ENOMEDIUM: 123,
  EMEDIUMTYPE: 124,
  ECANCELED: 125,
  ENOKEY: 126,
  EKEYEXPIRED: 127,
  EKEYREVOKED: 128,
  EKEYREJECTED: 129,
  EOWNERDEAD: 130,
  ENOTRECOVERABLE: 131,
  ERFKILL: 132,
  EHWPOISON: 133,
} as const;

export const { EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF, ECHILD, EAGAIN,
  ENOMEM, EACCES, EFAULT, ENOTBLK, EBUSY, EEXIST, EXDEV, ENODEV, ENOTDIR, EISDIR, EINVAL, ENFILE,
  EMFILE, ENOTTY, ETXTBSY, EFBIG, ENOSPC, ESPIPE, EROFS, EMLINK, EPIPE, EDOM, ERANGE, EDEADLK,
  ENAMETOOLONG, ENOLCK, ENOSYS, ENOTEMPTY, ELOOP, ENOMSG, EIDRM, ECHRNG, EL2NSYNC, EL3HLT, EL3RST,
  ELNRNG, EUNATCH, ENOCSI, EL2HLT, EBADE, EBADR, EXFULL, ENOANO, EBADRQC, EBADSLT, EBFONT, ENOSTR,
  ENODATA, ETIME, ENOSR, ENONET, ENOPKG, EREMOTE, ENOLINK, EADV, ESRMNT, ECOMM, EPROTO, EMULTIHOP,
  EDOTDOT, EBADMSG, EOVERFLOW, ENOTUNIQ, EBADFD, EREMCHG, ELIBACC, ELIBBAD, ELIBSCN, ELIBMAX,
  ELIBEXEC, EILSEQ, ERESTART, ESTRPIPE, EUSERS, ENOTSOCK, EDESTADDRREQ, EMSGSIZE, EPROTOTYPE,
  ENOPROTOOPT, EPROTONOSUPPORT, ESOCKTNOSUPPORT, EOPNOTSUPP, EPFNOSUPPORT, EAFNOSUPPORT, EADDRINUSE,
  EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, ENETRESET, ECONNABORTED, ECONNRESET, ENOBUFS, EISCONN,
  ENOTCONN, ESHUTDOWN, ETOOMANYREFS, ETIMEDOUT, ECONNREFUSED, EHOSTDOWN, EHOSTUNREACH, EALREADY,
  EINPROGRESS, ESTALE, EUCLEAN, ENOTNAM, ENAVAIL, EISNAM, EREMOTEIO, EDQUOT, ENOMEDIUM, EMEDIUMTYPE,
  ECANCELED, ENOKEY, EKEYEXPIRED, EKEYREVOKED, EKEYREJECTED, EOWNERDEAD, ENOTRECOVERABLE, ERFKILL,
  EHWPOISON } = ERRNO;

/** [number, name] pairs in number order. */
export const ERRNO_TABLE: ReadonlyArray<readonly [errno: number, name: string]> = Object.entries(ERRNO).map(
  ([name, n]) => [n, name] as const,
);

/** Alternative spellings accepted by errnoNumber(). */
export const ERRNO_ALIASES: Readonly<Record<string, string>> = {
  EWOULDBLOCK: "EAGAIN",
  EDEADLOCK: "EDEADLK",
  ENOTSUP: "EOPNOTSUPP",
};

/**
 * Kernel-internal codes (include/linux/errno.h) that user space never sees
 * as errno but that appear in notification traces (e.g. -ERESTARTSYS).
 * Only errnoName() knows them; errnoNumber() refuses them.
 */
export const KERNEL_INTERNAL_ERRNOS: ReadonlyArray<readonly [errno: number, name: string]> = [
  [512, "ERESTARTSYS"],
  [513, "ERESTARTNOINTR"],
  [514, "ERESTARTNOHAND"],
  [515, "ENOIOCTLCMD"],
  [516, "ERESTART_RESTARTBLOCK"],
  [517, "EPROBE_DEFER"],
  [518, "EOPENSTALE"],
  [519, "ENOPARAM"],
  [521, "EBADHANDLE"],
  [522, "ENOTSYNC"],
  [523, "EBADCOOKIE"],
  [524, "ENOTSUPP"],
  [525, "ETOOSMALL"],
  [526, "ESERVERFAULT"],
  [527, "EBADTYPE"],
  [528, "EJUKEBOX"],
  [529, "EIOCBQUEUED"],
  [530, "ERECALLCONFLICT"],
  [531, "ENOGRACE"],
];

/** Largest value the kernel accepts as an errno (MAX_ERRNO). */
export const MAX_ERRNO = 4095;

const numberByName = new Map<string, number>();
const nameByNumber = new Map<number, string>();
for (const [n, name] of ERRNO_TABLE) {
  numberByName.set(name, n);
  nameByNumber.set(n, name);
}
for (const [alias, target] of Object.entries(ERRNO_ALIASES)) {
  const n = numberByName.get(target);
  if (n !== undefined) numberByName.set(alias, n);
}
const internalByNumber = new Map<number, string>(KERNEL_INTERNAL_ERRNOS);

/** Every canonical errno name, in number order. */
export const ERRNO_NAMES: readonly string[] = ERRNO_TABLE.map(([, name]) => name);

/**
 * Symbolic name of errno `n` (sign ignored, so -EPERM works too); unknown
 * values render as `errno_<n>` (like syscallName's `syscall_<nr>`).
 */
export function errnoName(n: number): string {
  const a = Math.abs(n);
  return nameByNumber.get(a) ?? internalByNumber.get(a) ?? `errno_${a}`;
}

/** Number of errno `name` (canonical names and aliases), or undefined. */
export function errnoNumber(name: string): number | undefined {
  return numberByName.get(name);
}
