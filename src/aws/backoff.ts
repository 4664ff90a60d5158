// Retry delays for AWS calls (GetMedia reconnects, InvokeEndpoint, PutRecords, lease syncs): exponential, capped,
// and jittered so that callers failing together do not retry together.

import { KvsInferError } from '../errors.js';

export type BackoffErrorCode =
  /** A policy whose delays cannot work (negative base, cap below base, jitter outside 0..1). */
  'BAD_BACKOFF';

export class BackoffError extends KvsInferError<BackoffErrorCode> {}

export interface BackoffPolicy {
  /** Delay before the first reconnect, in ms. */
  baseMs: number;
  /** No delay is ever longer than this, jitter included. */
  maxMs: number;
  /**
   * Share of the delay that is random, 0..1: the delay is drawn from [d * (1 - jitter), d].
   * 0 is fully deterministic; 1 is "full jitter". Jitter only ever shortens, so the cap holds.
   */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 20_000, jitter: 0.5 };

/**
 * The delay before reconnect number `attempt` (1 for the first after a good read): base * 2^(attempt-1),
 * capped at maxMs, then shortened by up to `jitter` of itself. `random` returns [0, 1), like Math.random,
 * and is a parameter so that a caller (or a test) can make the jitter reproducible.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  // 2^exponent overflows to Infinity long before it matters; Math.min keeps the cap either way.
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(ceiling * (1 - jitter * random()));
}

/** Fills a partial policy from the defaults and rejects values that would make the delay meaningless. */
export function resolveBackoff(partial: Partial<BackoffPolicy> | undefined): BackoffPolicy {
  const policy = { ...DEFAULT_BACKOFF, ...partial };
  if (!(policy.baseMs >= 0) || !(policy.maxMs >= policy.baseMs) || !(policy.jitter >= 0 && policy.jitter <= 1)) {
    throw new BackoffError(
      'BAD_BACKOFF',
      `backoff needs 0 <= baseMs <= maxMs and 0 <= jitter <= 1, got ${JSON.stringify(policy)}`,
    );
  }
  return policy;
}
