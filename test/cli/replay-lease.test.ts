// `kvs-infer replay` beside a live worker of the same application: it takes no lease and leaves the lease
// table as the worker keeps it, and its records are told apart from the worker's.

import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import t from 'tap';
import type { LogRecord } from '../../src/actors/index.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalWorker } from '../../src/local/index.js';
import { until } from '../../src/local/worker-cluster.js';
import { logLines, producerTimestamps, RESULTS, replayStack, runReplayCli, STREAM } from './replay-stack.js';

const APP = 'replay-lease-app';

t.test("a replay of a stream a live worker reads leaves that worker's lease as it is", async (t) => {
  // Prepare: the clip looping in real time, read by a live worker of APP
  const { stack, config, records, dir } = await replayStack(t, 4, { rate: 1, loop: true });
  const lines: LogRecord[] = [];
  const document = {
    streamNames: [STREAM],
    sageMakerEndpoint: 'live-model',
    kdsStreamName: RESULTS,
    appName: APP,
    decodeThreadPoolSize: 1,
    checkpointIntervalMillis: 0,
  };
  const live = await startLocalWorker(stack, document, (line) => lines.push(line));
  t.teardown(async () => {
    await live.worker.shutdown();
    live.close();
  });
  const dynamodb = new DynamoDBClient({
    endpoint: stack.dynamodb.url,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  t.teardown(() => dynamodb.destroy());
  const leases = async () => {
    const { Items = [] } = await dynamodb.send(new ScanCommand({ TableName: APP, ConsistentRead: true }));
    return new Map(Items.map((item) => [item.leaseKey!.S!, item]));
  };
  await until('the live worker reads the stream', () => live.worker.streams.includes(STREAM), 120_000);
  await until('ten fragments in the stream', () => producerTimestamps(stack).length >= 10, 120_000);
  const times = producerTimestamps(stack);
  const before = await leases();
  const file = await config({ appName: APP, sageMakerEndpoint: 'new-model', inferenceInterval: 1 });

  // Act: the worker's configuration, another model, the stream's first ten fragments
  const run = await runReplayCli(
    stack,
    ['replay', '--config', file, '--stream', STREAM, '--start', `${times[0]}`, '--end', `${times[9]}`],
    dir,
  ).exited;
  const after = await leases();

  // Assess
  t.equal(run.code, 0, `the replay exits 0 (stderr: ${run.stderr})`);
  t.match(logLines(run.stdout, 'replay-done'), [{ fragmentsDone: 10, complete: true }]);
  t.same([...after.keys()].sort(), [...before.keys()].sort(), 'no item added to the lease table, none removed');
  const lease = (items: typeof before) => items.get(STREAM);
  t.equal(lease(after)?.leaseOwner?.S, live.worker.workerId, 'the lease is still the live worker');
  t.equal(lease(before)?.leaseOwner?.S, live.worker.workerId, 'as it was');
  t.ok(live.worker.streams.includes(STREAM), 'the worker still reads the stream');
  t.same(
    lines.filter((line) => line.event === 'lost'),
    [],
    'and never lost its lease',
  );
  t.equal(lines.filter((line) => line.event === 'acquired').length, 1, 'nor took it again');
  const published = await records();
  const replayed = published.filter((r) => r.replay === true);
  t.equal(replayed.length, 10, 'the replay published a record per fragment of the range');
  t.ok(
    replayed.every((r) => r.endpoint === 'new-model'),
    'from the model it was given',
  );
  const liveRecords = published.filter((r) => r.endpoint === 'live-model');
  t.ok(liveRecords.length > 0, 'the live worker published too');
  t.ok(
    liveRecords.every((r) => !('replay' in r)),
    'its records carry no replay field',
  );
});
