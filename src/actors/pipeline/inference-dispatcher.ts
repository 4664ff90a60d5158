// Sends sampled frames to a SageMaker endpoint: a bounded number of concurrent InvokeEndpoint calls, each
// attempt timed out, transient faults retried with capped, fully jittered backoff for a time budget per frame.
// Every frame holds a place from admission until its answer is handed on (release()), whether it waits for a
// call, is in one, backs off, or waits for the next stage to take its answer: the places are bounded in count
// and in bytes, so a failing endpoint or a stalled publisher fills them and the callers wait (backpressure).

import {
  InvokeEndpointCommand,
  type InvokeEndpointCommandOutput,
  type SageMakerRuntimeClient,
} from '@aws-sdk/client-sagemaker-runtime';
import { type BackoffPolicy, backoffDelay, resolveBackoff } from '../../aws/backoff.js';
import { KvsInferError } from '../../errors.js';
import { type Deferred, deferred, onAbort } from '../deferred.js';
import {
  type AttemptFailure,
  classifyAttemptFailure,
  InferenceError,
  type InferenceErrorCode,
} from './inference-errors.js';

export {
  type AttemptFailure,
  classifyAttemptFailure,
  InferenceError,
  type InferenceErrorCode,
  isInferenceError,
} from './inference-errors.js';

export interface InferenceRequest {
  /** KVS stream the frame comes from: `latest` drops only among frames of the same stream; also in error messages. */
  stream: string;
  /** Names the frame in error messages, e.g. `fragment 9134... timecode 12345`. */
  label: string;
  body: Uint8Array;
  /** The image type (config endPointAcceptContentType), sent as InvokeEndpoint's ContentType. */
  contentType: string;
}

export type InferenceOutcome =
  | {
      status: 'ok';
      body: Uint8Array;
      contentType: string | null;
      attempts: number;
      /** ms of the successful attempt */
      latencyMs: number;
      /** ms from submit to the first attempt starting */
      queuedMs: number;
    }
  | {
      status: 'failed';
      error: InferenceError;
      attempts: number;
      /** total ms from first attempt start to giving up */
      latencyMs: number;
      queuedMs: number;
    }
  /** Only under policy 'latest': a newer frame of the same stream took its place. */
  | { status: 'dropped'; queuedMs: number };

/** What submit() hands back for one frame. */
export interface DispatchHandle {
  /** Resolves once the frame holds a place; rejects only with ABORTED or DISPATCHER_CLOSED. */
  queued: Promise<void>;
  /**
   * Settles once the frame is answered, failed for good, or dropped; rejects only with ABORTED or DISPATCHER_CLOSED.
   */
  outcome: Promise<InferenceOutcome>;
  /**
   * Gives the frame's place back: call it once its answer has been handed on (the publisher took the record),
   * and in a `finally`, since an answered frame keeps its place until then. Called before the outcome settles,
   * the place is given back when it does. Idempotent.
   */
  release(): void;
}

export interface DispatcherOptions {
  /**
   * Must be built with `maxAttempts: 1`: the dispatcher owns retries (and their backoff and budget); SDK
   * retries inside an attempt would escape its timeout and stats.
   */
  client: SageMakerRuntimeClient;
  endpointName: string;
  /** Max concurrent InvokeEndpoint calls (KIT's sageMakerTaskThreadPoolSize). */
  concurrency: number;
  /**
   * With `concurrency`, the count bound: at most queueSize + concurrency frames hold a place (waiting for a
   * call, in one, backing off, or answered and not yet released). KIT's sageMakerTaskQueueSize.
   */
  queueSize: number;
  /**
   * Byte bound of the frames holding a place (sageMakerTaskQueueBytes): their images, and once answered their
   * answers instead. Checked when a frame is admitted (a larger image is admitted alone); default 256 MiB.
   */
  maxBytes?: number;
  /**
   * Bound on each attempt (KIT's sageMakerTaskTimeoutInMilli): the call is aborted through `client.send(cmd, {
   * abortSignal })`.
   */
  timeoutMs: number;
  policy: 'backpressure' | 'latest';
  /**
   * How long after its first attempt a frame's transient faults are still retried (sageMakerTaskRetryBudgetMillis);
   * default 300000; 0: never.
   */
  retryBudgetMs?: number;
  /** Optional cap on attempts per frame, the first included (sageMakerTaskMaxAttempts); default none. */
  maxAttempts?: number;
  /** Backoff between attempts; default DEFAULT_INFERENCE_BACKOFF. */
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
  /** Optional Accept header. */
  accept?: string;
}

export interface DispatcherStats {
  /** Frames holding a place, waiting for their first call. */
  waiting: number;
  /** InvokeEndpoint calls running now. */
  inFlight: number;
  /** Frames between attempts: sleeping out their backoff, or done sleeping and waiting for a call slot. */
  backingOff: number;
  /** Frames answered (or failed for good) whose place the caller has not released yet: the next stage is full. */
  awaitingRelease: number;
  /** Frames holding a place (all of the above): at most queueSize + concurrency. */
  held: number;
  /**
   * Bytes of the frames holding a place (images, or answers once answered): at most maxBytes when the last frame was
   * admitted.
   */
  heldBytes: number;
  /** Callers waiting for a place. */
  pending: number;
  submitted: number;
  /** Attempts started. */
  invocations: number;
  succeeded: number;
  failed: number;
  /** Attempts started after a frame's first. */
  retries: number;
  /** Attempts aborted by timeoutMs. */
  timeouts: number;
  dropped: number;
}

const DEFAULT_RETRY_BUDGET_MS = 300_000;
const DEFAULT_QUEUE_BYTES = 256 * 1024 * 1024;
/**
 * Full jitter (a delay uniform in [0, min(maxMs, baseMs * 2^n)]), so that frames failing together do not retry
 * together. The 10 s cap bounds the recovery after the endpoint heals, and the rate at which a worker's held
 * frames retry against a failing endpoint (about held / 5 s, and never more than `concurrency` calls at once).
 */
export const DEFAULT_INFERENCE_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 10_000, jitter: 1 };

type EndpointFaultCode = Extract<
  InferenceErrorCode,
  'ENDPOINT_TIMEOUT' | 'ENDPOINT_THROTTLED' | 'ENDPOINT_FAILED' | 'ENDPOINT_REJECTED'
>;

/** A failed attempt: classified by classifyAttemptFailure, or our own timeout. */
type AttemptFault = Omit<AttemptFailure, 'code'> & { code: EndpointFaultCode };

type JobState = 'pending' | 'queued' | 'inFlight' | 'backoff' | 'retryReady' | 'answered' | 'done';

type FrameAbout = Omit<InferenceRequest, 'body'>;

interface Job {
  request: FrameAbout;
  /** The image, until the frame is answered: then only its answer is kept, until released. */
  body: Uint8Array | null;
  /** What it counts in the held bytes: its image, then its answer. */
  bytes: number;
  state: JobState;
  /** Counted in the held frames and bytes. */
  holding: boolean;
  /** The caller called release(). */
  released: boolean;
  submittedAt: number;
  queuedMs: number;
  firstStartAt: number;
  attempts: number;
  queued: Deferred<void>;
  outcome: Deferred<InferenceOutcome>;
  /** The running attempt's controller, while inFlight. */
  controller: AbortController | null;
  /** The backoff timer, while backing off. */
  timer: NodeJS.Timeout | null;
  detach: () => void;
}

function positiveInteger(name: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isInteger(value) && value > 0)) {
    throw new KvsInferError(
      'BAD_CONFIG',
      `inference dispatcher: ${name} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

export class InferenceDispatcher {
  readonly #client: SageMakerRuntimeClient;
  readonly #endpointName: string;
  readonly #concurrency: number;
  /** queueSize + concurrency: the most frames that hold a place at once. */
  readonly #capacity: number;
  readonly #maxBytes: number;
  readonly #timeoutMs: number;
  readonly #retryBudgetMs: number;
  readonly #maxAttempts: number | undefined;
  readonly #policy: 'backpressure' | 'latest';
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  readonly #accept: string | undefined;

  /** Callers waiting for a place, in arrival order, admitted strictly in that order. */
  readonly #pending: Job[] = [];
  /** Frames holding a place, waiting for their first call, oldest first. */
  readonly #queue: Job[] = [];
  /** Retries whose backoff is over, served before the queue. */
  readonly #retryReady: Job[] = [];
  /** Every job not yet done, for close(). */
  readonly #live = new Set<Job>();
  #held = 0;
  #heldBytes = 0;
  #inFlight = 0;
  #backingOff = 0;
  #answered = 0;
  #closed = false;
  readonly #counts = { submitted: 0, invocations: 0, succeeded: 0, failed: 0, retries: 0, timeouts: 0, dropped: 0 };

  constructor(options: DispatcherOptions) {
    if (typeof options.endpointName !== 'string' || options.endpointName === '') {
      throw new KvsInferError('BAD_CONFIG', 'inference dispatcher: endpointName must be a non-empty string');
    }
    if (options.policy !== 'backpressure' && options.policy !== 'latest') {
      throw new KvsInferError(
        'BAD_CONFIG',
        `inference dispatcher: policy must be backpressure or latest, got ${String(options.policy)}`,
      );
    }
    const budget = options.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
    if (!(Number.isInteger(budget) && budget >= 0)) {
      throw new KvsInferError(
        'BAD_CONFIG',
        `inference dispatcher: retryBudgetMs must be an integer >= 0, got ${String(budget)}`,
      );
    }
    this.#client = options.client;
    this.#endpointName = options.endpointName;
    this.#concurrency = positiveInteger('concurrency', options.concurrency);
    this.#capacity = positiveInteger('queueSize', options.queueSize) + this.#concurrency;
    this.#maxBytes = positiveInteger('maxBytes', options.maxBytes ?? DEFAULT_QUEUE_BYTES);
    this.#timeoutMs = positiveInteger('timeoutMs', options.timeoutMs);
    this.#retryBudgetMs = budget;
    this.#maxAttempts =
      options.maxAttempts === undefined ? undefined : positiveInteger('maxAttempts', options.maxAttempts);
    this.#policy = options.policy;
    try {
      this.#backoff = resolveBackoff({ ...DEFAULT_INFERENCE_BACKOFF, ...options.backoff });
    } catch (error) {
      throw new KvsInferError('BAD_CONFIG', `inference dispatcher: ${(error as Error).message}`, { cause: error });
    }
    this.#random = options.random ?? Math.random;
    this.#accept = options.accept;
  }

  /**
   * `queued` resolves once the frame holds a place: at most queueSize + concurrency frames, and maxBytes of
   * images, hold one (a frame larger than maxBytes alone):
   *  - backpressure: waits while there is no room (FIFO among the waiters);
   *  - latest: when there is no room and frames of the SAME stream wait for their first call, the oldest of
   *    those are dropped (their outcome resolves `{ status: 'dropped' }`) if that makes room, and this one takes
   *    a place at once; otherwise it waits like backpressure.
   * Transient faults are retried while the frame's retry budget (from its first attempt) and attempt cap allow;
   * other faults fail it at once. The place is given back when the caller calls `release()` (see DispatchHandle).
   * An aborted `signal` removes the frame wherever it is (an in-flight call is aborted, the place freed); the
   * promises still pending reject with ABORTED. Unobserved rejections of either promise are never unhandled.
   */
  submit(frame: InferenceRequest, signal?: AbortSignal): DispatchHandle {
    const { body, ...request } = frame;
    const job: Job = {
      request,
      body,
      bytes: body.byteLength,
      state: 'pending',
      holding: false,
      released: false,
      submittedAt: performance.now(),
      queuedMs: 0,
      firstStartAt: 0,
      attempts: 0,
      queued: deferred<void>(),
      outcome: deferred<InferenceOutcome>(),
      controller: null,
      timer: null,
      detach: () => {},
    };
    const handle: DispatchHandle = {
      queued: job.queued.promise,
      outcome: job.outcome.promise,
      release: () => this.#release(job),
    };
    this.#counts.submitted++;

    if (this.#closed) {
      this.#finishWithError(job, 'DISPATCHER_CLOSED', this.#closedMessage(request));
      return handle;
    }
    if (signal?.aborted) {
      this.#finishWithError(job, 'ABORTED', this.#abortedMessage(request), signal.reason);
      return handle;
    }
    job.detach = onAbort(signal, (reason) => this.#abort(job, reason));
    this.#live.add(job);

    if (this.#pending.length === 0 && this.#hasRoom(job.bytes)) {
      this.#admit(job);
    } else if (this.#policy === 'latest' && this.#dropForRoom(job)) {
      this.#admit(job);
    } else {
      this.#pending.push(job);
    }
    this.#pump();
    return handle;
  }

  get stats(): DispatcherStats {
    return {
      waiting: this.#queue.length,
      inFlight: this.#inFlight,
      backingOff: this.#backingOff + this.#retryReady.length,
      awaitingRelease: this.#answered,
      held: this.#held,
      heldBytes: this.#heldBytes,
      pending: this.#pending.length,
      ...this.#counts,
    };
  }

  /**
   * Rejects everything not yet answered with DISPATCHER_CLOSED, aborts in-flight calls, frees every place; idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of [...this.#live]) {
      if (job.state === 'answered') {
        this.#finish(job);
        continue;
      }
      const controller = job.controller;
      this.#remove(job);
      this.#finishWithError(job, 'DISPATCHER_CLOSED', this.#closedMessage(job.request));
      controller?.abort(new InferenceError('DISPATCHER_CLOSED', 'the inference dispatcher is closing'));
    }
  }

  /** Whether a frame of `bytes` fits beside `held` frames of `heldBytes`; with nothing held, any frame fits. */
  #hasRoom(bytes: number, held = this.#held, heldBytes = this.#heldBytes): boolean {
    return held === 0 || (held < this.#capacity && heldBytes + bytes <= this.#maxBytes);
  }

  #admit(job: Job): void {
    job.state = 'queued';
    job.holding = true;
    this.#held++;
    this.#heldBytes += job.bytes;
    this.#queue.push(job);
    job.queued.resolve();
  }

  /** Under `latest`: drops the oldest frames of `job`'s stream still waiting for a call, if that makes room for it. */
  #dropForRoom(job: Job): boolean {
    const victims: Job[] = [];
    let held = this.#held;
    let heldBytes = this.#heldBytes;
    for (const queued of this.#queue) {
      if (this.#hasRoom(job.bytes, held, heldBytes)) break;
      if (queued.request.stream !== job.request.stream) continue;
      victims.push(queued);
      held--;
      heldBytes -= queued.bytes;
    }
    if (victims.length === 0 || !this.#hasRoom(job.bytes, held, heldBytes)) return false;
    for (const victim of victims) {
      this.#queue.splice(this.#queue.indexOf(victim), 1);
      this.#counts.dropped++;
      this.#settle(victim, { status: 'dropped', queuedMs: performance.now() - victim.submittedAt });
    }
    return true;
  }

  /**
   * Admits waiters while there is room, then fills the free call slots from retries (they have waited longest), then
   * the queue.
   */
  #pump(): void {
    if (this.#closed) return;
    while (this.#pending.length > 0 && this.#hasRoom(this.#pending[0]!.bytes)) this.#admit(this.#pending.shift()!);
    while (this.#inFlight < this.#concurrency) {
      const job = this.#retryReady.shift() ?? this.#queue.shift();
      if (!job) return;
      void this.#attempt(job);
    }
  }

  async #attempt(job: Job): Promise<void> {
    const started = performance.now();
    job.attempts++;
    if (job.attempts === 1) {
      job.firstStartAt = started;
      job.queuedMs = started - job.submittedAt;
    } else {
      this.#counts.retries++;
    }
    job.state = 'inFlight';
    this.#inFlight++;
    this.#counts.invocations++;
    const controller = new AbortController();
    job.controller = controller;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(
        new InferenceError('ENDPOINT_TIMEOUT', `no answer within ${this.#timeoutMs} ms`, { transient: true }),
      );
    }, this.#timeoutMs);

    let answer: InvokeEndpointCommandOutput | undefined;
    let failure: unknown;
    try {
      const command = new InvokeEndpointCommand({
        EndpointName: this.#endpointName,
        Body: job.body!,
        ContentType: job.request.contentType,
        ...(this.#accept === undefined ? {} : { Accept: this.#accept }),
      });
      answer = await this.#client.send(command, { abortSignal: controller.signal });
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(timer);
      job.controller = null;
      // The slot is released only when the call has really ended, so the bound holds on the wire too.
      this.#inFlight--;
    }

    if (this.#live.has(job)) {
      const ended = performance.now();
      if (failure === undefined && answer) {
        this.#counts.succeeded++;
        this.#settle(job, {
          status: 'ok',
          body: answer.Body ?? new Uint8Array(0),
          contentType: answer.ContentType ?? null,
          attempts: job.attempts,
          latencyMs: ended - started,
          queuedMs: job.queuedMs,
        });
      } else {
        if (timedOut) this.#counts.timeouts++;
        const ownTimeout: AttemptFault = {
          code: 'ENDPOINT_TIMEOUT',
          transient: true,
          summary: `no answer within ${this.#timeoutMs} ms`,
        };
        this.#failedAttempt(job, timedOut ? ownTimeout : classifyAttemptFailure(failure), failure, ended);
      }
    }
    this.#pump();
  }

  /**
   * Backs off a transient fault while the budget and the cap allow (never sleeping past the budget); fails the frame
   * otherwise.
   */
  #failedAttempt(job: Job, fault: AttemptFault, cause: unknown, ended: number): void {
    const spentMs = ended - job.firstStartAt;
    const capped = this.#maxAttempts !== undefined && job.attempts >= this.#maxAttempts;
    const leftMs = this.#retryBudgetMs - spentMs;
    if (fault.transient && !capped && leftMs > 0) {
      this.#backOff(job, Math.min(backoffDelay(job.attempts, this.#backoff, this.#random), leftMs));
      return;
    }
    this.#counts.failed++;
    const attempts = `${job.attempts} attempt${job.attempts === 1 ? '' : 's'}`;
    const spent = capped
      ? ` (the cap of ${this.#maxAttempts} attempts)`
      : ` over ${Math.round(spentMs)} ms (retry budget ${this.#retryBudgetMs} ms spent)`;
    const { stream, label } = job.request;
    const why = fault.transient ? spent : '';
    const message =
      `endpoint ${this.#endpointName} ${VERB[fault.code]} for stream ${stream} (${label}) ` +
      `after ${attempts}${why}: ${fault.summary}`;
    this.#settle(job, {
      status: 'failed',
      error: new InferenceError(fault.code, message, { cause, transient: fault.transient }),
      attempts: job.attempts,
      latencyMs: ended - job.firstStartAt,
      queuedMs: job.queuedMs,
    });
  }

  #backOff(job: Job, delayMs: number): void {
    job.state = 'backoff';
    this.#backingOff++;
    job.timer = setTimeout(() => {
      job.timer = null;
      this.#backingOff--;
      job.state = 'retryReady';
      this.#retryReady.push(job);
      this.#pump();
    }, delayMs);
  }

  #release(job: Job): void {
    job.released = true;
    if (job.state !== 'answered') return;
    this.#finish(job);
    this.#pump();
  }

  #abort(job: Job, reason: unknown): void {
    if (job.state === 'done') return;
    if (job.state === 'answered') {
      // The caller's outcome is settled: only the place is left to give back.
      this.#finish(job);
    } else {
      const controller = job.controller;
      this.#remove(job);
      this.#finishWithError(job, 'ABORTED', this.#abortedMessage(job.request), reason);
      controller?.abort(reason);
    }
    this.#pump();
  }

  /** Takes a job out of whichever structure holds it (an in-flight call is left to the caller to abort). */
  #remove(job: Job): void {
    const from = (list: Job[]) => {
      const index = list.indexOf(job);
      if (index >= 0) list.splice(index, 1);
    };
    if (job.state === 'pending') from(this.#pending);
    else if (job.state === 'queued') from(this.#queue);
    else if (job.state === 'retryReady') from(this.#retryReady);
    else if (job.state === 'backoff') {
      if (job.timer) clearTimeout(job.timer);
      job.timer = null;
      this.#backingOff--;
    }
  }

  /**
   * Resolves the outcome; the place stays taken until the caller releases it (a dropped frame's never does).
   * The image is let go: from now on the place counts the answer's bytes, which wait for the next stage.
   */
  #settle(job: Job, outcome: InferenceOutcome): void {
    job.body = null;
    const bytes = outcome.status === 'ok' ? outcome.body.byteLength : 0;
    if (job.holding) this.#heldBytes += bytes - job.bytes;
    job.bytes = bytes;
    job.queued.resolve();
    job.outcome.resolve(outcome);
    if (job.released || outcome.status === 'dropped') {
      this.#finish(job);
    } else {
      job.state = 'answered';
      this.#answered++;
    }
  }

  /** The job is over: its place is given back. */
  #finish(job: Job): void {
    if (job.state === 'answered') this.#answered--;
    job.state = 'done';
    job.detach();
    this.#live.delete(job);
    if (job.holding) {
      job.holding = false;
      this.#held--;
      this.#heldBytes -= job.bytes;
    }
  }

  #finishWithError(
    job: Job,
    code: Extract<InferenceErrorCode, 'ABORTED' | 'DISPATCHER_CLOSED'>,
    message: string,
    cause?: unknown,
  ): void {
    this.#finish(job);
    const error = new InferenceError(code, message, cause === undefined ? {} : { cause });
    job.queued.reject(error);
    job.outcome.reject(error);
  }

  #abortedMessage(request: FrameAbout): string {
    return `inference on endpoint ${this.#endpointName} for stream ${request.stream} (${request.label}) was aborted`;
  }

  #closedMessage(request: FrameAbout): string {
    return (
      `the inference dispatcher of endpoint ${this.#endpointName} closed before stream ` +
      `${request.stream} (${request.label}) was done`
    );
  }
}

const VERB: Record<EndpointFaultCode, string> = {
  ENDPOINT_TIMEOUT: 'timed out',
  ENDPOINT_THROTTLED: 'throttled',
  ENDPOINT_FAILED: 'failed',
  ENDPOINT_REJECTED: 'rejected the frame',
};
