// The worker root: one per process. Joins the application's lease table, runs discovery while it
// holds the sync lease, runs a lease actor per held stream lease, and shuts down within a bound.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import type { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import type { KvsInferConfig } from '../config/index.js';
import { Discovery } from './discovery.js';
import { LeaseActor } from './lease-actor.js';
import { LeaseCoordinator } from './lease-coordinator.js';
import { LeaseTable } from './lease-table.js';
import { systemClock, type Lease, type LeaseClock, type LeaseLostReason } from './lease-types.js';
import { errorFields, jsonLinesLogger, type Logger } from './logger.js';

/** Beyond the old owner's renewal interval: time for its failing renewal call to return. */
const HANDOVER_MARGIN_MS = 500;

export type WorkerConfig = Pick<
  KvsInferConfig,
  | 'appName'
  | 'workerId'
  | 'streamNames'
  | 'tagFilters'
  | 'failoverTimeMillis'
  | 'maxLeasesPerWorker'
  | 'discoveryIntervalMillis'
  | 'shutdownTimeoutMillis'
  | 'checkpointIntervalMillis'
  | 'getMediaReconnectBaseMillis'
  | 'getMediaReconnectMaxMillis'
  | 'startSelectorType'
>;

export interface WorkerOptions {
  config: WorkerConfig;
  /** The caller owns the clients (endpoints, destroy). */
  dynamodb: DynamoDBClient;
  kinesisVideo: KinesisVideoClient;
  /** The data-plane client for a GetDataEndpoint answer. */
  mediaClient: (endpoint: string) => KinesisVideoMediaClient;
  /** Default: JSON lines on stdout. */
  log?: Logger;
  clock?: LeaseClock;
}

export class Worker {
  readonly workerId: string;
  readonly coordinator: LeaseCoordinator;

  readonly #options: WorkerOptions;
  readonly #log: Logger;
  readonly #discovery: Discovery;
  readonly #actors = new Map<string, LeaseActor>();
  #stopping: Promise<void> | undefined;

  private constructor(options: WorkerOptions, table: LeaseTable) {
    const { config } = options;
    this.#options = options;
    this.#log = options.log ?? jsonLinesLogger();
    this.workerId = config.workerId;
    this.#discovery = new Discovery({
      client: options.kinesisVideo,
      streamNames: config.streamNames,
      tagFilters: config.tagFilters,
      intervalMillis: config.discoveryIntervalMillis,
      onChange: (streams) => this.#syncLeases(streams),
      onError: (error) => this.#error('discovery-failed', error),
    });
    this.coordinator = new LeaseCoordinator({
      table,
      workerId: config.workerId,
      clock: options.clock ?? systemClock,
      failoverTimeMillis: config.failoverTimeMillis,
      maxLeasesPerWorker: config.maxLeasesPerWorker,
      onAcquired: (lease, { stolen }) => this.#spawn(lease, stolen),
      onLost: (leaseKey, reason) => this.#lost(leaseKey, reason),
      onSyncLease: (held) => this.#syncLease(held),
      onError: (error) => this.#error('lease-error', error),
    });
  }

  /** Opens (or creates) the lease table named after appName and starts taking leases. */
  static async start(options: WorkerOptions): Promise<Worker> {
    const table = await LeaseTable.create({ client: options.dynamodb, tableName: options.config.appName });
    const worker = new Worker(options, table);
    worker.coordinator.start();
    worker.#log({ level: 'info', event: 'worker-started', worker: worker.workerId, table: table.tableName });
    return worker;
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
    if (outcome === 'timeout') this.coordinator.stop();
    this.#log({ level: outcome === 'done' ? 'info' : 'warn', event: 'worker-stopped', worker: this.workerId, timedOut: outcome === 'timeout', millis: Date.now() - started });
  }

  #spawn(lease: Lease, stolen: boolean): void {
    const { config } = this.#options;
    const actor = new LeaseActor({
      lease,
      // The old owner stops reading when its next renewal fails, at most one renewal interval from
      // now: only then may this worker read, or both would read the stream at once.
      handoverDelayMillis: stolen ? this.coordinator.renewIntervalMillis + HANDOVER_MARGIN_MS : 0,
      coordinator: this.coordinator,
      control: this.#options.kinesisVideo,
      mediaClient: this.#options.mediaClient,
      log: this.#log,
      startWhenNew: config.startSelectorType,
      checkpointIntervalMillis: config.checkpointIntervalMillis,
      backoff: { baseMs: config.getMediaReconnectBaseMillis, maxMs: config.getMediaReconnectMaxMillis },
    });
    this.#actors.set(lease.leaseKey, actor);
    void actor.done.finally(() => {
      if (this.#actors.get(lease.leaseKey) === actor) this.#actors.delete(lease.leaseKey);
    });
  }

  #lost(leaseKey: string, reason: LeaseLostReason): void {
    this.#actors.get(leaseKey)?.lost(reason);
  }

  async #syncLease(held: boolean): Promise<void> {
    this.#log({ level: 'info', event: held ? 'sync-lease-acquired' : 'sync-lease-lost', worker: this.workerId });
    if (held && !this.#stopping) this.#discovery.start();
    else await this.#discovery.stop();
  }

  #syncLeases(streams: string[]): void {
    this.coordinator.syncStreamLeases(streams).then(
      (result) => {
        if (result.created.length + result.deleted.length > 0) {
          this.#log({ level: 'info', event: 'leases-synced', worker: this.workerId, created: result.created, deleted: result.deleted });
        }
      },
      (error) => this.#error('lease-sync-failed', error),
    );
  }

  #error(event: string, error: unknown): void {
    this.#log({ level: 'warn', event, worker: this.workerId, ...errorFields(error) });
  }
}
