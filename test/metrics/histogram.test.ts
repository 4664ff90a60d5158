// LatencyHistogram: percentiles within hdr's 2 significant digits (1%), clamping, and drain() into EMF's <= 100 values.

import t from 'tap';
import { LatencyHistogram, MAX_LATENCY_MS } from '../../src/metrics/index.js';

/** Deterministic uniform [0, 1): the same samples on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const within = (actual: number, expected: number, relative: number): boolean =>
  Math.abs(actual - expected) <= expected * relative;

t.test('a uniform 1..10000 gives p50 ~ 5000, p90 ~ 9000, p99 ~ 9900 and exact count, sum, min, max', async (t) => {
  // Prepare
  const h = new LatencyHistogram();
  t.teardown(() => h.destroy());

  // Act
  for (let v = 1; v <= 10_000; v++) h.record(v);
  const s = h.summary();

  // Assess
  t.equal(s.count, 10_000);
  t.equal(s.sum, 50_005_000);
  t.equal(s.min, 1);
  t.equal(s.max, 10_000);
  t.ok(within(s.p50, 5_000, 0.01), `p50 ${s.p50}`);
  t.ok(within(s.p90, 9_000, 0.01), `p90 ${s.p90}`);
  t.ok(within(s.p99, 9_900, 0.01), `p99 ${s.p99}`);
  t.equal(h.percentile(100), 10_000, 'p100 is the exact max, not the top of its hdr bucket');
});

t.test('a bimodal distribution puts the median in the fast mode and the tail in the slow one', async (t) => {
  // Prepare: 90% between 10 and 30 ms, 10% between 1000 and 1100 ms
  const h = new LatencyHistogram();
  t.teardown(() => h.destroy());

  // Act
  for (let i = 0; i < 9_000; i++) h.record(10 + (i % 21));
  for (let i = 0; i < 1_000; i++) h.record(1_000 + (i % 101));

  // Assess
  t.ok(h.percentile(50) >= 10 && h.percentile(50) <= 30, `p50 ${h.percentile(50)}`);
  t.ok(h.percentile(90) <= 30, `p90 ${h.percentile(90)} is the last fast sample`);
  t.ok(h.percentile(95) >= 1_000 && h.percentile(95) <= 1_101, `p95 ${h.percentile(95)}`);
  t.ok(within(h.percentile(99), 1_090, 0.01), `p99 ${h.percentile(99)}`);
});

t.test('a constant reads as itself at every percentile, fractions included', async (t) => {
  // Prepare
  const h = new LatencyHistogram();
  t.teardown(() => h.destroy());

  // Act
  for (let i = 0; i < 1_000; i++) h.record(42.5);

  // Assess
  t.same(h.summary(), { count: 1_000, sum: 42_500, min: 42.5, max: 42.5, p50: 42.5, p90: 42.5, p99: 42.5 });
});

t.test('values below 1 count as 1, above an hour as an hour, and non-finite values are ignored', async (t) => {
  // Prepare
  const h = new LatencyHistogram();
  t.teardown(() => h.destroy());

  // Act
  for (const v of [0, -5, 0.2, 1e12, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) h.record(v);

  // Assess
  t.equal(h.count, 4);
  t.equal(h.min, 1);
  t.equal(h.max, MAX_LATENCY_MS);
  t.equal(h.sum, 3 + MAX_LATENCY_MS);
  t.equal(h.percentile(50), 1);
  t.equal(h.percentile(99), MAX_LATENCY_MS);
});

t.test('an empty histogram has count 0 and NaN statistics, and drains to null', async (t) => {
  // Prepare
  const h = new LatencyHistogram();
  t.teardown(() => h.destroy());

  // Act
  const s = h.summary();

  // Assess
  t.equal(s.count, 0);
  t.equal(s.sum, 0);
  for (const key of ['min', 'max', 'p50', 'p90', 'p99'] as const) t.ok(Number.isNaN(s[key]), key);
  t.equal(h.drain(), null);
});

t.test('drain() keeps few distinct values as they are, then starts a new interval', async (t) => {
  // Prepare
  const h = new LatencyHistogram();
  t.teardown(() => h.destroy());
  for (const v of [5, 5, 7, 250]) h.record(v);

  // Act
  const first = h.drain();
  const second = h.drain();
  h.record(9);
  const third = h.drain();

  // Assess
  t.same(first, { Values: [5, 7, 250], Counts: [2, 1, 1], Min: 5, Max: 250, Sum: 267, Count: 4 });
  t.equal(second, null, 'nothing recorded since');
  t.same(third, { Values: [9], Counts: [1], Min: 9, Max: 9, Sum: 9, Count: 1 });
});

t.test('drain() merges a wide distribution into <= 100 values keeping the count and the mean within 1%', async (t) => {
  // Prepare: log-uniform from 1 ms to an hour, thousands of distinct hdr buckets
  const h = new LatencyHistogram();
  t.teardown(() => h.destroy());
  const random = mulberry32(7);
  let sum = 0;
  for (let i = 0; i < 50_000; i++) {
    const v = Math.exp(random() * Math.log(MAX_LATENCY_MS));
    sum += v;
    h.record(v);
  }

  // Act
  const d = h.drain();

  // Assess
  t.ok(d !== null);
  if (d === null) return;
  t.ok(d.Values.length <= 100 && d.Values.length >= 50, `${d.Values.length} values`);
  t.equal(d.Values.length, d.Counts.length);
  t.equal(
    d.Counts.reduce((a, b) => a + b, 0),
    50_000,
  );
  t.equal(d.Count, 50_000);
  t.ok(within(d.Sum, sum, 1e-9));
  const weightedMean = d.Values.reduce((acc, v, i) => acc + v * d.Counts[i]!, 0) / d.Count;
  t.ok(within(weightedMean, d.Sum / d.Count, 0.01), `weighted mean ${weightedMean} vs ${d.Sum / d.Count}`);
  t.ok(
    d.Values.every((v, i) => v >= d.Min && v <= d.Max && (i === 0 || v > d.Values[i - 1]!)),
    'ascending, inside [Min, Max]',
  );
  t.equal(h.count, 0, 'reset after the drain');
});

t.test('drain() of a bimodal distribution with many distinct values keeps both modes apart', async (t) => {
  // Prepare
  const h = new LatencyHistogram();
  t.teardown(() => h.destroy());
  for (let v = 2_000; v < 4_000; v++) h.record(v);
  for (let v = 500_000; v < 600_000; v += 10) h.record(v);

  // Act
  const d = h.drain()!;

  // Assess
  t.ok(d.Values.length <= 100);
  const low = d.Values.map((v, i) => (v < 4_000 ? d.Counts[i]! : 0)).reduce((a, b) => a + b, 0);
  t.equal(low, 2_000, 'no group straddles the gap between the modes');
  t.ok(d.Values.every((v) => v < 4_000 || v >= 500_000));
});

t.test('a destroyed histogram records nothing and can be destroyed twice', async (t) => {
  // Prepare
  const h = new LatencyHistogram();
  h.record(3);

  // Act
  h.destroy();
  h.record(4);
  h.destroy();

  // Assess
  t.equal(h.count, 0);
});
