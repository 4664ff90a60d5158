// Publishes inference records to a Kinesis data stream in PutRecords batches. It holds a bounded number of
// records and bytes (queued, in a call, or accepted and waiting for an earlier record of their key); a full
// buffer makes publish() wait, which is what pauses the stages before it. Every call has a deadline; failed
// calls and failed records are retried forever, since a caller's checkpoint waits on each receipt.

import { type KinesisClient, PutRecordsCommand, type PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { type BackoffPolicy, backoffDelay, resolveBackoff } from '../../aws/backoff.js';
import { KvsInferError } from '../../errors.js';
import { type Deferred, deferred, onAbort } from '../deferred.js';

export type PublishErrorCode =
  | 'RECORD_TOO_LARGE'
  | 'ABORTED'
  | 'PUBLISHER_CLOSED'
  | 'PUBLISH_TIMEOUT'
  /** Some records of a PutRecords call failed (throttled, internal); they are retried. Reported, never thrown. */
  | 'PUT_RECORDS_PARTIAL_FAILURE';

export class PublishError extends KvsInferError<PublishErrorCode> {}

export interface PublishRecord {
  partitionKey: string;
  data: Uint8Array;
}

export interface PublishReceipt {
  shardId: string;
  sequenceNumber: string;
  /** PutRecords calls this record took part in */
  attempts: number;
}

/** What publish() hands back for one record. */
export interface PublishHandle {
  /**
   * Resolves once the publisher holds the record (there was room for it); rejects as `receipt` does when it never does.
   */
  taken: Promise<void>;
  /** Resolves once Kinesis accepted the record and every earlier record of its partition key. */
  receipt: Promise<PublishReceipt>;
}

export interface PublisherOptions {
  client: KinesisClient;
  streamName: string;
  /** Records per PutRecords call, at most 500 (Kinesis' limit); default 500. */
  maxBatchRecords?: number;
  /** Bytes per call (data + partition keys), at most 5 MiB; default 5 MiB. */
  maxBatchBytes?: number;
  /** Records the publisher holds at once (queued, in calls, accepted and not yet resolved); default 500. */
  maxBufferedRecords?: number;
  /** Bytes of those records; default 5 MiB. A record larger than this is held alone. */
  maxBufferedBytes?: number;
  /**
   * Deadline of one PutRecords call (publishTimeoutMillis), aborted through `client.send(cmd, { abortSignal })`;
   * default 10000.
   */
  timeoutMs?: number;
  /** A batch that is not full goes out this long after its first record; default 50 ms. */
  lingerMs?: number;
  /** Backoff after a failed call or partially failed batch; default PUBLISH_BACKOFF. */
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
  /** Told about every failed call and every partial failure (for logs), publishing goes on. */
  onError?: (error: Error, info: { records: number; failed: number; attempt: number }) => void;
}

export interface PublisherStats {
  /** Records waiting for a call. */
  queued: number;
  /** Records in calls now. */
  inFlight: number;
  /** PutRecords calls running now (at most 2). */
  callsInFlight: number;
  /** Records the publisher holds: at most maxBufferedRecords. */
  buffered: number;
  /** Bytes of those: at most maxBufferedBytes. */
  bufferedBytes: number;
  /** publish() calls waiting for room: the publish stage is full. */
  waiting: number;
  published: number;
  calls: number;
  failedCalls: number;
  /** Calls cut by timeoutMs (counted in failedCalls too). */
  timeouts: number;
  retriedRecords: number;
}

/** Kinesis' limits: per PutRecords call, and per record (data + partition key). */
export const MAX_BATCH_RECORDS = 500;
export const MAX_BATCH_BYTES = 5 * 1024 * 1024;
export const MAX_RECORD_BYTES = 1024 * 1024;
/** One full PutRecords call's worth: enough to keep a call going out while the next one fills. */
const DEFAULT_BUFFERED_RECORDS = 500;
export const DEFAULT_BUFFERED_BYTES = 5 * 1024 * 1024;
const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;
/** Capped exponential backoff with full jitter: throttled workers sharing a stream do not come back in step. */
const PUBLISH_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 5000, jitter: 1 };
/**
 * Calls running at once. The second one keeps records flowing while one call hangs until its deadline; two
 * calls never carry the same partition key, so the records of a key still go out (and land) one call at a time.
 */
const MAX_CALLS_IN_FLIGHT = 2;
const DEFAULT_LINGER_MS = 50;

interface Entry {
  readonly record: PublishRecord;
  readonly bytes: number;
  /** When it was taken: the linger of a batch counts from its oldest record. */
  queuedAt: number;
  state: 'waiting' | 'queued' | 'in-flight' | 'accepted' | 'settled';
  /** Counted in the buffered records and bytes. */
  holding: boolean;
  /** Part of a call that has not returned (even after an abort settled it). */
  inCall: boolean;
  attempts: number;
  receipt?: PublishReceipt;
  readonly taken: Deferred<void>;
  readonly done: Deferred<PublishReceipt>;
  /** Stops listening to the caller's abort signal, if it gave one. */
  detach?: () => void;
}

function integerIn(name: string, value: number, min: number, max: number, why = ''): number {
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  throw new KvsInferError('BAD_CONFIG', `${name} must be an integer in ${min}..${max}${why}, got ${value}`);
}

export class ResultPublisher {
  readonly #client: KinesisClient;
  readonly #streamName: string;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #maxBufferedRecords: number;
  readonly #maxBufferedBytes: number;
  readonly #timeoutMs: number;
  readonly #lingerMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  readonly #onError: PublisherOptions['onError'];

  /** publish() calls waiting for room, in order. */
  readonly #waiting: Entry[] = [];
  /** Records not in a call, oldest first (retries are put back at the front). */
  #queue: Entry[] = [];
  /** The batches of the calls running now. */
  readonly #calls = new Set<Entry[]>();
  /** Partition keys of the records in calls, with their counts: a key is in one call at a time. */
  readonly #keysInFlight = new Map<string, number>();
  /** Per partition key, records taken whose promise has not settled, in publish() order. */
  readonly #unsettled = new Map<string, Entry[]>();
  #buffered = 0;
  #bufferedBytes = 0;
  #lingerTimer: NodeJS.Timeout | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  /** Calls in a row with a failed record; drives the backoff, reset by a call that fully succeeds. */
  #failureStreak = 0;
  #closing: Promise<void> | undefined;
  #idle: (() => void)[] = [];
  readonly #stats = { published: 0, calls: 0, failedCalls: 0, timeouts: 0, retriedRecords: 0 };

  constructor(options: PublisherOptions) {
    this.#client = options.client;
    this.#streamName = options.streamName;
    if (typeof this.#streamName !== 'string' || this.#streamName.length === 0)
      throw new KvsInferError('BAD_CONFIG', 'streamName must be a non-empty string');
    this.#maxRecords = integerIn(
      'maxBatchRecords',
      options.maxBatchRecords ?? MAX_BATCH_RECORDS,
      1,
      MAX_BATCH_RECORDS,
      " (Kinesis' PutRecords limit)",
    );
    this.#maxBytes = integerIn(
      'maxBatchBytes',
      options.maxBatchBytes ?? MAX_BATCH_BYTES,
      1,
      MAX_BATCH_BYTES,
      " (5 MiB, Kinesis' PutRecords limit)",
    );
    this.#maxBufferedRecords = integerIn(
      'maxBufferedRecords',
      options.maxBufferedRecords ?? DEFAULT_BUFFERED_RECORDS,
      1,
      Number.MAX_SAFE_INTEGER,
    );
    this.#maxBufferedBytes = integerIn(
      'maxBufferedBytes',
      options.maxBufferedBytes ?? DEFAULT_BUFFERED_BYTES,
      1,
      Number.MAX_SAFE_INTEGER,
    );
    this.#timeoutMs = integerIn('timeoutMs', options.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS, 1, 2 ** 31 - 1);
    this.#lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
    this.#random = options.random ?? Math.random;
    this.#onError = options.onError;
    if (!(this.#lingerMs >= 0 && Number.isFinite(this.#lingerMs)))
      throw new KvsInferError('BAD_CONFIG', `lingerMs must be a finite number >= 0, got ${this.#lingerMs}`);
    try {
      this.#backoff = resolveBackoff({ ...PUBLISH_BACKOFF, ...options.backoff });
    } catch (error) {
      throw new KvsInferError('BAD_CONFIG', (error as Error).message, { cause: error });
    }
  }

  /**
   * `taken` resolves once there is room for the record (waiting in line behind earlier publish() calls);
   * `receipt` once Kinesis accepted it, and never before the records of the same partition key published
   * earlier: a caller checkpointing on receipts then never moves past an unpublished one.
   * A record larger than 1 MiB (data + partition key, Kinesis' per-record limit) rejects at once with RECORD_TOO_LARGE.
   * Otherwise never gives up: failed calls (timeouts, throttling, network, 5xx, even ResourceNotFound or
   * AccessDenied, which an operator can fix) and the failed records of a partial failure
   * (ProvisionedThroughputExceeded) are retried with capped, fully jittered backoff, forever, reporting through
   * onError. An aborted signal removes a record not sent yet and rejects with ABORTED; a record already in a call stays
   * there (it may land) but its promises reject ABORTED. Unobserved rejections of either promise are never unhandled.
   */
  publish(record: PublishRecord, signal?: AbortSignal): PublishHandle {
    if (this.#closing)
      return rejected(new PublishError('PUBLISHER_CLOSED', `the publisher to stream ${this.#streamName} is closed`));
    if (signal?.aborted) return rejected(this.#aborted(record, signal.reason));
    const bytes = record.data.byteLength + Buffer.byteLength(record.partitionKey, 'utf8');
    const limit = Math.min(MAX_RECORD_BYTES, this.#maxBytes);
    if (bytes > limit) {
      return rejected(
        new PublishError(
          'RECORD_TOO_LARGE',
          `a record of ${bytes} bytes (data + partition key "${record.partitionKey}") ` +
            `is over the ${limit}-byte limit of a Kinesis record${limit < MAX_RECORD_BYTES ? ' (maxBatchBytes)' : ''}`,
        ),
      );
    }
    const entry: Entry = {
      record,
      bytes,
      queuedAt: 0,
      state: 'waiting',
      holding: false,
      inCall: false,
      attempts: 0,
      taken: deferred(),
      done: deferred(),
    };
    entry.detach = onAbort(signal, (reason) => this.#abort(entry, reason));
    if (this.#waiting.length === 0 && this.#hasRoom(bytes)) this.#take(entry);
    else this.#waiting.push(entry);
    this.#pump();
    return { taken: entry.taken.promise, receipt: entry.done.promise };
  }

  get stats(): PublisherStats {
    let inFlight = 0;
    for (const batch of this.#calls) inFlight += batch.length;
    return {
      queued: this.#queue.length,
      inFlight,
      callsInFlight: this.#calls.size,
      buffered: this.#buffered,
      bufferedBytes: this.#bufferedBytes,
      waiting: this.#waiting.length,
      ...this.#stats,
    };
  }

  /** Sends what is queued or waiting (without lingering), then stops; later publish() rejects PUBLISHER_CLOSED. */
  flush(): Promise<void> {
    if (!this.#closing) {
      this.#closing = new Promise<void>((resolve) => this.#idle.push(resolve));
      this.#pump();
      this.#checkIdle();
    }
    return this.#closing;
  }

  /** Flushes, then stops every timer; idempotent. */
  async close(): Promise<void> {
    await this.flush();
    clearTimeout(this.#lingerTimer);
    clearTimeout(this.#backoffTimer);
    this.#lingerTimer = this.#backoffTimer = undefined;
  }

  #hasRoom(bytes: number): boolean {
    return (
      this.#buffered === 0 ||
      (this.#buffered < this.#maxBufferedRecords && this.#bufferedBytes + bytes <= this.#maxBufferedBytes)
    );
  }

  #take(entry: Entry): void {
    entry.state = 'queued';
    entry.queuedAt = performance.now();
    entry.holding = true;
    this.#buffered++;
    this.#bufferedBytes += entry.bytes;
    const chain = this.#unsettled.get(entry.record.partitionKey);
    if (chain) chain.push(entry);
    else this.#unsettled.set(entry.record.partitionKey, [entry]);
    this.#queue.push(entry);
    entry.taken.resolve();
  }

  /** Gives a settled record's room back once no call carries it any more, and lets waiters in. */
  #free(entry: Entry): void {
    if (!entry.holding || entry.state !== 'settled' || entry.inCall) return;
    entry.holding = false;
    this.#buffered--;
    this.#bufferedBytes -= entry.bytes;
    this.#admitWaiting();
  }

  /** Takes waiting records, in order, while the first of them fits. */
  #admitWaiting(): void {
    while (this.#waiting.length > 0 && this.#hasRoom(this.#waiting[0]!.bytes)) this.#take(this.#waiting.shift()!);
  }

  /** Starts calls while fewer than MAX_CALLS_IN_FLIGHT run, no backoff is pending, and a batch is due. */
  #pump(): void {
    while (this.#calls.size < MAX_CALLS_IN_FLIGHT && !this.#backoffTimer) {
      const batch = this.#nextBatch();
      if (batch === null) return;
      void this.#send(batch);
    }
  }

  /**
   * The next batch, taken out of the queue: the oldest records whose key no call carries, in order, up to the
   * batch limits (stopping at the first that does not fit, so that no record overtakes an earlier one of its key).
   * Null when there is none, or when it is not full and its oldest record has lingered less than lingerMs.
   */
  #nextBatch(): Entry[] | null {
    const chosen: number[] = [];
    let bytes = 0;
    let full = false;
    for (let i = 0; i < this.#queue.length; i++) {
      const entry = this.#queue[i]!;
      if (this.#keysInFlight.has(entry.record.partitionKey)) continue;
      if (chosen.length === this.#maxRecords || bytes + entry.bytes > this.#maxBytes) {
        full = true;
        break;
      }
      chosen.push(i);
      bytes += entry.bytes;
    }
    if (chosen.length === 0) return null;
    full ||= chosen.length === this.#maxRecords;
    const due = this.#queue[chosen[0]!]!.queuedAt + this.#lingerMs;
    if (!full && !this.#closing && performance.now() < due) {
      // The timer may outlive the record it was set for (aborted); firing early only re-checks.
      this.#lingerTimer ??= setTimeout(
        () => {
          this.#lingerTimer = undefined;
          this.#pump();
        },
        Math.max(0, due - performance.now()),
      );
      return null;
    }
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    const batch = chosen.map((i) => this.#queue[i]!);
    const picked = new Set(chosen);
    this.#queue = this.#queue.filter((_, i) => !picked.has(i));
    return batch;
  }

  async #send(batch: Entry[]): Promise<void> {
    this.#calls.add(batch);
    for (const entry of batch) {
      entry.state = 'in-flight';
      entry.inCall = true;
      entry.attempts++;
      this.#keysInFlight.set(entry.record.partitionKey, (this.#keysInFlight.get(entry.record.partitionKey) ?? 0) + 1);
    }
    this.#stats.calls++;
    let results: PutRecordsResultEntry[] | undefined;
    let callError: Error | undefined;
    const controller = new AbortController();
    const deadline = `got no answer within ${this.#timeoutMs} ms`;
    const timeout = new PublishError(
      'PUBLISH_TIMEOUT',
      `PutRecords of ${batch.length} records to stream ${this.#streamName} ${deadline}`,
    );
    const timer = setTimeout(() => controller.abort(timeout), this.#timeoutMs);
    try {
      const output = await this.#client.send(
        new PutRecordsCommand({
          StreamName: this.#streamName,
          Records: batch.map((e) => ({ PartitionKey: e.record.partitionKey, Data: e.record.data })),
        }),
        { abortSignal: controller.signal },
      );
      results = output.Records ?? [];
    } catch (error) {
      callError = controller.signal.aborted ? timeout : error instanceof Error ? error : new Error(String(error));
      this.#stats.failedCalls++;
      if (controller.signal.aborted) this.#stats.timeouts++;
    } finally {
      clearTimeout(timer);
    }
    this.#calls.delete(batch);
    for (const entry of batch) {
      entry.inCall = false;
      const key = entry.record.partitionKey;
      const left = this.#keysInFlight.get(key)! - 1;
      if (left === 0) this.#keysInFlight.delete(key);
      else this.#keysInFlight.set(key, left);
    }

    const failed: Entry[] = [];
    const errorCodes = new Map<string, number>();
    let accepted = 0;
    for (const [i, entry] of batch.entries()) {
      const result = results?.[i];
      if (result?.SequenceNumber && result.ShardId && !result.ErrorCode) {
        accepted++;
        this.#stats.published++;
        if (entry.state === 'in-flight')
          this.#accept(entry, {
            shardId: result.ShardId,
            sequenceNumber: result.SequenceNumber,
            attempts: entry.attempts,
          });
        else this.#free(entry);
        continue;
      }
      if (!callError) {
        const code = result?.ErrorCode ?? 'NoResult';
        errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
      }
      // An aborted record's caller has its answer; retrying it would only delay the records behind it.
      if (entry.state !== 'in-flight') {
        this.#free(entry);
        continue;
      }
      entry.state = 'queued';
      failed.push(entry);
    }

    const failedCount = batch.length - accepted;
    if (failedCount > 0) {
      this.#failureStreak++;
      this.#stats.retriedRecords += failed.length;
      // PutRecords does not guarantee the order of the records of one call (AWS documents this), and a partial
      // failure lands the records after a failed one first. Putting the failed records at the front of the next
      // call, and never having a key in two calls at once, keeps each key's order as close as Kinesis allows.
      this.#queue = [...failed, ...this.#queue];
      const detail =
        callError ??
        new PublishError(
          'PUT_RECORDS_PARTIAL_FAILURE',
          `PutRecords to stream ${this.#streamName}: ${failedCount} of ${batch.length} records failed ` +
            `(${[...errorCodes].map(([code, n]) => `${code} x${n}`).join(', ')}); retrying them`,
        );
      this.#report(detail, { records: batch.length, failed: failedCount, attempt: this.#failureStreak });
      this.#backoffTimer ??= setTimeout(
        () => {
          this.#backoffTimer = undefined;
          this.#pump();
        },
        backoffDelay(this.#failureStreak, this.#backoff, this.#random),
      );
    } else {
      this.#failureStreak = 0;
    }
    this.#pump();
    this.#checkIdle();
  }

  #accept(entry: Entry, receipt: PublishReceipt): void {
    entry.state = 'accepted';
    entry.receipt = receipt;
    this.#release(entry.record.partitionKey);
  }

  #abort(entry: Entry, reason: unknown): void {
    if (entry.state === 'waiting') {
      this.#waiting.splice(this.#waiting.indexOf(entry), 1);
      entry.state = 'settled';
      entry.detach?.();
      const error = this.#aborted(entry.record, reason);
      entry.taken.reject(error);
      entry.done.reject(error);
      // It may have been all that kept smaller ones behind it waiting.
      this.#admitWaiting();
      this.#pump();
      this.#checkIdle();
      return;
    }
    if (entry.state !== 'queued' && entry.state !== 'in-flight') return;
    if (entry.state === 'queued') this.#queue.splice(this.#queue.indexOf(entry), 1);
    entry.state = 'settled';
    entry.detach?.();
    entry.done.reject(this.#aborted(entry.record, reason));
    this.#free(entry);
    this.#release(entry.record.partitionKey);
    this.#pump();
    this.#checkIdle();
  }

  /** Resolves the accepted records at the head of a partition key's chain, in publish() order. */
  #release(partitionKey: string): void {
    const chain = this.#unsettled.get(partitionKey);
    if (!chain) return;
    while (chain.length > 0 && (chain[0]!.state === 'accepted' || chain[0]!.state === 'settled')) {
      const entry = chain.shift()!;
      if (entry.state === 'accepted') {
        entry.state = 'settled';
        entry.detach?.();
        entry.done.resolve(entry.receipt!);
        this.#free(entry);
      }
    }
    if (chain.length === 0) this.#unsettled.delete(partitionKey);
  }

  #aborted(record: PublishRecord, reason: unknown): PublishError {
    return new PublishError('ABORTED', `publishing a record with partition key "${record.partitionKey}" was aborted`, {
      cause: reason,
    });
  }

  #report(error: Error, info: { records: number; failed: number; attempt: number }): void {
    try {
      this.#onError?.(error, info);
    } catch {
      // A logging callback that throws must not stop publishing.
    }
  }

  #checkIdle(): void {
    if (
      !this.#closing ||
      this.#calls.size > 0 ||
      this.#queue.length > 0 ||
      this.#waiting.length > 0 ||
      this.#unsettled.size > 0
    )
      return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}

/** A handle for a record refused at once. */
function rejected(error: PublishError): PublishHandle {
  const taken = deferred<void>();
  const done = deferred<PublishReceipt>();
  taken.reject(error);
  done.reject(error);
  return { taken: taken.promise, receipt: done.promise };
}
