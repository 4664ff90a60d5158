// Fixtures of the Lambda consumer tests: records a real worker published (local stack, one worker in
// this process, as `kvs-infer demo` runs them), the Lambda event they make, a local S3, and log capture.

import { createRequire } from 'node:module';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { AV_LOG_ERROR } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { Worker, type LogRecord } from '../../src/actors/index.js';
import { dynamoDbClient, kinesisClient, kinesisVideoClient, kinesisVideoMediaClient, sageMakerRuntimeClient } from '../../src/aws/clients.js';
import { parseConfig, systemEnvironment } from '../../src/config/index.js';
import { demoClip, LOCAL_CREDENTIALS, LOCAL_REGION, LocalStack } from '../../src/local/index.js';

/** A record as GetRecords returns it. */
export interface RawRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
  arrival: Date;
}

export interface Published {
  stack: LocalStack;
  streams: string[];
  dataStream: string;
  records: RawRecord[];
  workerLogs: LogRecord[];
}

/** Starts the local stack on the demo clip, lets one worker publish every I-frame of every stream, and reads the records back. */
export async function publishWithWorker(options: { streams: string[]; model: 'detector' | 'fixed'; timeoutMs: number }): Promise<Published> {
  Log.setLevel(AV_LOG_ERROR);
  const dataStream = 'kvs-infer-lambda-test-results';
  const clip = await demoClip();
  const stack = await LocalStack.start({ streams: options.streams.map((name) => ({ name, file: clip })), loop: false, rate: 'max', model: options.model, dataStreams: [dataStream] });
  const client = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const clients = {
    dynamodb: dynamoDbClient({ ...client, endpoint: stack.dynamodb.url }),
    kinesisVideo: kinesisVideoClient({ ...client, endpoint: stack.kvs.url }),
    sageMakerRuntime: sageMakerRuntimeClient({ ...client, endpoint: stack.model.url }),
    kinesis: kinesisClient({ ...client, endpoint: stack.kinesis.url }),
  };
  const media = kinesisVideoMediaClient({ ...client, endpoint: stack.kvs.url });
  try {
    const { config } = parseConfig(
      {
        streamNames: options.streams,
        sageMakerEndpoint: 'kvs-infer-lambda-test',
        kdsStreamName: dataStream,
        inferenceInterval: 1,
        appName: 'kvs-infer-lambda-test',
        workerId: 'lambda-test-worker',
        startSelectorType: 'EARLIEST',
        checkpointIntervalMillis: 1000,
        statsIntervalMillis: 0,
        metricsIntervalMillis: 0,
      },
      { environment: systemEnvironment() },
    );
    const workerLogs: LogRecord[] = [];
    const worker = await Worker.start({ config, ...clients, mediaClient: () => media, log: (record) => workerLogs.push(record) });
    try {
      let replayed = false;
      void stack.replayed.then(() => (replayed = true));
      const served = (name: string) => stack.kvs.streamLog(name).list({ type: 'SERVER_TIMESTAMP', start: 0, end: Number.MAX_SAFE_INTEGER }).reduce((n, f) => n + f.keyframes, 0);
      const deadline = Date.now() + options.timeoutMs;
      for (;;) {
        const counters = worker.streamCounters();
        if (replayed && worker.stats().inFlight === 0 && options.streams.every((s) => counters.get(s)?.keyframes === served(s) && counters.get(s)?.published === served(s))) break;
        if (Date.now() > deadline) throw new Error(`the worker did not publish every I-frame within ${options.timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await worker.shutdown();
    }
    const records = await readRawRecords(clients.kinesis, dataStream);
    return { stack, streams: options.streams, dataStream, records, workerLogs };
  } catch (error) {
    await stack.close();
    throw error;
  } finally {
    for (const c of [...Object.values(clients), media]) c.destroy();
  }
}

/** Every record of the stream with what Lambda's event carries of it (readAllRecords keeps the data only). */
export async function readRawRecords(client: KinesisClient, streamName: string): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: streamName }));
  for (const shard of Shards) {
    let { ShardIterator: iterator } = await client.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
    while (iterator) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      for (const r of records) out.push({ shardId: shard.ShardId!, sequenceNumber: r.SequenceNumber!, partitionKey: r.PartitionKey!, data: r.Data!, arrival: r.ApproximateArrivalTimestamp! });
      if (records.length === 0 || page.MillisBehindLatest === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

const ACCOUNT = '123456789012';

/** One record as Lambda's Kinesis event source delivers it. */
export function kinesisEventRecord(raw: RawRecord, dataStream: string): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: raw.partitionKey,
      sequenceNumber: raw.sequenceNumber,
      data: Buffer.from(raw.data).toString('base64'),
      approximateArrivalTimestamp: raw.arrival.getTime() / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${raw.shardId}:${raw.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/kvs-infer-consumer`,
    awsRegion: LOCAL_REGION,
    eventSourceARN: `arn:aws:kinesis:${LOCAL_REGION}:${ACCOUNT}:stream/${dataStream}`,
  };
}

export function kinesisEvent(records: RawRecord[], dataStream: string): KinesisStreamEvent {
  return { Records: records.map((r) => kinesisEventRecord(r, dataStream)) };
}

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** The only key pair s3rver knows; the rest of the local stack takes any credentials, so the handler's environment uses this one. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** s3rver on 127.0.0.1 with its files in `directory` and `buckets` created; it checks signatures (made with S3RVER_CREDENTIALS). */
export async function startS3(directory: string, buckets: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name, configs: [] })) });
  const { port } = await server.run();
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

/** The JSON lines written to stdout while `run` runs (Lambda sends stdout to CloudWatch Logs); other output passes through. */
export async function captureLogLines<T>(run: () => Promise<T>): Promise<{ value: T; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const passThrough: string[] = [];
    for (const line of text.split('\n').filter((l) => l !== '')) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        passThrough.push(line);
      }
    }
    if (passThrough.length > 0) return (write as (...args: unknown[]) => boolean).call(process.stdout, `${passThrough.join('\n')}\n`, ...rest);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { value: await run(), lines };
  } finally {
    process.stdout.write = write;
  }
}
