// Sends sampled frames to a SageMaker endpoint: a bounded queue in front of a bounded number of
// concurrent InvokeEndpoint calls, each attempt timed out, failures retried with jittered backoff.

import { InvokeEndpointCommand, type InvokeEndpointCommandOutput, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { KvsInferError } from '../errors.js';
import { backoffDelay, resolveBackoff, type BackoffPolicy } from '../machines/backoff.js';
import { classifyAttemptFailure, InferenceError, type InferenceErrorCode } from './inference-errors.js';

export { classifyAttemptFailure, InferenceError, isInferenceError, type AttemptFailure, type InferenceErrorCode } from './inference-errors.js';

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

export interface DispatcherOptions {
  /**
   * Must be built with `maxAttempts: 1`: the dispatcher owns retries (and their backoff, and the slot
   * a retrying frame gives up); SDK retries inside an attempt would escape its timeout and stats.
   */
  client: SageMakerRuntimeClient;
  endpointName: string;
  /** Max concurrent InvokeEndpoint calls (KIT's sageMakerTaskThreadPoolSize). */
  concurrency: number;
  /** Max frames waiting for a free call slot (KIT's sageMakerTaskQueueSize); requests being retried (waiting for backoff) do not count as waiting. */
  queueSize: number;
  /** Bound on each attempt (KIT's sageMakerTaskTimeoutInMilli): the call is aborted through `client.send(cmd, { abortSignal })`. */
  timeoutMs: number;
  policy: 'backpressure' | 'latest';
  /** Attempts per frame including the first; default 4. */
  maxAttempts?: number;
  /** Backoff between attempts; default { baseMs: 200, maxMs: 5000, jitter: 0.5 }. */
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
  /** Optional Accept header. */
  accept?: string;
}

export interface DispatcherStats {
  /** Frames holding a queue place, waiting for a call slot. */
  waiting: number;
  /** InvokeEndpoint calls running now. */
  inFlight: number;
  /** Frames between attempts: sleeping out their backoff, or done sleeping and waiting for a slot. */
  backingOff: number;
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

export const DEFAULT_MAX_ATTEMPTS = 4;
export const DEFAULT_INFERENCE_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 5000, jitter: 0.5 };

type JobState = 'pending' | 'queued' | 'inFlight' | 'backoff' | 'retryReady' | 'done';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface Job {
  request: InferenceRequest;
  state: JobState;
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
    throw new KvsInferError('BAD_CONFIG', `inference dispatcher: ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export class InferenceDispatcher {
  readonly #client: SageMakerRuntimeClient;
  readonly #endpointName: string;
  readonly #concurrency: number;
  readonly #queueSize: number;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #policy: 'backpressure' | 'latest';
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  readonly #accept: string | undefined;

  /** Callers waiting for a queue place, in arrival order. Non-empty only while #queue is full. */
  readonly #pending: Job[] = [];
  /** Frames holding a queue place, oldest first. */
  readonly #queue: Job[] = [];
  /** Retries whose backoff is over, served before the queue. */
  readonly #retryReady: Job[] = [];
  /** Every job not yet done, for close(). */
  readonly #live = new Set<Job>();
  #inFlight = 0;
  #backingOff = 0;
  #closed = false;
  readonly #counts = { submitted: 0, invocations: 0, succeeded: 0, failed: 0, retries: 0, timeouts: 0, dropped: 0 };

  constructor(options: DispatcherOptions) {
    if (typeof options.endpointName !== 'string' || options.endpointName === '') {
      throw new KvsInferError('BAD_CONFIG', 'inference dispatcher: endpointName must be a non-empty string');
    }
    if (options.policy !== 'backpressure' && options.policy !== 'latest') {
      throw new KvsInferError('BAD_CONFIG', `inference dispatcher: policy must be backpressure or latest, got ${String(options.policy)}`);
    }
    this.#client = options.client;
    this.#endpointName = options.endpointName;
    this.#concurrency = positiveInteger('concurrency', options.concurrency);
    this.#queueSize = positiveInteger('queueSize', options.queueSize);
    this.#timeoutMs = positiveInteger('timeoutMs', options.timeoutMs);
    this.#maxAttempts = positiveInteger('maxAttempts', options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
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
   * `queued` resolves once the request holds a place in the queue (or a call slot):
   *  - backpressure: waits while `queueSize` requests are already waiting (FIFO among the waiters);
   *  - latest: when the queue is full and a request of the SAME stream is waiting, the oldest of those is
   *    dropped (its outcome resolves `{ status: 'dropped' }`) and this one takes a place at once; otherwise
   *    it waits like backpressure.
   * `outcome` settles once the frame is done and rejects only with InferenceError ABORTED or DISPATCHER_CLOSED.
   * An aborted `signal` removes the request wherever it is (an in-flight call is aborted); the promises
   * still pending reject with ABORTED. Unobserved rejections of either promise are never unhandled.
   */
  submit(request: InferenceRequest, signal?: AbortSignal): { queued: Promise<void>; outcome: Promise<InferenceOutcome> } {
    const job: Job = {
      request,
      state: 'pending',
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
    const handed = { queued: job.queued.promise, outcome: job.outcome.promise };
    this.#counts.submitted++;

    if (this.#closed) {
      this.#finishWithError(job, 'DISPATCHER_CLOSED', this.#closedMessage(request));
      return handed;
    }
    if (signal?.aborted) {
      this.#finishWithError(job, 'ABORTED', this.#abortedMessage(request), signal.reason);
      return handed;
    }
    if (signal) {
      const onAbort = () => this.#abort(job, signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      job.detach = () => signal.removeEventListener('abort', onAbort);
    }
    this.#live.add(job);

    if (this.#pending.length === 0 && this.#queue.length < this.#queueSize) {
      this.#enqueue(job);
    } else if (this.#policy === 'latest' && this.#dropOldestOf(request.stream)) {
      this.#enqueue(job);
    } else {
      this.#pending.push(job);
    }
    this.#pump();
    return handed;
  }

  get stats(): DispatcherStats {
    return { waiting: this.#queue.length, inFlight: this.#inFlight, backingOff: this.#backingOff + this.#retryReady.length, ...this.#counts };
  }

  /** Rejects everything waiting or queued with DISPATCHER_CLOSED, aborts in-flight calls; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of [...this.#live]) {
      const controller = job.controller;
      this.#remove(job);
      this.#finishWithError(job, 'DISPATCHER_CLOSED', this.#closedMessage(job.request));
      controller?.abort(new InferenceError('DISPATCHER_CLOSED', 'the inference dispatcher is closing'));
    }
  }

  #enqueue(job: Job): void {
    job.state = 'queued';
    this.#queue.push(job);
    job.queued.resolve();
  }

  /** Under `latest`: frees the place of the oldest queued frame of `stream`; false when there is none. */
  #dropOldestOf(stream: string): boolean {
    const index = this.#queue.findIndex((job) => job.request.stream === stream);
    if (index < 0) return false;
    const [dropped] = this.#queue.splice(index, 1);
    this.#counts.dropped++;
    this.#settle(dropped!, { status: 'dropped', queuedMs: performance.now() - dropped!.submittedAt });
    return true;
  }

  /** Refills the queue from the waiters and the free call slots from retries (they have waited longest), then the queue. */
  #pump(): void {
    if (this.#closed) return;
    for (;;) {
      while (this.#pending.length > 0 && this.#queue.length < this.#queueSize) this.#enqueue(this.#pending.shift()!);
      if (this.#inFlight >= this.#concurrency) return;
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
      controller.abort(new InferenceError('ENDPOINT_TIMEOUT', `no answer within ${this.#timeoutMs} ms`, { retriable: true }));
    }, this.#timeoutMs);

    let answer: InvokeEndpointCommandOutput | undefined;
    let failure: unknown;
    try {
      const command = new InvokeEndpointCommand({
        EndpointName: this.#endpointName,
        Body: job.request.body,
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
        const classified = timedOut
          ? { code: 'ENDPOINT_TIMEOUT' as const, retriable: true, summary: `no answer within ${this.#timeoutMs} ms` }
          : classifyAttemptFailure(failure);
        if (classified.retriable && job.attempts < this.#maxAttempts && !this.#closed) {
          this.#backOff(job);
        } else {
          this.#counts.failed++;
          const attempts = `${job.attempts} attempt${job.attempts === 1 ? '' : 's'}`;
          const message = `endpoint ${this.#endpointName} ${VERB[classified.code]} for stream ${job.request.stream} (${job.request.label}) after ${attempts}: ${classified.summary}`;
          this.#settle(job, {
            status: 'failed',
            error: new InferenceError(classified.code, message, { cause: failure, retriable: classified.retriable }),
            attempts: job.attempts,
            latencyMs: ended - job.firstStartAt,
            queuedMs: job.queuedMs,
          });
        }
      }
    }
    this.#pump();
  }

  #backOff(job: Job): void {
    job.state = 'backoff';
    this.#backingOff++;
    job.timer = setTimeout(() => {
      job.timer = null;
      this.#backingOff--;
      job.state = 'retryReady';
      this.#retryReady.push(job);
      this.#pump();
    }, backoffDelay(job.attempts, this.#backoff, this.#random));
  }

  #abort(job: Job, reason: unknown): void {
    if (job.state === 'done') return;
    const controller = job.controller;
    this.#remove(job);
    this.#finishWithError(job, 'ABORTED', this.#abortedMessage(job.request), reason);
    controller?.abort(reason);
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

  #settle(job: Job, outcome: InferenceOutcome): void {
    job.state = 'done';
    job.detach();
    this.#live.delete(job);
    job.queued.resolve();
    job.outcome.resolve(outcome);
  }

  #finishWithError(job: Job, code: Extract<InferenceErrorCode, 'ABORTED' | 'DISPATCHER_CLOSED'>, message: string, cause?: unknown): void {
    job.state = 'done';
    job.detach();
    this.#live.delete(job);
    const error = new InferenceError(code, message, cause === undefined ? {} : { cause });
    job.queued.reject(error);
    job.outcome.reject(error);
  }

  #abortedMessage(request: InferenceRequest): string {
    return `inference on endpoint ${this.#endpointName} for stream ${request.stream} (${request.label}) was aborted`;
  }

  #closedMessage(request: InferenceRequest): string {
    return `the inference dispatcher of endpoint ${this.#endpointName} closed before stream ${request.stream} (${request.label}) was done`;
  }
}

const VERB: Record<Extract<InferenceErrorCode, 'ENDPOINT_TIMEOUT' | 'ENDPOINT_THROTTLED' | 'ENDPOINT_FAILED' | 'ENDPOINT_REJECTED'>, string> = {
  ENDPOINT_TIMEOUT: 'timed out',
  ENDPOINT_THROTTLED: 'throttled',
  ENDPOINT_FAILED: 'failed',
  ENDPOINT_REJECTED: 'rejected the frame',
};
