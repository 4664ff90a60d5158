// The token bucket that paces discovery's KVS calls and rate-limits the local KVS server: burst, refill, waiting.

import t from 'tap';
import { TokenBucket } from '../../src/aws/token-bucket.js';

t.test('a full bucket gives its burst at once, then one token per 1/rate seconds', async (t) => {
  // Prepare
  let now = 0;
  const bucket = new TokenBucket({ ratePerSecond: 5, burst: 3, now: () => now });

  // Act
  const burst = [bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()];
  const wait = bucket.waitMillis();
  now += 199;
  const early = bucket.tryTake();
  now += 1;
  const onTime = bucket.tryTake();

  // Assess
  t.same(burst, [true, true, true, false]);
  t.equal(wait, 200, 'one token every 200 ms at 5 per second');
  t.equal(early, false);
  t.equal(onTime, true);
});

t.test('a quiet spell refills no more than the burst', async (t) => {
  // Prepare
  let now = 0;
  const bucket = new TokenBucket({ ratePerSecond: 10, now: () => now });
  for (let i = 0; i < 10; i++) bucket.tryTake();

  // Act
  now += 60_000;
  let taken = 0;
  while (bucket.tryTake()) taken++;

  // Assess: the default burst is one second's worth.
  t.equal(taken, 10);
});

t.test('take() waits for tokens on the real clock, paced at the rate', async (t) => {
  // Prepare
  const bucket = new TokenBucket({ ratePerSecond: 40, burst: 1 });
  const started = performance.now();

  // Act
  for (let i = 0; i < 9; i++) await bucket.take();

  // Assess: the first is free, the next 8 come 25 ms apart (timers never fire early).
  t.ok(performance.now() - started >= 195, `took ${Math.round(performance.now() - started)} ms`);
});

t.test('take() rejects when aborted while waiting', async (t) => {
  // Prepare
  const bucket = new TokenBucket({ ratePerSecond: 0.1, burst: 1 });
  await bucket.take();
  const abort = new AbortController();

  // Act
  const waiting = bucket.take(abort.signal);
  setTimeout(() => abort.abort(new Error('stopping')), 20);

  // Assess
  await t.rejects(waiting, /stopping/);
});

t.test('a rate that is not positive is refused', async (t) => {
  t.throws(() => new TokenBucket({ ratePerSecond: 0 }), /ratePerSecond must be a positive number, got 0/);
  t.throws(() => new TokenBucket({ ratePerSecond: 5, burst: 0.5 }), /burst must be at least 1, got 0.5/);
});
