// The control-plane request quotas Kinesis Video Streams documents (service quotas page: per account, and per stream
// for the operations that name one), enforced as KVS does: a call beyond them is answered
// ClientLimitExceededException. Every call is counted per operation, admitted or refused, so that a simulation can
// report what a fleet asks of the control plane.

import { TokenBucket } from '../../aws/token-bucket.js';
import { KvsApiError } from './errors.js';

interface Quota {
  /** Transactions per second per account. */
  account: number;
  /** Transactions per second per stream; undefined where the quotas page gives none. */
  stream?: number;
}

/** Hard quotas from the KVS developer guide's "Control plane API service quotas" table, for the operations served. */
export const CONTROL_PLANE_QUOTAS: Readonly<Record<string, Quota>> = {
  CreateStream: { account: 50 },
  DeleteStream: { account: 50, stream: 5 },
  DescribeStream: { account: 300, stream: 5 },
  GetDataEndpoint: { account: 300, stream: 5 },
  ListStreams: { account: 50 },
  ListTagsForStream: { account: 50, stream: 5 },
};

export interface ApiCallCount {
  /** Let through to the operation (which may still fail for its own reasons). */
  admitted: number;
  /** Refused with ClientLimitExceededException. */
  throttled: number;
}

export class ApiLimits {
  readonly #enforce: boolean;
  readonly #now: (() => number) | undefined;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #counts = new Map<string, ApiCallCount>();

  /** `enforce` false only counts; `now` (monotonic ms) is for tests. */
  constructor(options: { enforce: boolean; now?: () => number }) {
    this.#enforce = options.enforce;
    this.#now = options.now;
  }

  /**
   * Admits one call of `operation` on `stream` (the name or ARN the call gives, as its key; undefined for account-wide
   * operations), or throws
   * ClientLimitExceededException when the account's or the stream's quota for it is spent this second.
   */
  admit(operation: string, stream: string | undefined): void {
    const count = this.#counts.get(operation) ?? { admitted: 0, throttled: 0 };
    this.#counts.set(operation, count);
    const quota = CONTROL_PLANE_QUOTAS[operation];
    if (this.#enforce && quota !== undefined) {
      const account = this.#bucket(operation, quota.account);
      const perStream = quota.stream !== undefined && stream !== undefined;
      const streamBucket = perStream ? this.#bucket(`${operation} ${stream}`, quota.stream!) : undefined;
      // Both must have room before either is spent: a refused call costs nothing.
      if (account.waitMillis() > 0 || (streamBucket !== undefined && streamBucket.waitMillis() > 0)) {
        count.throttled++;
        const scope =
          account.waitMillis() > 0
            ? `${quota.account} per second per account`
            : `${quota.stream} per second for stream ${stream}`;
        throw new KvsApiError('ClientLimitExceededException', `${operation} is limited to ${scope}`);
      }
      account.tryTake();
      streamBucket?.tryTake();
    }
    count.admitted++;
  }

  /** Calls per operation since the server started. */
  counts(): Record<string, ApiCallCount> {
    return Object.fromEntries([...this.#counts].map(([operation, count]) => [operation, { ...count }]));
  }

  #bucket(key: string, rate: number): TokenBucket {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket({ ratePerSecond: rate, now: this.#now });
      this.#buckets.set(key, bucket);
    }
    return bucket;
  }
}
