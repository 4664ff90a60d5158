// MetricsRegistry: the metric table's naming rules, typed writes that refuse the wrong metric, exact
// counters under interleaved async writers, callback gauges, and dropping a stream whose lease left.

import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import {
  emfDocuments,
  METRICS,
  MetricsRegistry,
  metricDefinition,
  PIPELINE_STAGES,
  prometheusText,
  type SeriesSnapshot,
} from '../../src/metrics/index.js';

const newRegistry = (): MetricsRegistry => new MetricsRegistry({ appName: 'app', workerId: 'w-1' });

function value(series: SeriesSnapshot[], name: string, stream?: string): number | undefined {
  const s = series.find((x) => x.definition.name === name && x.labels.stream === stream);
  return s === undefined || s.kind === 'histogram' ? undefined : s.value;
}

t.test('the table names every metric once, in both conventions, with a one-sentence help', async (t) => {
  // Act
  const names = METRICS.map((m) => m.name);
  const prometheus = METRICS.map((m) => m.prometheus);

  // Assess
  t.equal(new Set(names).size, names.length, 'CloudWatch names unique');
  t.equal(new Set(prometheus).size, prometheus.length, 'Prometheus names unique');
  for (const m of METRICS) {
    t.match(m.name, /^[A-Z][A-Za-z0-9]+$/, `${m.name} is PascalCase`);
    t.match(m.prometheus, /^kvs_infer_[a-z0-9]+(_[a-z0-9]+)*$/, `${m.prometheus} is prefixed snake_case`);
    t.equal(m.prometheus.endsWith('_total'), m.kind === 'counter', `${m.prometheus}: _total iff counter`);
    if (m.unit === 'Milliseconds') t.match(m.prometheus, /_ms(_total)?$/, `${m.prometheus}: unit _ms, before _total`);
    t.ok(['Count', 'Bytes', 'Milliseconds', 'Percent', 'None'].includes(m.unit));
    t.match(m.help, /^[A-Z][^\n]*\.$/, `${m.name} help is one sentence`);
  }
  t.same(
    METRICS.filter((m) => m.kind === 'histogram').map((m) => m.name),
    [
      'IngestToProcessLatency',
      'ReceivedToDecodedLatency',
      'DecodedToInvokedLatency',
      'InvokedToInferredLatency',
      'InferredToPublishedLatency',
      'InferenceLatency',
      'EndToEndLatency',
      'LeaseSyncLatency',
    ],
  );
});

t.test(
  "a frame's stages: stream histograms in ms, each starting where the one before ends, each naming the wait it holds",
  async (t) => {
    // Act
    const definitions = PIPELINE_STAGES.map((s) => metricDefinition(s.metric));

    // Assess
    t.same(
      PIPELINE_STAGES.map((s) => `${s.from} → ${s.to}`),
      [
        'ingest → received',
        'received → decoded',
        'decoded → endpoint called',
        'endpoint called → inferred',
        'inferred → published',
      ],
    );
    t.equal(PIPELINE_STAGES[0].metric, 'IngestToProcessLatency', "KIT's metric is the first stage");
    for (const d of definitions)
      t.match(d, { kind: 'histogram', unit: 'Milliseconds', scope: 'stream' }, `${d?.name}: a stream histogram in ms`);
    const waits = [
      'backpressure pause of reading',
      'wait for a decode slot',
      'place in the endpoint queue',
      'retries and their backoff',
      'publisher',
    ];
    definitions.forEach((d, i) => {
      t.ok(d?.help.includes(waits[i]!), `${d?.name} names what it holds: ${waits[i]}`);
    });
    t.match(
      metricDefinition('IngestToProcessLatency')?.help,
      /^KIT's definition.*server timestamp.*receiving the frame/,
      "IngestToProcessLatency is KIT's",
    );
  },
);

t.test('writes to the wrong kind, an unknown name or the wrong scope throw BAD_METRIC', async (t) => {
  // Prepare
  const r = newRegistry();
  t.teardown(() => r.destroy());
  const s = { stream: 'cam-1' };

  // Act / Assess
  t.throws(() => r.add('MillisBehindNow' as never, 1, s), { code: 'BAD_METRIC' }, 'add on a gauge');
  t.throws(() => r.add('InferenceLatency' as never, 1, s), { code: 'BAD_METRIC' }, 'add on a histogram');
  t.throws(() => r.add('NoSuchMetric' as never), { code: 'BAD_METRIC' }, 'unknown name');
  t.throws(() => r.set('FramesRead' as never, 1, s), { code: 'BAD_METRIC' }, 'unknown gauge');
  t.throws(() => r.set('FramesSampled' as never, 1, s), { code: 'BAD_METRIC' }, 'set on a counter');
  t.throws(() => r.observe('FramesSampled' as never, 1, s), { code: 'BAD_METRIC' }, 'observe on a counter');
  t.throws(() => r.add('FramesSampled'), { code: 'BAD_METRIC' }, 'stream metric without a stream');
  t.throws(() => r.add('FramesSampled', 1, { stream: '' }), { code: 'BAD_METRIC' }, 'empty stream');
  t.throws(() => r.add('LeasesTaken', 1, s), { code: 'BAD_METRIC' }, 'worker metric with a stream');
  t.throws(() => r.add('FramesSampled', -1, s), { code: 'BAD_METRIC' }, 'a counter never goes down');
  t.throws(() => r.add('FramesSampled', Number.NaN, s), { code: 'BAD_METRIC' });
  t.throws(() => new MetricsRegistry({ appName: '', workerId: 'w' }), { code: 'BAD_CONFIG' });
});

t.test('1000 interleaved async writers sum exactly, and EMF deltas split them by interval', async (t) => {
  // Prepare
  const r = newRegistry();
  t.teardown(() => r.destroy());
  const streams = ['a', 'b', 'c'];
  const expected = (phase: number): Map<string, number> => {
    const sums = new Map(streams.map((s) => [s, 0]));
    for (let i = 0; i < 1_000; i++) sums.set(streams[i % 3]!, sums.get(streams[i % 3]!)! + (i % 7) + phase);
    return sums;
  };
  const writers = (phase: number): Promise<void>[] =>
    Array.from({ length: 1_000 }, async (_, i) => {
      const stream = streams[i % 3]!;
      // Each writer yields in its own way (timer, macrotask, microtasks) before and between its writes.
      if (i % 3 === 0) await sleep(i % 5);
      else if (i % 3 === 1) await immediate();
      else for (let k = 0; k < i % 4; k++) await Promise.resolve();
      for (let k = 0; k < (i % 7) + phase; k++) {
        r.add('FramesSampled', 1, { stream });
        if (k % 2 === 0) await Promise.resolve();
      }
      r.add('LeasesRenewed');
    });
  const deltas = (): Map<string, number> => {
    const out = new Map<string, number>();
    for (const doc of emfDocuments(r, { namespace: 'KvsInfer', timestamp: 1 })) {
      if (typeof doc.StreamName === 'string') out.set(doc.StreamName, doc.FramesSampled as number);
      else out.set('worker', doc.LeasesRenewed as number);
    }
    return out;
  };

  // Act
  await Promise.all(writers(1));
  const first = deltas();
  await Promise.all(writers(2));
  const second = deltas();
  const third = deltas();

  // Assess
  for (const s of streams) {
    t.equal(first.get(s), expected(1).get(s), `interval 1, stream ${s}`);
    t.equal(second.get(s), expected(2).get(s), `interval 2, stream ${s}`);
    t.equal(third.get(s), 0, `interval 3, stream ${s}: nothing added, written as 0`);
  }
  t.equal(first.get('worker'), 1_000);
  t.equal(second.get('worker'), 1_000);
  t.equal(third.get('worker'), 0);
  const total = [...expected(1).values(), ...expected(2).values()].reduce((a, b) => a + b, 0);
  const snapshot = r.snapshot().series;
  t.equal(
    streams.reduce((acc, s) => acc + value(snapshot, 'FramesSampled', s)!, 0),
    total,
    'snapshot keeps the total since start',
  );
});

t.test('a stream appears with all its counters at 0, and the snapshot is plain data', async (t) => {
  // Prepare
  const r = newRegistry();
  t.teardown(() => r.destroy());

  // Act
  r.observe('InferenceLatency', 12, { stream: 'cam' });
  r.set('MillisBehindNow', 1_500, { stream: 'cam' });
  const snapshot = r.snapshot();

  // Assess
  t.equal(snapshot.appName, 'app');
  t.equal(snapshot.workerId, 'w-1');
  t.equal(value(snapshot.series, 'FramesPublished', 'cam'), 0);
  t.equal(value(snapshot.series, 'LeasesTaken'), 0, 'worker counters exist from the start');
  t.equal(value(snapshot.series, 'MillisBehindNow', 'cam'), 1_500);
  const latency = snapshot.series.find((s) => s.definition.name === 'InferenceLatency');
  t.same(latency?.kind === 'histogram' ? latency.summary : null, {
    count: 1,
    sum: 12,
    min: 12,
    max: 12,
    p50: 12,
    p90: 12,
    p99: 12,
  });
  t.same(JSON.parse(JSON.stringify(snapshot)), snapshot, 'survives JSON');
  t.same(r.streams(), ['cam']);
});

t.test('callback gauges are read at export; a throw or NaN leaves them out; unregistering drops them', async (t) => {
  // Prepare
  const r = newRegistry();
  t.teardown(() => r.destroy());
  let depth = 3;
  const unregister = r.gauge('DecodeQueueDepth', () => depth);
  r.gauge('InferenceQueueDepth', () => {
    throw new Error('pool gone');
  });
  r.gauge('PoolUtilization', () => Number.NaN);

  // Act
  const before = value(r.snapshot().series, 'DecodeQueueDepth');
  depth = 9;
  const after = value(r.snapshot().series, 'DecodeQueueDepth');
  const names = r.snapshot().series.map((s) => s.definition.name);
  unregister();
  const gone = value(r.snapshot().series, 'DecodeQueueDepth');

  // Assess
  t.equal(before, 3);
  t.equal(after, 9);
  t.notOk(names.includes('InferenceQueueDepth'));
  t.notOk(names.includes('PoolUtilization'));
  t.equal(gone, undefined);
});

t.test('set() replaces a callback, and the stale unregister function no longer removes the series', async (t) => {
  // Prepare
  const r = newRegistry();
  t.teardown(() => r.destroy());
  const unregister = r.gauge('CurrentLeases', () => 4);

  // Act
  r.set('CurrentLeases', 2);
  unregister();

  // Assess
  t.equal(value(r.snapshot().series, 'CurrentLeases'), 2);
});

t.test('removeStream drops the series at once and hands their last interval to EMF once', async (t) => {
  // Prepare
  const r = newRegistry();
  t.teardown(() => r.destroy());
  r.add('FramesPublished', 5, { stream: 'gone' });
  r.observe('EndToEndLatency', 80, { stream: 'gone' });
  r.set('MillisBehindNow', 10, { stream: 'gone' });
  r.add('FramesPublished', 1, { stream: 'kept' });

  // Act
  r.removeStream('gone');
  const snapshotStreams = new Set(r.snapshot().series.map((s) => s.labels.stream));
  const first = emfDocuments(r, { namespace: 'N', timestamp: 1 }).filter((d) => d.StreamName === 'gone');
  const second = emfDocuments(r, { namespace: 'N', timestamp: 2 }).filter((d) => d.StreamName === 'gone');

  // Assess
  t.same([...snapshotStreams].sort(), [undefined, 'kept'].sort());
  t.same(r.streams(), ['kept']);
  t.equal(first.length, 1);
  t.equal(first[0]!.FramesPublished, 5);
  t.same(first[0]!.EndToEndLatency, { Values: [80], Counts: [1], Min: 80, Max: 80, Sum: 80, Count: 1 });
  t.notOk('MillisBehindNow' in first[0]!, 'a removed stream reports no gauge');
  t.equal(second.length, 0, 'then forgotten');
});

t.test('a stream that comes back starts from 0 while its old interval is still reported apart', async (t) => {
  // Prepare: one labels object throughout, as a stream's pipeline passes.
  const r = newRegistry();
  t.teardown(() => r.destroy());
  const labels = { stream: 's' };
  r.add('FramesSampled', 4, labels);
  r.removeStream('s');

  // Act
  r.add('FramesSampled', 1, labels);
  const docs = emfDocuments(r, { namespace: 'N', timestamp: 1 }).filter((d) => d.StreamName === 's');

  // Assess
  t.same(docs.map((d) => d.FramesSampled).sort(), [1, 4]);
  t.equal(value(r.snapshot().series, 'FramesSampled', 's'), 1);
});

t.test(
  'count() reads one series; countAll() sums every stream, removed ones included, and never goes back',
  async (t) => {
    // Prepare
    const r = newRegistry();
    t.teardown(() => r.destroy());
    r.add('FramesPublished', 3, { stream: 'a' });
    r.add('FramesPublished', 2, { stream: 'b' });
    const before = r.countAll('FramesPublished');

    // Act
    r.removeStream('a');
    r.collectInterval();
    r.add('FramesPublished', 1, { stream: 'a' });

    // Assess
    t.equal(before, 5);
    t.equal(r.count('FramesPublished', { stream: 'a' }), 1, 'the stream that came back counts from 0');
    t.equal(r.count('FramesPublished', { stream: 'b' }), 2);
    t.equal(r.count('FramesPublished', { stream: 'never' }), 0, 'a stream without series reads 0');
    t.equal(r.count('LeasesTaken'), 0, 'a worker counter reads without labels');
    t.equal(r.countAll('FramesPublished'), 6, 'the removed stream stays in the total, after its export too');
  },
);

t.test(
  'the labels object of an ended lease makes no series: its late records stay out of every export, ' +
    'its late counts stay in countAll, and a new lease of the stream records afresh',
  async (t) => {
    // Prepare: a lease's labels object, as its pipeline and reader pass it for every record.
    const r = newRegistry();
    t.teardown(() => r.destroy());
    const ended = { stream: 'cam' };
    r.add('FramesSampled', 4, ended);
    r.observe('EndToEndLatency', 80, ended);
    r.removeStream('cam', ended);
    const lastInterval = emfDocuments(r, { namespace: 'N', timestamp: 1 }).filter((d) => d.StreamName === 'cam');

    // Act: what a frame still in flight records after its lease ended (BytesRead prices GetMediaCost too).
    r.add('FramesDecoded', 1, ended);
    r.add('BytesRead', 1_000_000_000, ended);
    r.observe('ReceivedToDecodedLatency', 5, ended);
    r.set('MillisBehindNow', 10, ended);
    const unregister = r.gauge('MillisBehindNow', () => 1, ended);
    unregister();
    const streamsAfterLate = r.streams();
    const snapshotAfterLate = r.snapshot().series.filter((s) => s.labels.stream !== undefined);
    const scrapeAfterLate = prometheusText(r);
    const emfAfterLate = emfDocuments(r, { namespace: 'N', timestamp: 2 }).filter((d) => d.StreamName === 'cam');
    // The lease of the stream taken again on this worker: a labels object of its own.
    const next = { stream: 'cam' };
    r.add('FramesSampled', 2, next);
    r.observe('EndToEndLatency', 30, next);

    // Assess
    t.equal(lastInterval.length, 1, 'the ended lease still has its last interval');
    t.equal(lastInterval[0]!.FramesSampled, 4);
    t.same(streamsAfterLate, [], 'late records bring no series back');
    t.same(snapshotAfterLate, [], 'nor into the snapshot');
    t.notMatch(scrapeAfterLate, /stream="cam"/, 'nor into a scrape');
    t.same(emfAfterLate, [], 'nor into EMF');
    t.equal(r.countAll('FramesDecoded'), 1, 'a late count stays in the worker totals');
    t.equal(r.countAll('BytesRead'), 1_000_000_000);
    t.ok(r.countAll('GetMediaCost') > 0, 'priced as usual');
    t.same(r.streams(), ['cam'], 'the new lease makes series again');
    t.equal(r.count('FramesSampled', { stream: 'cam' }), 2, 'counting from 0');
    t.equal(r.count('FramesDecoded', { stream: 'cam' }), 0, 'without the ended lease late counts');
    t.equal(r.summary('EndToEndLatency', { stream: 'cam' })?.count, 1);
    t.equal(r.countAll('FramesSampled'), 6);
    t.throws(() => r.add('FramesDecoded', -1, ended), { code: 'BAD_METRIC' }, 'still checked');
    t.throws(() => r.add('LeasesTaken', 1, ended), { code: 'BAD_METRIC' }, 'still checked');
    t.throws(() => r.removeStream('other', next), { code: 'BAD_METRIC' }, 'labels end their own stream only');
  },
);
