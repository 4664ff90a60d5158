// Publishes inference records to a Kinesis data stream in PutRecords batches, one call at a time,
// retrying failed calls and failed records forever, since a caller's checkpoint waits on each receipt.

import { PutRecordsCommand, type KinesisClient, type PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { KvsInferError } from '../errors.js';
import { backoffDelay, resolveBackoff, type BackoffPolicy } from '../machines/backoff.js';

export type PublishErrorCode = 'RECORD_TOO_LARGE' | 'ABORTED' | 'PUBLISHER_CLOSED';

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

export interface PublisherOptions {
  client: KinesisClient;
  streamName: string;
  /** Records per PutRecords call, at most 500 (Kinesis' limit); default 500. */
  maxBatchRecords?: number;
  /** Bytes per call (data + partition keys), at most 5 MiB; default 5 MiB. */
  maxBatchBytes?: number;
  /** A batch that is not full goes out this long after its first record; default 50 ms. */
  lingerMs?: number;
  /** Backoff after a failed call or partially failed batch; default { baseMs: 100, maxMs: 5000, jitter: 0.5 }. */
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
  /** Told about every failed call and every partial failure (for logs), publishing goes on. */
  onError?: (error: Error, info: { records: number; failed: number; attempt: number }) => void;
}

export interface PublisherStats {
  queued: number;
  inFlight: number;
  published: number;
  calls: number;
  failedCalls: number;
  retriedRecords: number;
}

/** Kinesis' limits: per PutRecords call, and per record (data + partition key). */
export const MAX_BATCH_RECORDS = 500;
export const MAX_BATCH_BYTES = 5 * 1024 * 1024;
export const MAX_RECORD_BYTES = 1024 * 1024;

const PUBLISH_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 5000, jitter: 0.5 };
const DEFAULT_LINGER_MS = 50;

interface Entry {
  readonly record: PublishRecord;
  readonly bytes: number;
  /** When it was first queued: the linger of a batch counts from its oldest record. */
  readonly queuedAt: number;
  state: 'queued' | 'in-flight' | 'accepted' | 'settled';
  attempts: number;
  receipt?: PublishReceipt;
  resolve(receipt: PublishReceipt): void;
  reject(error: Error): void;
  detach(): void;
}

export class ResultPublisher {
  readonly #client: KinesisClient;
  readonly #streamName: string;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #lingerMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  readonly #onError: PublisherOptions['onError'];

  /** Records not in a call, oldest first (retries are put back at the front). */
  #queue: Entry[] = [];
  #inFlight: Entry[] | undefined;
  /** Per partition key, records whose promise has not settled, in publish() order. */
  readonly #unsettled = new Map<string, Entry[]>();
  #lingerTimer: NodeJS.Timeout | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  /** Calls in a row with a failed record; drives the backoff, reset by a call that fully succeeds. */
  #failureStreak = 0;
  #closing: Promise<void> | undefined;
  #idle: (() => void)[] = [];
  readonly #stats = { published: 0, calls: 0, failedCalls: 0, retriedRecords: 0 };

  constructor(options: PublisherOptions) {
    this.#client = options.client;
    this.#streamName = options.streamName;
    this.#maxRecords = options.maxBatchRecords ?? MAX_BATCH_RECORDS;
    this.#maxBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES;
    this.#lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
    this.#random = options.random ?? Math.random;
    this.#onError = options.onError;
    if (typeof this.#streamName !== 'string' || this.#streamName.length === 0) throw new KvsInferError('BAD_CONFIG', 'streamName must be a non-empty string');
    if (!Number.isInteger(this.#maxRecords) || this.#maxRecords < 1 || this.#maxRecords > MAX_BATCH_RECORDS) {
      throw new KvsInferError('BAD_CONFIG', `maxBatchRecords must be an integer in 1..${MAX_BATCH_RECORDS} (Kinesis' PutRecords limit), got ${this.#maxRecords}`);
    }
    if (!Number.isInteger(this.#maxBytes) || this.#maxBytes < 1 || this.#maxBytes > MAX_BATCH_BYTES) {
      throw new KvsInferError('BAD_CONFIG', `maxBatchBytes must be an integer in 1..${MAX_BATCH_BYTES} (5 MiB, Kinesis' PutRecords limit), got ${this.#maxBytes}`);
    }
    if (!(this.#lingerMs >= 0 && Number.isFinite(this.#lingerMs))) throw new KvsInferError('BAD_CONFIG', `lingerMs must be a finite number >= 0, got ${this.#lingerMs}`);
    try {
      this.#backoff = resolveBackoff({ ...PUBLISH_BACKOFF, ...options.backoff });
    } catch (error) {
      throw new KvsInferError('BAD_CONFIG', (error as Error).message, { cause: error });
    }
  }

  /**
   * Resolves once Kinesis accepted the record, and never before the records of the same partition
   * key published earlier: a caller checkpointing on receipts then never moves past an unpublished one.
   * A record larger than 1 MiB (data + partition key, Kinesis' per-record limit) rejects at once with RECORD_TOO_LARGE.
   * Otherwise never gives up: failed calls (throttling, network, 5xx, even ResourceNotFound or
   * AccessDenied, which an operator can fix) and the failed records of a partial failure are retried
   * with capped, jittered backoff, forever, reporting through onError.
   * An aborted signal removes a record not sent yet and rejects with ABORTED; a record already in a
   * call stays there (it may land) but its promise rejects ABORTED.
   */
  publish(record: PublishRecord, signal?: AbortSignal): Promise<PublishReceipt> {
    if (this.#closing) return Promise.reject(new PublishError('PUBLISHER_CLOSED', `the publisher to stream ${this.#streamName} is closed`));
    if (signal?.aborted) return Promise.reject(new PublishError('ABORTED', `publishing a record with partition key "${record.partitionKey}" was aborted`, { cause: signal.reason }));
    const bytes = record.data.byteLength + Buffer.byteLength(record.partitionKey, 'utf8');
    const limit = Math.min(MAX_RECORD_BYTES, this.#maxBytes);
    if (bytes > limit) {
      return Promise.reject(
        new PublishError('RECORD_TOO_LARGE', `a record of ${bytes} bytes (data + partition key "${record.partitionKey}") is over the ${limit}-byte limit of a Kinesis record${limit < MAX_RECORD_BYTES ? ' (maxBatchBytes)' : ''}`),
      );
    }

    return new Promise<PublishReceipt>((resolve, reject) => {
      const entry: Entry = { record, bytes, queuedAt: performance.now(), state: 'queued', attempts: 0, resolve, reject, detach: () => {} };
      if (signal) {
        const onAbort = () => this.#abort(entry, signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        entry.detach = () => signal.removeEventListener('abort', onAbort);
      }
      const chain = this.#unsettled.get(record.partitionKey);
      if (chain) chain.push(entry);
      else this.#unsettled.set(record.partitionKey, [entry]);
      this.#queue.push(entry);
      this.#pump();
    });
  }

  get stats(): PublisherStats {
    return { queued: this.#queue.length, inFlight: this.#inFlight?.length ?? 0, ...this.#stats };
  }

  /** Sends what is queued (waiting out nothing beyond the current call), then stops; later publish() rejects PUBLISHER_CLOSED. */
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

  /** Sends the next batch if one is due and nothing is in flight or backing off. */
  #pump(): void {
    if (this.#inFlight || this.#backoffTimer || this.#queue.length === 0) return;
    let count = 0;
    let bytes = 0;
    while (count < this.#queue.length && count < this.#maxRecords && bytes + this.#queue[count]!.bytes <= this.#maxBytes) bytes += this.#queue[count++]!.bytes;
    const full = count === this.#maxRecords || count < this.#queue.length;
    const due = this.#queue[0]!.queuedAt + this.#lingerMs;
    if (!full && !this.#closing && performance.now() < due) {
      // The timer may outlive the record it was set for (aborted); firing early only re-checks.
      this.#lingerTimer ??= setTimeout(
        () => {
          this.#lingerTimer = undefined;
          this.#pump();
        },
        Math.max(0, due - performance.now()),
      );
      return;
    }
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    void this.#send(this.#queue.splice(0, count));
  }

  async #send(batch: Entry[]): Promise<void> {
    this.#inFlight = batch;
    for (const entry of batch) {
      entry.state = 'in-flight';
      entry.attempts++;
    }
    this.#stats.calls++;
    let results: PutRecordsResultEntry[] | undefined;
    let callError: Error | undefined;
    try {
      const output = await this.#client.send(
        new PutRecordsCommand({ StreamName: this.#streamName, Records: batch.map((e) => ({ PartitionKey: e.record.partitionKey, Data: e.record.data })) }),
      );
      results = output.Records ?? [];
    } catch (error) {
      callError = error instanceof Error ? error : new Error(String(error));
      this.#stats.failedCalls++;
    }
    this.#inFlight = undefined;

    const failed: Entry[] = [];
    const errorCodes = new Map<string, number>();
    let accepted = 0;
    for (const [i, entry] of batch.entries()) {
      const result = results?.[i];
      if (result?.SequenceNumber && result.ShardId && !result.ErrorCode) {
        accepted++;
        this.#stats.published++;
        if (entry.state === 'in-flight') this.#accept(entry, { shardId: result.ShardId, sequenceNumber: result.SequenceNumber, attempts: entry.attempts });
        continue;
      }
      if (!callError) {
        const code = result?.ErrorCode ?? 'NoResult';
        errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
      }
      // An aborted record's caller has its answer; retrying it would only delay the records behind it.
      if (entry.state !== 'in-flight') continue;
      entry.state = 'queued';
      failed.push(entry);
    }

    const failedCount = batch.length - accepted;
    if (failedCount > 0) {
      this.#failureStreak++;
      this.#stats.retriedRecords += failed.length;
      // PutRecords does not guarantee the order of the records of one call (AWS documents this), and
      // a partial failure lands the records after a failed one first. Putting the failed records at the
      // front of the next call, and keeping one call in flight, keeps the order as close as Kinesis allows.
      this.#queue = [...failed, ...this.#queue];
      const detail = callError ?? new KvsInferError('PUT_RECORDS_PARTIAL_FAILURE', `PutRecords to stream ${this.#streamName}: ${failedCount} of ${batch.length} records failed (${[...errorCodes].map(([code, n]) => `${code} x${n}`).join(', ')}); retrying them`);
      this.#report(detail, { records: batch.length, failed: failedCount, attempt: this.#failureStreak });
      this.#backoffTimer = setTimeout(() => {
        this.#backoffTimer = undefined;
        this.#pump();
      }, backoffDelay(this.#failureStreak, this.#backoff, this.#random));
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
    if (entry.state !== 'queued' && entry.state !== 'in-flight') return;
    if (entry.state === 'queued') this.#queue.splice(this.#queue.indexOf(entry), 1);
    entry.state = 'settled';
    entry.detach();
    entry.reject(new PublishError('ABORTED', `publishing a record with partition key "${entry.record.partitionKey}" was aborted`, { cause: reason }));
    this.#release(entry.record.partitionKey);
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
        entry.detach();
        entry.resolve(entry.receipt!);
      }
    }
    if (chain.length === 0) this.#unsettled.delete(partitionKey);
  }

  #report(error: Error, info: { records: number; failed: number; attempt: number }): void {
    try {
      this.#onError?.(error, info);
    } catch {
      // A logging callback that throws must not stop publishing.
    }
  }

  #checkIdle(): void {
    if (!this.#closing || this.#inFlight || this.#queue.length > 0 || this.#unsettled.size > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
