// LatencyStats: per-syscall service times, with the SENDs a handler made
// itself kept apart (a woken task may take the loop's CPU inside them).
import t from 'tap';
import { LatencyStats } from '../../supervisor/stats.js';

const NR = 65; // semop

t.test("a handler's own SENDs are left out of the service time and timed apart", async (t) => {
  const s = new LatencyStats();
  s.record(NR, 0.01, 0);
  s.record(NR, 0.01, 0.1);
  s.record(NR, 0.01, 0.1);
  const [row] = s.summary();
  t.equal(row.count, 3);
  t.equal(row.sends, 2, 'two notifications sent answers themselves');
  t.ok(Math.abs(row.p50us - 10) / 10 < 0.07, `service p50 ${row.p50us} µs: 10 µs, the SENDs not included`);
  t.ok(Math.abs(row.maxus - 10) < 1e-9, `max ${row.maxus} µs`);
  t.ok(Math.abs(row.sendP50us - 100) / 100 < 0.07, `sends p50 ${row.sendP50us} µs: 100 µs`);
});

t.test('no SEND of its own: no sends, p50 0', async (t) => {
  const s = new LatencyStats();
  s.record(NR, 0.005, 0);
  const [row] = s.summary();
  t.equal(row.sends, 0);
  t.equal(row.sendP50us, 0);
  t.ok(row.p50us > 0);
});
