// `kvs-infer replay`'s work: the fragments of a past range of one stream, read from the archive with
// GetMediaForFragmentList a batch at a time, through the live path (StreamPipeline over the frame pool, the
// inference dispatcher and the result publisher), with the records marked `replay: true`. It holds no lease
// and writes nothing to the lease table: its progress goes to its own file, fragment by fragment in order.

import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import {
  GetMediaForFragmentListCommand,
  type KinesisVideoArchivedMediaClient,
} from '@aws-sdk/client-kinesis-video-archived-media';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { systemClock } from '../actors/clock.js';
import { errorFields, type Logger, type LogLevel } from '../actors/logger.js';
import { InferenceDispatcher } from '../actors/pipeline/inference-dispatcher.js';
import { answered, counted, idleGuarded } from '../actors/pipeline/media-reader.js';
import { ResultPublisher } from '../actors/pipeline/result-publisher.js';
import { Slots } from '../actors/pipeline/slots.js';
import {
  type CompletedFragment,
  DECODE_STAGE_BYTES,
  imageRequest,
  StreamPipeline,
} from '../actors/pipeline/stream-pipeline.js';
import { backoffDelay } from '../aws/backoff.js';
import { DataEndpoints } from '../aws/data-endpoints.js';
import type { KvsInferConfig, PipelineConfig } from '../config/index.js';
import { compareFragmentNumbers, readMkv } from '../media/index.js';
import { MetricsRegistry, type StreamCounters, streamCounters } from '../metrics/index.js';
import { FramePool } from '../native/index.js';
import { ReplayError } from './errors.js';
import { type BatchLimits, batches, listRangeFragments, type RangeFragment } from './fragments.js';
import type { ProgressFile } from './progress-file.js';
import type { TimeRange } from './time-range.js';

export type ReplayConfig = PipelineConfig & Pick<KvsInferConfig, 'awsRequestTimeoutMillis'>;

export interface ReplayClients {
  kinesisVideo: KinesisVideoClient;
  /** The archived-media client for a GetDataEndpoint answer. */
  archivedMedia: (endpoint: string) => KinesisVideoArchivedMediaClient;
  /** Built with maxAttempts 1: the dispatcher owns retries. */
  sageMakerRuntime: SageMakerRuntimeClient;
  kinesis: KinesisClient;
}

export interface ReplayProgress {
  /** Fragments of the range done, over every run of this replay. */
  fragmentsDone: number;
  /** Fragments the range holds. */
  fragments: number;
  /** Records published by this run. */
  published: number;
  /** Bytes of media read by this run (what GetMediaForFragmentList bills). */
  bytesRead: number;
}

export interface ReplayOutcome extends ReplayProgress {
  /** Every fragment of the range is done. */
  complete: boolean;
  /** This run's pipeline counters. */
  counters: StreamCounters;
}

export interface ReplayOptions {
  config: ReplayConfig;
  streamName: string;
  range: TimeRange;
  clients: ReplayClients;
  progress: ProgressFile;
  batch: BatchLimits;
  log: Logger;
  onProgress?: (progress: ReplayProgress) => void;
  /**
   * Stops the replay: reading ends, the frames in flight are finished (within shutdownTimeoutMillis) and recorded
   * in the progress file, and the outcome is incomplete.
   */
  signal?: AbortSignal;
}

/** Consecutive reads of a batch that may fail without any fragment read to its end before the replay gives up. */
const MAX_BATCH_FAILURES = 6;

/** Runs the replay to its end (or until `signal`); resolves with what is done. */
export async function replay(options: ReplayOptions): Promise<ReplayOutcome> {
  const { config, streamName, range, clients, progress } = options;
  const timeoutMs = config.awsRequestTimeoutMillis;
  await checkDataStream(clients.kinesis, config.kdsStreamName, timeoutMs);
  const lister = clients.archivedMedia(
    await dataEndpoint(clients.kinesisVideo, streamName, 'LIST_FRAGMENTS', timeoutMs),
  );
  let fragments: RangeFragment[];
  try {
    fragments = await listRangeFragments(lister, streamName, range, timeoutMs);
  } catch (error) {
    throw failure(`ListFragments of stream ${streamName}`, error);
  }
  // Written before any media is read, so that a progress file that cannot be written fails the replay now.
  progress.save({});
  await progress.flush();
  const last = progress.state.lastFragment;
  const remaining = last === null ? fragments : fragments.slice(indexAfter(fragments, last));
  options.log({
    level: 'info',
    event: 'replay-start',
    stream: streamName,
    start: new Date(range.start).toISOString(),
    end: new Date(range.end).toISOString(),
    fragments: fragments.length,
    remaining: remaining.length,
    resumedAfter: last,
    progressFile: progress.path,
  });
  const run = new ReplayRun(options, fragments.length, fragments.length - remaining.length);
  if (remaining.length > 0) {
    const media = clients.archivedMedia(
      await dataEndpoint(clients.kinesisVideo, streamName, 'GET_MEDIA_FOR_FRAGMENT_LIST', timeoutMs),
    );
    await run.read(media, batches(remaining, options.batch));
  }
  const complete = fragments.length === 0 || progress.state.lastFragment === fragments.at(-1)!.fragmentNumber;
  progress.save({ complete });
  await progress.flush();
  return { ...run.progress, complete, counters: run.counters };
}

/** One run of a replay: its pipeline and the services under it, for the fragments left to do. */
class ReplayRun {
  readonly #options: ReplayOptions;
  readonly #metrics: MetricsRegistry;
  readonly #signal: AbortSignal;
  #fragmentsDone: number;
  readonly #fragments: number;
  #bytesRead = 0;

  constructor(options: ReplayOptions, fragments: number, done: number) {
    this.#options = options;
    this.#metrics = new MetricsRegistry({ appName: options.config.appName, workerId: options.config.workerId });
    this.#signal = options.signal ?? new AbortController().signal;
    this.#fragments = fragments;
    this.#fragmentsDone = done;
    options.onProgress?.(this.progress);
  }

  get progress(): ReplayProgress {
    const published = this.counters.published;
    return { fragmentsDone: this.#fragmentsDone, fragments: this.#fragments, published, bytesRead: this.#bytesRead };
  }

  get counters(): StreamCounters {
    return streamCounters(this.#metrics, this.#options.streamName);
  }

  /** Reads `work` batch by batch through one pipeline, then waits for the frames in flight (bounded once stopped). */
  async read(media: KinesisVideoArchivedMediaClient, work: RangeFragment[][]): Promise<void> {
    const { config, log, streamName, progress } = this.#options;
    const pool = await FramePool.create({ size: config.decodeThreadPoolSize });
    const dispatcher = new InferenceDispatcher({
      client: this.#options.clients.sageMakerRuntime,
      endpointName: config.sageMakerEndpoint,
      concurrency: config.sageMakerTaskThreadPoolSize,
      queueSize: config.sageMakerTaskQueueSize,
      timeoutMs: config.sageMakerTaskTimeoutInMilli,
      maxBytes: config.sageMakerTaskQueueBytes,
      retryBudgetMs: config.sageMakerTaskRetryBudgetMillis,
      maxAttempts: config.sageMakerTaskMaxAttempts,
      // Never `latest`: a replay has no live edge to keep up with, and a dropped frame would be a hole in it.
      policy: 'backpressure',
    });
    const publisher = new ResultPublisher({
      client: this.#options.clients.kinesis,
      streamName: config.kdsStreamName,
      timeoutMs: config.publishTimeoutMillis,
      onError: (error, info) =>
        log({ level: 'warn', event: 'publish-retry', stream: streamName, ...info, ...errorFields(error) }),
    });
    const pipeline = new StreamPipeline({
      streamName,
      services: {
        pool,
        slots: new Slots(pool.size + pool.maxQueue, DECODE_STAGE_BYTES),
        dispatcher,
        publisher,
        metrics: this.#metrics,
        image: imageRequest(config),
        endpoint: config.sageMakerEndpoint,
        workerId: config.workerId,
        inferenceInterval: config.inferenceInterval,
        samplingIntervalMillis: config.samplingIntervalMillis,
        publishFailedFrames: config.publishFailedFrames,
        replay: true,
        clock: systemClock,
      },
      ...progress.state.sampler,
      onComplete: (fragment) => this.#completed(fragment),
      onEvent: (event, { level = 'info', ...fields }) =>
        log({ level: level as LogLevel, event, stream: streamName, ...fields }),
    });
    try {
      for (const batch of work) {
        if (this.#signal.aborted) break;
        await this.#readBatch(media, pipeline, batch);
      }
      await this.#settle(pipeline);
    } finally {
      pipeline.abort();
      dispatcher.close();
      await Promise.race([publisher.close(), sleep(1000, undefined, { ref: false })]);
      await pool.destroy();
    }
  }

  #completed(fragment: CompletedFragment): void {
    const { fragmentNumber, serverTimestamp: _, ...sampler } = fragment;
    this.#fragmentsDone++;
    this.#options.progress.save({ lastFragment: fragmentNumber, sampler, fragmentsDone: this.#fragmentsDone });
    this.#options.onProgress?.(this.progress);
  }

  /** Waits for the frames in flight: for ever while running, shutdownTimeoutMillis once stopped. */
  async #settle(pipeline: StreamPipeline): Promise<void> {
    if (!this.#signal.aborted) {
      const stopped = new Promise<void>((resolve) => this.#signal.addEventListener('abort', () => resolve()));
      await Promise.race([pipeline.whenIdle(), stopped]);
    }
    if (this.#signal.aborted) {
      const limit = this.#options.config.shutdownTimeoutMillis;
      await Promise.race([pipeline.whenIdle(), sleep(limit, undefined, { ref: false })]);
    }
  }

  /**
   * One batch, read again from its first fragment not read to its end after a failure (the pipeline skips the frames
   * it has taken already), with backoff; REPLAY_FAILED after MAX_BATCH_FAILURES attempts in a row without progress.
   */
  async #readBatch(
    media: KinesisVideoArchivedMediaClient,
    pipeline: StreamPipeline,
    batch: RangeFragment[],
  ): Promise<void> {
    const { config, log, streamName } = this.#options;
    const policy = {
      baseMs: config.getMediaReconnectBaseMillis,
      maxMs: config.getMediaReconnectMaxMillis,
      jitter: 0.5,
    };
    let rest = batch;
    let failures = 0;
    while (rest.length > 0 && !this.#signal.aborted) {
      const readTo = { fragmentNumber: null as string | null };
      let problem: unknown = null;
      try {
        await this.#readBody(media, pipeline, rest, readTo);
      } catch (error) {
        if (this.#signal.aborted) return;
        problem = error;
      }
      const before = rest.length;
      if (readTo.fragmentNumber !== null) rest = rest.slice(indexAfter(rest, readTo.fragmentNumber));
      if (rest.length === 0) return;
      problem ??= new Error(`the answer ended before fragment ${rest[0]!.fragmentNumber}`);
      failures = rest.length < before ? 1 : failures + 1;
      const what = `GetMediaForFragmentList of stream ${streamName} from fragment ${rest[0]!.fragmentNumber}`;
      if (failures >= MAX_BATCH_FAILURES) throw failure(`${what} (${failures} attempts)`, problem);
      const delayMs = backoffDelay(failures, policy);
      log({ level: 'warn', event: 'replay-read-retry', stream: streamName, ...errorFields(problem), delayMs });
      await sleep(delayMs, undefined, { signal: this.#signal }).catch(() => {});
    }
  }

  /** One GetMediaForFragmentList call for `fragments`, its events into the pipeline; notes the last fragment read. */
  async #readBody(
    media: KinesisVideoArchivedMediaClient,
    pipeline: StreamPipeline,
    fragments: RangeFragment[],
    readTo: { fragmentNumber: string | null },
  ): Promise<void> {
    const { streamName, config } = this.#options;
    const controller = new AbortController();
    const signal = AbortSignal.any([this.#signal, controller.signal]);
    const idleMs = config.getMediaIdleTimeoutMillis;
    try {
      const command = new GetMediaForFragmentListCommand({
        StreamName: streamName,
        Fragments: fragments.map((f) => f.fragmentNumber),
      });
      const output = await answered(() => media.send(command, { abortSignal: signal }), controller, idleMs);
      if (!output.Payload) throw new Error('GetMediaForFragmentList answered no body');
      const body = idleGuarded(output.Payload as AsyncIterable<Uint8Array>, idleMs, () => {
        controller.abort();
        return new Error(`the answer sent no byte for ${idleMs} ms`);
      });
      pipeline.beginRead();
      for await (const event of readMkv(counted(body, (bytes) => (this.#bytesRead += bytes)))) {
        await pipeline.push(event, signal);
        if (event.type === 'fragment' && event.fragment.fragmentNumber !== null)
          readTo.fragmentNumber = event.fragment.fragmentNumber;
      }
    } finally {
      controller.abort();
    }
  }
}

/** The data endpoint of `api` for the stream; REPLAY_UNKNOWN_STREAM when there is no such stream. */
async function dataEndpoint(
  client: KinesisVideoClient,
  streamName: string,
  api: 'LIST_FRAGMENTS' | 'GET_MEDIA_FOR_FRAGMENT_LIST',
  timeoutMs: number,
): Promise<string> {
  try {
    return await new DataEndpoints({ control: client, apiName: api }).resolve(
      streamName,
      AbortSignal.timeout(timeoutMs),
    );
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException')
      throw new ReplayError('REPLAY_UNKNOWN_STREAM', `stream ${streamName} does not exist`, { cause: error });
    throw failure(`GetDataEndpoint of stream ${streamName}`, error);
  }
}

/** REPLAY_UNKNOWN_DATA_STREAM when the records would have nowhere to go (the publisher would retry for ever). */
async function checkDataStream(client: KinesisClient, streamName: string, timeoutMs: number): Promise<void> {
  try {
    await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }), {
      abortSignal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') {
      throw new ReplayError('REPLAY_UNKNOWN_DATA_STREAM', `data stream ${streamName} does not exist`, {
        cause: error,
      });
    }
    throw failure(`DescribeStreamSummary of data stream ${streamName}`, error);
  }
}

/** The index of the first fragment after `fragmentNumber` (fragments sorted by number). */
function indexAfter(fragments: RangeFragment[], fragmentNumber: string): number {
  const later = fragments.findIndex((f) => compareFragmentNumbers(f.fragmentNumber, fragmentNumber) > 0);
  return later === -1 ? fragments.length : later;
}

function failure(what: string, error: unknown): ReplayError {
  const { name, message } = error as Error;
  return new ReplayError('REPLAY_FAILED', `${what} failed: ${name}: ${message}`, { cause: error });
}
