// Errors the lease machine raises itself, and the codes raised by others that it branches on (LEASE_LOST).

import { KvsInferError } from '../errors.js';

export type LeaseMachineErrorCode =
  /** The machine's input (intervals, timeouts, backoff) has a value that cannot work. */
  | 'BAD_LEASE_OPTIONS'
  /** The machine was run without `provide({ actors })` for an actor that does I/O. */
  | 'ACTOR_NOT_PROVIDED'
  /** A bug in the machine itself, e.g. a checkpoint write started with nothing to write. */
  | 'LEASE_MACHINE_INVARIANT';

export class LeaseMachineError extends KvsInferError<LeaseMachineErrorCode> {}

/**
 * The code a lease-store write (take, renew, checkpoint) fails with when its conditional check finds
 * that this worker no longer owns the lease. The store defines its own error class; the machine only
 * looks at `code`, so any class carrying this code is understood.
 */
export const LEASE_LOST = 'LEASE_LOST';

/**
 * The coordinator's answer to a write for a lease it has already dropped. Treated as a loss: carrying on
 * would read a stream that another worker may be reading, and the next write would fail the same way.
 */
export const LEASE_NOT_HELD = 'LEASE_NOT_HELD';

/** The `code` of an error-like value, or null. */
export function errorCode(error: unknown): string | null {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return null;
}

/** True for an error that means this worker no longer owns the lease (LEASE_LOST or LEASE_NOT_HELD). */
export function isLeaseLost(error: unknown): boolean {
  const code = errorCode(error);
  return code === LEASE_LOST || code === LEASE_NOT_HELD;
}
