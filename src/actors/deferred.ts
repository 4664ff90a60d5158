// Promises settled later and abort listeners that clean up after themselves: the two shapes every stage that
// hands callers promises (slots, dispatcher, publisher, lease actor) is built from.

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** Its rejection is never unhandled: a caller may rightly observe only one of several promises it was handed. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * Calls `fn` with the signal's reason once `signal` aborts, and returns the listener's removal (idempotent), for
 * when whatever it guards settles first. A signal already aborted calls `fn` at once, before returning, so that
 * no caller waits on an abort that will never fire again; without a signal nothing is ever called.
 */
export function onAbort(signal: AbortSignal | undefined, fn: (reason: unknown) => void): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) {
    fn(signal.reason);
    return () => {};
  }
  const listener = () => fn(signal.reason);
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
