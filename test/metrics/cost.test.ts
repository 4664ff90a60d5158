// The cost meter: its arithmetic (GetMedia bytes priced by the GB, per 1,000 inferences) and the registry pricing
// BytesRead as it is counted, into GetMediaCost and CostPer1000Inferences.

import t, { type Test } from 'tap';
import {
  BYTES_PER_GB,
  costPer1000Inferences,
  getMediaCost,
  MetricsRegistry,
  mediaCost,
} from '../../src/metrics/index.js';

/** Equal to 12 significant digits: sums of products of decimals are not exact in binary. */
function near(t: Test, actual: number | null | undefined, expected: number, message: string): void {
  t.ok(
    typeof actual === 'number' && Math.abs(actual - expected) <= Math.abs(expected) * 1e-12,
    `${message}: ${actual} ≈ ${expected}`,
  );
}

t.test('GetMedia bytes are priced by the decimal GB', async (t) => {
  // Prepare: one 4 Mbit/s camera read for 30 days
  const bytesPerMonth = (4_000_000 / 8) * 86_400 * 30;

  // Act
  const month = getMediaCost(bytesPerMonth, 0.0085);

  // Assess
  t.equal(BYTES_PER_GB, 1_000_000_000);
  t.equal(bytesPerMonth, 1_296_000_000_000, '1.296 TB a month');
  near(t, month, 11.016, "the README's camera at the default price");
  near(t, getMediaCost(BYTES_PER_GB, 0.0119), 0.0119, 'one GB costs the price');
  t.equal(getMediaCost(0, 0.0085), 0, 'nothing read costs nothing');
  t.equal(getMediaCost(5_000_000, 0), 0, 'a price of 0 turns the meter off');
});

t.test('cost per 1,000 inferences is null before the first inference', async (t) => {
  // Act, Assess
  t.equal(costPer1000Inferences(0.5, 0), null, 'no inference: no figure');
  near(t, costPer1000Inferences(0.5, 250), 2, '$0.50 over 250 inferences');
  t.same(
    mediaCost({ bytesRead: 2_000_000_000, inferred: 4_000 }, 0.0085),
    { bytesRead: 2_000_000_000, dollars: 0.017, framesInferred: 4_000, dollarsPer1000Inferences: 0.00425 },
    'the shape the debug page and the stats line show',
  );
  t.same(mediaCost({ bytesRead: 0, inferred: 0 }, 0.0085), {
    bytesRead: 0,
    dollars: 0,
    framesInferred: 0,
    dollarsPer1000Inferences: null,
  });
});

t.test('bad input names the figure that was wrong', async (t) => {
  // Act, Assess
  t.throws(() => getMediaCost(-1, 0.0085), {
    code: 'BAD_METRIC',
    message: "the cost meter's bytes must be a finite number >= 0, got -1",
  });
  t.throws(() => getMediaCost(1, Number.NaN), { code: 'BAD_METRIC', message: /pricePerGB .* got NaN$/ });
  t.throws(() => costPer1000Inferences(1, Number.POSITIVE_INFINITY), { code: 'BAD_METRIC', message: /inferences/ });
  t.throws(() => new MetricsRegistry({ appName: 'a', workerId: 'w', getMediaPricePerGB: -0.01 }), {
    code: 'BAD_CONFIG',
    message: 'metrics need a getMediaPricePerGB >= 0, got -0.01',
  });
});

t.test('the registry prices BytesRead as it is counted, per stream and over the ended leases', async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w', getMediaPricePerGB: 0.0119 });
  const byDefault = new MetricsRegistry({ appName: 'a', workerId: 'w' });
  t.teardown(() => {
    r.destroy();
    byDefault.destroy();
  });

  // Act
  for (let i = 0; i < 1_000; i++) r.add('BytesRead', 2_500_000, { stream: 'cam-1' });
  r.add('BytesRead', 1_000_000_000, { stream: 'cam-2' });
  byDefault.add('BytesRead', 1_000_000_000, { stream: 'cam-1' });
  const live = r.count('GetMediaCost', { stream: 'cam-1' });
  r.removeStream('cam-1');

  // Assess
  t.equal(r.getMediaPricePerGB, 0.0119, 'the price given');
  near(t, live, 0.02975, '2.5 GB at $0.0119');
  near(t, r.count('GetMediaCost', { stream: 'cam-2' }), 0.0119, '1 GB at $0.0119');
  near(t, r.countAll('GetMediaCost'), 0.04165, "the worker's total keeps the ended lease's cost");
  t.equal(byDefault.getMediaPricePerGB, 0.0085, "us-east-1's price unless told");
  near(t, byDefault.count('GetMediaCost', { stream: 'cam-1' }), 0.0085, 'at the default price');
});

t.test("a stream's cost per 1,000 inferences is absent before its first inference, then cost / inferred", async (t) => {
  // Prepare
  const r = new MetricsRegistry({ appName: 'a', workerId: 'w', getMediaPricePerGB: 0.0085 });
  t.teardown(() => r.destroy());
  const gauge = () =>
    r.snapshot().series.find((s) => s.definition.name === 'CostPer1000Inferences' && s.labels.stream === 'cam-1');
  r.add('BytesRead', 4_000_000_000, { stream: 'cam-1' });
  const before = gauge();

  // Act
  r.add('FramesInferred', 80, { stream: 'cam-1' });

  // Assess
  t.equal(before, undefined, 'no inference yet: no value exported');
  const after = gauge();
  t.equal(after?.kind, 'gauge');
  near(t, after?.kind === 'gauge' ? after.value : null, 0.425, '$0.034 over 80 inferences, per 1,000');
});
