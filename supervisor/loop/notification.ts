// The current seccomp notification, read in place from the native RECV
// buffer. One instance lives for the whole loop: handlers read the fields
// they need and nothing is allocated on the fast path.
//
// struct seccomp_notif (x86_64, 80 bytes): id u64 @0, pid u32 @8, flags u32
// @12, nr i32 @16, arch u32 @20, ip u64 @24, args 6 x u64 @32.

export const NOTIF_SIZE = 80;
export const RESP_SIZE = 24;

const TWO_32 = 4294967296;

export class Notification {
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;

  constructor(buffer: ArrayBuffer) {
    this.u32 = new Uint32Array(buffer, 0, NOTIF_SIZE / 4);
    this.i32 = new Int32Array(buffer, 0, NOTIF_SIZE / 4);
  }

  /** The notification id as a bigint (allocates: only for waits that outlive the handler). */
  id(): bigint {
    return (BigInt(this.u32[1]) << 32n) | BigInt(this.u32[0]);
  }
  get idLo(): number {
    return this.u32[0];
  }
  get idHi(): number {
    return this.u32[1];
  }
  /** Thread id of the caller (not its thread-group id). */
  get tid(): number {
    return this.u32[2];
  }
  get nr(): number {
    return this.i32[4];
  }
  get arch(): number {
    return this.u32[5];
  }
  get ip(): number {
    return this.u32[7] * TWO_32 + this.u32[6];
  }

  /** Argument i as a C int (low 32 bits, signed). */
  int(i: number): number {
    return this.i32[8 + 2 * i];
  }
  /** Argument i as a C unsigned int. */
  uint(i: number): number {
    return this.u32[8 + 2 * i];
  }
  /** Argument i as an unsigned 64-bit value; exact for pointers and sizes below 2^53. */
  u64(i: number): number {
    return this.u32[9 + 2 * i] * TWO_32 + this.u32[8 + 2 * i];
  }
  /** Argument i as a signed 64-bit value (long, off_t); exact within ±2^53. */
  i64(i: number): number {
    return this.i32[9 + 2 * i] * TWO_32 + this.u32[8 + 2 * i];
  }
  /** Argument i as an exact bigint (allocates). */
  big(i: number): bigint {
    return (BigInt(this.u32[9 + 2 * i]) << 32n) | BigInt(this.u32[8 + 2 * i]);
  }

  /** Copy of the identifying fields, for waits and traces that outlive this notification. */
  snapshot(): NotificationRecord {
    const args: bigint[] = [];
    for (let i = 0; i < 6; i++) args.push(this.big(i));
    return { id: this.id(), tid: this.tid, nr: this.nr, ip: this.ip, args };
  }
}

export interface NotificationRecord {
  id: bigint;
  tid: number;
  nr: number;
  ip: number;
  args: bigint[];
}
