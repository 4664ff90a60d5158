// The retry backoff of AWS calls: doubling, capped, jittered, and an unusable policy refused.

import t from 'tap';
import { backoffDelay, resolveBackoff } from '../../src/aws/backoff.js';

t.test('backoff doubles from baseMs, is capped at maxMs, and survives absurd attempt counts', async (t) => {
  // Prepare
  const policy = { baseMs: 250, maxMs: 5_000, jitter: 0 };

  // Act
  const delays = [1, 2, 3, 4, 5, 6, 7, 10_000].map((attempt) => backoffDelay(attempt, policy));

  // Assess
  t.same(delays, [250, 500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
});

t.test('jitter draws from [d * (1 - jitter), d] and never above the cap', async (t) => {
  // Prepare
  const policy = { baseMs: 1_000, maxMs: 1_000, jitter: 0.3 };

  // Act
  const low = backoffDelay(3, policy, () => 0.999_999);
  const high = backoffDelay(3, policy, () => 0);
  const samples = Array.from({ length: 1_000 }, () => backoffDelay(3, policy));

  // Assess
  t.equal(high, 1_000);
  t.equal(low, 700);
  t.ok(samples.every((d) => d >= 700 && d <= 1_000));
  t.ok(new Set(samples).size > 50, 'Math.random by default actually spreads the delays');
});

t.test('resolveBackoff fills defaults and rejects an unusable policy with BAD_BACKOFF', async (t) => {
  // Act
  const filled = resolveBackoff({ baseMs: 10 });

  // Assess
  t.same(filled, { baseMs: 10, maxMs: 20_000, jitter: 0.5 });
  for (const bad of [
    { baseMs: -1 },
    { baseMs: 10, maxMs: 5 },
    { jitter: -0.1 },
    { jitter: 1.5 },
    { baseMs: Number.NaN },
  ]) {
    t.throws(() => resolveBackoff(bad), { code: 'BAD_BACKOFF', message: /backoff needs/ }, JSON.stringify(bad));
  }
});
