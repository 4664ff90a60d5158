// Discovery against the local KVS server through the real SDK client: configured names, tag
// filters, pagination, bounded tag lookups, changes over timed refreshes, and AWS failures.

import { KinesisVideoClient, TagStreamCommand } from '@aws-sdk/client-kinesis-video';
import t, { type Test } from 'tap';
import {
  Discovery,
  type DiscoveryError,
  type DiscoveryOptions,
  type DiscoveryTimers,
} from '../../../src/actors/lease/discovery.js';
import { KvsServer, type KvsServerOptions } from '../../../src/local/kvs/index.js';

/**
 * Timers the test fires by hand; `scheduled()` resolves when Discovery arms its next refresh, i.e. the previous one
 * ended.
 */
class ManualTimers implements DiscoveryTimers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #id = 0;
  #waiters: (() => void)[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#id;
    this.pending.set(id, { callback, ms });
    for (const wake of this.#waiters.splice(0)) wake();
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  scheduled(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Fires every pending timer and waits until the refresh it started has armed the next one. */
  async fireAndSettle(): Promise<void> {
    const next = this.scheduled();
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const timer of due) timer.callback();
    await next;
  }
}

interface Harness {
  server: KvsServer;
  client: KinesisVideoClient;
  /** Calls per operation, counted by a middleware on the real client. */
  calls: Record<string, number>;
  changes: string[][];
  errors: DiscoveryError[];
  timers: ManualTimers;
  discovery(options?: Partial<DiscoveryOptions>): Discovery;
}

async function setup(t: Test, serverOptions: KvsServerOptions = {}): Promise<Harness> {
  const server = await KvsServer.create(serverOptions);
  // Errors are the point of some tests: answer them at once rather than after retries.
  const client = new KinesisVideoClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
  t.teardown(async () => {
    client.destroy();
    await server.close();
  });
  const calls: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls[context.commandName!] = (calls[context.commandName!] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const changes: string[][] = [];
  const errors: DiscoveryError[] = [];
  const timers = new ManualTimers();
  const discovery = (options: Partial<DiscoveryOptions> = {}) =>
    new Discovery({
      client,
      intervalMillis: 60_000,
      timers,
      onChange: (streams) => changes.push(streams),
      onError: (error) => errors.push(error),
      ...options,
    });
  return { server, client, calls, changes, errors, timers, discovery };
}

const FRONT_OR_PARKING = [{ key: 'Location', values: ['Front', 'Parking'] }];

t.test('configured names alone are the list, sorted, existing or not, without any AWS call', async (t) => {
  // Prepare
  const h = await setup(t);
  h.server.createStream('cam-b');
  const discovery = h.discovery({ streamNames: ['cam-b', 'cam-a-not-created-yet'] });

  // Act
  const streams = await discovery.refresh();

  // Assess
  t.same(streams, ['cam-a-not-created-yet', 'cam-b']);
  t.same(h.changes, [['cam-a-not-created-yet', 'cam-b']]);
  t.same(h.calls, {});
  t.same(h.errors, []);
});

t.test('a stream matches only when every filter finds its tag among the values; names are added', async (t) => {
  // Prepare
  const h = await setup(t);
  h.server.createStream('front-hd', { tags: { Location: 'Front', Camera: 'hd' } });
  h.server.createStream('parking-hd', { tags: { Location: 'Parking', Camera: 'hd', Owner: 'ops' } });
  h.server.createStream('front-sd', { tags: { Location: 'Front', Camera: 'sd' } });
  h.server.createStream('back-hd', { tags: { Location: 'Back', Camera: 'hd' } });
  h.server.createStream('no-location', { tags: { Camera: 'hd' } });
  h.server.createStream('untagged');
  h.server.createStream('lower-case', { tags: { location: 'Front', Camera: 'hd' } });
  const discovery = h.discovery({
    streamNames: ['named', 'front-hd'],
    tagFilters: [...FRONT_OR_PARKING, { key: 'Camera', values: ['hd', '4k'] }],
  });

  // Act
  const streams = await discovery.refresh();

  // Assess: tag keys are case-sensitive, as in AWS; front-hd is both named and matched, and listed once.
  t.same(streams, ['front-hd', 'named', 'parking-hd']);
  t.equal(h.calls.ListStreamsCommand, 1);
  t.equal(h.calls.ListTagsForStreamCommand, 7);
});

t.test('ListStreams is followed page by page', async (t) => {
  // Prepare: the server answers up to 10000 streams a page unless asked for fewer; ask for 2.
  const h = await setup(t);
  for (let i = 0; i < 7; i++) h.server.createStream(`match-${i}`, { tags: { Location: 'Front' } });
  h.server.createStream('other-1', { tags: { Location: 'Back' } });
  h.server.createStream('other-2');
  const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING, pageSize: 2 });

  // Act
  const streams = await discovery.refresh();

  // Assess: 9 streams, 2 a page.
  t.same(streams, ['match-0', 'match-1', 'match-2', 'match-3', 'match-4', 'match-5', 'match-6']);
  t.equal(h.calls.ListStreamsCommand, 5);
});

t.test('tag lookups run with bounded concurrency', async (t) => {
  // Prepare
  const h = await setup(t);
  for (let i = 0; i < 12; i++)
    h.server.createStream(`s-${String(i).padStart(2, '0')}`, { tags: { Location: i % 2 ? 'Front' : 'Back' } });
  let inFlight = 0;
  let most = 0;
  h.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'ListTagsForStreamCommand') return next(args);
      most = Math.max(most, ++inFlight);
      try {
        return await next(args);
      } finally {
        inFlight--;
      }
    },
    { step: 'initialize', name: 'measureConcurrency' },
  );
  const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING, tagConcurrency: 3 });

  // Act
  const streams = await discovery.refresh();

  // Assess
  t.equal(streams.length, 6);
  t.equal(most, 3);
  t.equal(h.calls.ListTagsForStreamCommand, 12);
});

t.test('timed refreshes add a new matching stream and drop deleted or no-longer-matching ones', async (t) => {
  // Prepare
  const h = await setup(t);
  h.server.createStream('gate', { tags: { Location: 'Front' } });
  h.server.createStream('lot', { tags: { Location: 'Parking' } });
  // Tags asked for at every refresh, so that the re-tagging below is seen at once (the slow refresh is tested below).
  const discovery = h.discovery({
    streamNames: ['lobby'],
    tagFilters: FRONT_OR_PARKING,
    intervalMillis: 30_000,
    tagRefreshMillis: 0,
  });
  t.teardown(() => discovery.stop());

  // Act: first refresh at start
  const first = h.timers.scheduled();
  discovery.start();
  await first;

  // Assess
  t.same(h.changes, [['gate', 'lobby', 'lot']]);
  t.same(
    [...h.timers.pending.values()].map((p) => p.ms),
    [30_000],
  );

  // Act: a stream appears
  h.server.createStream('dock', { tags: { Location: 'Front' } });
  await h.timers.fireAndSettle();

  // Assess
  t.same(h.changes.at(-1), ['dock', 'gate', 'lobby', 'lot']);

  // Act: one stream is deleted, another re-tagged through the API; the configured name stays
  h.server.deleteStream('gate');
  await h.client.send(new TagStreamCommand({ StreamName: 'lot', Tags: { Location: 'Rooftop' } }));
  await h.timers.fireAndSettle();

  // Assess
  t.same(h.changes.at(-1), ['dock', 'lobby']);
  t.equal(h.changes.length, 3);
  t.same(discovery.streams, ['dock', 'lobby']);
  t.same(h.errors, []);
});

t.test('onChange is not called again when nothing changed', async (t) => {
  // Prepare
  const h = await setup(t);
  h.server.createStream('gate', { tags: { Location: 'Front' } });
  const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING });

  // Act
  const first = await discovery.refresh();
  const second = await discovery.refresh();
  const third = await discovery.refresh();

  // Assess
  t.same([first, second, third], [['gate'], ['gate'], ['gate']]);
  t.same(h.changes, [['gate']]);
  t.equal(h.calls.ListStreamsCommand, 3);
});

t.test('the first refresh is announced even when it finds nothing', async (t) => {
  // Prepare: the coordinator needs it to retire leases of streams deleted while no worker ran.
  const h = await setup(t);
  const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING });

  // Act
  await discovery.refresh();
  await discovery.refresh();

  // Assess
  t.same(h.changes, [[]]);
});

t.test('an unreachable service is reported and the previous list kept', async (t) => {
  // Prepare
  const h = await setup(t);
  h.server.createStream('gate', { tags: { Location: 'Front' } });
  const discovery = h.discovery({ streamNames: ['lobby'], tagFilters: FRONT_OR_PARKING });
  await discovery.refresh();
  await h.server.close();

  // Act
  const streams = await discovery.refresh();

  // Assess
  t.same(streams, ['gate', 'lobby']);
  t.same(h.changes, [['gate', 'lobby']]);
  t.equal(h.errors.length, 1);
  t.equal(h.errors[0]!.code, 'DISCOVERY_FAILED');
  t.match(h.errors[0]!.message, /^ListStreams failed: .*; keeping the previous 2 streams$/);
  t.ok(h.errors[0]!.cause instanceof Error);
});

t.test('a failure part-way through the tag lookups keeps the previous list, not a partial one', async (t) => {
  // Prepare: the 4th ListTagsForStream is throttled.
  const h = await setup(t);
  for (const name of ['a', 'b', 'c', 'd', 'e']) h.server.createStream(name, { tags: { Location: 'Front' } });
  const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING, tagConcurrency: 2, tagRefreshMillis: 0 });
  await discovery.refresh();
  h.server.createStream('f', { tags: { Location: 'Front' } });
  let lookups = 0;
  h.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ListTagsForStreamCommand' && ++lookups === 4) {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'throttleOne' },
  );

  // Act
  const during = await discovery.refresh();
  const after = await discovery.refresh();

  // Assess
  t.same(during, ['a', 'b', 'c', 'd', 'e']);
  t.equal(h.errors.length, 1);
  t.equal(
    h.errors[0]!.message,
    'ListTagsForStream failed: ThrottlingException: Rate exceeded; keeping the previous 5 streams',
  );
  t.same(after, ['a', 'b', 'c', 'd', 'e', 'f']);
  t.same(h.changes, [
    ['a', 'b', 'c', 'd', 'e'],
    ['a', 'b', 'c', 'd', 'e', 'f'],
  ]);
});

t.test('a stream deleted between ListStreams and its tag lookup is dropped without an error', async (t) => {
  // Prepare
  const h = await setup(t);
  h.server.createStream('gate', { tags: { Location: 'Front' } });
  h.server.createStream('lot', { tags: { Location: 'Parking' } });
  h.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ListTagsForStreamCommand' && h.server.registry.get('lot'))
        h.server.deleteStream('lot');
      return next(args);
    },
    { step: 'initialize', name: 'deleteDuringScan' },
  );
  const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING, tagConcurrency: 1 });

  // Act
  const streams = await discovery.refresh();

  // Assess
  t.same(streams, ['gate']);
  t.same(h.errors, []);
});

t.test('stop() aborts a refresh in flight: no onChange, no error, no further timer', async (t) => {
  // Prepare: tag lookups hang until the test lets them go.
  const h = await setup(t);
  h.server.createStream('gate', { tags: { Location: 'Front' } });
  let reached!: () => void;
  const blocked = new Promise<void>((resolve) => (reached = resolve));
  h.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ListTagsForStreamCommand') {
        reached();
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return next(args);
    },
    { step: 'finalizeRequest', name: 'hang' },
  );
  const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING });

  // Act
  discovery.start();
  await blocked;
  await discovery.stop();
  await new Promise((resolve) => setTimeout(resolve, 300));

  // Assess
  t.same(h.changes, []);
  t.same(h.errors, []);
  t.equal(h.timers.pending.size, 0);
});

t.test('an onChange that throws in a timed refresh is reported, and hears the list again next time', async (t) => {
  // Prepare
  const h = await setup(t);
  let failures = 1;
  const heard: string[][] = [];
  const discovery = h.discovery({
    streamNames: ['lobby'],
    onChange: (streams) => {
      heard.push(streams);
      if (failures-- > 0) throw new Error('coordinator not ready');
    },
  });
  t.teardown(() => discovery.stop());

  // Act
  const first = h.timers.scheduled();
  discovery.start();
  await first;
  await h.timers.fireAndSettle();
  await h.timers.fireAndSettle();

  // Assess
  t.same(heard, [['lobby'], ['lobby']]);
  t.equal(h.errors.length, 1);
  t.equal(h.errors[0]!.code, 'DISCOVERY_LISTENER_FAILED');
  t.equal(h.errors[0]!.message, 'onChange threw: coordinator not ready');
});

t.test('starting again after stop() announces the list even when it has not changed', async (t) => {
  // Prepare: a worker that lost and regained the sync lease must sync the lease table again.
  const h = await setup(t);
  const discovery = h.discovery({ streamNames: ['lobby'] });
  t.teardown(() => discovery.stop());
  const first = h.timers.scheduled();
  discovery.start();
  await first;
  await h.timers.fireAndSettle();
  await discovery.stop();

  // Act
  const again = h.timers.scheduled();
  discovery.start();
  await again;

  // Assess
  t.same(h.changes, [['lobby'], ['lobby']]);
  t.equal(h.timers.pending.size, 1);
});

t.test('a non-positive interval is refused at construction', async (t) => {
  // Prepare
  const h = await setup(t);

  // Act / Assess
  t.throws(() => h.discovery({ intervalMillis: 0 }), RangeError);
});

t.test(
  'tags are asked for once per stream, then for new streams only, and all again once tagRefreshMillis old',
  async (t) => {
    // Prepare
    const h = await setup(t);
    let now = 0;
    h.server.createStream('gate', { tags: { Location: 'Front' } });
    h.server.createStream('lot', { tags: { Location: 'Parking' } });
    const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING, tagRefreshMillis: 600_000, now: () => now });
    await discovery.refresh();

    // Act: a new stream, and a known one re-tagged out of the filters
    h.server.createStream('dock', { tags: { Location: 'Front' } });
    await h.client.send(new TagStreamCommand({ StreamName: 'lot', Tags: { Location: 'Rooftop' } }));
    now += 599_999;
    const beforeRefresh = await discovery.refresh();
    const lookupsBefore = h.calls.ListTagsForStreamCommand;
    now += 1;
    const afterRefresh = await discovery.refresh();

    // Assess: 2 lookups, then 1 for the new stream only (the re-tagging is not seen yet), then the first 2 again (the
    // new stream's tags are not yet old).
    t.same(beforeRefresh, ['dock', 'gate', 'lot']);
    t.equal(lookupsBefore, 3);
    t.same(afterRefresh, ['dock', 'gate']);
    t.equal(h.calls.ListTagsForStreamCommand, 5);
    t.same(h.errors, []);
  },
);

t.test('ListTagsForStream is paced at tagRequestsPerSecond', async (t) => {
  // Prepare
  const h = await setup(t);
  for (let i = 0; i < 30; i++) h.server.createStream(`cam-${i}`, { tags: { Location: 'Front' } });
  const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING, tagRequestsPerSecond: 20, tagConcurrency: 10 });
  const started = performance.now();

  // Act
  const streams = await discovery.refresh();

  // Assess: a second's worth (20) at once, then the other 10 at 20 per second.
  const elapsed = performance.now() - started;
  t.equal(streams.length, 30);
  t.ok(elapsed >= 450, `30 lookups at 20 per second took ${Math.round(elapsed)} ms`);
});

t.test("at the default pace, a refresh of 80 streams stays within KVS's ListTagsForStream quota", async (t) => {
  // Prepare: the server refuses calls beyond KVS's documented quotas (50 per second per account).
  const h = await setup(t, { enforceApiLimits: true });
  for (let i = 0; i < 80; i++) h.server.createStream(`cam-${i}`, { tags: { Location: 'Front' } });
  const discovery = h.discovery({ tagFilters: FRONT_OR_PARKING, tagConcurrency: 20 });

  // Act
  const streams = await discovery.refresh();

  // Assess
  t.equal(streams.length, 80);
  t.same(h.server.apiCalls().ListTagsForStream, { admitted: 80, throttled: 0 });
  t.same(h.errors, []);
});

t.test('calls beyond the quota are answered ClientLimitExceededException and retried with backoff', async (t) => {
  // Prepare: paced far above the quota, so KVS throttles.
  const h = await setup(t, { enforceApiLimits: true });
  for (let i = 0; i < 150; i++) h.server.createStream(`cam-${i}`, { tags: { Location: 'Front' } });
  const discovery = h.discovery({
    tagFilters: FRONT_OR_PARKING,
    tagConcurrency: 20,
    tagRequestsPerSecond: 1000,
    throttleBackoff: { baseMs: 20, maxMs: 400 },
    throttleAttempts: 50,
  });

  // Act
  const streams = await discovery.refresh();

  // Assess: every stream found, no error, and KVS did throttle.
  const calls = h.server.apiCalls().ListTagsForStream!;
  t.equal(streams.length, 150);
  t.same(h.errors, []);
  t.equal(calls.admitted, 150);
  t.ok(calls.throttled > 0, `${calls.throttled} calls throttled`);
});

t.test('a call still throttled after throttleAttempts tries fails the refresh, naming it', async (t) => {
  // Prepare
  const h = await setup(t);
  h.server.createStream('gate', { tags: { Location: 'Front' } });
  h.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ListTagsForStreamCommand') {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ClientLimitExceededException' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'throttleAll' },
  );
  const discovery = h.discovery({
    streamNames: ['lobby'],
    tagFilters: FRONT_OR_PARKING,
    throttleBackoff: { baseMs: 5, maxMs: 20 },
    throttleAttempts: 3,
  });

  // Act
  const streams = await discovery.refresh();

  // Assess
  t.same(streams, []);
  t.equal(h.calls.ListTagsForStreamCommand, 3);
  t.equal(h.errors.length, 1);
  t.equal(
    h.errors[0]!.message,
    'ListTagsForStream failed (throttled 3 times): ClientLimitExceededException: Rate exceeded; ' +
      'keeping the previous 0 streams',
  );
});
