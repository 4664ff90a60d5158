// EMF output: every line valid against the EMF specification (see emf-validator.ts), the worker and stream
// documents' dimensions, per-interval histograms, and the exporter's timer, last flush and write failures.

import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { type EmfDocument, EmfExporter, emfDocuments, MetricsRegistry } from '../../src/metrics/index.js';
import { emfErrors } from './emf-validator.js';

function busyRegistry(): MetricsRegistry {
  const r = new MetricsRegistry({ appName: 'kvs-app', workerId: 'worker-7' });
  for (const stream of ['cam-1', 'cam"2\\x']) {
    r.add('FragmentsRead', 3, { stream });
    r.add('BytesRead', 123_456, { stream });
    for (let i = 1; i <= 500; i++) r.observe('InferenceLatency', i * 7.3, { stream });
    r.set('MillisBehindNow', 2_400, { stream });
  }
  r.add('LeasesTaken', 2);
  r.set('CurrentLeases', 2);
  r.gauge('PoolUtilization', () => 37.5);
  r.observe('LeaseSyncLatency', 45);
  return r;
}

t.test('every document is valid EMF, with worker and per-stream dimensions', async (t) => {
  // Prepare
  const r = busyRegistry();
  t.teardown(() => r.destroy());

  // Act
  const lines = emfDocuments(r, { namespace: 'KvsInfer', timestamp: 1_700_000_000_123.7 }).map((d) =>
    JSON.stringify(d),
  );
  const docs = lines.map((l) => JSON.parse(l) as EmfDocument);

  // Assess
  t.equal(lines.length, 3, 'one worker document, one per stream');
  for (const line of lines) t.same(emfErrors(line), [], 'valid EMF');
  const [worker, ...streams] = docs;
  t.same(worker!._aws.CloudWatchMetrics[0]!.Dimensions, [['AppName', 'WorkerId']]);
  t.same(
    worker!._aws.CloudWatchMetrics[1],
    { Namespace: 'KvsInfer', Dimensions: [['AppName']], Metrics: [{ Name: 'CurrentLeases', Unit: 'Count' }] },
    'CurrentLeases also by AppName alone, which the autoscaling policy averages over the workers',
  );
  t.equal(worker!._aws.CloudWatchMetrics.length, 2);
  t.equal(worker!._aws.Timestamp, 1_700_000_000_123);
  t.equal(worker!.AppName, 'kvs-app');
  t.equal(worker!.WorkerId, 'worker-7');
  t.equal(worker!.LeasesTaken, 2);
  t.equal(worker!.LeasesLost, 0, 'a counter that did not move is written as 0');
  t.equal(worker!.CurrentLeases, 2);
  t.equal(worker!.PoolUtilization, 37.5);
  t.notOk('DecodeQueueDepth' in worker!, 'a gauge never set is not written');
  t.same(
    worker!._aws.CloudWatchMetrics[0]!.Metrics.find((m) => m.Name === 'PoolUtilization'),
    { Name: 'PoolUtilization', Unit: 'Percent' },
  );
  t.same(streams.map((d) => d.StreamName).sort(), ['cam"2\\x', 'cam-1']);
  for (const d of streams) {
    t.same(d._aws.CloudWatchMetrics[0]!.Dimensions, [['AppName', 'StreamName'], ['AppName']]);
    t.equal(d.WorkerId, 'worker-7', 'worker id travels as a plain member');
    t.equal(d.BytesRead, 123_456);
    const latency = d.InferenceLatency as {
      Values: number[];
      Counts: number[];
      Count: number;
      Min: number;
      Max: number;
    };
    t.equal(latency.Count, 500);
    t.equal(latency.Min, 7.3);
    t.equal(latency.Max, 3_650);
    t.ok(latency.Values.length <= 100);
    t.notOk('EndToEndLatency' in d, 'a histogram without samples in the interval is left out');
    t.same(
      d._aws.CloudWatchMetrics[0]!.Metrics.find((m) => m.Name === 'InferenceLatency'),
      { Name: 'InferenceLatency', Unit: 'Milliseconds' },
    );
  }
});

t.test('the validator catches what the specification forbids', async (t) => {
  // Prepare
  const good = {
    _aws: {
      Timestamp: 1,
      CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['D']], Metrics: [{ Name: 'M', Unit: 'Count' }] }],
    },
    D: 'x',
    M: 1,
  };
  const variants: [string, unknown][] = [
    ['fractional timestamp', { ...good, _aws: { ...good._aws, Timestamp: 1.5 } }],
    ['missing dimension member', { ...good, D: undefined }],
    ['non-string dimension', { ...good, D: 3 }],
    ['missing metric member', { ...good, M: undefined }],
    [
      'bad unit',
      {
        ...good,
        _aws: {
          ...good._aws,
          CloudWatchMetrics: [{ ...good._aws.CloudWatchMetrics[0], Metrics: [{ Name: 'M', Unit: 'Frames' }] }],
        },
      },
    ],
    [
      '31 dimensions',
      {
        ...good,
        _aws: {
          ...good._aws,
          CloudWatchMetrics: [{ ...good._aws.CloudWatchMetrics[0], Dimensions: [Array(31).fill('D')] }],
        },
      },
    ],
    [
      '101 metrics',
      {
        ...good,
        _aws: {
          ...good._aws,
          CloudWatchMetrics: [
            { ...good._aws.CloudWatchMetrics[0], Metrics: Array.from({ length: 101 }, (_, i) => ({ Name: `M${i}` })) },
          ],
        },
      },
    ],
    [
      'empty namespace',
      { ...good, _aws: { ...good._aws, CloudWatchMetrics: [{ ...good._aws.CloudWatchMetrics[0], Namespace: '' }] } },
    ],
    ['uneven Values/Counts', { ...good, M: { Values: [1, 2], Counts: [1], Min: 1, Max: 2, Sum: 1, Count: 1 } }],
    ['101 values', { ...good, M: Array(101).fill(1) }],
  ];

  // Act / Assess
  t.same(emfErrors(JSON.stringify(good)), []);
  for (const [why, doc] of variants) t.ok(emfErrors(JSON.stringify(doc)).length > 0, why);
});

t.test('a histogram appears in the interval it was observed in only', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w' });
  t.teardown(() => r.destroy());
  r.observe('EndToEndLatency', 100, { stream: 's' });

  // Act
  const first = emfDocuments(r, { namespace: 'N', timestamp: 1 }).find((d) => d.StreamName === 's')!;
  const second = emfDocuments(r, { namespace: 'N', timestamp: 2 }).find((d) => d.StreamName === 's')!;

  // Assess
  t.same(first.EndToEndLatency, { Values: [100], Counts: [1], Min: 100, Max: 100, Sum: 100, Count: 1 });
  t.notOk('EndToEndLatency' in second);
  t.notOk(
    second._aws.CloudWatchMetrics[0]!.Metrics.some((m) => m.Name === 'EndToEndLatency'),
    'no definition without a value',
  );
  t.equal(second.FramesPublished, 0);
});

t.test('emfDocuments refuses an empty namespace and a non-finite timestamp', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w' });
  t.teardown(() => r.destroy());

  // Act / Assess
  t.throws(() => emfDocuments(r, { namespace: '', timestamp: 1 }), { code: 'BAD_CONFIG' });
  t.throws(() => emfDocuments(r, { namespace: 'N', timestamp: Number.NaN }), { code: 'BAD_CONFIG' });
});

t.test('the exporter writes one valid line per document each interval, and stop() flushes the rest', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w' });
  t.teardown(() => r.destroy());
  const lines: string[] = [];
  let clock = 1_000;
  const exporter = new EmfExporter({
    registry: r,
    namespace: 'KvsInfer',
    intervalMs: 20,
    write: (l) => lines.push(l),
    now: () => clock,
  });

  // Act
  exporter.start();
  exporter.start();
  r.add('FramesSampled', 4, { stream: 's' });
  await sleep(70);
  const afterTicks = lines.length;
  clock = 2_000;
  r.add('FramesSampled', 3, { stream: 's' });
  exporter.stop();
  exporter.stop();
  const afterStop = lines.length;
  await sleep(50);

  // Assess
  t.ok(afterTicks >= 4, `${afterTicks} lines from the timer (2 per interval)`);
  t.equal(afterStop, afterTicks + 2, 'stop() wrote the interval in progress, once');
  t.equal(lines.length, afterStop, 'nothing after stop()');
  t.notOk(exporter.running);
  for (const line of lines) t.same(emfErrors(line), []);
  const docs = lines.map((l) => JSON.parse(l) as EmfDocument).filter((d) => d.StreamName === 's');
  t.equal(
    docs.reduce((acc, d) => acc + (d.FramesSampled as number), 0),
    7,
    'deltas add up to what was counted',
  );
  t.equal(docs.at(-1)!.FramesSampled, 3);
  t.equal(docs.at(-1)!._aws.Timestamp, 2_000);
});

t.test('a failing write is reported to onError and does not stop the exporter', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w' });
  t.teardown(() => r.destroy());
  const errors: unknown[] = [];
  const exporter = new EmfExporter({
    registry: r,
    namespace: 'N',
    intervalMs: 60_000,
    write: () => {
      throw new Error('stdout closed');
    },
    onError: (e) => errors.push(e),
  });

  // Act
  exporter.start();
  exporter.stop();

  // Assess
  t.equal(errors.length, 1);
  t.match(errors[0], { message: 'stdout closed' });
  t.throws(() => new EmfExporter({ registry: r, namespace: 'N', intervalMs: 0, write: () => {} }), {
    code: 'BAD_CONFIG',
  });
});

t.test("each stream document prices the interval's GetMedia bytes, and its cost per 1,000 inferences", async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w', getMediaPricePerGB: 0.0119 });
  t.teardown(() => r.destroy());
  const streamDocument = () => emfDocuments(r, { namespace: 'N', timestamp: 1 }).find((d) => d.StreamName === 'cam-1')!;

  // Act
  r.add('BytesRead', 3_000_000_000, { stream: 'cam-1' });
  const first = streamDocument();
  r.add('BytesRead', 1_000_000_000, { stream: 'cam-1' });
  r.add('FramesInferred', 50, { stream: 'cam-1' });
  const second = streamDocument();

  // Assess
  for (const d of [first, second]) t.same(emfErrors(JSON.stringify(d)), [], 'valid EMF');
  const units = new Map(second._aws.CloudWatchMetrics[0]!.Metrics.map((m) => [m.Name, m.Unit]));
  t.equal(units.get('GetMediaCost'), 'None', 'dollars: CloudWatch has no currency unit');
  t.equal(units.get('CostPer1000Inferences'), 'None');
  t.equal(units.get('BytesRead'), 'Bytes');
  t.ok(Math.abs((first.GetMediaCost as number) - 0.0357) < 1e-12, `3 GB at $0.0119: ${first.GetMediaCost}`);
  t.notOk('CostPer1000Inferences' in first, 'no inference yet: no cost per inference');
  t.ok(Math.abs((second.GetMediaCost as number) - 0.0119) < 1e-12, `the next GB alone: ${second.GetMediaCost}`);
  t.ok(
    Math.abs((second.CostPer1000Inferences as number) - 0.952) < 1e-9,
    `$0.0476 over the 50 inferences since the lease began, per 1,000: ${second.CostPer1000Inferences}`,
  );
});
