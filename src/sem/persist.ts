/**
 * The persistent IPC namespace ([ipc] persist): semaphore sets saved at the
 * end of a run and restored at the start of the next. Only what outlives
 * processes is kept: ids, keys, permissions, values, last pids and times.
 * Waiters and SEM_UNDO lists belong to processes and end with them.
 *
 * The file is JSON with a format tag and a version; anything else is
 * refused with a message naming the first thing that is wrong.
 */
import { IPCMNI, SEMVMX } from './constants.js';
import type { SemSnapshot } from './registry.js';
import type { SemLimits } from './types.js';

export const PERSIST_FORMAT = 'sysvisor-sem-state';
export const PERSIST_VERSION = 1;

export interface PersistedSet {
  id: number;
  key: number;
  uid: number;
  gid: number;
  cuid: number;
  cgid: number;
  mode: number;
  otime: number;
  ctime: number;
  values: number[];
  pids: number[];
}

export interface PersistedState {
  format: typeof PERSIST_FORMAT;
  version: typeof PERSIST_VERSION;
  sets: PersistedSet[];
}

export class PersistError extends Error {}

/** The file's text for a registry snapshot. */
export function encodePersisted(s: SemSnapshot): string {
  const state: PersistedState = {
    format: PERSIST_FORMAT,
    version: PERSIST_VERSION,
    sets: s.sets.map((set) => ({
      id: set.id,
      key: set.perm.key,
      uid: set.perm.uid,
      gid: set.perm.gid,
      cuid: set.perm.cuid,
      cgid: set.perm.cgid,
      mode: set.perm.mode,
      otime: set.otime,
      ctime: set.ctime,
      values: [...set.values],
      pids: [...set.pids],
    })),
  };
  return JSON.stringify(state, null, 1) + '\n';
}

const isInt = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const U32 = 0xffffffff;
const I32_MIN = -0x80000000;
const I32_MAX = 0x7fffffff;
const TIME_MAX = 2 ** 53;

/** Parse and check a persisted state against the sandbox's limits; throws PersistError. */
export function decodePersisted(text: string, limits: SemLimits): PersistedState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new PersistError(`not JSON (${(err as Error).message})`);
  }
  const o = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || o.format !== PERSIST_FORMAT) {
    throw new PersistError(`not a sysvisor semaphore state (format is not "${PERSIST_FORMAT}")`);
  }
  if (o.version !== PERSIST_VERSION) {
    throw new PersistError(`version ${JSON.stringify(o.version)} is not supported (this sysvisor reads version ${PERSIST_VERSION})`);
  }
  if (!Array.isArray(o.sets)) throw new PersistError('sets: expected an array');
  if (o.sets.length > Math.min(limits.semmni, IPCMNI)) throw new PersistError(`sets: ${o.sets.length} sets exceed SEMMNI ${limits.semmni}`);
  const indexes = new Set<number>();
  const keys = new Set<number>();
  let total = 0;
  const sets = o.sets.map((raw, i) => {
    const where = `sets[${i}]`;
    const s = raw as Record<string, unknown>;
    if (typeof raw !== 'object' || raw === null) throw new PersistError(`${where}: expected an object`);
    const need = (name: string, min: number, max: number) => {
      if (!isInt(s[name], min, max)) throw new PersistError(`${where}.${name}: expected an integer in ${min}..${max}`);
      return s[name] as number;
    };
    const id = need('id', 0, I32_MAX);
    const key = need('key', I32_MIN, I32_MAX);
    const set: PersistedSet = {
      id,
      key,
      uid: need('uid', 0, U32),
      gid: need('gid', 0, U32),
      cuid: need('cuid', 0, U32),
      cgid: need('cgid', 0, U32),
      mode: need('mode', 0, 0o777),
      otime: need('otime', 0, TIME_MAX),
      ctime: need('ctime', 0, TIME_MAX),
      values: [],
      pids: [],
    };
    if (!Array.isArray(s.values) || s.values.length === 0 || s.values.length > limits.semmsl) {
      throw new PersistError(`${where}.values: expected 1..${limits.semmsl} values (SEMMSL)`);
    }
    if (!Array.isArray(s.pids) || s.pids.length !== s.values.length) throw new PersistError(`${where}.pids: expected one pid per value`);
    s.values.forEach((x, j) => {
      if (!isInt(x, 0, SEMVMX)) throw new PersistError(`${where}.values[${j}]: expected an integer in 0..${SEMVMX}`);
      set.values.push(x);
    });
    s.pids.forEach((x, j) => {
      if (!isInt(x, 0, I32_MAX)) throw new PersistError(`${where}.pids[${j}]: expected a pid`);
      set.pids.push(x);
    });
    const index = id & (IPCMNI - 1);
    if (indexes.has(index)) throw new PersistError(`${where}.id: index ${index} used twice`);
    if (key !== 0 && keys.has(key)) throw new PersistError(`${where}.key: key 0x${(key >>> 0).toString(16)} used twice`);
    indexes.add(index);
    keys.add(key);
    total += set.values.length;
    return set;
  });
  if (total > limits.semmns) throw new PersistError(`${total} semaphores exceed SEMMNS ${limits.semmns}`);
  return { format: PERSIST_FORMAT, version: PERSIST_VERSION, sets };
}
