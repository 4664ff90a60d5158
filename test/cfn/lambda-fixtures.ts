// Fixtures of the consumer tests (the project's Lambda, a KIT-style one): records a real worker published
// (local stack, one worker in this process, as `kvs-infer demo` runs them), the Lambda event they make, a
// local S3, and log capture.

import { createRequire } from 'node:module';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { AV_LOG_ERROR } from 'node-av/constants';
import { Log } from 'node-av/lib';
import type { LogRecord } from '../../src/actors/index.js';
import {
  demoClip,
  LOCAL_REGION,
  LocalStack,
  readAllRecords,
  type StoredRecord,
  startLocalWorker,
  untilAllProcessed,
} from '../../src/local/index.js';

/** A record as GetRecords returns it. */
export type RawRecord = StoredRecord;

export interface Published {
  stack: LocalStack;
  streams: string[];
  dataStream: string;
  records: RawRecord[];
  workerLogs: LogRecord[];
}

export interface PublishOptions {
  streams: string[];
  model: 'detector' | 'fixed';
  timeoutMs: number;
  /** The `fixed` model's answers padded to this size, bytes. */
  fixedAnswerBytes?: number;
}

/**
 * Starts the local stack on the demo clip, lets one worker publish every I-frame of every stream, and reads the records
 * back.
 */
export async function publishWithWorker(options: PublishOptions): Promise<Published> {
  Log.setLevel(AV_LOG_ERROR);
  const dataStream = 'kvs-infer-lambda-test-results';
  const clip = await demoClip();
  const streams = options.streams.map((name) => ({ name, file: clip }));
  const { model, fixedAnswerBytes } = options;
  const stack = await LocalStack.start({
    streams,
    loop: false,
    rate: 'max',
    model,
    fixedAnswerBytes,
    dataStreams: [dataStream],
  });
  try {
    const workerLogs: LogRecord[] = [];
    const local = await startLocalWorker(
      stack,
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
      (record) => workerLogs.push(record),
    );
    try {
      const done = await untilAllProcessed(stack, local.worker, options.streams, options.timeoutMs);
      await local.worker.shutdown();
      if (!done) throw new Error(`the worker did not publish every I-frame within ${options.timeoutMs} ms`);
      const records = await readAllRecords(local.kinesis, dataStream);
      return { stack, streams: options.streams, dataStream, records, workerLogs };
    } finally {
      await local.worker.shutdown();
      local.close();
    }
  } catch (error) {
    await stack.close();
    throw error;
  }
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

/**
 * The only key pair s3rver knows; the rest of the local stack takes any credentials, so the handler's environment uses
 * this one.
 */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * s3rver on 127.0.0.1 with its files in `directory` and `buckets` created; it checks signatures (made with
 * S3RVER_CREDENTIALS).
 */
export async function startS3(
  directory: string,
  buckets: string[],
): Promise<{ url: string; close: () => Promise<void> }> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const { port } = await server.run();
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

/**
 * The JSON lines written to stdout while `run` runs (Lambda sends stdout to CloudWatch Logs); other output passes
 * through.
 */
export async function captureLogLines<T>(
  run: () => Promise<T>,
): Promise<{ value: T; lines: Record<string, unknown>[] }> {
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
    if (passThrough.length > 0)
      return (write as (...args: unknown[]) => boolean).call(process.stdout, `${passThrough.join('\n')}\n`, ...rest);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { value: await run(), lines };
  } finally {
    process.stdout.write = write;
  }
}
