// What a worker tells its orchestrator, and what it does on its own when DynamoDB or Kinesis misbehave:
// /readyz is false while the data stream is missing, /healthz fails once the worker is stuck, and a lease
// sync that failed is tried again until the stream's lease exists.

import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateStreamCommand } from '@aws-sdk/client-kinesis';
import t from 'tap';
import { DataStreamCheck } from '../../src/actors/pipeline/data-stream-check.js';
import { kinesisClient } from '../../src/aws/clients.js';
import { until, workerStack } from './worker-fixtures.js';

t.test('a missing data stream: not ready, with an error line naming it, until the stream exists', async (t) => {
  // Prepare
  const stack = await workerStack(t, 1);
  const { worker, records } = await stack.start('w1', { kdsStreamName: 'late-results' });

  // Act, Assess: missing
  await until('the data stream reported missing', () => records.some((r) => r.event === 'data-stream-unavailable'));
  const line = records.find((r) => r.event === 'data-stream-unavailable')!;
  t.equal(line.level, 'error', 'logged as an error');
  t.equal(line.dataStream, 'late-results', 'naming the data stream');
  t.match(String(line.message), /late-results does not exist/, 'saying what is wrong');
  await until('the lease table scanned', () => worker.coordinator.scans > 0);
  t.match(worker.notReady, /late-results does not exist/, 'not ready, and /readyz says why');
  t.equal(worker.view().ready, false, 'the view says not ready too');

  // Act: the stack creates it
  await stack.kinesis.send(new CreateStreamCommand({ StreamName: 'late-results', ShardCount: 1 }));

  // Assess
  await until('ready once the stream exists', () => worker.notReady === null, 40_000);
  t.ok(
    records.some((r) => r.event === 'data-stream-writable'),
    'a line says it is writable again',
  );
});

t.test(
  'a PutRecords refused (access, KMS) keeps the data stream unwritable though it exists, until a call lands',
  async (t) => {
    // Prepare: the stack's results stream exists, so DescribeStreamSummary finds it ACTIVE.
    const stack = await workerStack(t, 1);
    const told: (string | null)[] = [];
    const check = new DataStreamCheck({
      client: stack.kinesis,
      streamName: 'results',
      timeoutMs: 3000,
      onChange: (problem) => told.push(problem),
    });
    t.teardown(() => check.stop());
    await check.start();
    t.equal(check.problem, null, 'writable at first');

    // Act: a call refused, then time for the recheck it starts (at most 1 s)
    check.callFailed(
      Object.assign(new Error('User is not authorized to perform kinesis:PutRecords'), {
        name: 'AccessDeniedException',
      }),
    );
    await sleep(1500);

    // Assess
    t.match(
      check.problem,
      /PutRecords to results failed: AccessDeniedException/,
      'still unwritable after the recheck found the stream',
    );
    t.same(told.slice(1), [check.problem], 'told once, not flipping back and forth');
    check.callSucceeded();
    t.equal(check.problem, null, 'writable once a call lands');
  },
);

t.test(
  'a lease sync that fails is tried again until the lease exists (discovery announces a static list once)',
  async (t) => {
    // Prepare: the first two creations of cam-0's lease fail as a throttled DynamoDB fails them, after the
    // SDK's own retries (the middleware sits before them, in the initialize step)
    const stack = await workerStack(t, 2);
    let failures = 2;
    stack.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Item?: { leaseKey?: string | { S?: string } } }).Item?.leaseKey;
        const isCam0 = key === 'cam-0' || (typeof key === 'object' && key?.S === 'cam-0');
        if (/^Put(Item)?Command$/.test(context.commandName ?? '') && isCam0 && failures > 0) {
          failures--;
          throw Object.assign(new Error('injected: rate of requests exceeds the allowed throughput'), {
            name: 'ThrottlingException',
            $fault: 'client',
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'injectSyncFailure' },
    );
    stack.feed(200);

    // Act
    const { worker, records } = await stack.start('w1');

    // Assess
    await until(
      'cam-0 read',
      () => worker.streams.includes('cam-0') && records.some((r) => r.event === 'fragment' && r.stream === 'cam-0'),
      30_000,
    );
    const failed = records.filter((r) => r.event === 'lease-sync-failed');
    t.equal(failures, 0, 'the injected failures happened');
    t.ok(failed.length >= 2, `the failed syncs were logged (${failed.length} lines)`);
    t.ok(
      failed.every((r) => typeof r.retryInMillis === 'number'),
      'each with when it is tried again',
    );
    t.same(worker.streams, ['cam-0', 'cam-1'], 'both streams are read');
  },
);

t.test('/healthz: healthy while frames flow, stuck once Kinesis is a black hole for the stall limit', async (t) => {
  // Prepare: a Kinesis endpoint that accepts connections and never answers
  const sockets = new Set<Socket>();
  const hole = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.resume();
  });
  await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    hole.close();
  });
  const { port } = hole.address() as { port: number };
  const blackHole = kinesisClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  t.teardown(() => blackHole.destroy());
  const stack = await workerStack(t, 1);
  stack.feed(200);
  const healthy = await stack.start('healthy', { failoverTimeMillis: 1500, healthCheckStallFactor: 2 });
  await until('the healthy worker published', () => healthy.worker.stats().totals.published > 3, 20_000);
  t.equal(healthy.worker.stuck, null, 'a worker whose frames are published is not stuck');
  await healthy.worker.shutdown();

  // Act
  const { worker } = await stack.start(
    'cut-off',
    { failoverTimeMillis: 1500, healthCheckStallFactor: 2, publishTimeoutMillis: 500 },
    { kinesis: blackHole },
  );

  // Assess
  await until('frames waiting to be published', () => worker.stats().inFlight > 0, 20_000);
  t.equal(worker.stuck, null, 'not stuck at once');
  await until('stuck', () => worker.stuck !== null, 20_000);
  t.match(worker.stuck, /no progress for \d+ ms \(limit 3000\)/, `stuck: ${worker.stuck}`);
  t.match(worker.view().stuck, /^no progress for \d+ ms/, 'the view (and so /healthz) says it');
});
