// Errors of the lease table and coordinator. LEASE_LOST is the one callers must act on: stop the
// stream's reader at once and never checkpoint it again.

import { KvsInferError } from '../../errors.js';
import type { Lease } from './lease-types.js';

export type LeaseErrorCode =
  /** A conditional write failed: the lease has another owner, a moved counter, or is gone. */
  | 'LEASE_LOST'
  /** checkpoint() for a lease this worker does not hold (never took it, or already lost it). */
  | 'LEASE_NOT_HELD'
  /** DynamoDB failed otherwise (throttling, network, permissions); `cause` is the SDK error. */
  | 'LEASE_TABLE_FAILED'
  /** The table exists with another key schema, or never became ACTIVE. */
  | 'LEASE_TABLE_INVALID'
  /** A lease item has a malformed attribute: the message names the lease, the field, the value and what is done. */
  | 'LEASE_ITEM_INVALID'
  /** A bad option or lease key given by the caller. */
  | 'BAD_LEASE_OPTIONS';

export class LeaseError extends KvsInferError<LeaseErrorCode> {
  readonly leaseKey: string | null;
  /** The worker that believed it held (or wanted) the lease. */
  readonly owner: string | null;
  /** For LEASE_LOST: the lease as found after the failed write (undefined when it was deleted). */
  readonly current: Lease | undefined;

  constructor(
    code: LeaseErrorCode,
    message: string,
    details: { leaseKey?: string | null; owner?: string | null; current?: Lease; cause?: unknown } = {},
  ) {
    super(code, message, { cause: details.cause });
    this.leaseKey = details.leaseKey ?? null;
    this.owner = details.owner ?? null;
    this.current = details.current;
  }
}

export const isLeaseLost = (error: unknown): error is LeaseError =>
  error instanceof LeaseError && error.code === 'LEASE_LOST';
