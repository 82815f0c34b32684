/**
 * Line numbers of keys and array elements in TOML source.
 *
 * smol-toml returns plain values without positions, so error messages find
 * their line by scanning the text once more: table headers (`[a.b]`,
 * `[[a]]`), dotted keys, quoted keys, inline tables (nested, even spread over
 * several lines), arrays (one entry per element) and strings of every kind
 * are understood. The text has already been accepted by smol-toml, so the
 * scanner can be lenient; if it meets something it does not expect it stops
 * and returns what it has (callers fall back to the nearest known parent).
 */
import { renderPath, type PathSeg } from './error.js';

/** Map from rendered key path (`syscalls.emulate[2]`) to 1-based line. */
export type LineMap = ReadonlyMap<string, number>;

class Stop extends Error {}

export function locateKeys(text: string): LineMap {
  const out = new Map<string, number>();
  const s = text;
  let i = 0;
  let line = 1;

  const mark = (segs: readonly PathSeg[], ln: number): void => {
    const k = renderPath(segs);
    if (!out.has(k)) out.set(k, ln);
  };
  const markAll = (segs: readonly PathSeg[], from: number, ln: number): void => {
    for (let n = Math.max(1, from); n <= segs.length; n++) mark(segs.slice(0, n), ln);
  };
  const eof = (): boolean => i >= s.length;
  const fail = (): never => {
    throw new Stop();
  };
  const step = (): void => {
    if (s[i] === '\n') line++;
    i++;
  };
  const spaces = (): void => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  const comment = (): void => {
    if (s[i] === '#') while (!eof() && s[i] !== '\n') i++;
  };
  /** Whitespace, newlines and comments (inside arrays and inline tables). */
  const trivia = (): void => {
    for (;;) {
      const c = s[i];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') step();
      else if (c === '#') comment();
      else return;
    }
  };
  const expect = (str: string): void => {
    if (!s.startsWith(str, i)) fail();
    i += str.length;
  };

  const basicString = (): string => {
    // at the opening quote of a single-line basic string
    i++;
    let v = '';
    while (!eof() && s[i] !== '"') {
      if (s[i] === '\n') fail();
      if (s[i] === '\\') {
        const e = s.at(i + 1);
        i += 2;
        const simple: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', e: '\x1b', '"': '"', '\\': '\\' };
        if (e !== undefined && e in simple) v += simple[e];
        else if (e === 'u' || e === 'U' || e === 'x') {
          const n = e === 'u' ? 4 : e === 'U' ? 8 : 2;
          v += String.fromCodePoint(parseInt(s.slice(i, i + n), 16));
          i += n;
        } else fail();
      } else {
        v += s[i];
        i++;
      }
    }
    expect('"');
    return v;
  };
  const literalString = (): string => {
    const end = s.indexOf("'", i + 1);
    if (end < 0 || s.slice(i, end).includes('\n')) fail();
    const v = s.slice(i + 1, end);
    i = end + 1;
    return v;
  };
  const skipString = (): void => {
    if (s.startsWith('"""', i) || s.startsWith("'''", i)) {
      const q = s.slice(i, i + 3);
      i += 3;
      for (;;) {
        if (eof()) fail();
        if (q === '"""' && s[i] === '\\') {
          step();
          step();
          continue;
        }
        if (s.startsWith(q, i)) {
          i += 3;
          // up to two extra quotes belong to the content
          while (s[i] === q[0]) i++;
          return;
        }
        step();
      }
    }
    if (s[i] === '"') basicString();
    else literalString();
  };

  const simpleKey = (): string => {
    if (s[i] === '"') return basicString();
    if (s[i] === "'") return literalString();
    const m = /^[A-Za-z0-9_-]+/.exec(s.slice(i, i + 256));
    if (!m) fail();
    i += m![0].length;
    return m![0];
  };
  const key = (): string[] => {
    const segs = [simpleKey()];
    spaces();
    while (s[i] === '.') {
      i++;
      spaces();
      segs.push(simpleKey());
      spaces();
    }
    return segs;
  };

  const value = (path: PathSeg[]): void => {
    const c = s[i];
    if (c === '"' || c === "'") {
      skipString();
    } else if (c === '[') {
      i++;
      for (let idx = 0; ; idx++) {
        trivia();
        if (eof()) fail();
        if (s[i] === ']') {
          i++;
          return;
        }
        const el = [...path, idx];
        mark(el, line);
        value(el);
        trivia();
        if (s[i] === ',') i++;
        else if (s[i] !== ']') fail();
      }
    } else if (c === '{') {
      i++;
      for (;;) {
        trivia();
        if (eof()) fail();
        if (s[i] === '}') {
          i++;
          return;
        }
        const ln = line;
        const full = [...path, ...key()];
        markAll(full, path.length + 1, ln);
        expect('=');
        trivia();
        value(full);
        trivia();
        if (s[i] === ',') i++;
        else if (s[i] !== '}') fail();
      }
    } else {
      const start = i;
      while (!eof() && !',]}#\r\n'.includes(s[i]!)) i++;
      if (i === start) fail();
    }
  };

  let prefix: PathSeg[] = [];
  const arrayTables = new Map<string, number>();
  try {
    for (;;) {
      trivia();
      if (eof()) break;
      const ln = line;
      if (s[i] === '[') {
        const isArray = s[i + 1] === '[';
        i += isArray ? 2 : 1;
        spaces();
        const k = key();
        expect(isArray ? ']]' : ']');
        markAll(k, 1, ln);
        if (isArray) {
          const rk = renderPath(k);
          const idx = arrayTables.get(rk) ?? 0;
          arrayTables.set(rk, idx + 1);
          prefix = [...k, idx];
          mark(prefix, ln);
        } else {
          prefix = k;
        }
      } else {
        const full = [...prefix, ...key()];
        markAll(full, prefix.length + 1, ln);
        expect('=');
        spaces();
        value(full);
      }
      spaces();
      comment();
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  return out;
}

/** Line of `segs`, else of its nearest located ancestor, else 1. */
export function lineOf(lines: LineMap, segs: readonly PathSeg[]): number {
  for (let n = segs.length; n > 0; n--) {
    const l = lines.get(renderPath(segs.slice(0, n)));
    if (l !== undefined) return l;
  }
  return 1;
}
