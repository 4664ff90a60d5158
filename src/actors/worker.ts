// The worker root: one per process. Joins the application's lease table, runs discovery while it
// holds the sync lease, runs a lease actor per held stream lease over the shared frame pool, endpoint
// dispatcher and result publisher, and shuts down within a bound.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import type { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { backoffDelay } from '../aws/backoff.js';
import { meterConsumedCapacity } from '../aws/consumed-capacity.js';
import { DataEndpoints } from '../aws/data-endpoints.js';
import type { KvsInferConfig, PipelineConfig } from '../config/index.js';
import type { DebugSource, LeaseView, WorkerView } from '../debug/types.js';
import {
  EmfExporter,
  type MediaCost,
  MetricsRegistry,
  mediaCost,
  type StreamCounters,
  streamCounters,
  workerTotals,
} from '../metrics/index.js';
import { FramePool } from '../native/index.js';
import { type Clock, systemClock } from './clock.js';
import { Discovery } from './lease/discovery.js';
import { LeaseActor } from './lease/lease-actor.js';
import { LeaseCoordinator } from './lease/lease-coordinator.js';
import { LeaseTable } from './lease/lease-table.js';
import type { Lease, LeaseLostReason } from './lease/lease-types.js';
import { errorFields, jsonLinesLogger, type Logger } from './logger.js';
import { DataStreamCheck } from './pipeline/data-stream-check.js';
import { InferenceDispatcher } from './pipeline/inference-dispatcher.js';
import { ResultPublisher } from './pipeline/result-publisher.js';
import { Slots } from './pipeline/slots.js';
import { DECODE_STAGE_BYTES, imageRequest, type PipelineServices } from './pipeline/stream-pipeline.js';

export type WorkerConfig = PipelineConfig &
  Pick<
    KvsInferConfig,
    | 'streamNames'
    | 'tagFilters'
    | 'failoverTimeMillis'
    | 'maxLeasesPerWorker'
    | 'leaseAssignment'
    | 'discoveryIntervalMillis'
    | 'discoveryTagRequestsPerSecond'
    | 'discoveryTagRefreshMillis'
    | 'checkpointIntervalMillis'
    | 'startSelectorType'
    | 'maxMillisBehindNow'
    | 'missingStreamRetryMaxMillis'
    | 'healthCheckStallFactor'
    | 'queuePolicy'
    | 'statsIntervalMillis'
    | 'metricsNamespace'
    | 'metricsIntervalMillis'
    | 'getMediaPricePerGB'
  >;

export interface WorkerStats {
  worker: string;
  /** Streams read right now. */
  streams: number;
  /** Over every stream this worker has read, ended leases included (from the metrics registry). */
  totals: StreamCounters;
  /** The GetMedia cost meter over the same streams. */
  cost: MediaCost;
  /** Sampled frames not yet published (or settled), over every stream. */
  inFlight: number;
  pool: { queued: number; utilization: number };
  dispatcher: InferenceDispatcher['stats'];
  publisher: ResultPublisher['stats'];
  /** Readers paused because every slot between reading and the endpoint queue is taken. */
  waitingForSlot: number;
  rssBytes: number;
}

export interface WorkerOptions {
  config: WorkerConfig;
  /** The caller owns the clients (endpoints, destroy). */
  dynamodb: DynamoDBClient;
  kinesisVideo: KinesisVideoClient;
  /** The data-plane client for a GetDataEndpoint answer. */
  mediaClient: (endpoint: string) => KinesisVideoMediaClient;
  /** Built with maxAttempts 1: the dispatcher owns retries, with its own timeout per attempt. */
  sageMakerRuntime: SageMakerRuntimeClient;
  /** Where the results go (the kdsStreamName data stream). */
  kinesis: KinesisClient;
  /** Default: JSON lines on stdout. */
  log?: Logger;
  /** Where the CloudWatch EMF lines go; default stdout, where the awslogs driver takes them to CloudWatch. */
  writeMetrics?: (line: string) => void;
  /** The one monotonic clock of leases, lease machines and pipelines; default the system's. */
  clock?: Clock;
  /** Hold leases without reading their streams (`kvs-infer run --lease-only`): see LeaseActorOptions.leaseOnly. */
  leaseOnly?: boolean;
}

const COORDINATOR_METRICS = {
  taken: 'LeasesTaken',
  stolen: 'LeasesStolen',
  lost: 'LeasesLost',
  renewed: 'LeasesRenewed',
  released: null,
} as const;

/** Leases that ended stay on the debug page this long, so that a lease's last steps can be seen. */
const ENDED_KEPT_MS = 5 * 60_000;
const ENDED_KEPT_MAX = 20;
/** How often progress (for /healthz) and the data stream's writes (for /readyz) are looked at. */
const WATCH_INTERVAL_MS = 1_000;
/** A failed lease sync is tried again after 1 s, doubling to 60 s, full jitter, until one succeeds. */
const SYNC_RETRY = { baseMs: 1_000, maxMs: 60_000, jitter: 1 } as const;

export class Worker implements DebugSource {
  readonly workerId: string;
  readonly startedAt = Date.now();
  readonly coordinator: LeaseCoordinator;
  /** Every metric the worker exports, for /metrics and the EMF lines. */
  readonly metrics: MetricsRegistry;
  /** The application's lease table, which the debug page's fleet view scans. */
  readonly leaseTable: LeaseTable;

  readonly #options: WorkerOptions;
  readonly #log: Logger;
  readonly #discovery: Discovery;
  /** GetMedia endpoints, one GetDataEndpoint per stream per 45 minutes, shared by the lease actors. */
  readonly #endpoints: DataEndpoints;
  readonly #actors = new Map<string, LeaseActor>();
  readonly #pool: FramePool;
  readonly #dispatcher: InferenceDispatcher;
  readonly #publisher: ResultPublisher;
  readonly #services: PipelineServices;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  #emf: EmfExporter | undefined;
  readonly #listeners = new Set<() => void>();
  readonly #ended: { at: number; view: LeaseView }[] = [];
  #stopping: Promise<void> | undefined;
  readonly #dataStream: DataStreamCheck;
  #watchTimer: ReturnType<typeof setInterval> | undefined;
  /**
   * The progress total (fragments completed, frames published or dropped) at the last watch, and when it last moved.
   */
  #progress = { total: -1, at: performance.now() };
  #publishedSeen = 0;
  /** The streams discovery last announced, and the retry of a sync of them that failed. */
  #desiredStreams: string[] | undefined;
  #syncAttempt = 0;
  #syncRetry: ReturnType<typeof setTimeout> | undefined;

  private constructor(options: WorkerOptions, table: LeaseTable, pool: FramePool) {
    const { config } = options;
    this.#options = options;
    this.#log = options.log ?? jsonLinesLogger();
    this.workerId = config.workerId;
    this.metrics = new MetricsRegistry({
      appName: config.appName,
      workerId: config.workerId,
      getMediaPricePerGB: config.getMediaPricePerGB,
    });
    this.#pool = pool;
    this.leaseTable = table;
    this.#dispatcher = new InferenceDispatcher({
      client: options.sageMakerRuntime,
      endpointName: config.sageMakerEndpoint,
      concurrency: config.sageMakerTaskThreadPoolSize,
      queueSize: config.sageMakerTaskQueueSize,
      timeoutMs: config.sageMakerTaskTimeoutInMilli,
      maxBytes: config.sageMakerTaskQueueBytes,
      retryBudgetMs: config.sageMakerTaskRetryBudgetMillis,
      maxAttempts: config.sageMakerTaskMaxAttempts,
      policy: config.queuePolicy,
    });
    this.#publisher = new ResultPublisher({
      client: options.kinesis,
      streamName: config.kdsStreamName,
      timeoutMs: config.publishTimeoutMillis,
      onError: (error, info) => {
        this.#dataStream.callFailed(error);
        this.#log({ level: 'warn', event: 'publish-retry', worker: this.workerId, ...info, ...errorFields(error) });
      },
    });
    this.#services = {
      pool,
      // Enough to keep every thread busy and its queue full; beyond that a frame waits in its reader.
      slots: new Slots(pool.size + pool.maxQueue, DECODE_STAGE_BYTES),
      dispatcher: this.#dispatcher,
      publisher: this.#publisher,
      metrics: this.metrics,
      image: imageRequest(config),
      endpoint: config.sageMakerEndpoint,
      workerId: config.workerId,
      inferenceInterval: config.inferenceInterval,
      samplingIntervalMillis: config.samplingIntervalMillis,
      publishFailedFrames: config.publishFailedFrames,
      clock: options.clock ?? systemClock,
    };
    this.#dataStream = new DataStreamCheck({
      client: options.kinesis,
      streamName: config.kdsStreamName,
      timeoutMs: config.publishTimeoutMillis,
      onChange: (problem) =>
        problem === null
          ? this.#log({
              level: 'info',
              event: 'data-stream-writable',
              worker: this.workerId,
              dataStream: config.kdsStreamName,
            })
          : this.#log({
              level: 'error',
              event: 'data-stream-unavailable',
              worker: this.workerId,
              dataStream: config.kdsStreamName,
              message: problem,
            }),
    });
    this.#endpoints = new DataEndpoints({ control: options.kinesisVideo, apiName: 'GET_MEDIA' });
    this.#discovery = new Discovery({
      client: options.kinesisVideo,
      streamNames: config.streamNames,
      tagFilters: config.tagFilters,
      intervalMillis: config.discoveryIntervalMillis,
      tagRequestsPerSecond: config.discoveryTagRequestsPerSecond,
      tagRefreshMillis: config.discoveryTagRefreshMillis,
      onChange: (streams) => this.#syncLeases(streams),
      onError: (error) => this.#error('discovery-failed', error),
    });
    this.coordinator = new LeaseCoordinator({
      table,
      workerId: config.workerId,
      clock: this.#services.clock,
      failoverTimeMillis: config.failoverTimeMillis,
      maxLeasesPerWorker: config.maxLeasesPerWorker,
      assignment: config.leaseAssignment,
      onAcquired: (lease, { handoverDelayMillis }) => this.#spawn(lease, handoverDelayMillis),
      onLost: (leaseKey, reason) => this.#lost(leaseKey, reason),
      onSyncLease: (held) => this.#syncLease(held),
      // A malformed lease item needs an operator; the rest (DynamoDB slow or unreachable) passes by itself.
      onError: (error) =>
        this.#error('lease-error', error, errorFields(error).code === 'LEASE_ITEM_INVALID' ? 'error' : 'warn'),
      onCount: (counter) => {
        const metric = COORDINATOR_METRICS[counter];
        if (metric) this.metrics.add(metric);
      },
    });
    this.#registerGauges();
    meterConsumedCapacity(options.dynamodb, (kind, units) =>
      this.metrics.add(kind === 'read' ? 'LeaseTableReadUnits' : 'LeaseTableWriteUnits', units),
    );
  }

  /** Opens (or creates) the lease table named after appName, starts the frame pool, and starts taking leases. */
  static async start(options: WorkerOptions): Promise<Worker> {
    const table = await LeaseTable.create({ client: options.dynamodb, tableName: options.config.appName });
    const pool = await FramePool.create({ size: options.config.decodeThreadPoolSize });
    const worker = new Worker(options, table, pool);
    worker.coordinator.start();
    void worker.#dataStream.start();
    worker.#watchTimer = setInterval(() => worker.#watch(), WATCH_INTERVAL_MS).unref();
    const { statsIntervalMillis, metricsIntervalMillis, metricsNamespace } = options.config;
    if (statsIntervalMillis > 0)
      worker.#statsTimer = setInterval(
        () => worker.#log({ level: 'info', event: 'stats', ...worker.stats() }),
        statsIntervalMillis,
      ).unref();
    if (metricsIntervalMillis > 0) {
      const write =
        options.writeMetrics ?? ((line: string) => void process.stdout.write(line.endsWith('\n') ? line : `${line}\n`));
      worker.#emf = new EmfExporter({
        registry: worker.metrics,
        namespace: metricsNamespace,
        intervalMs: metricsIntervalMillis,
        write,
        onError: (error) => worker.#error('metrics-failed', error),
      });
      worker.#emf.start();
    }
    worker.#log({
      level: 'info',
      event: 'worker-started',
      worker: worker.workerId,
      table: table.tableName,
      decodeThreads: pool.size,
    });
    return worker;
  }

  /** The worker and its leases (those that ended recently too), for the debug server. */
  view(): WorkerView {
    const now = Date.now();
    while (this.#ended.length > 0 && (this.#ended.length > ENDED_KEPT_MAX || now - this.#ended[0]!.at > ENDED_KEPT_MS))
      this.#ended.shift();
    const { worker: _, cost, ...stats } = this.stats();
    const notReady = this.notReady;
    return {
      workerId: this.workerId,
      appName: this.#options.config.appName,
      startedAt: this.startedAt,
      now,
      ready: notReady === null,
      notReady,
      stuck: this.stuck,
      draining: this.#stopping !== undefined,
      holdsSyncLease: this.coordinator.holdsSyncLease,
      workers: this.coordinator.workers,
      leases: [...[...this.#actors.values()].map((a) => a.view()), ...this.#recentlyEnded()].sort((a, b) =>
        a.stream.localeCompare(b.stream),
      ),
      cost,
      stats,
    };
  }

  /** Why the worker should take no traffic now (/readyz answers 503 with it), or null when it is ready. */
  get notReady(): string | null {
    if (this.#stopping !== undefined) return 'draining';
    if (this.coordinator.scans === 0) return 'the lease table has not been scanned yet';
    return this.#dataStream.problem;
  }

  /**
   * Why the worker is stuck (/healthz answers 503 with it, so that ECS replaces the task), or null. Stuck: it
   * holds leases, has work it has not finished (frames in flight, or fragments read and not complete), and
   * nothing has moved for healthCheckStallFactor x failoverTimeMillis.
   */
  get stuck(): string | null {
    const { healthCheckStallFactor, failoverTimeMillis } = this.#options.config;
    const limit = healthCheckStallFactor * failoverTimeMillis;
    const still = performance.now() - this.#progress.at;
    if (this.#actors.size === 0 || still < limit || !this.#behind()) return null;
    return (
      `no progress for ${Math.round(still)} ms (limit ${limit}) ` +
      `with ${this.#actors.size} leases held and work outstanding`
    );
  }

  #behind(): boolean {
    for (const actor of this.#actors.values()) {
      const c = actor.counters;
      if (actor.inFlight > 0 || c.fragmentsRead > c.fragmentsCompleted) return true;
    }
    return false;
  }

  /** Every second: has anything moved (for /healthz), has the data stream taken records (for /readyz)? */
  #watch(): void {
    const totals = this.stats().totals;
    // Failed frames count once their error record is published, through fragmentsCompleted.
    const total = totals.fragmentsCompleted + totals.published + totals.dropped;
    if (total !== this.#progress.total || !this.#behind()) this.#progress = { total, at: performance.now() };
    const published = this.#publisher.stats.published;
    if (published > this.#publishedSeen) this.#dataStream.callSucceeded();
    this.#publishedSeen = published;
  }

  /** The last ended lease of each stream this worker does not read now. */
  #recentlyEnded(): LeaseView[] {
    const latest = new Map(this.#ended.map((e) => [e.view.stream, e.view]));
    return [...latest.values()].filter((view) => !this.#actors.has(view.stream));
  }

  subscribe(onChange: () => void): () => void {
    this.#listeners.add(onChange);
    return () => this.#listeners.delete(onChange);
  }

  /** Counters of each stream read right now, by name, from the metrics registry. */
  streamCounters(): Map<string, StreamCounters> {
    return new Map([...this.#actors.keys()].map((stream) => [stream, streamCounters(this.metrics, stream)]));
  }

  /** Pipeline counters over every stream this worker has read, and what waits where right now. */
  stats(): WorkerStats {
    const totals = workerTotals(this.metrics);
    return {
      worker: this.workerId,
      streams: this.#actors.size,
      totals,
      cost: mediaCost(totals, this.metrics.getMediaPricePerGB),
      inFlight: this.#inFlight(),
      pool: { queued: this.#pool.queueSize, utilization: Math.round(this.#pool.utilization * 1000) / 1000 },
      dispatcher: this.#dispatcher.stats,
      publisher: this.#publisher.stats,
      waitingForSlot: this.#services.slots.waiting,
      rssBytes: process.memoryUsage.rss(),
    };
  }

  #inFlight(): number {
    let frames = 0;
    for (const actor of this.#actors.values()) frames += actor.inFlight;
    return frames;
  }

  /** Streams this worker reads right now, sorted. */
  get streams(): string[] {
    return [...this.#actors.keys()].sort();
  }

  /**
   * Graceful shutdown (SIGTERM, SIGINT): take nothing more, stop every reader, write final checkpoints,
   * release every lease, all within shutdownTimeoutMillis; what is not done by then is left to expire.
   */
  shutdown(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    const started = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#options.config.shutdownTimeoutMillis);
    });
    this.#log({ level: 'info', event: 'worker-stopping', worker: this.workerId, leases: this.streams });
    this.coordinator.stopTaking();
    const work = (async () => {
      await this.#discovery.stop();
      const actors = [...this.#actors.values()];
      for (const actor of actors) actor.shutdown();
      await Promise.allSettled(actors.map((a) => a.done));
      await this.coordinator.shutdown();
    })();
    const outcome = await Promise.race([work.then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    clearInterval(this.#statsTimer);
    clearInterval(this.#watchTimer);
    clearTimeout(this.#syncRetry);
    this.#dataStream.stop();
    if (outcome === 'timeout') this.coordinator.stop();
    // Every lease is released or left to expire by now: nothing in flight can be checkpointed any more.
    this.#dispatcher.close();
    await Promise.race([this.#publisher.close(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    await this.#pool.destroy();
    // The last interval's figures, so that a task's final minute reaches CloudWatch.
    this.#emf?.stop();
    this.#log({ level: 'info', event: 'stats', ...this.stats() });
    this.#log({
      level: outcome === 'done' ? 'info' : 'warn',
      event: 'worker-stopped',
      worker: this.workerId,
      timedOut: outcome === 'timeout',
      millis: Date.now() - started,
    });
  }

  #spawn(lease: Lease, handoverDelayMillis: number): void {
    const { config } = this.#options;
    const actor = new LeaseActor({
      lease,
      // Until the old owner of a stolen lease has stopped, even one cut off from the table (0 otherwise):
      // reading earlier, both would read the stream at once.
      handoverDelayMillis,
      coordinator: this.coordinator,
      endpoints: this.#endpoints,
      mediaClient: this.#options.mediaClient,
      log: this.#log,
      services: this.#services,
      startWhenNew: config.startSelectorType,
      checkpointIntervalMillis: config.checkpointIntervalMillis,
      backoff: { baseMs: config.getMediaReconnectBaseMillis, maxMs: config.getMediaReconnectMaxMillis },
      missingStreamBackoff: { maxMs: config.missingStreamRetryMaxMillis },
      getMediaIdleTimeoutMillis: config.getMediaIdleTimeoutMillis,
      maxMillisBehindNow: config.maxMillisBehindNow,
      leaseOnly: this.#options.leaseOnly,
    });
    this.#actors.set(lease.leaseKey, actor);
    actor.onChange(() => this.#changed());
    void actor.done.finally(() => {
      this.#ended.push({ at: Date.now(), view: actor.view() });
      // Bounded here, not when the debug page reads it: a worker nobody looks at must not grow it.
      if (this.#ended.length > ENDED_KEPT_MAX) this.#ended.splice(0, this.#ended.length - ENDED_KEPT_MAX);
      if (this.#actors.get(lease.leaseKey) === actor) this.#actors.delete(lease.leaseKey);
      this.#changed();
    });
  }

  /** Read when metrics are exported: what waits where, right now. */
  #registerGauges(): void {
    const m = this.metrics;
    m.gauge('DecodeQueueDepth', () => this.#pool.queueSize);
    m.gauge('InferenceQueueDepth', () => this.#dispatcher.stats.waiting);
    m.gauge('InferenceInFlight', () => this.#dispatcher.stats.inFlight);
    m.gauge('PoolUtilization', () => this.#pool.utilization * 100);
    m.gauge('CurrentLeases', () => this.#actors.size);
    m.gauge('NumWorkers', () => this.coordinator.workers.length);
    m.gauge('ReadersPaused', () => this.#services.slots.waiting);
    m.gauge('FramesInFlight', () => this.#inFlight());
    m.gauge(
      'BytesInFlight',
      () => this.#services.slots.usedBytes + this.#dispatcher.stats.heldBytes + this.#publisher.stats.bufferedBytes,
    );
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }

  #lost(leaseKey: string, reason: LeaseLostReason): void {
    this.#actors.get(leaseKey)?.lost(reason);
  }

  async #syncLease(held: boolean): Promise<void> {
    this.#log({ level: 'info', event: held ? 'sync-lease-acquired' : 'sync-lease-lost', worker: this.workerId });
    if (held && !this.#stopping) this.#discovery.start();
    else await this.#discovery.stop();
  }

  /**
   * Makes the leases match what discovery announced. Discovery announces only changes, so a sync that fails
   * is tried again (with backoff) until one succeeds, or until a newer list or the loss of the sync lease makes
   * it moot; otherwise a stream whose lease failed to be created would never be read.
   */
  #syncLeases(streams: string[]): void {
    this.#desiredStreams = streams;
    this.#syncAttempt = 0;
    clearTimeout(this.#syncRetry);
    this.#syncRetry = undefined;
    this.#syncOnce(streams);
  }

  #syncOnce(streams: string[]): void {
    const started = performance.now();
    this.coordinator.syncStreamLeases(streams).then(
      (result) => {
        this.metrics.add('LeaseSyncs');
        this.metrics.observe('LeaseSyncLatency', performance.now() - started);
        if (result.created.length + result.deleted.length > 0) {
          this.#log({
            level: 'info',
            event: 'leases-synced',
            worker: this.workerId,
            created: result.created,
            deleted: result.deleted,
          });
        }
      },
      (error) => {
        const moot =
          this.#desiredStreams !== streams || this.#stopping !== undefined || !this.coordinator.holdsSyncLease;
        const retryInMillis = moot ? null : backoffDelay(++this.#syncAttempt, SYNC_RETRY);
        this.#log({
          level: 'warn',
          event: 'lease-sync-failed',
          worker: this.workerId,
          attempt: this.#syncAttempt,
          retryInMillis,
          ...errorFields(error),
        });
        if (retryInMillis === null) return;
        this.#syncRetry = setTimeout(() => {
          this.#syncRetry = undefined;
          if (this.#desiredStreams === streams) this.#syncOnce(streams);
        }, retryInMillis);
        this.#syncRetry.unref();
      },
    );
  }

  #error(event: string, error: unknown, level: 'warn' | 'error' = 'warn'): void {
    this.#log({ level, event, worker: this.workerId, ...errorFields(error) });
  }
}
