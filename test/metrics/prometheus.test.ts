// Prometheus exposition: parsed back by a strict reader of format 0.0.4 (prometheus-parser.ts) to check
// families, types, label escaping, summary quantiles against the histogram, and counters across scrapes.

import t from 'tap';
import {
  emfDocuments,
  LatencyHistogram,
  METRICS,
  MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
  prometheusText,
} from '../../src/metrics/index.js';
import { parsePrometheus } from './prometheus-parser.js';

const ODD = 'cam"1\\x\nline';

t.test('every family has one HELP and one TYPE, and the types follow the table', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'app', workerId: 'w-1' });
  t.teardown(() => r.destroy());
  r.add('FramesSampled', 2, { stream: 'a' });
  r.set('MillisBehindNow', 300, { stream: 'a' });
  r.observe('InferenceLatency', 20, { stream: 'a' });
  r.set('NumWorkers', 3);
  r.observe('LeaseSyncLatency', 5);

  // Act
  const families = parsePrometheus(prometheusText(r));

  // Assess
  t.equal(PROMETHEUS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
  for (const m of METRICS.filter((m) => families.has(m.prometheus))) {
    const f = families.get(m.prometheus)!;
    t.equal(f.type, m.kind === 'histogram' ? 'summary' : m.kind, m.prometheus);
    t.equal(f.help, m.help);
  }
  t.ok(families.has('kvs_infer_frames_published_total'), 'a stream brings all its counters');
  t.ok(families.has('kvs_infer_leases_lost_total'), 'worker counters exist from the start');
  t.notOk(families.has('kvs_infer_decode_queue_depth'), 'gauges never set are not served');
  t.same(families.get('kvs_infer_workers')!.samples, [
    { name: 'kvs_infer_workers', labels: { app: 'app', worker: 'w-1' }, value: 3 },
  ]);
  t.same(families.get('kvs_infer_frames_sampled_total')!.samples[0]!.labels, {
    app: 'app',
    worker: 'w-1',
    stream: 'a',
  });
  t.equal(families.get('kvs_infer_lease_sync_latency_ms')!.samples.find((s) => s.name.endsWith('_count'))!.value, 1);
});

t.test('label values escape backslash, double quote and line feed, and read back unchanged', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'my "app"', workerId: 'host\\1' });
  t.teardown(() => r.destroy());
  r.add('CorruptFragments', 1, { stream: ODD });

  // Act
  const text = prometheusText(r);
  const sample = parsePrometheus(text).get('kvs_infer_corrupt_fragments_total')!.samples[0]!;

  // Assess
  t.match(text, 'stream="cam\\"1\\\\x\\nline"');
  t.same(sample.labels, { app: 'my "app"', worker: 'host\\1', stream: ODD });
  t.equal(text.split('\n').filter((l) => l.includes('kvs_infer_corrupt_fragments_total{')).length, 1, 'one line');
});

t.test('summary quantiles, _sum and _count equal the histogram of the same samples since start', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w' });
  const reference = new LatencyHistogram();
  t.teardown(() => {
    r.destroy();
    reference.destroy();
  });
  const samples = Array.from({ length: 5_000 }, (_, i) => ((i * 7_919) % 4_000) + 0.5 + (i % 3) * 1_000);

  // Act: an EMF interval in the middle must not reset what Prometheus serves
  for (const v of samples.slice(0, 2_000)) r.observe('IngestToProcessLatency', v, { stream: ODD });
  emfDocuments(r, { namespace: 'N', timestamp: 1 });
  for (const v of samples.slice(2_000)) r.observe('IngestToProcessLatency', v, { stream: ODD });
  for (const v of samples) reference.record(v);
  const f = parsePrometheus(prometheusText(r)).get('kvs_infer_ingest_to_process_latency_ms')!;

  // Assess
  const q = (quantile: string): number => f.samples.find((s) => s.labels.quantile === quantile)!.value;
  t.equal(f.type, 'summary');
  t.equal(q('0.5'), reference.percentile(50));
  t.equal(q('0.9'), reference.percentile(90));
  t.equal(q('0.99'), reference.percentile(99));
  t.equal(f.samples.find((s) => s.name.endsWith('_count'))!.value, 5_000);
  t.ok(Math.abs(f.samples.find((s) => s.name.endsWith('_sum'))!.value - reference.sum) < 1e-6);
  t.ok(f.samples.every((s) => s.labels.stream === ODD));
});

t.test('counters only grow across scrapes, whatever EMF intervals happen in between', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w' });
  t.teardown(() => r.destroy());
  const scrape = (): number =>
    parsePrometheus(prometheusText(r))
      .get('kvs_infer_frames_inferred_total')!
      .samples.find((s) => s.labels.stream === 's')!.value;

  // Act
  const seen: number[] = [];
  for (let round = 1; round <= 5; round++) {
    r.add('FramesInferred', round, { stream: 's' });
    seen.push(scrape());
    if (round % 2 === 0) emfDocuments(r, { namespace: 'N', timestamp: round });
    seen.push(scrape());
  }

  // Assess
  t.same(seen, [1, 1, 3, 3, 6, 6, 10, 10, 15, 15]);
});

t.test('a removed stream leaves the scrape, and an empty summary reads NaN', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w' });
  t.teardown(() => r.destroy());
  r.add('FramesInferred', 1, { stream: 'old' });
  r.observe('InferenceLatency', Number.NaN, { stream: 'new' });

  // Act
  r.removeStream('old');
  const families = parsePrometheus(prometheusText(r));

  // Assess
  const streams = new Set([...families.values()].flatMap((f) => f.samples.map((s) => s.labels.stream)));
  t.notOk(streams.has('old'));
  const latency = families.get('kvs_infer_inference_latency_ms')!;
  t.ok(latency.samples.filter((s) => 'quantile' in s.labels).every((s) => Number.isNaN(s.value)));
  t.equal(latency.samples.find((s) => s.name.endsWith('_count'))!.value, 0);
});

t.test('the strict reader rejects what the format forbids', async (t) => {
  // Act / Assess
  t.throws(() => parsePrometheus('x 1'), 'no final line feed');
  t.throws(() => parsePrometheus('x{a="\\t"} 1\n'), 'unknown escape');
  t.throws(() => parsePrometheus('# TYPE x counter\n# TYPE x counter\nx 1\n'), 'second TYPE');
  t.throws(() => parsePrometheus('x{a="1"} 1\ny 1\nx{a="2"} 1\n'), 'family not contiguous');
  t.throws(() => parsePrometheus('x 1\nx 2\n'), 'duplicate sample');
  t.throws(() => parsePrometheus('x one\n'), 'bad value');
});

t.test('the cost meter is served as a dollars counter and a per-1,000-inferences gauge', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w', getMediaPricePerGB: 0.0085 });
  t.teardown(() => r.destroy());
  r.add('BytesRead', 1_500_000_000, { stream: 'cam-1' });
  r.add('BytesRead', 500_000_000, { stream: 'cam-1' });
  r.add('FramesInferred', 40, { stream: 'cam-1' });
  r.add('BytesRead', 1_000_000, { stream: 'idle' });

  // Act
  const families = parsePrometheus(prometheusText(r));

  // Assess
  const value = (family: string, stream: string) =>
    families.get(family)?.samples.find((s) => s.labels.stream === stream)?.value;
  t.equal(families.get('kvs_infer_get_media_cost_dollars_total')?.type, 'counter');
  t.equal(families.get('kvs_infer_cost_per_1000_inferences_dollars')?.type, 'gauge');
  t.equal(value('kvs_infer_bytes_read_total', 'cam-1'), 2_000_000_000);
  t.ok(Math.abs(value('kvs_infer_get_media_cost_dollars_total', 'cam-1')! - 0.017) < 1e-12, '2 GB at $0.0085');
  t.ok(Math.abs(value('kvs_infer_cost_per_1000_inferences_dollars', 'cam-1')! - 0.425) < 1e-12, '$0.017 / 40 x 1000');
  t.ok(Math.abs(value('kvs_infer_get_media_cost_dollars_total', 'idle')! - 0.0000085) < 1e-15, '1 MB');
  t.equal(value('kvs_infer_cost_per_1000_inferences_dollars', 'idle'), undefined, 'no inference: no figure');
});
