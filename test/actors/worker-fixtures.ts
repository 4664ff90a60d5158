// Shared set-up of the worker tests: a KVS server, the DynamoDB and Kinesis emulators, a `fixed`
// model server, synthetic fragments (whose frames do not decode: each sampled one is published as a
// decode failure), and workers whose JSON log lines are kept, since that is how the tests observe them.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, type KinesisClient, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import type { Clock } from '../../src/actors/clock.js';
import type { LogRecord } from '../../src/actors/logger.js';
import { Worker, type WorkerConfig } from '../../src/actors/worker.js';
import { dynamoDbClient, kinesisClient, sageMakerRuntimeClient } from '../../src/aws/clients.js';
import { CONFIG_DEFAULTS } from '../../src/config/index.js';
import { Emulator } from '../../src/local/emulator.js';
import { KvsServer } from '../../src/local/kvs/index.js';
import type { FragmentInput } from '../../src/local/kvs/types.js';
import { ModelServer } from '../../src/local/model/index.js';
import { simpleBlock } from '../helpers/ebml-builder.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

const CREDENTIALS = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

export function fragment(i: number): FragmentInput {
  const blocks = Buffer.concat([
    simpleBlock(1, 0, true, Buffer.from(`f${i}-0`)),
    simpleBlock(1, 33, false, Buffer.from(`f${i}-1`)),
  ]);
  return {
    producerTimestamp: 1_700_000_000_000 + i * 1000,
    durationMs: 1000,
    tracks: [{ number: 1, type: 1, codecId: 'V_MPEG4/ISO/AVC', codecPrivate: Uint8Array.of(1), width: 64, height: 48 }],
    blocks,
    frames: 2,
    keyframes: 1,
  };
}

export interface TestWorker {
  worker: Worker;
  records: LogRecord[];
  /** Fragment numbers this worker logged as read, by stream, in order. */
  reads(stream: string): string[];
}

export interface WorkerStack {
  kvs: KvsServer;
  /** The workers' DynamoDB client (a test may add middleware to it). */
  dynamodb: DynamoDBClient;
  /** A client of the Kinesis emulator the results go to. */
  kinesis: KinesisClient;
  streams: string[];
  /** Appends one synthetic fragment to every stream, returning their fragment numbers by stream. */
  appendAll(): Record<string, string>;
  /** Fragment numbers appended to `stream` so far, in order. */
  appended(stream: string): string[];
  /** Appends to every stream every `ms` until the test ends. */
  feed(ms: number): void;
  /** `kinesis` replaces the workers' Kinesis client (e.g. one aimed at a black hole); `clock` the system clock. */
  start(
    workerId: string,
    config?: Partial<WorkerConfig>,
    clients?: { kinesis?: KinesisClient; clock?: Clock },
  ): Promise<TestWorker>;
}

export async function workerStack(
  t: Teardown,
  streamCount: number,
  defaults: Partial<WorkerConfig> = {},
): Promise<WorkerStack> {
  const kvs = await KvsServer.create();
  const dynamodb = await Emulator.start('dynamodb');
  const kinesisEmulator = await Emulator.start('kinesis');
  const model = await ModelServer.create({ backend: 'fixed' });
  const ddb = dynamoDbClient({ endpoint: dynamodb.url, ...CREDENTIALS });
  const control = new KinesisVideoClient({ endpoint: kvs.url, ...CREDENTIALS });
  const kinesis = kinesisClient({ endpoint: kinesisEmulator.url, ...CREDENTIALS });
  const sageMakerRuntime = sageMakerRuntimeClient({ endpoint: model.url, ...CREDENTIALS });
  await kinesis.send(new CreateStreamCommand({ StreamName: 'results', ShardCount: 1 }));
  await waitUntilStreamExists(
    { client: kinesis, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
    { StreamName: 'results' },
  );
  const mediaClients: KinesisVideoMediaClient[] = [];
  const workers: Worker[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];
  t.teardown(async () => {
    for (const timer of timers) clearInterval(timer);
    await Promise.allSettled(workers.map((w) => w.shutdown()));
    for (const client of [ddb, control, kinesis, sageMakerRuntime, ...mediaClients]) client.destroy();
    await Promise.allSettled([kvs.close(), dynamodb.close(), kinesisEmulator.close(), model.close()]);
  });
  const streams = Array.from({ length: streamCount }, (_, i) => `cam-${i}`);
  for (const name of streams) kvs.createStream(name);
  const appended = new Map<string, string[]>(streams.map((s) => [s, []]));
  let count = 0;
  const appendAll = () => {
    const i = count++;
    const numbers = streams.map((s) => [s, kvs.streamLog(s).append(fragment(i)).fragmentNumber] as const);
    for (const [s, number] of numbers) appended.get(s)!.push(number);
    return Object.fromEntries(numbers);
  };
  return {
    kvs,
    dynamodb: ddb,
    kinesis,
    streams,
    appendAll,
    appended: (stream) => [...appended.get(stream)!],
    feed: (ms) => void timers.push(setInterval(appendAll, ms)),
    async start(workerId, config = {}, clients = {}) {
      const records: LogRecord[] = [];
      const worker = await Worker.start({
        config: {
          // The shipped defaults under the tests' own timings.
          ...CONFIG_DEFAULTS,
          appName: 'kvs-infer-test',
          workerId,
          streamNames: streams,
          tagFilters: [],
          failoverTimeMillis: 1500,
          maxLeasesPerWorker: undefined,
          discoveryIntervalMillis: 1000,
          shutdownTimeoutMillis: 5000,
          checkpointIntervalMillis: 0,
          getMediaReconnectBaseMillis: 100,
          getMediaReconnectMaxMillis: 1000,
          startSelectorType: 'EARLIEST',
          sageMakerEndpoint: 'test-endpoint',
          endPointAcceptContentType: 'image/jpeg',
          kdsStreamName: 'results',
          inferenceInterval: 1,
          sageMakerTaskQueueSize: 50,
          sageMakerTaskThreadPoolSize: 4,
          sageMakerTaskTimeoutInMilli: 2000,
          sageMakerTaskMaxAttempts: 2,
          sageMakerTaskRetryBudgetMillis: 10_000,
          sageMakerTaskQueueBytes: 64 * 1024 * 1024,
          publishTimeoutMillis: 2000,
          getMediaIdleTimeoutMillis: 5000,
          missingStreamRetryMaxMillis: 5000,
          healthCheckStallFactor: 6,
          decodeThreadPoolSize: 1,
          imageWidth: undefined,
          imageHeight: undefined,
          jpegQuality: 80,
          queuePolicy: 'backpressure',
          publishFailedFrames: true,
          statsIntervalMillis: 0,
          metricsNamespace: 'KvsInferTest',
          metricsIntervalMillis: 0,
          getMediaPricePerGB: 0.0085,
          ...defaults,
          ...config,
        },
        dynamodb: ddb,
        kinesisVideo: control,
        sageMakerRuntime,
        kinesis: clients.kinesis ?? kinesis,
        ...(clients.clock ? { clock: clients.clock } : {}),
        mediaClient: (endpoint) => {
          const client = new KinesisVideoMediaClient({ endpoint, ...CREDENTIALS });
          mediaClients.push(client);
          return client;
        },
        // Stamped on arrival: both workers share this process's clock, so stamps order their events.
        log: (record) => void records.push({ ...record, at: performance.now() }),
      });
      workers.push(worker);
      const reads = (stream: string) =>
        records.filter((r) => r.event === 'fragment' && r.stream === stream).map((r) => r.fragmentNumber as string);
      return { worker, records, reads };
    },
  };
}

/** Polls `check` every 50 ms until it holds; fails naming `what` after `ms`. */
export async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
