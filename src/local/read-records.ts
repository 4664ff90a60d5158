// Reads back everything a Kinesis data stream holds, shard by shard, oldest first: how the demo and
// the end-to-end tests see what the workers published.

import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';

/** The data of every record in `streamName`, in each shard's order (shards one after another). */
export async function readAllRecords(client: KinesisClient, streamName: string): Promise<Uint8Array[]> {
  const data: Uint8Array[] = [];
  const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: streamName }));
  for (const shard of Shards) {
    let { ShardIterator: iterator } = await client.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
    while (iterator) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      for (const record of records) data.push(record.Data!);
      // An empty page, or one that reaches the tip, means everything written so far has been read.
      if (records.length === 0 || page.MillisBehindLatest === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return data;
}
