// Reads back everything a Kinesis data stream holds, shard by shard, oldest first: how the demo and
// the tests see what the workers published.

import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';

export interface StoredRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
  arrival: Date;
}

/** Every record in `streamName`, in each shard's order (shards one after another). */
export async function readAllRecords(client: KinesisClient, streamName: string): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: streamName }));
  for (const shard of Shards) {
    let { ShardIterator: iterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    while (iterator) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      for (const r of records)
        out.push({
          shardId: shard.ShardId!,
          sequenceNumber: r.SequenceNumber!,
          partitionKey: r.PartitionKey!,
          data: r.Data!,
          arrival: r.ApproximateArrivalTimestamp!,
        });
      // An empty page, or one that reaches the tip, means everything written so far has been read.
      if (records.length === 0 || page.MillisBehindLatest === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

/** The records' data as JSON documents. */
export const parseRecords = <T>(records: StoredRecord[]): T[] =>
  records.map((r) => JSON.parse(Buffer.from(r.data).toString('utf8')) as T);
