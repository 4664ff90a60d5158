// Reads the results data stream incrementally: each call fetches only what was published since the last
// one (a shard iterator kept per shard), so that polling it every second during a long scenario does not
// load the in-process Kinesis emulator, which the workers under test share. The model's answers are not kept: a
// scenario publishes tens of thousands of records, and holding them whole (the answer twice in each) filled the test
// process's heap.

import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { InferenceRecord } from '../../src/actors/pipeline/inference-record.js';
import { kinesisClient } from '../../src/aws/clients.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/local/index.js';

/**
 * Records per GetRecords: a scenario's records can be large (32 KiB answers make 75 KiB records), and the emulator
 * builds a whole page at once, on the event loop the workers' PutRecords wait on.
 */
const PAGE = 200;
/** The emulator, loaded by the workers under test, can take seconds for a page; this reader is not what is tested. */
const READ_TIMEOUT_MS = 60_000;

/** A record as read back: everything but the model's answer (`result`, and KIT's `sageMakerOutput`). */
export type PublishedRecord = Omit<InferenceRecord, 'result' | 'sageMakerOutput'>;

export class ResultsReader {
  readonly #client: KinesisClient;
  readonly #streamName: string;
  /** Next iterator of each shard; empty until the stream exists. */
  readonly #iterators = new Map<string, string>();
  /** Sequence number of the last record read from each shard. */
  readonly #lastSequence = new Map<string, string>();
  readonly #records: PublishedRecord[] = [];
  #reading: Promise<PublishedRecord[]> | null = null;

  constructor(endpoint: string, streamName: string) {
    this.#client = kinesisClient({
      endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      requestTimeoutMs: READ_TIMEOUT_MS,
    });
    this.#streamName = streamName;
  }

  /**
   * Every record published so far, in shard order; none while the stream does not exist. Concurrent calls share one
   * read.
   */
  records(): Promise<PublishedRecord[]> {
    this.#reading ??= this.#read().finally(() => (this.#reading = null));
    return this.#reading;
  }

  close(): void {
    this.#client.destroy();
  }

  async #read(): Promise<PublishedRecord[]> {
    if (this.#iterators.size === 0 && !(await this.#open())) return [];
    for (const shard of this.#iterators.keys()) {
      for (;;) {
        const page = await this.#page(shard);
        const records = page.Records ?? [];
        for (const r of records) {
          const { result: _, sageMakerOutput: __, ...kept } = JSON.parse(Buffer.from(r.Data!).toString('utf8'));
          this.#records.push(kept as PublishedRecord);
        }
        if (records.length > 0) this.#lastSequence.set(shard, records.at(-1)!.SequenceNumber!);
        if (page.NextShardIterator) this.#iterators.set(shard, page.NextShardIterator);
        // The emulator answers a full page while more records follow, a short one at the tip (its MillisBehindLatest
        // is always 0, so it cannot tell).
        if (records.length < PAGE || !page.NextShardIterator) break;
      }
    }
    return [...this.#records];
  }

  /**
   * The next page of `shard`; an iterator left unused for 5 minutes (expired) is replaced by one after the last record
   * read.
   */
  async #page(shard: string): Promise<GetRecordsCommandOutput> {
    try {
      return await this.#client.send(new GetRecordsCommand({ ShardIterator: this.#iterators.get(shard), Limit: PAGE }));
    } catch (error) {
      if ((error as Error).name !== 'ExpiredIteratorException') throw error;
      const last = this.#lastSequence.get(shard);
      const { ShardIterator } = await this.#client.send(
        new GetShardIteratorCommand({
          StreamName: this.#streamName,
          ShardId: shard,
          ...(last === undefined
            ? { ShardIteratorType: 'TRIM_HORIZON' }
            : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: last }),
        }),
      );
      this.#iterators.set(shard, ShardIterator!);
      return this.#client.send(new GetRecordsCommand({ ShardIterator, Limit: PAGE }));
    }
  }

  /** Iterators at the start of every shard; false while the stream does not exist. */
  async #open(): Promise<boolean> {
    try {
      const { Shards = [] } = await this.#client.send(new ListShardsCommand({ StreamName: this.#streamName }));
      for (const shard of Shards) {
        const { ShardIterator } = await this.#client.send(
          new GetShardIteratorCommand({
            StreamName: this.#streamName,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        this.#iterators.set(shard.ShardId!, ShardIterator!);
      }
      return this.#iterators.size > 0;
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') return false;
      throw error;
    }
  }
}
