// A configured stream that does not exist (yet) keeps its lease and waits, with a backoff of its own, instead of
// being released and retaken every second; it is read as soon as it exists. A worker in-process on the local stack.

import t from 'tap';
import { fragment, until, workerStack } from './worker-fixtures.js';

const MISSING = 'late-cam';
const RETRY_MAX = 2_000;

t.test(
  'a leased stream that does not exist: the lease is kept, the wait backs off and is logged, ' +
    'and the stream is read once it exists',
  async (t) => {
    // Prepare
    const stack = await workerStack(t, 1);
    stack.feed(200);
    // The default failover time: the fixture's short one would let a loaded machine's stalls expire the lease,
    // which this is not about.
    const { worker, records } = await stack.start('w1', {
      streamNames: [...stack.streams, MISSING],
      missingStreamRetryMaxMillis: RETRY_MAX,
      failoverTimeMillis: 10_000,
    });
    const about = (event: string) => records.filter((r) => r.event === event && r.stream === MISSING);

    // Act: four waits in a row, the last ones at the cap
    await until('four waits for the missing stream', () => about('stream-missing').length >= 4, 20_000);
    const heldWhileMissing = worker.streams.includes(MISSING);
    const waits = about('stream-missing').map((r) => r.retryInMillis as number);
    stack.kvs.createStream(MISSING);
    const log = stack.kvs.streamLog(MISSING);
    let appended = 0;
    const feeding = setInterval(() => log.append(fragment(appended++)), 200);
    t.teardown(() => clearInterval(feeding));
    await until('the stream read once it exists', () => about('fragment').length > 0, RETRY_MAX + 10_000);

    // Assess
    t.ok(heldWhileMissing, 'the lease held while the stream is missing');
    t.equal(about('acquired').length, 1, 'acquired once: no release and retake');
    t.same([...about('released'), ...about('lost')], [], 'never released or lost');
    t.ok(
      about('stream-missing').every((r) => r.level === 'warn'),
      'logged as warnings',
    );
    // Jitter takes up to half: 1 s, 2 s, then the 2 s cap.
    const caps = waits.map((_, i) => Math.min(RETRY_MAX, 1_000 * 2 ** i));
    t.ok(
      waits.every((ms, i) => ms >= caps[i]! / 2 && ms <= caps[i]!),
      `waits ${waits.join(', ')} ms back off up to the cap`,
    );
    t.ok(worker.streams.includes(MISSING) && worker.streams.includes(stack.streams[0]!), 'both streams held');
  },
);
