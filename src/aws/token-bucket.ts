// A token bucket: paces calls to an AWS API under its documented request rate (the caller waits for a token), and
// lets the local stand-ins refuse calls beyond that rate as AWS does (the caller is told there is none).

import { setTimeout as sleep } from 'node:timers/promises';

export interface TokenBucketOptions {
  /** Tokens added per second: the sustained rate. */
  ratePerSecond: number;
  /** Most tokens held at once: the burst allowed after a quiet spell. Default: one second's worth (at least 1). */
  burst?: number;
  /** Monotonic milliseconds; default performance.now. */
  now?: () => number;
}

export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError(`ratePerSecond must be a positive number, got ${options.ratePerSecond}`);
    }
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst ?? Math.max(1, this.#rate);
    if (!(this.#burst >= 1)) throw new RangeError(`burst must be at least 1, got ${options.burst}`);
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.#burst;
    this.#at = this.#now();
  }

  /** Takes a token if one is there; false (and nothing taken) if not. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there; 0 when one is. */
  waitMillis(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.#rate) * 1000);
  }

  /** Waits for a token and takes it; rejects with the signal's reason when aborted. */
  async take(signal?: AbortSignal): Promise<void> {
    while (!this.tryTake()) {
      signal?.throwIfAborted();
      try {
        await sleep(this.waitMillis(), undefined, { signal });
      } catch (error) {
        throw signal?.aborted ? signal.reason : error;
      }
    }
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
    this.#at = now;
  }
}
