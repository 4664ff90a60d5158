// The shapes the lease table stores and the coordinator hands out (KCL attribute names).

import type { Checkpoint } from '../../media/checkpoint.js';

export type { Checkpoint };

/** One item of the lease table, as read at some moment; `leaseCounter` says which moment. */
export interface Lease {
  leaseKey: string;
  /** Absent when nobody holds the lease (never taken, or released). */
  leaseOwner?: string;
  /** Bumped by every take, renew, checkpoint and release; every write is conditional on it. */
  leaseCounter: number;
  /**
   * Where the next owner resumes: after this fragment, or at it when `inclusive` (the stream's first checkpoint,
   * written at its first fragment read). Absent until the stream's first checkpoint.
   */
  checkpoint?: Checkpoint;
  /** Owner changes since the last checkpoint: a stream that keeps moving without progress shows here. */
  ownerSwitchesSinceCheckpoint: number;
}

/**
 * What the coordinator needs from the table; `LeaseTable` is the DynamoDB one. Each write is
 * conditional on the given lease's counter (and owner where said) and throws
 * `LeaseError('LEASE_LOST')` when the condition fails.
 */
export interface LeaseStore {
  /**
   * Every lease. Strongly consistent unless `consistentRead` is false: an eventually consistent read may be
   * a write or two behind, which costs half as much and suits callers whose every write is conditional anyway.
   */
  list(options?: { consistentRead?: boolean; abortSignal?: AbortSignal }): Promise<Lease[]>;
  get(leaseKey: string): Promise<Lease | undefined>;
  /** Resolves true if created, false if a lease with this key already existed. */
  createLease(leaseKey: string): Promise<boolean>;
  deleteLease(leaseKey: string): Promise<void>;
  take(lease: Lease, owner: string): Promise<Lease>;
  renew(lease: Lease, owner: string, options?: LeaseWriteOptions): Promise<Lease>;
  /** Stores `checkpoint` (fragmentNumber, serverTimestamp, keyframesSeen and inclusive, as given) on a held lease. */
  checkpoint(lease: Lease, owner: string, checkpoint: Checkpoint, options?: LeaseWriteOptions): Promise<Lease>;
  release(lease: Lease, owner: string): Promise<Lease>;
}

export interface LeaseWriteOptions {
  /** Abandons the write (LEASE_TABLE_FAILED). It may still land: the next write on the lease finds that out. */
  abortSignal?: AbortSignal;
}

/** Why a held lease left this worker; the reader for it must stop at once whatever the reason. */
export type LeaseLostReason =
  /** A write found another owner or a moved counter: another worker took (or stole) it. */
  | 'taken'
  /** The lease is gone from the table: its stream was retired. */
  | 'deleted'
  /**
   * No write on it succeeded for failoverTimeMillis minus the safety margin (DynamoDB unreachable, throttled,
   * a renewal hung): given up before any other worker may take it.
   */
  | 'expired'
  /** This worker handed it back (shutdown). */
  | 'released';

/** The lease whose holder alone runs discovery (KIT's "lease for synchronization"). */
export const SYNC_LEASE_KEY = '__sync__';
