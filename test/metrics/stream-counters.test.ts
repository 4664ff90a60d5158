// The short counter names the debug page, log lines and demo summary show, read from the metrics registry.

import t from 'tap';
import {
  METRICS,
  MetricsRegistry,
  STREAM_COUNTER_FIELDS,
  streamCounters,
  workerTotals,
} from '../../src/metrics/index.js';

t.test('each field shows a stream counter of the table, none twice', async (t) => {
  // Act
  const names = Object.values(STREAM_COUNTER_FIELDS);

  // Assess
  t.equal(new Set(names).size, names.length);
  for (const name of names) {
    t.match(
      METRICS.find((m) => m.name === name),
      { kind: 'counter', scope: 'stream' },
      `${name} is a stream counter`,
    );
  }
});

t.test("a stream's counters go when its lease ends; the worker totals keep them", async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'app', workerId: 'w-1' });
  t.teardown(() => r.destroy());
  r.add('FramesSampled', 4, { stream: 'a' });
  r.add('ReadPausedTime', 250, { stream: 'a' });
  r.add('FramesSampled', 1, { stream: 'b' });

  // Act
  const live = streamCounters(r, 'a');
  r.removeStream('a');

  // Assess
  t.match(live, { sampled: 4, backpressureMs: 250, published: 0 });
  t.equal(streamCounters(r, 'a').sampled, 0, 'the ended lease reads 0');
  t.match(workerTotals(r), { sampled: 5, backpressureMs: 250 });
});
