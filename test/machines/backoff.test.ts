// Reconnect backoff and fragment-number ordering: the pure rules the lease machine's delays and guards rely on.

import t from 'tap';
import { backoffDelay, compareFragmentNumbers, isAfter, laterCheckpoint, resolveBackoff } from '../../src/machines/index.js';

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

t.test('resolveBackoff fills defaults and rejects an unusable policy with BAD_LEASE_OPTIONS', async (t) => {
  // Act
  const filled = resolveBackoff({ baseMs: 10 });

  // Assess
  t.same(filled, { baseMs: 10, maxMs: 20_000, jitter: 0.5 });
  for (const bad of [{ baseMs: -1 }, { baseMs: 10, maxMs: 5 }, { jitter: -0.1 }, { jitter: 1.5 }, { baseMs: Number.NaN }]) {
    t.throws(() => resolveBackoff(bad), { code: 'BAD_LEASE_OPTIONS' }, JSON.stringify(bad));
  }
});

t.test('fragment numbers order as numbers, not as text, even past 2^53', async (t) => {
  // Prepare
  const big = '91343852333181432392682062607743920146264596384';
  const bigger = '91343852333181432392682062607743920146264596385';

  // Act / Assess
  t.ok(compareFragmentNumbers('9', '10') < 0, '9 before 10');
  t.ok(compareFragmentNumbers(bigger, big) > 0, 'differs only in the last digit');
  t.equal(compareFragmentNumbers(big, big), 0);
  t.ok(isAfter({ fragmentNumber: '1' }, null), 'anything is after no checkpoint');
  t.notOk(isAfter({ fragmentNumber: big }, { fragmentNumber: big }), 'not after itself');
  t.same(laterCheckpoint({ fragmentNumber: '10', serverTimestamp: 1 }, { fragmentNumber: '9', serverTimestamp: 2 }), {
    fragmentNumber: '10',
    serverTimestamp: 1,
  });
  t.equal(laterCheckpoint(null, null), null);
});
