// The Kinesis emulator made to reject part of each PutRecords call: seeded rejections that the real SDK
// sees as throttled records, and exactly the accepted records in the stream.

import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import t from 'tap';
import { kinesisClient } from '../../src/aws/clients.js';
import { KvsInferError } from '../../src/errors.js';
import { Emulator } from '../../src/local/emulator.js';

const local = (endpoint: string) => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});

async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: name });
}

async function readAll(client: KinesisClient, name: string): Promise<string[]> {
  const shards = await client.send(new ListShardsCommand({ StreamName: name }));
  const data: string[] = [];
  for (const shard of shards.Shards ?? []) {
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({ StreamName: name, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    let iterator = ShardIterator;
    for (;;) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator! }));
      for (const record of page.Records ?? []) data.push(Buffer.from(record.Data!).toString());
      if ((page.Records ?? []).length === 0 || !page.NextShardIterator) break;
      iterator = page.NextShardIterator;
    }
  }
  return data;
}

t.test(
  'a PutRecords of 100 records loses about the failure rate to injected throttling, and only the accepted records land',
  async (t) => {
    // Prepare
    const emulator = await Emulator.start('kinesis', { putRecordsFailureRate: 0.3, seed: 42 });
    t.teardown(() => emulator.close());
    const client = kinesisClient(local(emulator.url));
    await createStream(client, 'results', 2);
    const records = Array.from({ length: 100 }, (_, i) => ({
      PartitionKey: `camera-${i % 7}`,
      Data: Buffer.from(`record-${i}`),
    }));

    // Act
    const output = await client.send(new PutRecordsCommand({ StreamName: 'results', Records: records }));

    // Assess
    const failed = output.Records!.flatMap((r, i) => (r.ErrorCode ? [i] : []));
    t.ok(failed.length >= 10 && failed.length <= 50, `about 30 of 100 rejected, got ${failed.length}`);
    t.equal(output.FailedRecordCount, failed.length);
    t.equal(emulator.injectedPutRecordFailures, failed.length);
    t.equal(output.Records!.length, 100);
    for (const i of failed) {
      t.equal(output.Records![i]!.ErrorCode, 'ProvisionedThroughputExceededException');
      t.match(output.Records![i]!.ErrorMessage, /Rate exceeded for shard .* in stream results .*\(injected\)/);
      t.equal(output.Records![i]!.SequenceNumber, undefined);
    }
    t.ok(
      output.Records!.every((r) => r.ErrorCode !== undefined || (r.SequenceNumber && r.ShardId)),
      'every accepted record has a sequence number and shard',
    );
    const accepted = records.filter((_, i) => !failed.includes(i)).map((r) => r.Data.toString());
    t.same((await readAll(client, 'results')).sort(), accepted.sort());
  },
);

t.test('the same seed rejects the same records', async (t) => {
  // Prepare
  const runs: number[][] = [];
  for (let run = 0; run < 2; run++) {
    const emulator = await Emulator.start('kinesis', { putRecordsFailureRate: 0.3, seed: 7 });
    t.teardown(() => emulator.close());
    const client = kinesisClient(local(emulator.url));
    await createStream(client, 'results', 1);

    // Act
    const output = await client.send(
      new PutRecordsCommand({
        StreamName: 'results',
        Records: Array.from({ length: 50 }, (_, i) => ({ PartitionKey: 'k', Data: Buffer.from(String(i)) })),
      }),
    );
    runs.push(output.Records!.flatMap((r, i) => (r.ErrorCode ? [i] : [])));
  }

  // Assess
  t.ok(runs[0]!.length > 0);
  t.same(runs[0], runs[1]);
});

t.test(
  'a call whose records are all rejected does not reach kinesalite, and other calls pass through untouched',
  async (t) => {
    // Prepare
    const emulator = await Emulator.start('kinesis', { putRecordsFailureRate: 0.5, seed: 3 });
    t.teardown(() => emulator.close());
    const client = kinesisClient(local(emulator.url));
    await createStream(client, 'results', 1);

    // Act
    const outcomes: boolean[] = [];
    for (let i = 0; i < 40; i++) {
      const output = await client.send(
        new PutRecordsCommand({
          StreamName: 'results',
          Records: [{ PartitionKey: 'k', Data: Buffer.from(`single-${i}`) }],
        }),
      );
      outcomes.push(output.FailedRecordCount === 0);
    }
    const single = await client.send(
      new PutRecordCommand({ StreamName: 'results', PartitionKey: 'k', Data: Buffer.from('put-record') }),
    );

    // Assess
    const landed = outcomes.flatMap((ok, i) => (ok ? [`single-${i}`] : []));
    t.ok(landed.length > 0 && landed.length < 40, `some of 40 single-record calls rejected, ${40 - landed.length}`);
    t.equal(emulator.injectedPutRecordFailures, 40 - landed.length);
    t.ok(single.SequenceNumber, 'PutRecord is not a PutRecords call: forwarded as is');
    t.same(await readAll(client, 'results'), [...landed, 'put-record']);
  },
);

t.test('an error of the whole call (no such stream) reaches the client as kinesalite gave it', async (t) => {
  // Prepare
  const emulator = await Emulator.start('kinesis', { putRecordsFailureRate: 0.1, seed: 1 });
  t.teardown(() => emulator.close());
  const client = kinesisClient(local(emulator.url));

  // Act
  const put = client.send(
    new PutRecordsCommand({
      StreamName: 'missing',
      Records: Array.from({ length: 20 }, (_, i) => ({ PartitionKey: 'k', Data: Buffer.from(String(i)) })),
    }),
  );

  // Assess
  await t.rejects(put, { name: 'ResourceNotFoundException' });
});

t.test('rate 0 is the plain emulator: nothing rejected', async (t) => {
  // Prepare
  const emulator = await Emulator.start('kinesis', { putRecordsFailureRate: 0, seed: 1 });
  t.teardown(() => emulator.close());
  const client = kinesisClient(local(emulator.url));
  await createStream(client, 'results', 1);

  // Act
  const output = await client.send(
    new PutRecordsCommand({
      StreamName: 'results',
      Records: Array.from({ length: 100 }, (_, i) => ({ PartitionKey: 'k', Data: Buffer.from(String(i)) })),
    }),
  );

  // Assess
  t.equal(output.FailedRecordCount, 0);
  t.equal(emulator.injectedPutRecordFailures, 0);
  t.equal((await readAll(client, 'results')).length, 100);
});

t.test('a failure rate outside [0, 1), or on the DynamoDB emulator, is a configuration error', async (t) => {
  // Act, Assess
  await t.rejects(
    Emulator.start('kinesis', { putRecordsFailureRate: 1 }),
    new KvsInferError('BAD_CONFIG', 'putRecordsFailureRate must be in [0, 1), got 1'),
  );
  await t.rejects(Emulator.start('kinesis', { putRecordsFailureRate: -0.1 }), { code: 'BAD_CONFIG' });
  await t.rejects(Emulator.start('kinesis', { putRecordsFailureRate: Number.NaN }), { code: 'BAD_CONFIG' });
  await t.rejects(Emulator.start('dynamodb', { putRecordsFailureRate: 0.2 }), {
    code: 'BAD_CONFIG',
    message: /kinesis emulator only/,
  });
});
