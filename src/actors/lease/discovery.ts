// Discovery: which streams the application processes — the configured names plus the streams whose
// tags match every tag filter — re-resolved on an interval; the lease coordinator follows its changes.
// Within KVS's control-plane quotas (ListTagsForStream: 50 per second per account, shared with every other caller
// in the account): tags are asked for new streams only, then again after tagRefreshMillis; the calls are paced by a
// token bucket; ClientLimitExceededException, which the SDK does not retry, is retried with backoff.

import { setTimeout as sleep } from 'node:timers/promises';
import { type KinesisVideoClient, ListStreamsCommand, ListTagsForStreamCommand } from '@aws-sdk/client-kinesis-video';
import { type BackoffPolicy, backoffDelay, resolveBackoff } from '../../aws/backoff.js';
import { TokenBucket } from '../../aws/token-bucket.js';
import type { TagFilter } from '../../config/index.js';
import { KvsInferError } from '../../errors.js';

export type DiscoveryErrorCode =
  /** A Kinesis Video call failed; the previous list is kept. */
  | 'DISCOVERY_FAILED'
  /** `onChange` threw during a timed refresh; it is called again at the next one. */
  | 'DISCOVERY_LISTENER_FAILED';

export class DiscoveryError extends KvsInferError<DiscoveryErrorCode> {}

/** The subset of the timer functions Discovery uses, so that tests drive the interval by hand. */
export interface DiscoveryTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface DiscoveryOptions {
  client: Pick<KinesisVideoClient, 'send'>;
  /**
   * Always in the list, whether or not the stream exists (yet): KIT processes the names it is given,
   * and a camera provisioned after the worker started is read as soon as its stream appears,
   * without waiting for the next refresh. The reader copes with a stream that does not exist.
   */
  streamNames?: readonly string[];
  /** A stream matches when, for every filter, its tag `key` has one of `values`. None: no AWS calls at all. */
  tagFilters?: readonly TagFilter[];
  /** Between the end of one timed refresh and the start of the next. */
  intervalMillis: number;
  /** Called with the sorted list after the first successful refresh (after each start()), then whenever it changes. */
  onChange(streams: string[]): void;
  /** A refresh that failed (the previous list stays), or an `onChange` that threw in a timed refresh. */
  onError(error: DiscoveryError): void;
  /** Default: the global timers, unref'd so that discovery alone does not keep the process alive. */
  timers?: DiscoveryTimers;
  /** ListStreams MaxResults; default: the service's (10000). */
  pageSize?: number;
  /** ListTagsForStream calls in flight at once; default 5. */
  tagConcurrency?: number;
  /** Pace of ListTagsForStream calls; default 20 per second, 40% of KVS's per-account quota. */
  tagRequestsPerSecond?: number;
  /** A stream's tags are asked for again once they are this old; 0: at every refresh. Default 10 minutes. */
  tagRefreshMillis?: number;
  /** Between tries of a call answered ClientLimitExceededException; default 1 s doubling up to 20 s, full jitter. */
  throttleBackoff?: Partial<BackoffPolicy>;
  /** Tries of one call answered ClientLimitExceededException, the first included, before the refresh fails; 6. */
  throttleAttempts?: number;
  /** Monotonic ms, for the age of cached tags; default performance.now. */
  now?: () => number;
}

interface CachedTags {
  tags: Record<string, string>;
  fetchedAt: number;
}

interface ListedStream {
  name: string;
  arn: string;
}

const DEFAULT_TAG_CONCURRENCY = 5;
export const DEFAULT_TAG_REQUESTS_PER_SECOND = 20;
export const DEFAULT_TAG_REFRESH_MILLIS = 600_000;
const DEFAULT_THROTTLE_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 20_000, jitter: 1 };
const DEFAULT_THROTTLE_ATTEMPTS = 6;

const systemTimers: DiscoveryTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const errorName = (error: unknown): string => (error instanceof Error ? error.name : 'Error');
const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

export function matchesTagFilters(tags: Readonly<Record<string, string>>, filters: readonly TagFilter[]): boolean {
  return filters.every((filter) => Object.hasOwn(tags, filter.key) && filter.values.includes(tags[filter.key]!));
}

export class Discovery {
  readonly #client: Pick<KinesisVideoClient, 'send'>;
  readonly #names: readonly string[];
  readonly #filters: readonly TagFilter[];
  readonly #intervalMillis: number;
  readonly #onChange: (streams: string[]) => void;
  readonly #onError: (error: DiscoveryError) => void;
  readonly #timers: DiscoveryTimers;
  readonly #pageSize: number | undefined;
  readonly #tagConcurrency: number;
  readonly #tagPace: TokenBucket;
  readonly #tagRefreshMillis: number;
  readonly #throttleBackoff: BackoffPolicy;
  readonly #throttleAttempts: number;
  readonly #now: () => number;
  /** Tags by stream ARN (a stream re-created under its name is another stream), for the streams last listed. */
  readonly #tags = new Map<string, CachedTags>();

  /** The list last handed to onChange; undefined until the first successful refresh. */
  #current: string[] | undefined;
  /** Refreshes run one after another, so that a manual refresh never interleaves with a timed one. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Aborted by stop(), so that a long tag scan does not hold up shutdown. */
  #abort = new AbortController();
  #timer: unknown;
  /** Bumped by start() and stop(): a refresh that ends after stop() must not schedule another. */
  #generation = 0;
  #running = false;
  /**
   * Set by start(): whoever runs discovery anew (e.g. a worker that regained the sync lease) hears the list even if
   * unchanged.
   */
  #announce = true;

  constructor(options: DiscoveryOptions) {
    if (!Number.isSafeInteger(options.intervalMillis) || options.intervalMillis <= 0) {
      throw new RangeError(`intervalMillis must be a positive integer, got ${options.intervalMillis}`);
    }
    this.#client = options.client;
    this.#names = [...(options.streamNames ?? [])];
    this.#filters = (options.tagFilters ?? []).map((f) => ({ key: f.key, values: [...f.values] }));
    this.#intervalMillis = options.intervalMillis;
    this.#onChange = options.onChange;
    this.#onError = options.onError;
    this.#timers = options.timers ?? systemTimers;
    this.#pageSize = options.pageSize;
    this.#tagConcurrency = Math.max(1, options.tagConcurrency ?? DEFAULT_TAG_CONCURRENCY);
    this.#tagPace = new TokenBucket({
      ratePerSecond: options.tagRequestsPerSecond ?? DEFAULT_TAG_REQUESTS_PER_SECOND,
      now: options.now,
    });
    this.#tagRefreshMillis = options.tagRefreshMillis ?? DEFAULT_TAG_REFRESH_MILLIS;
    this.#throttleBackoff = resolveBackoff({ ...DEFAULT_THROTTLE_BACKOFF, ...options.throttleBackoff });
    this.#throttleAttempts = Math.max(1, options.throttleAttempts ?? DEFAULT_THROTTLE_ATTEMPTS);
    this.#now = options.now ?? (() => performance.now());
  }

  /** The last list resolved (sorted); empty before the first successful refresh. */
  get streams(): readonly string[] {
    return this.#current ?? [];
  }

  /**
   * Resolves the list now and returns it; calls onChange first when it changed. AWS errors do not
   * reject: they go to onError and the previous list is returned. An onChange that throws rejects.
   */
  refresh(): Promise<string[]> {
    const run = this.#queue.then(() => this.#refreshOnce());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Refreshes now, then `intervalMillis` after each refresh ends; the first result is always announced. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#announce = true;
    this.#tick(++this.#generation);
  }

  /** No refresh starts after this; one in flight is aborted, and no onChange follows once this settles. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#generation++;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    const inFlight = this.#abort;
    this.#abort = new AbortController();
    inFlight.abort();
    await this.#queue;
  }

  #tick(generation: number): void {
    this.#timer = undefined;
    this.refresh()
      .catch((error: unknown) => {
        this.#onError(
          new DiscoveryError('DISCOVERY_LISTENER_FAILED', `onChange threw: ${errorMessage(error)}`, { cause: error }),
        );
      })
      .finally(() => {
        if (this.#running && generation === this.#generation) {
          this.#timer = this.#timers.setTimeout(() => this.#tick(generation), this.#intervalMillis);
        }
      });
  }

  async #refreshOnce(): Promise<string[]> {
    const signal = this.#abort.signal;
    let found: string[];
    try {
      found = await this.#resolve(signal);
    } catch (error) {
      if (!signal.aborted) {
        const kept = this.#current?.length ?? 0;
        this.#onError(
          new DiscoveryError(
            'DISCOVERY_FAILED',
            `${errorMessage(error)}; keeping the previous ${kept} stream${kept === 1 ? '' : 's'}`,
            {
              cause: error instanceof DiscoveryError ? error.cause : error,
            },
          ),
        );
      }
      return [...this.streams];
    }
    if (signal.aborted) return [...this.streams];
    // The first result is always announced: the coordinator needs it to retire the leases of
    // streams that disappeared while no worker ran, even when the result is empty.
    if (this.#announce || !sameList(this.#current ?? [], found)) {
      // Recorded only once the listener took it, so that a listener that threw hears it again.
      this.#onChange([...found]);
      this.#current = found;
      this.#announce = false;
    }
    return [...found];
  }

  async #resolve(signal: AbortSignal): Promise<string[]> {
    const names = new Set(this.#names);
    if (this.#filters.length > 0) {
      const listed = await this.#listStreams(signal);
      const arns = new Set(listed.map((stream) => stream.arn));
      for (const arn of this.#tags.keys()) if (!arns.has(arn)) this.#tags.delete(arn);
      const now = this.#now();
      const due = listed.filter((stream) => {
        const cached = this.#tags.get(stream.arn);
        return cached === undefined || now - cached.fetchedAt >= this.#tagRefreshMillis;
      });
      // Each answer is cached as it comes, so a refresh that fails part-way leaves less for the next one to ask.
      await this.#mapBounded(due, signal, (stream, s) => this.#fetchTags(stream, s));
      for (const stream of listed) {
        const cached = this.#tags.get(stream.arn);
        if (cached !== undefined && matchesTagFilters(cached.tags, this.#filters)) names.add(stream.name);
      }
    }
    return [...names].sort();
  }

  /**
   * Sends, retrying ClientLimitExceededException (KVS's throttling, which the SDK does not retry) with backoff up to
   * throttleAttempts tries; names the operation in the error, which the SDK's own message does not.
   */
  async #call<T>(operation: string, signal: AbortSignal, send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        const throttled = errorName(error) === 'ClientLimitExceededException';
        if (throttled && attempt < this.#throttleAttempts && !signal.aborted) {
          await sleep(backoffDelay(attempt, this.#throttleBackoff), undefined, { signal });
          continue;
        }
        const tries = throttled && attempt > 1 ? ` (throttled ${attempt} times)` : '';
        throw new DiscoveryError(
          'DISCOVERY_FAILED',
          `${operation} failed${tries}: ${errorName(error)}: ${errorMessage(error)}`,
          { cause: error },
        );
      }
    }
  }

  async #listStreams(signal: AbortSignal): Promise<ListedStream[]> {
    const streams: ListedStream[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#call('ListStreams', signal, () =>
        this.#client.send(new ListStreamsCommand({ MaxResults: this.#pageSize, NextToken: nextToken }), {
          abortSignal: signal,
        }),
      );
      for (const info of page.StreamInfoList ?? []) {
        // A stream being deleted is gone for our purposes: its lease should be retired, not renewed.
        if (info.StreamName === undefined || info.StreamARN === undefined || info.Status === 'DELETING') continue;
        streams.push({ name: info.StreamName, arn: info.StreamARN });
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken !== undefined);
    return streams;
  }

  /** Asks for a stream's tags and caches them. */
  async #fetchTags(stream: ListedStream, signal: AbortSignal): Promise<void> {
    const tags: Record<string, string> = {};
    let nextToken: string | undefined;
    try {
      do {
        await this.#tagPace.take(signal);
        // By ARN: a stream deleted and re-created under the same name since ListStreams is another stream.
        const page = await this.#call('ListTagsForStream', signal, () =>
          this.#client.send(new ListTagsForStreamCommand({ StreamARN: stream.arn, NextToken: nextToken }), {
            abortSignal: signal,
          }),
        );
        Object.assign(tags, page.Tags ?? {});
        nextToken = page.NextToken || undefined;
      } while (nextToken !== undefined);
    } catch (error) {
      // Deleted between ListStreams and now: not a failure, just not a match (and asked again if it is listed again).
      if (error instanceof DiscoveryError && errorName(error.cause) === 'ResourceNotFoundException') {
        this.#tags.delete(stream.arn);
        return;
      }
      throw error;
    }
    this.#tags.set(stream.arn, { tags, fetchedAt: this.#now() });
  }

  /** `fn` over `items` with at most tagConcurrency in flight; the first failure aborts the rest. */
  async #mapBounded<T, R>(
    items: readonly T[],
    outer: AbortSignal,
    fn: (item: T, signal: AbortSignal) => Promise<R>,
  ): Promise<R[]> {
    const failed = new AbortController();
    const signal = AbortSignal.any([outer, failed.signal]);
    const results: R[] = new Array<R>(items.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length && !signal.aborted) {
        const i = next++;
        results[i] = await fn(items[i]!, signal);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#tagConcurrency, items.length) }, worker));
    } catch (error) {
      failed.abort();
      throw error;
    }
    if (outer.aborted) throw new DiscoveryError('DISCOVERY_FAILED', 'aborted');
    return results;
  }
}
