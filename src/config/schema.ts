// What a validated kvs-infer configuration holds: KIT's keys, unchanged in name and meaning, then
// the keys kvs-infer adds, each with its default. `parseConfig` turns a JSON document into this.

import type { LeaseAssignment } from '../actors/lease/lease-types.js';
import type { LogLevel } from '../actors/logger.js';
import type { ImageContentType } from '../native/types.js';

/** KIT's tag filter: a stream matches when, for every filter, its tag `key` has one of `values`. */
export interface TagFilter {
  key: string;
  values: string[];
}

/**
 * What happens when the endpoint stage has no room for a frame (by count, queue plus calls, or by bytes):
 * `backpressure` pauses reading (no frame lost); `latest` drops the oldest waiting frames of the same stream
 * until it fits.
 */
export const QUEUE_POLICIES = ['backpressure', 'latest'] as const;
export type QueuePolicy = (typeof QUEUE_POLICIES)[number];

/** Where GetMedia starts on a stream that has no checkpoint yet (KVS StartSelectorType values). */
export const START_SELECTOR_TYPES = ['NOW', 'EARLIEST'] as const;
export type StartSelectorType = (typeof START_SELECTOR_TYPES)[number];

export interface KvsInferConfig {
  // KIT's keys.
  /** Streams processed whether or not they exist yet (see Discovery). */
  streamNames: string[];
  tagFilters: TagFilter[];
  /** SageMaker endpoint name (not ARN), in lowercase as the template requires. Required. */
  sageMakerEndpoint: string;
  endPointAcceptContentType: ImageContentType;
  /** Kinesis data stream the results go to. Required. */
  kdsStreamName: string;
  /** 1 of every `inferenceInterval` I-frames is sent to the endpoint (unless samplingIntervalMillis is set). */
  inferenceInterval: number;
  /** Frames waiting for the endpoint, per worker. */
  sageMakerTaskQueueSize: number;
  /** Concurrent InvokeEndpoint calls (async I/O in kvs-infer, threads in KIT). */
  sageMakerTaskThreadPoolSize: number;
  /** Bound on each InvokeEndpoint attempt. */
  sageMakerTaskTimeoutInMilli: number;
  /** KIT's thread name pattern; kvs-infer has no such threads and only uses it as a label (`%d` is the slot). */
  sageMakerTaskThreadPoolName: string;

  // kvs-infer's keys.
  /** Names the DynamoDB lease table, as KIT's AppName does. */
  appName: string;
  /** This worker's name in the lease table; unique per process. */
  workerId: string;
  /** A lease whose counter has not moved for this long (by this worker's clock) is expired. */
  failoverTimeMillis: number;
  /** Upper bound on the stream leases one worker holds; undefined for no bound. */
  maxLeasesPerWorker: number | undefined;
  /**
   * 'leader': the sync-lease holder scans the lease table and assigns leases, the others read only their own items.
   * 'every-worker': every worker scans the whole table every pass and takes for itself (KCL 2.x, KIT).
   */
  leaseAssignment: LeaseAssignment;
  discoveryIntervalMillis: number;
  /** Pace of discovery's ListTagsForStream calls (KVS allows 50 per second per account, shared by every caller). */
  discoveryTagRequestsPerSecond: number;
  /** A known stream's tags are asked for again once this old; new streams' at the next discovery. */
  discoveryTagRefreshMillis: number;
  /** From SIGTERM/SIGINT to exit, inside Fargate's 30 s stop timeout. */
  shutdownTimeoutMillis: number;
  /** At most one checkpoint write per stream per this interval; 0 writes whenever the checkpoint advances. */
  checkpointIntervalMillis: number;
  /** Worker threads that decode and encode frames. */
  decodeThreadPoolSize: number;
  /**
   * One frame per this many ms of producer time per stream: the first I-frame at or after each tick. Replaces
   * inferenceInterval when set; undefined: 1 in inferenceInterval I-frames, as KIT samples.
   */
  samplingIntervalMillis: number | undefined;
  /**
   * A stream whose MillisBehindNow passes this is read again from NOW, skipping (and checkpointing past) what lies
   * between; undefined: never skip (at-least-once for every fragment).
   */
  maxMillisBehindNow: number | undefined;
  /** US dollars per GB (10^9 bytes) read with GetMedia, for the cost meter; us-east-1's price by default. */
  getMediaPricePerGB: number;
  /** Resize before encoding; with only one of the two the other keeps the aspect ratio. */
  imageWidth: number | undefined;
  imageHeight: number | undefined;
  /** 1 to 100, for image/jpeg and application/x-image. */
  jpegQuality: number;
  queuePolicy: QueuePolicy;
  /** Where a stream never checkpointed starts: NOW, as KIT does, or EARLIEST (the oldest retained fragment). */
  startSelectorType: StartSelectorType;
  /**
   * Optional cap on InvokeEndpoint attempts per frame, the first included; undefined: only the retry budget bounds
   * them.
   */
  sageMakerTaskMaxAttempts: number | undefined;
  /** How long a frame's transient endpoint faults (throttling, 5xx, timeouts, connection errors) are retried. */
  sageMakerTaskRetryBudgetMillis: number;
  /**
   * Byte bound of the images the inference dispatcher holds (waiting, backing off, in flight) and of the answers
   * awaiting the publisher.
   */
  sageMakerTaskQueueBytes: number;
  /** Deadline of one PutRecords call. */
  publishTimeoutMillis: number;
  /** Deadline for opening a connection to any AWS endpoint the worker calls. */
  awsConnectTimeoutMillis: number;
  /** Deadline of a KVS control-plane call (DynamoDB's is derived from failoverTimeMillis). */
  awsRequestTimeoutMillis: number;
  /**
   * A GetMedia body that sends no byte for this long is dropped and read again from its continuation token; an answer
   * not whole by then (an error whose body stalls) is cut the same way.
   */
  getMediaIdleTimeoutMillis: number;
  /** Cap of the backoff between tries while a leased stream does not exist. */
  missingStreamRetryMaxMillis: number;
  /**
   * /healthz fails once the worker, holding leases and behind, has made no progress for this many failoverTimeMillis.
   */
  healthCheckStallFactor: number;
  /** A frame that failed inference for good is published with `error` set instead of a result. */
  publishFailedFrames: boolean;
  /** How often the worker logs a `stats` line (pipeline counters, queue depths, memory); 0 never. */
  statsIntervalMillis: number;
  /** Log lines below this level are not written; `debug` adds one per fragment read. */
  logLevel: LogLevel;
  /** CloudWatch namespace of the Embedded Metric Format lines. */
  metricsNamespace: string;
  /** How often EMF metric lines are written to stdout (CloudWatch picks them out of the log); 0 never. */
  metricsIntervalMillis: number;
  /** First delay before reconnecting GetMedia after a failure; doubles (with jitter) up to the max. */
  getMediaReconnectBaseMillis: number;
  getMediaReconnectMaxMillis: number;
}

/** The settings of the read, decode, infer and publish path, which the worker and `replay` both run. */
export type PipelineConfig = Pick<
  KvsInferConfig,
  | 'appName'
  | 'workerId'
  | 'sageMakerEndpoint'
  | 'endPointAcceptContentType'
  | 'kdsStreamName'
  | 'inferenceInterval'
  | 'samplingIntervalMillis'
  | 'sageMakerTaskQueueSize'
  | 'sageMakerTaskThreadPoolSize'
  | 'sageMakerTaskTimeoutInMilli'
  | 'sageMakerTaskMaxAttempts'
  | 'sageMakerTaskRetryBudgetMillis'
  | 'sageMakerTaskQueueBytes'
  | 'publishTimeoutMillis'
  | 'publishFailedFrames'
  | 'getMediaIdleTimeoutMillis'
  | 'getMediaReconnectBaseMillis'
  | 'getMediaReconnectMaxMillis'
  | 'shutdownTimeoutMillis'
  | 'decodeThreadPoolSize'
  | 'imageWidth'
  | 'imageHeight'
  | 'jpegQuality'
>;

/** Keys of KIT's document, in KIT's order. */
export const KIT_KEYS = [
  'streamNames',
  'tagFilters',
  'sageMakerEndpoint',
  'endPointAcceptContentType',
  'kdsStreamName',
  'inferenceInterval',
  'sageMakerTaskQueueSize',
  'sageMakerTaskThreadPoolSize',
  'sageMakerTaskTimeoutInMilli',
  'sageMakerTaskThreadPoolName',
] as const satisfies readonly (keyof KvsInferConfig)[];

/**
 * Defaults of every key that has one not depending on the host (workerId and
 * decodeThreadPoolSize come from `ConfigEnvironment`). KIT's own keys default to the values
 * KIT's CloudFormation template writes, so a document that omits them behaves as KIT did.
 */
export const CONFIG_DEFAULTS = {
  streamNames: [] as string[],
  tagFilters: [] as TagFilter[],
  endPointAcceptContentType: 'image/jpeg' as ImageContentType,
  inferenceInterval: 6,
  sageMakerTaskQueueSize: 5000,
  sageMakerTaskThreadPoolSize: 20,
  sageMakerTaskTimeoutInMilli: 20_000,
  sageMakerTaskThreadPoolName: 'SageMakerThreadPool-%d',
  appName: 'kvs-infer',
  failoverTimeMillis: 10_000,
  maxLeasesPerWorker: undefined as number | undefined,
  leaseAssignment: 'leader' as LeaseAssignment,
  discoveryIntervalMillis: 60_000,
  discoveryTagRequestsPerSecond: 20,
  discoveryTagRefreshMillis: 600_000,
  shutdownTimeoutMillis: 25_000,
  checkpointIntervalMillis: 5_000,
  samplingIntervalMillis: undefined as number | undefined,
  maxMillisBehindNow: undefined as number | undefined,
  getMediaPricePerGB: 0.0085,
  imageWidth: undefined as number | undefined,
  imageHeight: undefined as number | undefined,
  jpegQuality: 80,
  queuePolicy: 'backpressure' as QueuePolicy,
  startSelectorType: 'NOW' as StartSelectorType,
  sageMakerTaskMaxAttempts: undefined as number | undefined,
  sageMakerTaskRetryBudgetMillis: 300_000,
  sageMakerTaskQueueBytes: 256 * 1024 * 1024,
  publishTimeoutMillis: 10_000,
  awsConnectTimeoutMillis: 3_000,
  awsRequestTimeoutMillis: 10_000,
  getMediaIdleTimeoutMillis: 20_000,
  missingStreamRetryMaxMillis: 300_000,
  healthCheckStallFactor: 6,
  publishFailedFrames: true,
  statsIntervalMillis: 60_000,
  logLevel: 'info' as LogLevel,
  metricsNamespace: 'KvsInfer',
  metricsIntervalMillis: 60_000,
  getMediaReconnectBaseMillis: 500,
  getMediaReconnectMaxMillis: 20_000,
} satisfies Partial<KvsInferConfig>;

/** What the CLI (`--app-name`, `--worker-id`) or a test lays over the document; undefined entries are ignored. */
export type ConfigOverrides = { [K in keyof KvsInferConfig]?: unknown };

/** Something worth telling the operator that does not stop the worker, e.g. a key kvs-infer does not know. */
export interface ConfigWarning {
  key: string;
  message: string;
}
