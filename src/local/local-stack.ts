// The whole local stack on 127.0.0.1: the KVS-compatible media server fed from files, the model
// server, and the DynamoDB and Kinesis emulators; with the environment that points the AWS SDK at it.

import { CreateStreamCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { kinesisClient } from '../aws/clients.js';
import { KvsInferError } from '../errors.js';
import { demoClip } from './demo-clip.js';
import { Emulator } from './emulator.js';
import { FileSource, KvsServer } from './kvs/index.js';
import { type FaultConfig, ModelServer } from './model/index.js';

export interface LocalStreamSpec {
  name: string;
  /** An MKV or MP4 file with H.264/H.265 video; replayed in real time (or faster, see `rate`). */
  file: string;
  tags?: Record<string, string>;
}

export interface LocalStackOptions {
  /** Streams to serve; none: the demo clip as stream `demo`, looping. */
  streams?: LocalStreamSpec[];
  /** Start each file over at its end. Default false (true for the demo clip). */
  loop?: boolean;
  /** Media seconds per second (1 = live), or 'max' for as fast as possible. Default 1. */
  rate?: number | 'max';
  ports?: { kvs?: number; model?: number; dynamodb?: number; kinesis?: number };
  host?: string;
  /**
   * A built-in model, or the URL of your own model container (its /ping checked at start, each invocation forwarded).
   * Default detector.
   */
  model?: 'detector' | 'fixed' | URL;
  /** Delay of each `fixed` answer, ms. */
  fixedLatencyMs?: number;
  /** Size each `fixed` answer is padded to, bytes. */
  fixedAnswerBytes?: number;
  faults?: FaultConfig | string;
  /** Kinesis data streams to create, for results. */
  dataStreams?: string[];
  /** Chance, [0, 1), that the Kinesis emulator rejects each record of a PutRecords call (throttling); default 0. */
  kinesisPutRecordsFailureRate?: number;
  /** Keep DynamoDB and Kinesis data in this directory instead of in memory. */
  dataDir?: string;
  /** Where the demo clip is cached. */
  cacheDir?: string;
  /** Called when a replay fails (an unreadable file, say); the rest of the stack goes on. */
  onReplayError?: (stream: string, error: Error) => void;
}

/** Region and dummy credentials of the local stack: the SDK needs some, nothing checks them. */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** The AWS SDK's standard variables that point every client kvs-infer uses at local servers at these URLs. */
export function localEnv(urls: {
  kvs: string;
  model: string;
  dynamodb: string;
  kinesis: string;
}): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    // boto3 and the AWS CLI read this one, not AWS_REGION.
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_KINESIS_VIDEO: urls.kvs,
    // GetMedia and the archived-media calls go to the URL GetDataEndpoint answers; these cover clients built
    // without it.
    AWS_ENDPOINT_URL_KINESIS_VIDEO_MEDIA: urls.kvs,
    AWS_ENDPOINT_URL_KINESIS_VIDEO_ARCHIVED_MEDIA: urls.kvs,
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: urls.model,
    AWS_ENDPOINT_URL_DYNAMODB: urls.dynamodb,
    AWS_ENDPOINT_URL_KINESIS: urls.kinesis,
  };
}

export class LocalStack implements AsyncDisposable {
  readonly kvs: KvsServer;
  readonly model: ModelServer;
  readonly dynamodb: Emulator;
  readonly kinesis: Emulator;
  readonly streams: readonly LocalStreamSpec[];
  /** Settles once every replay has ended: never while one loops; a failed replay counts as ended. */
  replayed: Promise<void> = Promise.resolve();

  private constructor(
    kvs: KvsServer,
    model: ModelServer,
    dynamodb: Emulator,
    kinesis: Emulator,
    streams: LocalStreamSpec[],
  ) {
    this.kvs = kvs;
    this.model = model;
    this.dynamodb = dynamodb;
    this.kinesis = kinesis;
    this.streams = streams;
  }

  static async start(options: LocalStackOptions = {}): Promise<LocalStack> {
    const host = options.host ?? '127.0.0.1';
    const demo = options.streams === undefined || options.streams.length === 0;
    const streams = demo ? [{ name: 'demo', file: await demoClip(options.cacheDir) }] : options.streams!;
    // Open every file before anything listens, so a bad one fails the start with its name.
    const sources = await Promise.all(streams.map((s) => FileSource.open(s.file)));
    const started: { close(): Promise<void> }[] = [];
    try {
      const kvs = await KvsServer.create({ port: options.ports?.kvs, host });
      started.push(kvs);
      const model = await ModelServer.create({
        port: options.ports?.model,
        host,
        backend: options.model ?? 'detector',
        fixedLatencyMs: options.fixedLatencyMs,
        fixedAnswerBytes: options.fixedAnswerBytes,
        faults: options.faults,
      });
      started.push(model);
      const dynamodb = await Emulator.start('dynamodb', {
        port: options.ports?.dynamodb,
        host,
        path: options.dataDir && `${options.dataDir}/dynamodb`,
      });
      started.push(dynamodb);
      const kinesis = await Emulator.start('kinesis', {
        port: options.ports?.kinesis,
        host,
        path: options.dataDir && `${options.dataDir}/kinesis`,
        putRecordsFailureRate: options.kinesisPutRecordsFailureRate,
      });
      started.push(kinesis);
      const stack = new LocalStack(kvs, model, dynamodb, kinesis, streams);
      await stack.#createDataStreams(options.dataStreams ?? []);
      const replays = streams.map((spec, i) => {
        // Archived, as the consumer Lambda's GetMediaForFragmentList needs (retention 0 archives nothing); an hour
        // bounds what a looping replay holds.
        kvs.createStream(spec.name, { tags: spec.tags, retentionHours: 1 });
        return kvs
          .replayFile(spec.name, sources[i]!, { rate: options.rate ?? 1, loop: options.loop ?? demo })
          .catch((error: Error) => options.onReplayError?.(spec.name, error));
      });
      stack.replayed = Promise.all(replays).then(() => undefined);
      return stack;
    } catch (error) {
      await Promise.allSettled(started.map((s) => s.close()));
      throw error;
    }
  }

  /** The AWS SDK's standard variables that point every client kvs-infer uses at this stack. */
  get env(): Record<string, string> {
    return localEnv({
      kvs: this.kvs.url,
      model: this.model.url,
      dynamodb: this.dynamodb.url,
      kinesis: this.kinesis.url,
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.kvs.close(), this.model.close(), this.dynamodb.close(), this.kinesis.close()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #createDataStreams(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const client = kinesisClient({ endpoint: this.kinesis.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    try {
      for (const name of names) {
        try {
          await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
        } catch (error) {
          // On disk, the stream may be there from an earlier run.
          if ((error as Error).name !== 'ResourceInUseException') throw error;
        }
        await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: name });
      }
    } catch (error) {
      throw new KvsInferError(
        'LOCAL_STACK_FAILED',
        `creating the Kinesis data streams ${names.join(', ')}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
