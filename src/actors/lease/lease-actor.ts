// Runs one lease machine for one held stream lease: supplies its acquirer, GetMedia reader and
// checkpointer, feeds what is read through the stream's pipeline, whose completed fragments are what
// gets checkpointed, and hands the lease back when the machine ends, unless another worker has it.

import type { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import { type Actor, createActor, type EventObject, fromCallback, fromPromise, toPromise } from 'xstate';
import type { BackoffPolicy } from '../../aws/backoff.js';
import { LeaseWatch } from '../../debug/lease-watch.js';
import { stageLatencies } from '../../debug/stage-latency.js';
import type { LeaseView } from '../../debug/types.js';
import {
  type AcquirerInput,
  type AcquirerOutput,
  type CheckpointerInput,
  checkpointToCarry,
  errorCode,
  type LeaseMachineOutput,
  leaseMachine,
  type ReaderEvent,
  type ReaderInput,
} from '../../machines/index.js';
import { type MetricLabels, mediaCost, type StreamCounters, streamCounters } from '../../metrics/index.js';
import { onAbort } from '../deferred.js';
import { errorFields, type Logger } from '../logger.js';
import { type MediaReaderOptions, readStreamMedia } from '../pipeline/media-reader.js';
import { type PipelineServices, StreamPipeline } from '../pipeline/stream-pipeline.js';
import type { LeaseCoordinator } from './lease-coordinator.js';
import type { Checkpoint, Lease, LeaseLostReason } from './lease-types.js';

/** While a write is in flight CHECKPOINT_NOW is dropped; this interval writes what was dropped. */
const EAGER_CHECKPOINT_FALLBACK_MS = 1_000;

export interface LeaseActorOptions {
  /** The lease as the coordinator handed it over in onAcquired: its key is the stream name. */
  lease: Lease;
  coordinator: Pick<LeaseCoordinator, 'workerId' | 'checkpoint' | 'release' | 'carryCheckpoints'>;
  endpoints: MediaReaderOptions['endpoints'];
  mediaClient: (endpoint: string) => KinesisVideoMediaClient;
  log: Logger;
  /** Pool, endpoint and publisher, shared by the worker's streams. */
  services: PipelineServices;
  /** Where a stream never checkpointed starts; default NOW. */
  startWhenNew?: 'NOW' | 'EARLIEST';
  /** 0 writes a checkpoint whenever one more fragment is complete. Default the machine's. */
  checkpointIntervalMillis?: number;
  backoff?: Partial<BackoffPolicy>;
  /**
   * Retries while the stream does not exist (the lease is kept meanwhile). Default the machine's: 1 s doubling to 5
   * min.
   */
  missingStreamBackoff?: Partial<BackoffPolicy>;
  /**
   * Waits this long before reading: until the lease's previous owner has stopped (see the coordinator's onAcquired).
   */
  handoverDelayMillis?: number;
  /**
   * A GetMedia body silent this long is dropped and read again from its continuation token; default the reader's (20
   * s).
   */
  getMediaIdleTimeoutMillis?: number;
  /** A stream read further behind its newest fragment than this jumps to NOW (see the reader); default never. */
  maxMillisBehindNow?: number;
  /**
   * Hold the lease without reading it (`kvs-infer run --lease-only`, for fleet simulations): no GetMedia, so nothing
   * to decode or checkpoint; renewals and the release on shutdown go on as usual.
   */
  leaseOnly?: boolean;
}

export class LeaseActor {
  readonly streamName: string;
  /** Settles once the machine has ended and, unless the lease was lost, the lease is released. */
  readonly done: Promise<LeaseMachineOutput | null>;

  readonly #options: LeaseActorOptions;
  readonly #actor: Actor<typeof leaseMachine>;
  readonly #eagerCheckpoints: boolean;
  readonly #pipeline: StreamPipeline;
  /**
   * What this lease and its pipeline record the stream's metrics with: ended with the lease (`removeStream`), so that
   * frames still in flight then bring back none of its series, while a later lease of the stream records with its own.
   */
  readonly #labels: MetricLabels;
  readonly #watch = new LeaseWatch();
  /** The counters as the lease ended, kept for the view of an ended lease; null while it runs. */
  #final: StreamCounters | null = null;
  #lostReason: LeaseLostReason | null = null;
  readonly #uncarry: () => void;

  constructor(options: LeaseActorOptions) {
    this.#options = options;
    this.streamName = options.lease.leaseKey;
    this.#eagerCheckpoints = options.checkpointIntervalMillis === 0;
    this.#labels = { stream: this.streamName };
    this.#pipeline = new StreamPipeline({
      streamName: this.streamName,
      labels: this.#labels,
      services: options.services,
      keyframesSeen: options.lease.checkpoint?.keyframesSeen ?? 0,
      nextSampleAt: options.lease.checkpoint?.nextSampleAt,
      onComplete: (fragment) => {
        this.#send({ type: 'FRAGMENT_COMPLETE', ...fragment });
        if (this.#eagerCheckpoints) this.#send({ type: 'CHECKPOINT_NOW' });
      },
      onEvent: (event, { level = 'info', ...fields }) => this.#log(event, { level, ...fields }),
    });
    const machine = leaseMachine.provide({
      actors: {
        acquirer: fromPromise<AcquirerOutput, AcquirerInput>(async ({ signal }) => {
          if (options.handoverDelayMillis) await this.#wait(options.handoverDelayMillis, signal);
          return { checkpoint: options.lease.checkpoint ?? null };
        }),
        reader: fromCallback<EventObject, ReaderInput>(({ input, sendBack }) => this.#read(input, sendBack)),
        checkpointer: fromPromise<void, CheckpointerInput>(async ({ input }) => {
          try {
            await options.coordinator.checkpoint(input.leaseKey, input.checkpoint);
          } catch (error) {
            // Retried by the next interval, or by a renewal carrying it; a lost lease is logged as `lost`.
            if (errorCode(error) !== 'LEASE_LOST') {
              this.#log('checkpoint-failed', {
                level: 'warn',
                fragmentNumber: input.checkpoint.fragmentNumber,
                final: input.final,
                ...errorFields(error),
              });
            }
            throw error;
          }
          this.#written(input.checkpoint, { final: input.final });
        }),
      },
      actions: {
        // Once per wait; the reader's failure itself is not logged again at every retry.
        announceStreamMissing: ({ context }) =>
          this.#log('stream-missing', {
            level: 'warn',
            retryInMillis: context.missingRetryMs,
            attempt: context.missingAttempts,
          }),
      },
    });
    this.#actor = createActor(machine, {
      input: {
        streamName: this.streamName,
        leaseKey: options.lease.leaseKey,
        checkpointIntervalMs: this.#eagerCheckpoints ? EAGER_CHECKPOINT_FALLBACK_MS : options.checkpointIntervalMillis,
        backoff: options.backoff,
        missingStreamBackoff: options.missingStreamBackoff,
      },
      inspect: this.#watch.inspect,
      // The worker's clock, so the machine's timers (checkpoint interval, drain timeout, backoffs) run on it.
      clock: options.services.clock,
    });
    // The lease's renewals write what the next periodic checkpoint would: one write every renewal, not two.
    this.#uncarry = options.coordinator.carryCheckpoints(this.streamName, {
      next: () => checkpointToCarry(this.#actor.getSnapshot()),
      written: (checkpoint) => {
        this.#written(checkpoint, { final: false, withRenewal: true });
        this.#send({ type: 'CHECKPOINT_WRITTEN', checkpoint });
      },
    });
    this.done = this.#finish();
    const { checkpoint } = options.lease;
    this.#log('acquired', {
      checkpoint: checkpoint?.fragmentNumber ?? null,
      ...(checkpoint?.inclusive ? { inclusive: true } : {}),
    });
    this.#actor.start();
  }

  /** What this lease has done so far, from the metrics registry (zeros once it has ended). */
  get counters(): StreamCounters {
    return streamCounters(this.#options.services.metrics, this.streamName);
  }

  /** The machine's state, recent transitions and the lease's counters and cost, for the debug page. */
  view(): LeaseView {
    const counters = this.#final ?? this.counters;
    return {
      ...this.#watch.view(this.streamName),
      counters,
      millisBehindNow: this.#pipeline.millisBehindNow,
      cost: mediaCost(counters, this.#options.services.metrics.getMediaPricePerGB),
      stages: stageLatencies(this.#options.services.metrics, this.streamName),
    };
  }

  /** Runs `listener` after every step of the lease machine; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    return this.#watch.onChange(listener);
  }

  /** Sampled frames of this stream not yet published (or settled). */
  get inFlight(): number {
    return this.#pipeline.outstanding;
  }

  /** The coordinator no longer holds the lease: the reader stops now and nothing more is written. */
  lost(reason: LeaseLostReason): void {
    this.#lostReason ??= reason;
    this.#send({ type: 'LEASE_LOST' });
    this.#pipeline.abort();
  }

  /**
   * Graceful end: stop reading, let what is in flight be published (within the drain timeout), write the final
   * checkpoint, release.
   */
  shutdown(): void {
    this.#send({ type: 'SHUTDOWN' });
    void this.#pipeline.whenIdle().then(() => this.#send({ type: 'DRAINED' }));
  }

  /** `ms` of the worker's clock; rejects with the signal's reason when aborted first. */
  #wait(ms: number, signal: AbortSignal): Promise<void> {
    const { clock } = this.#options.services;
    return new Promise((resolve, reject) => {
      const timer = clock.setTimeout(() => {
        detach();
        resolve();
      }, ms);
      const detach = onAbort(signal, (reason) => {
        clock.clearTimeout(timer);
        reject(reason);
      });
    });
  }

  #send(event: Parameters<Actor<typeof leaseMachine>['send']>[0]): void {
    if (this.#actor.getSnapshot().status === 'active') this.#actor.send(event);
  }

  #read(input: ReaderInput, sendBack: (event: ReaderEvent) => void): () => void {
    if (this.#options.leaseOnly) return () => undefined;
    const abort = new AbortController();
    const { metrics } = this.#options.services;
    const labels = this.#labels;
    if (input.attempt > 0) metrics.add('GetMediaReconnects', 1, labels);
    const events = readStreamMedia({
      endpoints: this.#options.endpoints,
      mediaClient: this.#options.mediaClient,
      streamName: input.streamName,
      resumeFrom: input.resumeFrom,
      continuationToken: input.continuationToken,
      startWhenNew: this.#options.startWhenNew,
      signal: abort.signal,
      onBytes: (bytes) => metrics.add('BytesRead', bytes, labels),
      idleTimeoutMs: this.#options.getMediaIdleTimeoutMillis,
      maxMillisBehindNow: this.#options.maxMillisBehindNow,
      // In-band GetMedia errors, checkpoints given up and jumps to the live edge: warnings, counted.
      onNotice: (notice) => {
        const { type, ...fields } = notice;
        if (notice.type === 'live-edge-skip') {
          metrics.add('FragmentsSkipped', notice.fragmentsSkipped ?? 0, labels);
          metrics.add('TimeSkipped', notice.skippedMillis, labels);
        } else metrics.add(type === 'get-media-error' ? 'GetMediaErrors' : 'CheckpointFallbacks', 1, labels);
        this.#log(type, { level: 'warn', ...fields });
      },
    });
    this.#pipeline.beginRead();
    void (async () => {
      try {
        for await (const batch of events) {
          for (const event of batch) {
            // Checked before each event: once the machine stops the reader, nothing more counts as read.
            if (abort.signal.aborted) return;
            // Only a sampled frame waiting for room returns a promise: the others cost no async step.
            const wait = this.#pipeline.push(event, abort.signal);
            if (wait !== undefined) {
              try {
                await wait;
              } catch (error) {
                // Aborted while waiting for room: the frame was not taken, and the next reader reads it again.
                if (abort.signal.aborted) return;
                throw error;
              }
            }
            if (event.type !== 'fragment') continue;
            const { fragmentNumber, serverTimestamp, continuationToken } = event.fragment;
            if (fragmentNumber === null || serverTimestamp === null) continue;
            this.#log('fragment', { level: 'debug', fragmentNumber, serverTimestamp });
            this.#actor.send({ type: 'FRAGMENT_READ', fragmentNumber, serverTimestamp, continuationToken });
          }
        }
        if (!abort.signal.aborted) sendBack({ type: 'READER_ENDED' });
      } catch (error) {
        if (abort.signal.aborted) return;
        if (errorCode(error) === 'STREAM_NOT_FOUND') {
          sendBack({ type: 'STREAM_MISSING' });
          return;
        }
        this.#log('reader-failed', { level: 'warn', attempt: input.attempt, ...errorFields(error) });
        sendBack({ type: 'READER_FAILED', error });
      }
    })();
    return () => abort.abort();
  }

  async #finish(): Promise<LeaseMachineOutput | null> {
    let output: LeaseMachineOutput | null = null;
    try {
      output = await toPromise(this.#actor);
    } catch (error) {
      this.#log('lease-actor-failed', { level: 'error', ...errorFields(error) });
    }
    this.#uncarry();
    // Frames still in flight (a drain that timed out) belong to fragments after the last checkpoint: the next owner
    // reads them again.
    this.#pipeline.abort();
    // Read before the registry drops the stream's series: the ended lease's view and log lines keep them.
    const counters = this.counters;
    this.#final = counters;
    this.#options.services.metrics.removeStream(this.streamName, this.#labels);
    if (output?.reason === 'lease-lost') {
      this.#log('lost', { reason: this.#lostReason ?? 'taken', counters });
      return output;
    }
    // Released rather than left to expire, so that another worker (or this one) takes it at once.
    await this.#options.coordinator.release(this.streamName);
    this.#log('released', {
      reason: output?.reason ?? 'failed',
      checkpoint: output?.checkpoint?.fragmentNumber ?? null,
      drainTimedOut: output?.drainTimedOut ?? false,
      counters,
    });
    return output;
  }

  /** Counts and logs a checkpoint written: its line says every sampled frame up to its fragment is published. */
  #written(checkpoint: Checkpoint, fields: { final: boolean; withRenewal?: true }): void {
    this.#options.services.metrics.add('CheckpointsWritten');
    const { fragmentNumber, serverTimestamp, keyframesSeen, nextSampleAt, inclusive } = checkpoint;
    this.#log(inclusive ? 'checkpoint-inclusive' : 'checkpoint', {
      fragmentNumber,
      serverTimestamp,
      keyframesSeen,
      nextSampleAt,
      ...fields,
    });
  }

  #log(event: string, fields: Record<string, unknown> = {}): void {
    this.#options.log({
      level: 'info',
      event,
      worker: this.#options.coordinator.workerId,
      stream: this.streamName,
      ...fields,
    });
  }
}
