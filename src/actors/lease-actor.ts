// Runs one lease machine for one held stream lease: supplies its acquirer, GetMedia reader and
// checkpointer, and hands the lease back when the machine ends, unless another worker has it.

import { setTimeout } from 'node:timers/promises';
import type { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import type { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import { createActor, fromCallback, fromPromise, toPromise, type Actor, type EventObject } from 'xstate';
import {
  errorCode,
  leaseMachine,
  type AcquirerInput,
  type AcquirerOutput,
  type BackoffPolicy,
  type CheckpointerInput,
  type LeaseMachineOutput,
  type ReaderEvent,
  type ReaderInput,
} from '../machines/index.js';
import type { LeaseCoordinator } from './lease-coordinator.js';
import type { Lease, LeaseLostReason } from './lease-types.js';
import { errorFields, type Logger } from './logger.js';
import { readStreamMedia } from './media-reader.js';

/** While a write is in flight CHECKPOINT_NOW is dropped; this interval writes what was dropped. */
const EAGER_CHECKPOINT_FALLBACK_MS = 1_000;

export interface LeaseActorOptions {
  /** The lease as the coordinator handed it over in onAcquired: its key is the stream name. */
  lease: Lease;
  coordinator: Pick<LeaseCoordinator, 'workerId' | 'checkpoint' | 'release'>;
  control: KinesisVideoClient;
  mediaClient: (endpoint: string) => KinesisVideoMediaClient;
  log: Logger;
  /** Where a stream never checkpointed starts; default NOW. */
  startWhenNew?: 'NOW' | 'EARLIEST';
  /** 0 writes a checkpoint whenever one more fragment is complete. Default the machine's. */
  checkpointIntervalMillis?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Waits this long before reading: a stolen lease's old owner is still reading until its next renewal. */
  handoverDelayMillis?: number;
}

export class LeaseActor {
  readonly streamName: string;
  /** Settles once the machine has ended and, unless the lease was lost, the lease is released. */
  readonly done: Promise<LeaseMachineOutput | null>;

  readonly #options: LeaseActorOptions;
  readonly #actor: Actor<typeof leaseMachine>;
  readonly #eagerCheckpoints: boolean;
  #lostReason: LeaseLostReason | null = null;

  constructor(options: LeaseActorOptions) {
    this.#options = options;
    this.streamName = options.lease.leaseKey;
    this.#eagerCheckpoints = options.checkpointIntervalMillis === 0;
    const machine = leaseMachine.provide({
      actors: {
        acquirer: fromPromise<AcquirerOutput, AcquirerInput>(async ({ signal }) => {
          if (options.handoverDelayMillis) await setTimeout(options.handoverDelayMillis, undefined, { signal });
          return { checkpoint: options.lease.checkpoint ?? null };
        }),
        reader: fromCallback<EventObject, ReaderInput>(({ input, sendBack }) => this.#read(input, sendBack)),
        checkpointer: fromPromise<void, CheckpointerInput>(async ({ input }) => {
          await options.coordinator.checkpoint(input.leaseKey, input.checkpoint);
          this.#log('checkpoint', { fragmentNumber: input.checkpoint.fragmentNumber, serverTimestamp: input.checkpoint.serverTimestamp, final: input.final });
        }),
      },
    });
    this.#actor = createActor(machine, {
      input: {
        streamName: this.streamName,
        leaseKey: options.lease.leaseKey,
        checkpointIntervalMs: this.#eagerCheckpoints ? EAGER_CHECKPOINT_FALLBACK_MS : options.checkpointIntervalMillis,
        backoff: options.backoff,
      },
    });
    this.done = this.#finish();
    this.#log('acquired', { checkpoint: options.lease.checkpoint?.fragmentNumber ?? null });
    this.#actor.start();
  }

  /** The coordinator no longer holds the lease: the reader stops now and nothing more is written. */
  lost(reason: LeaseLostReason): void {
    this.#lostReason ??= reason;
    this.#send({ type: 'LEASE_LOST' });
  }

  /** Graceful end: stop reading, write the final checkpoint, release. Nothing is in flight behind the reader yet. */
  shutdown(): void {
    this.#send({ type: 'SHUTDOWN' });
    this.#send({ type: 'DRAINED' });
  }

  #send(event: Parameters<Actor<typeof leaseMachine>['send']>[0]): void {
    if (this.#actor.getSnapshot().status === 'active') this.#actor.send(event);
  }

  #read(input: ReaderInput, sendBack: (event: ReaderEvent) => void): () => void {
    const abort = new AbortController();
    const events = readStreamMedia({
      control: this.#options.control,
      mediaClient: this.#options.mediaClient,
      streamName: input.streamName,
      resumeAfter: input.resumeAfter,
      continuationToken: input.continuationToken,
      startWhenNew: this.#options.startWhenNew,
      signal: abort.signal,
    });
    void (async () => {
      try {
        for await (const event of events) {
          // Checked before each event: once the machine stops the reader, nothing more counts as read.
          if (abort.signal.aborted) return;
          if (event.type === 'error') {
            this.#log('corrupt-fragment', { level: 'warn', fragmentNumber: event.error.fragment?.fragmentNumber ?? null, offset: event.error.offset, ...errorFields(event.error) });
            continue;
          }
          if (event.type !== 'fragment') continue;
          const { fragmentNumber, serverTimestamp, continuationToken } = event.fragment;
          if (fragmentNumber === null || serverTimestamp === null) continue;
          this.#log('fragment', { fragmentNumber, serverTimestamp });
          // Through the actor, as the pipeline (which outlives readers) will: the fragment is done as soon as read.
          this.#actor.send({ type: 'FRAGMENT_READ', fragmentNumber, continuationToken });
          this.#actor.send({ type: 'FRAGMENT_COMPLETE', fragmentNumber, serverTimestamp });
          if (this.#eagerCheckpoints) this.#actor.send({ type: 'CHECKPOINT_NOW' });
        }
        if (!abort.signal.aborted) sendBack({ type: 'READER_ENDED' });
      } catch (error) {
        if (abort.signal.aborted) return;
        if (errorCode(error) === 'STREAM_NOT_FOUND') {
          sendBack({ type: 'STREAM_DELETED' });
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
    if (output?.reason === 'lease-lost') {
      this.#log('lost', { reason: this.#lostReason ?? 'taken' });
      return output;
    }
    // Released rather than left to expire, so that another worker (or this one) takes it at once.
    await this.#options.coordinator.release(this.streamName);
    this.#log('released', { reason: output?.reason ?? 'failed', checkpoint: output?.checkpoint?.fragmentNumber ?? null });
    return output;
  }

  #log(event: string, fields: Record<string, unknown> = {}): void {
    this.#options.log({ level: 'info', event, worker: this.#options.coordinator.workerId, stream: this.streamName, ...fields });
  }
}
