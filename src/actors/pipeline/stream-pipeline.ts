// One stream's path from parsed GetMedia events to published records: sample, decode and encode in
// the pool, infer, publish; and the order in which fragments become complete (checkpointable).
// It outlives any one GetMedia connection of its lease, so a reconnect neither loses nor repeats frames.
//
// What a worker holds in flight. Every sampled frame, from sampling until it is published or failed, holds a
// place in one stage at least, and each stage, when full, pauses the one before it (a full publisher keeps
// answered frames in the dispatcher, a full dispatcher keeps encoded frames in their slots, full slots pause
// GetMedia reading):
//   slots       S = decodeThreadPoolSize x 5 (the pool's threads and its queue of 4 per thread), DECODE_STAGE_BYTES
//   dispatcher  Q + T = sageMakerTaskQueueSize + sageMakerTaskThreadPoolSize, sageMakerTaskQueueBytes
//   publisher   P = 500 records, 5 MiB
// so frames in flight <= S + Q + T + P, however long the endpoint or Kinesis is away; and memory in flight <=
//     64 MiB          compressed frames in the slots (a frame is a view of the GetMedia chunk it came in, kept alive
// with it)
//   + S x I           the encoded images of slotted frames waiting for a dispatcher place (I: the largest image,
//                     width x height x 3 for BMP, far less for JPEG)
//   + (B + (Q + T) x A) x 11/3
//                     B = sageMakerTaskQueueBytes of images waiting for or at the endpoint and of answers waiting
//                     for the publisher (checked when a frame is admitted, so answers larger than their images
//                     overshoot it by at most A, the largest answer, per place), and the records built from
//                     those answers (at most 8/3 of an answer: `result` or `resultBase64`, and KIT's base64
//                     `sageMakerOutput`)
//   + 2 x 5 MiB x 2   the publisher's records and the answers they were built from, and the bodies of its two calls
// With the defaults (Q 5000, T 20, B 256 MiB, 2 decode threads, 1080p JPEG, I <= 1 MiB, small JSON answers):
// 64 MiB + 10 MiB + about 975 MiB + 20 MiB, about 1070 MiB above the idle process.

import { setMaxListeners } from 'node:events';
import type { KvsInferConfig } from '../../config/index.js';
import { compareFragmentNumbers } from '../../media/fragment-number.js';
import {
  createSampler,
  type Frame,
  type FrameSampler,
  type MediaError,
  type MkvEvent,
  type SamplerState,
} from '../../media/index.js';
import type { MetricLabels, MetricsRegistry, StageMetricName } from '../../metrics/index.js';
import type { EncodedImage, FramePool, ImageRequest } from '../../native/index.js';
import type { Clock } from '../clock.js';
import { errorFields } from '../logger.js';
import type { DispatchHandle, InferenceDispatcher, InferenceOutcome } from './inference-dispatcher.js';
import { boundedError, buildRecord, type FrameIdentity, type RecordBody } from './inference-record.js';
import { kitSource } from './kit-fields.js';
import type { ResultPublisher } from './result-publisher.js';
import type { Slots } from './slots.js';

/**
 * The byte bound of the worker's slots: compressed frames between reading and a place at the endpoint (a 4K
 * I-frame is a few MB, so only many decode threads on very large frames ever reach it). While a frame waits for
 * its dispatcher place it also holds its encoded image, which the slots bound by count only (see the README's
 * memory formula).
 */
export const DECODE_STAGE_BYTES = 64 * 1024 * 1024;

/** The image the pool makes of each sampled frame, as the worker's configuration asks for it. */
export function imageRequest(
  config: Pick<KvsInferConfig, 'endPointAcceptContentType' | 'imageWidth' | 'imageHeight' | 'jpegQuality'>,
): ImageRequest {
  return {
    contentType: config.endPointAcceptContentType,
    width: config.imageWidth,
    height: config.imageHeight,
    quality: config.jpegQuality,
  };
}

/** What every stream of a worker shares. */
export interface PipelineServices {
  pool: Pick<FramePool, 'process'>;
  /**
   * Frames between reading and a place in the endpoint queue, over all streams, by count and compressed bytes: full,
   * reading pauses.
   */
  slots: Slots;
  dispatcher: Pick<InferenceDispatcher, 'submit'>;
  publisher: Pick<ResultPublisher, 'publish'>;
  metrics: MetricsRegistry;
  image: ImageRequest;
  endpoint: string;
  workerId: string;
  inferenceInterval: number;
  /** When set, one I-frame per this many ms of producer time instead of 1 in `inferenceInterval` I-frames. */
  samplingIntervalMillis?: number | undefined;
  /** Publish a record with `error` for a frame that failed for good (else it is only counted and logged). */
  publishFailedFrames: boolean;
  /** Marks every record `replay: true`: `kvs-infer replay` reads archived video, not the live stream. */
  replay?: boolean;
  /**
   * The worker's monotonic clock: stage durations and backpressure time; the lease actors' machines and waits run on it
   * too.
   */
  clock: Clock;
  /** Wall clock, epoch ms (default Date.now): records' publishedAt and latencies from KVS's server timestamps. */
  now?: () => number;
}

/** With the sampler's state at the end of the fragment, stored with the checkpoint. */
export interface CompletedFragment extends SamplerState {
  fragmentNumber: string;
  serverTimestamp: number;
}

export interface StreamPipelineOptions {
  streamName: string;
  services: PipelineServices;
  /** The checkpoint's count: the sampler goes on from where the last owner's checkpoint left it. */
  keyframesSeen: number;
  /** The checkpoint's next tick of sampling by time: the sampler goes on from it (absent: from the next I-frame). */
  nextSampleAt?: number | undefined;
  /** Called in fragment order, once every sampled frame of the fragment and of all before it is done. */
  onComplete: (fragment: CompletedFragment) => void;
  /** For problems worth an operator's attention: corrupt fragments, frames that failed for good or went unrecorded. */
  onEvent: (event: string, fields: Record<string, unknown>) => void;
  /**
   * What its metrics are recorded with (default a `{ stream }` of its own): its lease's, which the lease passes to
   * `removeStream` as it ends, so that frames still in flight then record nothing for the stream.
   */
  labels?: MetricLabels;
}

interface OpenFragment {
  fragmentNumber: string;
  serverTimestamp: number;
  producerTimestamp: number | null;
  /** Its last byte has been read (or it was given up): no new frames will come. */
  readDone: boolean;
  /**
   * The parser reported it corrupt (counted once); when it leaves it for the next fragment, that is its end, not a
   * loss.
   */
  corrupt: boolean;
  /** Sampled frames not yet published or settled. */
  outstanding: number;
  /** Frames of it processed; a reconnect that reads it again skips this many. */
  framesTaken: number;
  /** The sampler's state after its frames taken so far. */
  sampler: SamplerState;
}

export class StreamPipeline {
  readonly streamName: string;

  readonly #options: StreamPipelineOptions;
  readonly #services: PipelineServices;
  readonly #sampler: FrameSampler;
  readonly #now: () => number;
  readonly #metrics: MetricsRegistry;
  readonly #labels: MetricLabels;
  /** Fragments not yet complete, in stream order. */
  readonly #open: OpenFragment[] = [];
  /** The newest fragment read to its end (or given up); anything up to it that is read again is skipped. */
  #lastReadDone: string | null = null;
  /**
   * Frames of each fragment seen on the current connection, to skip those a fragment read again had taken. Only
   * for fragments not read to their end: a fragment done is skipped before this is looked at (#isDone), so its
   * count is dropped (#finishRead) and the map holds one or two fragments, however long the connection.
   */
  #seenThisRead = new Map<string, number>();
  #currentFragment: string | null = null;
  #outstanding = 0;
  /** KVS's lag of the last fragment read behind the stream's newest, ms. */
  millisBehindNow: number | null = null;
  readonly #abort = new AbortController();
  #idle: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(options: StreamPipelineOptions) {
    this.#options = options;
    this.#services = options.services;
    this.streamName = options.streamName;
    this.#sampler = createSampler(
      options.services,
      { keyframesSeen: options.keyframesSeen, nextSampleAt: options.nextSampleAt },
      options.streamName,
    );
    this.#now = options.services.now ?? Date.now;
    this.#metrics = options.services.metrics;
    this.#labels = options.labels ?? { stream: options.streamName };
    // Every frame in flight listens to it (pool, endpoint, publisher): hundreds at once are expected, not a leak.
    setMaxListeners(0, this.#abort.signal);
  }

  /** Sampled frames in flight (decoding, waiting for or at the endpoint, publishing). */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Fragments whose frames the current connection is counting (read, not yet read to their end). */
  get fragmentsCountedThisRead(): number {
    return this.#seenThisRead.size;
  }

  /** A new GetMedia connection begins: it may start again inside, or before the end of, what was read. */
  beginRead(): void {
    this.#seenThisRead = new Map();
    this.#currentFragment = null;
  }

  /**
   * Takes one parser event. Returns nothing when it is taken at once, as all but a sampled frame that finds the
   * worker's slots full are; else a promise that resolves when the pipeline can take the next event: the wait for a
   * place among the slots is how a full pipeline pauses reading. That promise rejects only when `signal` (the
   * reader's) aborts, with nothing of the frame taken, so the next connection reads it again.
   */
  push(event: MkvEvent, signal?: AbortSignal): Promise<void> | undefined {
    switch (event.type) {
      case 'frame':
        return this.#frame(event.frame, signal);
      case 'fragment': {
        const { fragmentNumber, serverTimestamp, producerTimestamp, millisBehindNow } = event.fragment;
        this.millisBehindNow = millisBehindNow ?? this.millisBehindNow;
        if (fragmentNumber === null || serverTimestamp === null || this.#isDone(fragmentNumber)) return;
        const entry = this.#entry(fragmentNumber, serverTimestamp, producerTimestamp);
        this.#metrics.add('FragmentsRead', 1, this.#labels);
        if (millisBehindNow !== null) this.#metrics.set('MillisBehindNow', millisBehindNow, this.#labels);
        this.#finishRead(entry);
        return;
      }
      case 'error':
        this.#mediaError(event.error);
        return;
      case 'tracks':
        if (event.video === null) this.#options.onEvent('no-video-track', { level: 'warn' });
        return;
    }
  }

  /** Resolves once nothing is in flight. */
  whenIdle(): Promise<void> {
    if (this.#outstanding === 0) return Promise.resolve();
    if (this.#idle === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#idle = { promise, resolve };
    }
    return this.#idle.promise;
  }

  /** The lease is gone or ended: abandon what is in flight; nothing more completes. */
  abort(): void {
    this.#abort.abort();
  }

  /** Synchronous unless the frame is to be sampled and must wait for a slot: no async hop for the frames skipped. */
  #frame(frame: Frame, signal: AbortSignal | undefined): Promise<void> | undefined {
    const { fragmentNumber, serverTimestamp, producerTimestamp } = frame.fragment;
    // GetMedia always tags fragments; without a number a frame could never be checkpointed.
    if (fragmentNumber === null || serverTimestamp === null || this.#isDone(fragmentNumber)) {
      if (fragmentNumber !== null) this.#metrics.add('FramesSkipped', 1, this.#labels);
      return;
    }
    const entry = this.#entry(fragmentNumber, serverTimestamp, producerTimestamp);
    const seen = (this.#seenThisRead.get(fragmentNumber) ?? 0) + 1;
    this.#seenThisRead.set(fragmentNumber, seen);
    if (seen <= entry.framesTaken) {
      this.#metrics.add('FramesSkipped', 1, this.#labels);
      return;
    }
    if (!this.#sampler.wouldSample(frame)) {
      this.#take(frame, entry, null, 0, 0);
      return;
    }
    // The frame's receipt, before any wait for a slot: where KIT's IngestToProcessLatency ends and the next stage
    // starts.
    const ingestMs = this.#now() - serverTimestamp;
    const receivedAt = this.#services.clock.now();
    const slots = this.#services.slots;
    const taken = (release: () => void): void => {
      this.#metrics.add('ReadPausedTime', this.#services.clock.now() - receivedAt, this.#labels);
      // The reader may have been stopped (shutdown) while this frame waited: it is not taken, and is read again.
      if (this.#abort.signal.aborted || signal?.aborted) {
        release();
        signal?.throwIfAborted();
        return;
      }
      this.#take(frame, entry, release, ingestMs, receivedAt);
    };
    if (signal?.aborted) return Promise.reject(signal.reason);
    const release = slots.tryAcquire(frame.data.byteLength);
    if (release === null) return slots.acquire(frame.data.byteLength, signal).then(taken);
    taken(release);
  }

  /**
   * The frame is taken: counted once, never read again by this pipeline; sent on its way when sampled (`release`,
   * its slot, is null for a frame that cannot be).
   */
  #take(frame: Frame, entry: OpenFragment, release: (() => void) | null, ingestMs: number, receivedAt: number): void {
    entry.framesTaken++;
    this.#metrics.add('FramesRead', 1, this.#labels);
    if (frame.keyframe) {
      this.#metrics.add('IFramesSeen', 1, this.#labels);
    }
    const keyframeIndex = this.#sampler.sample(frame);
    entry.sampler = this.#sampler.state;
    if (keyframeIndex === null || release === null) return;
    this.#metrics.add('FramesSampled', 1, this.#labels);
    this.#metrics.observe('IngestToProcessLatency', ingestMs, this.#labels);
    entry.outstanding++;
    this.#outstanding++;
    const { fragmentNumber, serverTimestamp, producerTimestamp } = entry;
    const identity: FrameIdentity = {
      streamName: this.streamName,
      fragmentNumber,
      serverTimestamp,
      producerTimestamp,
      frameTimecode: frame.timecodeMs,
      keyframeIndex,
      kit: kitSource(frame),
    };
    // Decode and encode, a place at the endpoint, inference, publishing. Each step lets go of what it no longer
    // needs (no async frame keeps them): the compressed frame once encoded, the image once answered (the
    // dispatcher drops it), so a frame waiting for a later stage holds only what that stage bounds.
    void this.#encode(frame)
      .then(
        (image) => this.#infer(identity, image, receivedAt, release),
        (error: unknown) => this.#encodeFailed(identity, error, release),
      )
      .catch((error: unknown) => this.#unaccounted(identity, error, release))
      .then((accounted) => {
        if (accounted) this.#settled(entry);
      });
  }

  /**
   * Not given the abort signal: piscina aborts a running task by terminating its thread, in the middle of a
   * native decode. A frame takes milliseconds; an abandoned one is finished and dropped after.
   */
  #encode(frame: Frame): Promise<EncodedImage> {
    const services = this.#services;
    return services.pool.process({
      codecId: frame.track.codecId ?? '',
      codecPrivate: frame.track.codecPrivate,
      data: frame.data,
      output: services.image,
    });
  }

  /**
   * Accounts for a frame the pool could not decode or encode (false when the pipeline was abandoned meanwhile).
   * It keeps its slot until the publisher has taken its error record, so that failing frames cannot pile up.
   */
  async #encodeFailed(identity: FrameIdentity, error: unknown, releaseSlot: () => void): Promise<boolean> {
    try {
      if (this.#abort.signal.aborted) return false;
      return await this.#failed(
        identity,
        { error: { stage: 'decode', ...codeAndMessage(error) }, attempts: 0, inferenceLatencyMs: null },
        releaseSlot,
      );
    } finally {
      releaseSlot();
    }
  }

  /**
   * Hands the image to the dispatcher (an abandoned pipeline's signal is aborted already: the frame is refused at
   * once).
   */
  #submit(identity: FrameIdentity, image: EncodedImage): DispatchHandle {
    this.#metrics.add('FramesDecoded', 1, this.#labels);
    const label = `fragment ${identity.fragmentNumber} timecode ${identity.frameTimecode}`;
    return this.#services.dispatcher.submit(
      { stream: this.streamName, label, body: image.data, contentType: image.contentType },
      this.#abort.signal,
    );
  }

  /**
   * Submits the decoded frame (`receivedAt`: the clock's now() at its receipt), waits for its dispatcher place
   * (the slot stays taken until then: that is the backpressure reaching the reader), then its outcome, then hands
   * its record on. The dispatcher place is given back once the publisher has taken the record: a full publish
   * stage pauses inference. Resolves true once the frame is accounted for (published, or failed for good and
   * recorded); false when it was abandoned (the lease or the worker ending), which leaves its fragment incomplete,
   * so no checkpoint can move past it. Never rejects.
   */
  async #infer(
    identity: FrameIdentity,
    image: EncodedImage,
    receivedAt: number,
    releaseSlot: () => void,
  ): Promise<boolean> {
    const decodedAt = this.#stageEnded('ReceivedToDecodedLatency', receivedAt);
    const handle = this.#submit(identity, image);
    try {
      let outcome: InferenceOutcome;
      try {
        await handle.queued.finally(releaseSlot);
        outcome = await handle.outcome;
      } catch {
        // Only ABORTED or DISPATCHER_CLOSED: the lease or the worker is ending, and this frame with it.
        return false;
      }
      if (outcome.status === 'dropped') {
        this.#metrics.add('FramesDropped', 1, this.#labels);
        return true;
      }
      // The dispatcher counts queuedMs from the submit, which follows decodedAt at once.
      this.#metrics.observe('DecodedToInvokedLatency', outcome.queuedMs, this.#labels);
      if (outcome.attempts > 1) this.#metrics.add('InferenceRetries', outcome.attempts - 1, this.#labels);
      if (outcome.status === 'failed') {
        const error = { stage: 'inference' as const, ...codeAndMessage(outcome.error) };
        return await this.#failed(
          identity,
          { error, attempts: outcome.attempts, inferenceLatencyMs: outcome.latencyMs },
          handle.release,
        );
      }
      const inferredAt = this.#stageEnded('InvokedToInferredLatency', decodedAt + outcome.queuedMs);
      this.#metrics.add('FramesInferred', 1, this.#labels);
      this.#metrics.observe('InferenceLatency', outcome.latencyMs, this.#labels);
      const answer = {
        answer: outcome.body,
        answerContentType: outcome.contentType,
        attempts: outcome.attempts,
        inferenceLatencyMs: outcome.latencyMs,
      };
      return await this.#publish(identity, answer, handle.release, inferredAt);
    } finally {
      // Given back on every path the publisher did not take the record on (abandoned, dropped, not published).
      handle.release();
    }
  }

  /**
   * `onTaken`: told once the publisher holds the frame's record; the caller gives back its place in every other case.
   */
  async #failed(
    identity: FrameIdentity,
    body: Extract<RecordBody, { error: unknown }>,
    onTaken: () => void,
  ): Promise<boolean> {
    this.#metrics.add('FramesFailed', 1, this.#labels);
    const { fragmentNumber, frameTimecode } = identity;
    this.#options.onEvent('frame-failed', {
      level: 'warn',
      fragmentNumber,
      frameTimecode,
      ...boundedError(body.error),
      attempts: body.attempts,
    });
    return this.#services.publishFailedFrames ? this.#publish(identity, body, onTaken) : true;
  }

  /**
   * `inferredAt`: the clock's now() at an answered frame's answer, where its last stage starts; null for an error
   * record.
   */
  async #publish(
    identity: FrameIdentity,
    body: RecordBody,
    onTaken: () => void,
    inferredAt: number | null = null,
  ): Promise<boolean> {
    const services = this.#services;
    let data: Buffer;
    try {
      const record = buildRecord(
        identity,
        {
          contentType: services.image.contentType,
          endpoint: services.endpoint,
          workerId: services.workerId,
          now: this.#now(),
          replay: services.replay,
        },
        body,
      );
      data = Buffer.from(JSON.stringify(record));
    } catch (error) {
      // An answer that cannot be written as a record: JSON that parses but nests too deep to serialise again, or
      // one too large for a string. Not an abandoned frame: it is recorded as failed, like an oversized one.
      if (this.#abort.signal.aborted) return false;
      const { fragmentNumber, frameTimecode } = identity;
      const what = 'answer' in body ? `an answer of ${body.answer.byteLength} bytes` : 'an error record';
      const cause = `${error instanceof Error ? error.name : 'Error'}: ${errorFields(error).message}`;
      const message =
        `the record of stream ${this.streamName} fragment ${fragmentNumber} timecode ${frameTimecode} ` +
        `cannot be written as JSON (${what}): ${cause}`;
      return this.#unpublishable(identity, body, onTaken, { code: 'RECORD_UNSERIALIZABLE', message });
    }
    try {
      const { taken, receipt } = services.publisher.publish(
        { partitionKey: this.streamName, data },
        this.#abort.signal,
      );
      // Not on a rejection: a record too large becomes an error record below, which takes the place over.
      void taken.then(onTaken, () => {});
      await receipt;
    } catch (error) {
      // The publisher gives up on nothing but oversized records; anything else means the lease or the worker is ending.
      if (this.#abort.signal.aborted || errorFields(error).code !== 'RECORD_TOO_LARGE') return false;
      return this.#unpublishable(identity, body, onTaken, codeAndMessage(error));
    }
    this.#metrics.add('FramesPublished', 1, this.#labels);
    if (inferredAt !== null) this.#stageEnded('InferredToPublishedLatency', inferredAt);
    this.#metrics.observe('EndToEndLatency', this.#now() - identity.serverTimestamp, this.#labels);
    return true;
  }

  /**
   * A frame whose record cannot be published as is (too large, or not serialisable) still leaves a trace, so that it
   * is accounted for and its fragment completes: an answered frame gets an error record of stage `publish` instead;
   * an error record that cannot be published either leaves the frame failed, unrecorded, and says so.
   */
  async #unpublishable(
    identity: FrameIdentity,
    body: RecordBody,
    onTaken: () => void,
    error: { code: string; message: string },
  ): Promise<boolean> {
    if ('error' in body) {
      // Error records are bounded (inference-record.ts) to fit a Kinesis record; one that still does not fit
      // (a publisher built with a smaller limit), or cannot be written, must not hold the fragment open: the frame
      // is failed, unrecorded.
      const { fragmentNumber, frameTimecode } = identity;
      this.#options.onEvent('failed-frame-unrecorded', { level: 'error', fragmentNumber, frameTimecode, ...error });
      return true;
    }
    const failure = {
      error: { stage: 'publish' as const, ...error },
      attempts: body.attempts,
      inferenceLatencyMs: body.inferenceLatencyMs,
    };
    return this.#failed(identity, failure, onTaken);
  }

  /**
   * A frame's way through the stages rejected, which none of them should (a defect): the frame would otherwise be
   * neither published nor settled, holding its fragment and every checkpoint after it open for good, or the
   * rejection would go unhandled and end the worker. It is failed, unrecorded, and logged, unless abandoned.
   */
  #unaccounted(identity: FrameIdentity, error: unknown, releaseSlot: () => void): boolean {
    releaseSlot();
    if (this.#abort.signal.aborted) return false;
    this.#metrics.add('FramesFailed', 1, this.#labels);
    const { fragmentNumber, frameTimecode } = identity;
    this.#options.onEvent('failed-frame-unrecorded', {
      level: 'error',
      fragmentNumber,
      frameTimecode,
      ...codeAndMessage(error),
    });
    return true;
  }

  /**
   * Records a stage of a frame that began at `startedAt` and ends now; returns now, where its next stage begins.
   * On the monotonic clock, so that a wall clock step cannot make a stage negative (only the first, from KVS's
   * timestamp, needs the wall clock).
   */
  #stageEnded(stage: StageMetricName, startedAt: number): number {
    const now = this.#services.clock.now();
    this.#metrics.observe(stage, now - startedAt, this.#labels);
    return now;
  }

  #settled(entry: OpenFragment): void {
    entry.outstanding--;
    this.#outstanding--;
    this.#completeReady();
    if (this.#outstanding === 0 && this.#idle !== null) {
      this.#idle.resolve();
      this.#idle = null;
    }
  }

  /**
   * MKV_INVALID does not end the fragment here. The parser either goes on inside it (a bad block or tag value
   * is skipped, and the fragment's later frames and its end still come) or drops it and resyncs at the next
   * fragment, whose first event gives this one up (#entry): either way the fragment ends when the parser has
   * left it, and none of its good frames is checkpointed past unread.
   */
  #mediaError(error: MediaError): void {
    if (error.code !== 'MKV_INVALID') {
      // MKV_TRUNCATED: the connection ended inside a fragment, which the next connection reads again.
      // MKV_EMPTY: an empty answer. Neither loses anything.
      this.#options.onEvent('media-incomplete', { level: 'debug', ...errorFields(error) });
      return;
    }
    const fragment = error.fragment;
    const known =
      fragment?.fragmentNumber != null && fragment.serverTimestamp !== null && !this.#isDone(fragment.fragmentNumber);
    const entry = known
      ? this.#entry(fragment.fragmentNumber!, fragment.serverTimestamp!, fragment.producerTimestamp)
      : null;
    // Reported once per fragment, however many of its blocks are bad or however often a reconnect reads it again.
    if (entry?.corrupt) return;
    if (entry) entry.corrupt = true;
    this.#metrics.add('CorruptFragments', 1, this.#labels);
    this.#options.onEvent('corrupt-fragment', {
      level: 'warn',
      fragmentNumber: fragment?.fragmentNumber ?? null,
      offset: error.offset,
      ...errorFields(error),
    });
  }

  #isDone(fragmentNumber: string): boolean {
    return this.#lastReadDone !== null && compareFragmentNumbers(fragmentNumber, this.#lastReadDone) <= 0;
  }

  #entry(fragmentNumber: string, serverTimestamp: number, producerTimestamp: number | null): OpenFragment {
    if (this.#currentFragment !== fragmentNumber) {
      // A later fragment started on this connection: an earlier one still open will not come back on it
      // (its end was lost with a broken connection, or KVS expired it). Give it up rather than block checkpoints.
      for (const open of this.#open) {
        if (!open.readDone && open.fragmentNumber !== fragmentNumber) {
          // A corrupt fragment the parser dropped ends here, as reported; any other lost its end.
          if (!open.corrupt) {
            this.#metrics.add('IncompleteFragments', 1, this.#labels);
            this.#options.onEvent('fragment-incomplete', {
              level: 'warn',
              fragmentNumber: open.fragmentNumber,
              framesTaken: open.framesTaken,
            });
          }
          this.#finishRead(open);
        }
      }
      this.#currentFragment = fragmentNumber;
    }
    let entry = this.#open.find((f) => f.fragmentNumber === fragmentNumber);
    if (entry === undefined) {
      entry = {
        fragmentNumber,
        serverTimestamp,
        producerTimestamp,
        readDone: false,
        corrupt: false,
        outstanding: 0,
        framesTaken: 0,
        sampler: this.#sampler.state,
      };
      this.#open.push(entry);
    }
    return entry;
  }

  #finishRead(entry: OpenFragment): void {
    entry.readDone = true;
    if (this.#lastReadDone === null || compareFragmentNumbers(entry.fragmentNumber, this.#lastReadDone) > 0)
      this.#lastReadDone = entry.fragmentNumber;
    // No frame of a fragment up to #lastReadDone reaches #seenThisRead again: their counts are no longer needed.
    for (const fragmentNumber of this.#seenThisRead.keys())
      if (this.#isDone(fragmentNumber)) this.#seenThisRead.delete(fragmentNumber);
    this.#completeReady();
  }

  #completeReady(): void {
    if (this.#abort.signal.aborted) return;
    while (this.#open.length > 0 && this.#open[0]!.readDone && this.#open[0]!.outstanding === 0) {
      const done = this.#open.shift()!;
      this.#metrics.add('FragmentsCompleted', 1, this.#labels);
      this.#options.onComplete({
        fragmentNumber: done.fragmentNumber,
        serverTimestamp: done.serverTimestamp,
        ...done.sampler,
      });
    }
  }
}

function codeAndMessage(error: unknown): { code: string; message: string } {
  const { code, message } = errorFields(error);
  return { code: code ?? 'ERROR', message };
}
