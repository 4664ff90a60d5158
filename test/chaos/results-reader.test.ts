// The chaos suite's results reader: every record published, however many pages they take, across calls.

import { CreateStreamCommand, PutRecordsCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import t from 'tap';
import { kinesisClient } from '../../src/aws/clients.js';
import { Emulator, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/local/index.js';
import { ResultsReader } from './results-reader.js';

const STREAM = 'results';

t.test('reads every record, several pages of them, then only what came since', async (t) => {
  // Prepare
  const emulator = await Emulator.start('kinesis');
  t.teardown(() => emulator.close());
  const client = kinesisClient({ endpoint: emulator.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  t.teardown(() => client.destroy());
  await client.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
  await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: STREAM });
  const reader = new ResultsReader(emulator.url, STREAM);
  t.teardown(() => reader.close());
  const put = async (from: number, count: number) => {
    const records = Array.from({ length: count }, (_, i) => ({
      PartitionKey: 'k',
      Data: Buffer.from(JSON.stringify({ idempotencyKey: `r${from + i}` })),
    }));
    for (let i = 0; i < records.length; i += 500)
      await client.send(new PutRecordsCommand({ StreamName: STREAM, Records: records.slice(i, i + 500) }));
  };

  // Act
  await put(0, 450);
  const first = await reader.records();
  await put(450, 30);
  const second = await reader.records();

  // Assess
  t.equal(first.length, 450, 'more than two pages published before the first read: all of them read');
  t.same(
    second.map((r) => r.idempotencyKey),
    Array.from({ length: 480 }, (_, i) => `r${i}`),
    'the second read adds what came since, in order, once',
  );
});
