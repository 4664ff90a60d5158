// The result publisher on the kinesalite emulator: batching by count, bytes and linger; a buffer bounded in
// records and bytes that makes publish() wait; a deadline on every call, and a second call for other keys while
// one hangs; retries of failed calls and of partially failed batches until every record lands; abort and close.

import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type PutRecordsCommandInput,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import t, { type Test } from 'tap';
import {
  PublishError,
  type PublisherStats,
  type PublishReceipt,
  ResultPublisher,
} from '../../../src/actors/pipeline/result-publisher.js';
import { kinesisClient } from '../../../src/aws/clients.js';
import { Emulator } from '../../../src/local/emulator.js';
import { seededRandom } from '../../../src/local/random.js';
import { blackhole, FaultProxy, pass } from '../../chaos/fault-proxy.js';
import { settled } from '../../helpers/settled.js';

const STREAM = 'results';
const MiB = 1024 * 1024;

const local = (endpoint: string) => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});

async function createStream(client: KinesisClient, shards = 2): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: shards }));
  await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: STREAM });
}

/**
 * An emulator (optionally rejecting part of each PutRecords) and a client on it; the stream is created unless told not
 * to.
 */
async function kinesis(t: Test, options: { failureRate?: number; createStream?: boolean } = {}) {
  const emulator = await Emulator.start(
    'kinesis',
    options.failureRate ? { putRecordsFailureRate: options.failureRate, seed: 11 } : {},
  );
  t.teardown(() => emulator.close());
  const client = kinesisClient(local(emulator.url));
  if (options.createStream !== false) await createStream(client);
  return { emulator, client };
}

/** Every record in the stream, shard by shard, each shard in sequence order. */
async function readAll(
  client: KinesisClient,
): Promise<{ partitionKey: string; data: string; sequenceNumber: string }[]> {
  const shards = await client.send(new ListShardsCommand({ StreamName: STREAM }));
  const records: { partitionKey: string; data: string; sequenceNumber: string }[] = [];
  for (const shard of shards.Shards ?? []) {
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({ StreamName: STREAM, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    for (;;) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator!, Limit: 10_000 }));
      for (const r of page.Records ?? [])
        records.push({
          partitionKey: r.PartitionKey!,
          data: Buffer.from(r.Data!).toString(),
          sequenceNumber: r.SequenceNumber!,
        });
      if ((page.Records ?? []).length === 0 || !page.NextShardIterator) break;
      iterator = page.NextShardIterator;
    }
  }
  return records;
}

/** Records the size of each PutRecords call the client makes; `delayMs` holds each call that long first. */
function observeCalls(client: KinesisClient, delayMs = 0): { records: number; bytes: number }[] {
  const calls: { records: number; bytes: number }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutRecordsCommand') {
        const input = args.input as PutRecordsCommandInput;
        calls.push({
          records: input.Records!.length,
          bytes: input.Records!.reduce((sum, r) => sum + r.Data!.byteLength + Buffer.byteLength(r.PartitionKey!), 0),
        });
        if (delayMs > 0) await sleep(delayMs);
      }
      return next(args);
    },
    { step: 'initialize', name: 'observePutRecords' },
  );
  return calls;
}

const text = (value: string) => new TextEncoder().encode(value);

/** The stats of a publisher with nothing left in it. */
const idle = (counts: Partial<PublisherStats>): PublisherStats => ({
  queued: 0,
  inFlight: 0,
  callsInFlight: 0,
  buffered: 0,
  bufferedBytes: 0,
  waiting: 0,
  published: 0,
  calls: 0,
  failedCalls: 0,
  timeouts: 0,
  retriedRecords: 0,
  ...counts,
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

t.test('1200 records from 3 partition keys land exactly once, in order per key, in full batches', async (t) => {
  // Prepare
  const { client } = await kinesis(t);
  const calls = observeCalls(client);
  // A linger longer than publishing 1200 records can take on a loaded machine: only the last batch is not full.
  const publisher = new ResultPublisher({ client, streamName: STREAM, lingerMs: 1000 });
  t.teardown(() => publisher.close());
  const keys = ['camera-a', 'camera-b', 'camera-c'];

  // Act
  const record = (i: number) => ({ partitionKey: keys[i % 3]!, data: text(`${keys[i % 3]}/${Math.floor(i / 3)}`) });
  const receipts = await Promise.all(Array.from({ length: 1200 }, (_, i) => publisher.publish(record(i)).receipt));

  // Assess
  const stored = await readAll(client);
  t.equal(stored.length, 1200);
  t.equal(new Set(stored.map((r) => r.data)).size, 1200, 'no record twice');
  for (const key of keys) {
    const order = stored.filter((r) => r.partitionKey === key).map((r) => r.data);
    t.same(
      order,
      Array.from({ length: 400 }, (_, n) => `${key}/${n}`),
      `${key} in publish order`,
    );
  }
  t.ok(publisher.stats.calls <= Math.ceil(1200 / 500) + 1, `batched: ${publisher.stats.calls} calls`);
  t.same(calls.map((c) => c.records).slice(0, 2), [500, 500]);
  t.same({ ...publisher.stats, calls: 0 }, idle({ published: 1200 }));
  t.ok(receipts.every((r) => r.attempts === 1 && r.shardId.startsWith('shardId-') && r.sequenceNumber.length > 0));
  t.equal(new Set(receipts.map((r) => r.sequenceNumber)).size, 1200);
});

t.test('a lone record goes out lingerMs after it was published', async (t) => {
  // Prepare
  const { client } = await kinesis(t);
  const publisher = new ResultPublisher({ client, streamName: STREAM, lingerMs: 100 });
  t.teardown(() => publisher.close());
  const started = performance.now();

  // Act
  const receipt = await publisher.publish({ partitionKey: 'camera-a', data: text('alone') }).receipt;

  // Assess
  const elapsed = performance.now() - started;
  t.ok(elapsed >= 95 && elapsed < 600, `landed after ${Math.round(elapsed)} ms`);
  t.equal(receipt.attempts, 1);
  t.equal(publisher.stats.calls, 1);
  t.same(
    (await readAll(client)).map((r) => r.data),
    ['alone'],
  );
});

t.test(
  'a record over 1 MiB (data + partition key) rejects at once with RECORD_TOO_LARGE; one of exactly 1 MiB lands',
  async (t) => {
    // Prepare
    const { client } = await kinesis(t);
    const publisher = new ResultPublisher({ client, streamName: STREAM, lingerMs: 0 });
    t.teardown(() => publisher.close());
    const key = 'camera-big';

    // Act
    const tooLarge = publisher.publish({ partitionKey: key, data: new Uint8Array(Math.round(1.1 * MiB)) });
    const justFits = publisher.publish({ partitionKey: key, data: new Uint8Array(MiB - key.length) });

    // Assess
    const refusal = {
      name: 'PublishError',
      code: 'RECORD_TOO_LARGE',
      message: new RegExp(`${Math.round(1.1 * MiB) + key.length} bytes.*"${key}"`),
    };
    await t.rejects(tooLarge.taken, refusal, 'never taken');
    await t.rejects(tooLarge.receipt, refusal);
    t.equal((await justFits.receipt).attempts, 1);
    t.equal(publisher.stats.calls, 1);
    t.equal((await readAll(client)).length, 1);
  },
);

t.test('records of 400 KB go out in calls of at most 5 MiB', async (t) => {
  // Prepare
  const { client } = await kinesis(t);
  const calls = observeCalls(client);
  const publisher = new ResultPublisher({ client, streamName: STREAM });
  t.teardown(() => publisher.close());
  const payload = new Uint8Array(400 * 1024);

  // Act
  await Promise.all(
    Array.from({ length: 30 }, (_, i) => publisher.publish({ partitionKey: `camera-${i % 2}`, data: payload }).receipt),
  );

  // Assess
  t.ok(
    calls.every((c) => c.bytes <= 5 * MiB),
    `call sizes ${calls.map((c) => c.bytes).join(', ')}`,
  );
  t.equal(calls[0]!.records, 12, 'a call takes as many records as fit in 5 MiB');
  t.equal(
    calls.reduce((sum, c) => sum + c.records, 0),
    30,
  );
  t.equal((await readAll(client)).length, 30);
});

t.test(
  'a stream that does not exist yet: calls are retried, reported, and every record lands once it does',
  async (t) => {
    // Prepare
    const { client } = await kinesis(t, { createStream: false });
    const errors: { error: Error; attempt: number }[] = [];
    const publisher = new ResultPublisher({
      client,
      streamName: STREAM,
      lingerMs: 0,
      backoff: { baseMs: 10, maxMs: 50 },
      random: seededRandom(1),
      onError: (error, info) => errors.push({ error, attempt: info.attempt }),
    });
    t.teardown(() => publisher.close());
    const published = Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => publisher.publish({ partitionKey: 'camera-a', data: text(`r${i}`) }).receipt,
      ),
    );

    // Act
    await waitFor(() => errors.length >= 3);
    await createStream(client);
    const receipts = await published;

    // Assess
    t.equal(errors[0]!.error.name, 'ResourceNotFoundException');
    t.same(
      errors.slice(0, 3).map((e) => e.attempt),
      [1, 2, 3],
    );
    t.ok(publisher.stats.failedCalls >= 3);
    t.ok(receipts.every((r) => r.attempts > 1));
    t.same(
      (await readAll(client)).map((r) => r.data),
      Array.from({ length: 10 }, (_, i) => `r${i}`),
    );
  },
);

t.test(
  'partial failures: every record lands exactly once and receipts of a key resolve in publish order',
  async (t) => {
    // Prepare
    const { emulator, client } = await kinesis(t, { failureRate: 0.3 });
    const partial: { failed: number; records: number; code: unknown; message: string }[] = [];
    const publisher = new ResultPublisher({
      client,
      streamName: STREAM,
      maxBatchRecords: 100,
      lingerMs: 5,
      backoff: { baseMs: 1, maxMs: 10 },
      random: seededRandom(2),
      onError: (error, info) =>
        partial.push({ ...info, code: (error as { code?: unknown }).code, message: error.message }),
    });
    t.teardown(() => publisher.close());
    const keys = ['camera-a', 'camera-b', 'camera-c'];
    const resolved = new Map<string, number[]>(keys.map((k) => [k, []]));

    // Act
    const receipts: Promise<PublishReceipt>[] = [];
    for (let wave = 0; wave < 3; wave++) {
      for (let i = wave * 200; i < (wave + 1) * 200; i++) {
        const key = keys[i % 3]!;
        receipts.push(
          publisher.publish({ partitionKey: key, data: text(`${key}/${i}`) }).receipt.then((r) => {
            resolved.get(key)!.push(i);
            return r;
          }),
        );
      }
      await sleep(10);
    }
    await Promise.all(receipts);

    // Assess
    const stored = await readAll(client);
    t.equal(stored.length, 600);
    t.equal(new Set(stored.map((r) => r.data)).size, 600, 'none twice, none lost');
    t.ok(publisher.stats.retriedRecords > 0);
    t.equal(publisher.stats.retriedRecords, emulator.injectedPutRecordFailures, 'each rejected record retried');
    t.equal(publisher.stats.published, 600);
    t.ok(
      partial.length > 0 &&
        partial.every((p) => p.code === 'PUT_RECORDS_PARTIAL_FAILURE' && p.failed > 0 && p.failed < p.records),
    );
    t.ok(
      partial.every((p) => p.message.includes('ProvisionedThroughputExceededException x')),
      'throttled records named in the report',
    );
    for (const key of keys) {
      const submitted = Array.from({ length: 600 }, (_, i) => i).filter((i) => keys[i % 3] === key);
      t.same(resolved.get(key), submitted, `${key}: receipts in publish order`);
    }
  },
);

t.test(
  'publish() waits for room: at most maxBufferedRecords are held, taken in order; an abort while waiting leaves',
  async (t) => {
    // Prepare: every call held 200 ms, room for 3 records
    const { client } = await kinesis(t);
    const calls = observeCalls(client, 200);
    const publisher = new ResultPublisher({ client, streamName: STREAM, lingerMs: 0, maxBufferedRecords: 3 });
    t.teardown(() => publisher.close());
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, publisher.stats.buffered)), 2);
    t.teardown(() => clearInterval(sampler));
    const controller = new AbortController();

    // Act
    const handles = Array.from({ length: 5 }, (_, i) =>
      publisher.publish({ partitionKey: 'camera-a', data: text(`r${i}`) }),
    );
    const leaving = publisher.publish({ partitionKey: 'camera-a', data: text('leaving') }, controller.signal);
    const taken = await Promise.all(handles.map((h) => settled(h.taken)));
    const whileFull = publisher.stats;
    controller.abort();
    const receipts = await Promise.all(handles.map((h) => h.receipt));

    // Assess
    t.same(taken, [true, true, true, false, false], 'the first three taken at once, the others waited for room');
    t.match(whileFull, { buffered: 3, waiting: 3 });
    await t.rejects(leaving.taken, { code: 'ABORTED' });
    await t.rejects(leaving.receipt, { code: 'ABORTED' });
    t.ok(peak <= 3, `at most 3 records held: ${peak}`);
    t.ok(
      calls.every((c) => c.records <= 3),
      `call sizes ${calls.map((c) => c.records).join(', ')}`,
    );
    t.ok(receipts.every((r) => r.attempts === 1));
    t.same(
      (await readAll(client)).map((r) => r.data),
      ['r0', 'r1', 'r2', 'r3', 'r4'],
      'in order, the aborted one never sent',
    );
    t.same(publisher.stats, idle({ published: 5, calls: calls.length }));
  },
);

t.test('publish() waits for room by bytes: maxBufferedBytes bounds the records held', async (t) => {
  // Prepare: room for two records of 400 bytes (+ 8-byte key)
  const { client } = await kinesis(t);
  const calls = observeCalls(client, 100);
  const publisher = new ResultPublisher({ client, streamName: STREAM, lingerMs: 0, maxBufferedBytes: 1000 });
  t.teardown(() => publisher.close());
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, publisher.stats.bufferedBytes)), 2);
  t.teardown(() => clearInterval(sampler));

  // Act
  await Promise.all(
    Array.from(
      { length: 6 },
      (_, i) => publisher.publish({ partitionKey: `camera-${i % 2}`, data: new Uint8Array(400) }).receipt,
    ),
  );

  // Assess
  t.ok(peak > 0 && peak <= 1000, `at most 1000 bytes held: ${peak}`);
  t.ok(
    calls.every((c) => c.records <= 2),
    `call sizes ${calls.map((c) => c.records).join(', ')}`,
  );
  t.equal((await readAll(client)).length, 6);
});

t.test(
  'a PutRecords call that hangs is cut by its deadline and retried; other keys go out meanwhile, the same key waits',
  async (t) => {
    // Prepare: the publisher's client reaches Kinesis through a proxy; the stream is created directly.
    const { emulator } = await kinesis(t);
    const proxy = await FaultProxy.start(emulator.url);
    t.teardown(() => proxy.close());
    const client = kinesisClient(local(proxy.url));
    t.teardown(() => client.destroy());
    const errors: Error[] = [];
    const backoff = { baseMs: 10, maxMs: 10 };
    const publisher = new ResultPublisher({
      client,
      streamName: STREAM,
      lingerMs: 0,
      timeoutMs: 2000,
      backoff,
      onError: (e) => errors.push(e),
    });
    t.teardown(() => publisher.close());
    const landed: string[] = [];
    const publish = (key: string, data: string) => {
      const handle = publisher.publish({ partitionKey: key, data: text(data) });
      void handle.receipt.then(() => landed.push(data));
      return handle;
    };

    // Act: a1's call opens its connection inside a black hole, which then ends
    proxy.set(blackhole());
    const started = performance.now();
    const a1 = publish('camera-a', 'a1');
    await waitFor(() => proxy.stats.accepted === 1);
    proxy.set(pass());
    const b1 = publish('camera-b', 'b1');
    const a2 = publish('camera-a', 'a2');
    const b1Receipt = await b1.receipt;
    const b1Ms = performance.now() - started;
    const stats = publisher.stats;
    const [a1Receipt, a2Receipt] = await Promise.all([a1.receipt, a2.receipt]);
    const a1Ms = performance.now() - started;

    // Assess
    t.ok(b1Ms < 2000, `b1 landed after ${Math.round(b1Ms)} ms, while a1's call hung`);
    t.match(stats, { callsInFlight: 1, inFlight: 1, queued: 1 }, 'a2 waited: a key is never in two calls at once');
    t.ok(
      a1Ms >= 2000 && a1Ms < 2000 + 3000,
      `a1 landed ${Math.round(a1Ms)} ms after it was published: its call was cut at the deadline`,
    );
    t.equal(a1Receipt.attempts, 2);
    t.equal(b1Receipt.attempts, 1);
    t.equal(a2Receipt.attempts, 1, "a2 went out with a1's retry");
    t.same(landed, ['b1', 'a1', 'a2']);
    t.match(errors[0], {
      name: 'PublishError',
      code: 'PUBLISH_TIMEOUT',
      message: `PutRecords of 1 records to stream ${STREAM} got no answer within 2000 ms`,
    });
    t.match(publisher.stats, { timeouts: 1, failedCalls: 1, calls: 3, published: 3 });
    const stored = await readAll(client);
    t.same(
      stored.filter((r) => r.partitionKey === 'camera-a').map((r) => r.data),
      ['a1', 'a2'],
    );
  },
);

t.test('an aborted record that was not sent yet is removed and rejects ABORTED', async (t) => {
  // Prepare
  const { client } = await kinesis(t);
  const publisher = new ResultPublisher({ client, streamName: STREAM, lingerMs: 10_000 });
  t.teardown(() => publisher.close());
  const controller = new AbortController();
  const dropped = publisher.publish({ partitionKey: 'camera-a', data: text('dropped') }, controller.signal);
  const kept = publisher.publish({ partitionKey: 'camera-a', data: text('kept') });

  // Act
  controller.abort();
  const alreadyAborted = publisher.publish({ partitionKey: 'camera-a', data: text('never') }, AbortSignal.abort());

  // Assess
  await t.rejects(dropped.receipt, { name: 'PublishError', code: 'ABORTED' });
  await t.rejects(alreadyAborted.taken, { code: 'ABORTED' });
  await t.rejects(alreadyAborted.receipt, { code: 'ABORTED' });
  t.match(publisher.stats, { queued: 1, buffered: 1 });
  await publisher.close();
  t.equal((await kept.receipt).attempts, 1, 'the later record of the key is not held back by the aborted one');
  t.same(
    (await readAll(client)).map((r) => r.data),
    ['kept'],
  );
});

t.test('an aborted record already in a call rejects ABORTED at once, and may still land', async (t) => {
  // Prepare
  const { client } = await kinesis(t);
  observeCalls(client, 300);
  const publisher = new ResultPublisher({ client, streamName: STREAM, lingerMs: 0 });
  t.teardown(() => publisher.close());
  const controller = new AbortController();
  const inCall = publisher.publish({ partitionKey: 'camera-a', data: text('in-call') }, controller.signal);
  await waitFor(() => publisher.stats.inFlight === 1);

  // Act
  controller.abort();

  // Assess
  await t.rejects(inCall.receipt, { code: 'ABORTED' });
  t.match(publisher.stats, { inFlight: 1, buffered: 1 }, 'the call goes on, and its record still counts in the buffer');
  await publisher.close();
  t.equal(publisher.stats.published, 1);
  t.same(
    (await readAll(client)).map((r) => r.data),
    ['in-call'],
  );
});

t.test(
  'close sends what is queued without waiting out the linger, then refuses records; it is idempotent',
  async (t) => {
    // Prepare
    const { client } = await kinesis(t);
    const publisher = new ResultPublisher({ client, streamName: STREAM, lingerMs: 10_000 });
    const receipts = Promise.all(
      ['a', 'b', 'c'].map((d) => publisher.publish({ partitionKey: 'camera-a', data: text(d) }).receipt),
    );
    const started = performance.now();

    // Act
    await publisher.close();

    // Assess
    t.ok(performance.now() - started < 2000);
    t.equal((await receipts).length, 3);
    t.same(
      (await readAll(client)).map((r) => r.data),
      ['a', 'b', 'c'],
    );
    const late = publisher.publish({ partitionKey: 'camera-a', data: text('late') });
    await t.rejects(late.receipt, new PublishError('PUBLISHER_CLOSED', `the publisher to stream ${STREAM} is closed`));
    await publisher.close();
    await publisher.flush();
    t.same(publisher.stats, idle({ published: 3, calls: 1 }));
  },
);

t.test('close leaves no timer running, even in the middle of a backoff', async (t) => {
  // Prepare: a client whose every call fails, so that the publisher is backing off.
  let attempts = 0;
  const failing = {
    send: async () => {
      attempts++;
      throw new Error('connect ECONNREFUSED');
    },
  } as unknown as KinesisClient;
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const publisher = new ResultPublisher({
    client: failing,
    streamName: STREAM,
    lingerMs: 0,
    backoff: { baseMs: 60_000, maxMs: 60_000 },
  });
  const controller = new AbortController();
  const record = publisher.publish({ partitionKey: 'camera-a', data: text('x') }, controller.signal);
  await waitFor(() => publisher.stats.failedCalls === 1);
  t.equal(timers(), before + 1, "the backoff timer (the call's deadline is cleared)");

  // Act
  controller.abort();
  await t.rejects(record.receipt, { code: 'ABORTED' });
  await publisher.close();

  // Assess
  t.equal(timers(), before);
  t.equal(attempts, 1);
  t.same(publisher.stats, idle({ calls: 1, failedCalls: 1, retriedRecords: 1 }));
});

t.test('out-of-range sizes are configuration errors', async (t) => {
  // Prepare
  const client = {} as KinesisClient;

  // Act, Assess
  const bad = [
    { maxBatchRecords: 501 },
    { maxBatchRecords: 0 },
    { maxBatchBytes: 5 * MiB + 1 },
    { maxBatchBytes: 0 },
    { maxBufferedRecords: 0 },
    { maxBufferedBytes: 1.5 },
    { timeoutMs: 0 },
    { lingerMs: -1 },
    { backoff: { jitter: 2 } },
    { streamName: '' },
  ];
  for (const options of bad) {
    t.throws(
      () => new ResultPublisher({ client, streamName: STREAM, ...options }),
      { name: 'KvsInferError', code: 'BAD_CONFIG' },
      JSON.stringify(options),
    );
  }
});
