// A set of places bounded in count and in bytes, taken in arrival order: what bounds the frames a worker
// holds between reading and the endpoint queue, so that a full pipeline pauses GetMedia instead of growing.

import { KvsInferError } from '../../errors.js';
import { onAbort } from '../deferred.js';

interface Waiter {
  bytes: number;
  grant: () => void;
  /** Removes its abort listener once granted. */
  detach: () => void;
}

export class Slots {
  readonly size: number;
  readonly maxBytes: number;
  #used = 0;
  #usedBytes = 0;
  readonly #waiters: Waiter[] = [];

  /**
   * At most `size` places and `maxBytes` bytes taken at once; one item larger than maxBytes is let in alone, so it
   * cannot deadlock.
   */
  constructor(size: number, maxBytes: number) {
    if (!(Number.isInteger(size) && size >= 1))
      throw new KvsInferError('BAD_CONFIG', `slots need an integer size >= 1, got ${size}`);
    if (!(Number.isInteger(maxBytes) && maxBytes >= 1))
      throw new KvsInferError('BAD_CONFIG', `slots need an integer maxBytes >= 1, got ${maxBytes}`);
    this.size = size;
    this.maxBytes = maxBytes;
  }

  get used(): number {
    return this.#used;
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  /** Callers waiting for a place. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Resolves with the release function once a place for `bytes` is free (waiters served strictly in order);
   * rejects with the signal's reason when aborted first.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const release = this.tryAcquire(bytes);
    if (release !== null) return Promise.resolve(release);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { bytes, grant: () => resolve(this.#take(bytes)), detach: () => {} };
      this.#waiters.push(waiter);
      waiter.detach = onAbort(signal, (reason) => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(reason);
        // The head may have been all that kept smaller ones behind it waiting.
        this.#grant();
      });
    });
  }

  /** The release function when a place for `bytes` is free now and nobody waits ahead; null otherwise. */
  tryAcquire(bytes: number): (() => void) | null {
    return this.#waiters.length === 0 && this.#fits(bytes) ? this.#take(bytes) : null;
  }

  #fits(bytes: number): boolean {
    return this.#used === 0 || (this.#used < this.size && this.#usedBytes + bytes <= this.maxBytes);
  }

  #take(bytes: number): () => void {
    this.#used++;
    this.#usedBytes += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used--;
      this.#usedBytes -= bytes;
      this.#grant();
    };
  }

  /** Lets waiters in, in order, while the head fits. */
  #grant(): void {
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.bytes)) {
      const next = this.#waiters.shift()!;
      next.detach();
      next.grant();
    }
  }
}
