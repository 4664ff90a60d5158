// The error a call that must fail failed with, to assert on its fields (an SDK error's name, $fault, $metadata ...).
import type { ModelError } from '@aws-sdk/client-sagemaker-runtime';

/**
 * What a failed SDK call rejects with: a service error has $fault and $metadata (a ModelError also the container's
 * Original* fields); a client-side one (TimeoutError, AbortError) only name and message.
 */
export type Failure = Error & Partial<Omit<ModelError, keyof Error>>;

/** The rejection of `promise`, which must reject. */
export async function failure(promise: Promise<unknown>): Promise<Failure> {
  const error = await promise.then(
    () => null,
    (error: unknown) => error as Failure,
  );
  if (!error) throw new Error('expected the call to fail');
  return error;
}
