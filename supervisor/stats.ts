// Per-syscall counts and service-time histograms (RECV returned -> SEND
// returned), recorded without allocation: log2 buckets with 16 linear
// sub-buckets each, so percentiles are within ~6%.

const SUB = 16;
const BUCKETS = 40 * SUB;

export interface SyscallStats {
  nr: number;
  count: number;
  p50us: number;
  p99us: number;
  maxus: number;
}

export class LatencyStats {
  private readonly histograms: (Uint32Array | undefined)[] = new Array(512);
  private readonly counts = new Float64Array(512);
  private readonly max = new Float64Array(512);

  /** Record one service time in milliseconds (performance.now() units). */
  record(nr: number, ms: number): void {
    if (nr < 0 || nr >= 512) return;
    let h = this.histograms[nr];
    if (h === undefined) h = this.histograms[nr] = new Uint32Array(BUCKETS);
    const ns = Math.max(1, Math.round(ms * 1e6));
    h[bucketOf(ns)]++;
    this.counts[nr]++;
    if (ms > this.max[nr]) this.max[nr] = ms;
  }

  summary(): SyscallStats[] {
    const out: SyscallStats[] = [];
    for (let nr = 0; nr < 512; nr++) {
      const h = this.histograms[nr];
      if (h === undefined) continue;
      const count = this.counts[nr];
      const maxus = this.max[nr] * 1000;
      // A bucket's midpoint can exceed the largest sample in it.
      const at = (q: number) => Math.min(percentile(h, count, q) / 1000, maxus);
      out.push({ nr, count, p50us: at(0.5), p99us: at(0.99), maxus });
    }
    return out;
  }
}

function bucketOf(ns: number): number {
  const exp = 31 - Math.clz32(ns); // floor(log2 ns), ns >= 1
  if (exp < 4) return ns; // 1..15 ns: exact
  const sub = Math.floor((ns / 2 ** exp - 1) * SUB);
  return Math.min(BUCKETS - 1, exp * SUB + sub);
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
