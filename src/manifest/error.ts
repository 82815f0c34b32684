/** Manifest errors, key-path rendering and "did you mean" suggestions. */

export type PathSeg = string | number;

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** `syscalls.emulate[2]`, `env.set."MY VAR"`. */
export function renderPath(segs: readonly PathSeg[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else {
      const key = BARE_KEY.test(s) ? s : JSON.stringify(s);
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

/**
 * A problem in a manifest. `message` is `FILE:LINE: key.path: reason`
 * (`FILE:LINE: reason` when no key is involved, e.g. TOML syntax).
 */
export class ManifestError extends Error {
  readonly file: string;
  readonly line: number;
  /** Rendered key path (`syscalls.emulate[2]`), "" for syntax errors. */
  readonly keyPath: string;
  /** What was wrong, without location. */
  readonly reason: string;
  /** Every problem found in the manifest, sorted by line; this one first. */
  errors: readonly ManifestError[];

  constructor(file: string, line: number, keyPath: string, reason: string) {
    super(`${file}:${line}: ${keyPath === '' ? '' : `${keyPath}: `}${reason}`);
    this.name = 'ManifestError';
    this.file = file;
    this.line = line;
    this.keyPath = keyPath;
    this.reason = reason;
    this.errors = [this];
  }
}

/** Optimal-string-alignment distance (Levenshtein plus transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    d.push(new Array<number>(b.length + 1).fill(0));
    d[i]![0] = i;
  }
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate when it is plausibly a typo, else undefined. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  return bestD <= limit ? best : undefined;
}
