// The DynamoDB and Kinesis emulators answer the real SDK clients: conditional writes, records, disk mode.

import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  GetItemCommand,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import t from 'tap';
import { dynamoDbClient, kinesisClient } from '../../src/aws/clients.js';
import { Emulator } from '../../src/local/emulator.js';

const local = (endpoint: string) => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});

async function createLeaseTable(url: string) {
  const client = dynamoDbClient(local(url));
  await client.send(
    new CreateTableCommand({
      TableName: 'leases',
      KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: 'leases' });
  return client;
}

t.test(
  'DynamoDB: a conditional write on the lease counter succeeds once, then fails with ConditionalCheckFailedException',
  async (t) => {
    // Prepare
    const emulator = await Emulator.start('dynamodb');
    t.teardown(() => emulator.close());
    const client = await createLeaseTable(emulator.url);
    const take = (counter: number) =>
      client.send(
        new PutItemCommand({
          TableName: 'leases',
          Item: {
            leaseKey: { S: 'stream-a' },
            leaseOwner: { S: 'worker-1' },
            leaseCounter: { N: String(counter + 1) },
          },
          ConditionExpression: 'attribute_not_exists(leaseKey) OR leaseCounter = :c',
          ExpressionAttributeValues: { ':c': { N: String(counter) } },
        }),
      );

    // Act
    await take(0);
    const stale = take(0);

    // Assess
    await t.rejects(stale, ConditionalCheckFailedException);
    const item = await client.send(new GetItemCommand({ TableName: 'leases', Key: { leaseKey: { S: 'stream-a' } } }));
    t.same(item.Item?.leaseCounter, { N: '1' });
  },
);

t.test('DynamoDB: on disk, a table survives a restart', async (t) => {
  const path = t.testdir();
  const first = await Emulator.start('dynamodb', { path });
  await createLeaseTable(first.url);
  await first.close();
  const second = await Emulator.start('dynamodb', { path });
  t.teardown(() => second.close());
  const client = dynamoDbClient(local(second.url));
  await client.send(new PutItemCommand({ TableName: 'leases', Item: { leaseKey: { S: 'k' } } }));
  const item = await client.send(new GetItemCommand({ TableName: 'leases', Key: { leaseKey: { S: 'k' } } }));
  t.same(item.Item, { leaseKey: { S: 'k' } });
});

t.test('Kinesis: a record put is read back from its shard', async (t) => {
  // Prepare
  const emulator = await Emulator.start('kinesis');
  t.teardown(() => emulator.close());
  const client = kinesisClient(local(emulator.url));
  await client.send(new CreateStreamCommand({ StreamName: 'results', ShardCount: 1 }));

  // Act
  const put = await client.send(
    new PutRecordCommand({ StreamName: 'results', PartitionKey: 'camera-1', Data: Buffer.from('{"version":1}') }),
  );
  const shards = await client.send(new ListShardsCommand({ StreamName: 'results' }));
  const iterator = await client.send(
    new GetShardIteratorCommand({
      StreamName: 'results',
      ShardId: shards.Shards![0]!.ShardId!,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const records = await client.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator! }));

  // Assess
  t.ok(put.SequenceNumber);
  t.equal(records.Records?.length, 1);
  t.equal(Buffer.from(records.Records![0]!.Data!).toString(), '{"version":1}');
  t.equal(records.Records![0]!.PartitionKey, 'camera-1');
});

t.test('Kinesis: on disk, a stream and its records survive a restart', async (t) => {
  const path = t.testdir();
  const first = await Emulator.start('kinesis', { path });
  const before = kinesisClient(local(first.url));
  await before.send(new CreateStreamCommand({ StreamName: 'results', ShardCount: 1 }));
  await before.send(new PutRecordCommand({ StreamName: 'results', PartitionKey: 'k', Data: Buffer.from('kept') }));
  await first.close();

  const second = await Emulator.start('kinesis', { path });
  t.teardown(() => second.close());
  const client = kinesisClient(local(second.url));
  const shards = await client.send(new ListShardsCommand({ StreamName: 'results' }));
  const iterator = await client.send(
    new GetShardIteratorCommand({
      StreamName: 'results',
      ShardId: shards.Shards![0]!.ShardId!,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const records = await client.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator! }));
  t.same(
    records.Records?.map((r) => Buffer.from(r.Data!).toString()),
    ['kept'],
  );
});

t.test('a client that leaves mid-request does not bring the process down; the emulators go on answering', async (t) => {
  for (const kind of ['dynamodb', 'kinesis'] as const) {
    // Prepare
    const emulator = await Emulator.start(kind);
    t.teardown(() => emulator.close());
    const { hostname, port } = new URL(emulator.url);

    // Act: a request that promises 1000 bytes of body, sends 10 and leaves
    const socket = connect(Number(port), hostname);
    await once(socket, 'connect');
    socket.write(
      `POST / HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: ` +
        `1000\r\n\r\n{"Table":`,
    );
    await sleep(100);
    socket.destroy();
    await sleep(100);

    // Assess: an uncaught "aborted" would have failed the test; the emulator still answers
    const answered = kind === 'dynamodb' ? await createLeaseTable(emulator.url) : kinesisClient(local(emulator.url));
    if (kind === 'kinesis')
      await (answered as ReturnType<typeof kinesisClient>).send(
        new CreateStreamCommand({ StreamName: 'after', ShardCount: 1 }),
      );
    answered.destroy();
    t.pass(`${kind}: answered after the client left`);
  }
});
