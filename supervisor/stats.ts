// Per-syscall counts and service-time histograms (RECV returned -> answer
// sent, or ready for the next step to send: then the target's turn, which a
// SEND with SYNC_WAKE_UP waits out, is not included), recorded without
// allocation: log2 buckets with 16 linear sub-buckets each, so percentiles
// are within ~6%.
//
// A handler that answers inside itself (the caller before the sleepers it
// wakes, a sleeper's grant) makes SENDs whose woken task may take the loop's
// CPU there and then, so the loop resumes only once that task blocks or is
// preempted: ~100 µs per contended release of Apache's accept mutex on a busy
// 2-vCPU machine, against ~10 µs of handler. Those SENDs are timed apart
// (`sendP50us`) and left out of the service time.
//
// Timing is sampled: the two clock reads and the histogram update cost
// ~0.4 µs per notification, on the critical path of every round trip (with
// SYNC_WAKE_UP the target runs on the loop's CPU only once the loop blocks
// again). The first FULLY_TIMED notifications of each syscall are all timed,
// then one in TIME_EVERY; counts stay exact.

const SUB = 16;
const BUCKETS = 40 * SUB;
const FULLY_TIMED = 256;
const TIME_EVERY = 16; // a power of two

export interface SyscallStats {
  nr: number;
  /** Every notification of this syscall, including `native`. */
  count: number;
  /** Answered by the native step without JS (not timed: see NativeRules). */
  native: number;
  p50us: number;
  p99us: number;
  maxus: number;
  /** Timed notifications whose handler sent answers itself (SENDs left out of p50us..maxus). */
  sends: number;
  /** Median time of those SENDs per notification, waiting for the CPU included (0 when none). */
  sendP50us: number;
}

export class LatencyStats {
  private readonly histograms: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(512);
  private readonly counts = new Float64Array(512);
  private readonly timed = new Float64Array(512);
  private readonly max = new Float64Array(512);
  private readonly sendHistograms: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(512);
  private readonly sends = new Float64Array(512);
  private tick = 0;

  /** Should the notification of `nr` now being served be timed (then `record`) or only counted (`count`)? */
  shouldTime(nr: number): boolean {
    return this.counts[nr] < FULLY_TIMED || (++this.tick & (TIME_EVERY - 1)) === 0;
  }

  /** Count one notification that was not timed. */
  count(nr: number): void {
    if (nr >= 0 && nr < 512) this.counts[nr]++;
  }

  /**
   * Record one service time in milliseconds (performance.now() units), and
   * `sendMs`, the time the handler spent in SENDs of its own (0 for none),
   * which `ms` does not include.
   */
  record(nr: number, ms: number, sendMs: number): void {
    if (nr < 0 || nr >= 512) return;
    let h = this.histograms[nr];
    if (h === undefined) h = this.histograms[nr] = new Uint32Array(BUCKETS);
    h[bucketOf(Math.max(1, Math.round(ms * 1e6)))]++;
    this.counts[nr]++;
    this.timed[nr]++;
    if (ms > this.max[nr]) this.max[nr] = ms;
    if (sendMs <= 0) return;
    let s = this.sendHistograms[nr];
    if (s === undefined) s = this.sendHistograms[nr] = new Uint32Array(BUCKETS);
    s[bucketOf(Math.max(1, Math.round(sendMs * 1e6)))]++;
    this.sends[nr]++;
  }

  /** Per syscall seen; `nativeCount(nr)`: notifications the native step answered. */
  summary(nativeCount: (nr: number) => number = () => 0): SyscallStats[] {
    const out: SyscallStats[] = [];
    for (let nr = 0; nr < 512; nr++) {
      const h = this.histograms[nr];
      const native = nativeCount(nr);
      if (h === undefined && native === 0) continue;
      const count = this.counts[nr] + native;
      const timed = this.timed[nr];
      const maxus = this.max[nr] * 1000;
      // A bucket's midpoint can exceed the largest sample in it.
      const at = (q: number) => (h === undefined ? 0 : Math.min(percentile(h, timed, q) / 1000, maxus));
      const s = this.sendHistograms[nr];
      const sends = this.sends[nr];
      const sendP50us = s === undefined ? 0 : percentile(s, sends, 0.5) / 1000;
      out.push({ nr, count, native, p50us: at(0.5), p99us: at(0.99), maxus, sends, sendP50us });
    }
    return out;
  }
}

function bucketOf(ns: number): number {
  if (ns >= 2147483648) return Math.min(BUCKETS - 1, Math.floor(Math.log2(ns)) * SUB); // >= 2.1 s (clz32 wraps at 2^32)
  const exp = 31 - Math.clz32(ns); // floor(log2 ns), 1 <= ns < 2^31
  if (exp < 4) return ns; // 1..15 ns: exact
  // The top 4 bits after the leading one: same as floor((ns / 2^exp - 1) * SUB), without pow().
  return exp * SUB + (ns >>> (exp - 4)) - SUB;
}

function bucketValue(b: number): number {
  if (b < SUB) return b;
  const exp = Math.floor(b / SUB);
  const sub = b % SUB;
  return 2 ** exp * (1 + (sub + 0.5) / SUB);
}

function percentile(h: Uint32Array, count: number, q: number): number {
  const rank = Math.ceil(count * q);
  let seen = 0;
  for (let b = 0; b < h.length; b++) {
    seen += h[b];
    if (seen >= rank) return bucketValue(b);
  }
  return bucketValue(h.length - 1);
}
