// A counted set of places, taken in arrival order: what bounds the frames a worker holds between
// reading and the endpoint queue, so that a full pipeline pauses GetMedia instead of growing.

import { KvsInferError } from '../errors.js';

export class Slots {
  readonly size: number;
  #used = 0;
  readonly #waiters: { grant: () => void; signal?: AbortSignal; onAbort: () => void }[] = [];

  constructor(size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new KvsInferError('BAD_CONFIG', `slots need an integer size >= 1, got ${size}`);
    this.size = size;
  }

  get used(): number {
    return this.#used;
  }

  /** Callers waiting for a place. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves with the release function once a place is free; rejects with the signal's reason when aborted first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#used < this.size && this.#waiters.length === 0) return Promise.resolve(this.#take());
    return new Promise((resolve, reject) => {
      const waiter = {
        signal,
        grant: () => resolve(this.#take()),
        onAbort: () => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(signal!.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #take(): () => void {
    this.#used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used--;
      const next = this.#waiters.shift();
      if (next === undefined) return;
      next.signal?.removeEventListener('abort', next.onAbort);
      next.grant();
    };
  }
}
