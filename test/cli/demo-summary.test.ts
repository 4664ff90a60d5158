// The demo's closing summary: what reading each stream cost, beside what it bought.

import t from 'tap';
import { renderSummary, summarize } from '../../src/cli/demo-summary.js';
import { MetricsRegistry, streamCounters } from '../../src/metrics/index.js';

t.test('each stream says how many GB it read from GetMedia and their estimated cost', async (t) => {
  // Prepare
  const metrics = new MetricsRegistry({ appName: 'demo', workerId: 'w' });
  t.teardown(() => metrics.destroy());
  metrics.add('BytesRead', 250_000_000, { stream: 'lobby' });
  metrics.add('FramesInferred', 12, { stream: 'lobby' });
  metrics.add('BytesRead', 40_000, { stream: 'yard' });
  const counters = new Map(['lobby', 'yard'].map((s) => [s, streamCounters(metrics, s)]));

  // Act
  const summaries = summarize(counters, [], [], 0.0085);
  const text = renderSummary(summaries);

  // Assess
  const { cost } = summaries[0]!;
  t.match(cost, { bytesRead: 250_000_000, framesInferred: 12 }, "the stream's counters");
  t.ok(Math.abs(cost.dollars - 0.002125) < 1e-15, `0.25 GB at $0.0085: $${cost.dollars}`);
  t.ok(Math.abs(cost.dollarsPer1000Inferences! - 0.177083) < 1e-6, `per 1,000: $${cost.dollarsPer1000Inferences}`);
  t.match(
    text,
    /^stream lobby\n(?: {2}.*\n){2} {2}GetMedia read 0\.250 GB, est\. \$0\.00213 \(\$0\.177 per 1,000 inferences\)\n/m,
    'lobby: GB, dollars and dollars per 1,000 inferences, after the published line',
  );
  t.match(
    text,
    /^ {2}GetMedia read 0\.0000400 GB, est\. \$3\.40e-7\n/m,
    'yard: three significant digits, and nothing inferred: no figure per 1,000',
  );
});
