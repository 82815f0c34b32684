// The state's JSON as the control socket streams it: the same text as
// JSON.stringify, handed over in pieces, never as one string.
import t from 'tap';
import { streamJson } from '../../supervisor/json-stream.js';

const bigintAsString = (_key: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

t.test('streamJson gives JSON.stringify(value, bigint as string, 2) + newline, in pieces', async (t) => {
  const value = {
    time: 1,
    processes: [{ pid: 2, threads: [2, 3] }],
    sem: { sets: Array.from({ length: 5000 }, (_, i) => ({ id: i, values: [i, 0n], gone: undefined })) },
    empty: {},
    none: [],
  };
  const chunks: Buffer[] = [];
  streamJson(value, (bytes) => chunks.push(bytes));
  t.ok(chunks.length > 1, `several chunks (${chunks.length}), not one string`);
  t.ok(
    chunks.slice(0, -1).every((c) => c.length >= 1 << 16),
    'each full chunk is at least 64 KB',
  );
  t.equal(Buffer.concat(chunks).toString('utf8'), JSON.stringify(value, bigintAsString, 2) + '\n');
});
