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
  /**
   * Set by the leader when it moved the lease from a live owner (leaseAssignment 'leader'): the new owner waits out
   * the old owner's handover before reading. Absent otherwise.
   */
  assignedLive?: true;
  /** A worker item's leases the leader assigned to it and it has not taken yet. */
  assigned?: string[];
  /** The sync lease's: the live workers as its holder last listed them, sorted. */
  workers?: string[];
  /**
   * The item's `leaseCounter` as found when it is not an integer number (`value` undefined: no such attribute), as a
   * KIT user's edit, another tool or another version may leave it. `leaseCounter` is then a negative stand-in that
   * changes whenever the value found does, so expiry is judged as for any lease; a take (or deleteIfUnchanged) is
   * conditional on this exact value and type instead, and writes a number. Absent on a well-formed item.
   */
  malformedCounter?: { value: unknown };
  /** What parseLease found wrong with the item, each with what is done about it; absent when nothing. */
  problems?: LeaseItemProblem[];
}

/** One malformed attribute of a lease item; the coordinator reports each as LEASE_ITEM_INVALID. */
export interface LeaseItemProblem {
  /** The attribute, dotted inside the checkpoint: `leaseCounter`, `checkpoint.serverTimestamp`. */
  field: string;
  /** The value found, as JSON (a string in quotes), cut short when long; `absent` for a missing attribute. */
  found: string;
  /** What the worker makes of it. */
  handling: string;
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
  /** One lease; strongly consistent unless `consistentRead` is false. */
  get(leaseKey: string, options?: { consistentRead?: boolean }): Promise<Lease | undefined>;
  /** Resolves true if created, false if a lease with this key already existed. */
  createLease(leaseKey: string): Promise<boolean>;
  deleteLease(leaseKey: string): Promise<void>;
  /** Takes the lease for `owner`, who may be another worker (an assignment, `live` when from a live owner). */
  take(lease: Lease, owner: string, options?: { live?: boolean }): Promise<Lease>;
  renew(lease: Lease, owner: string, options?: LeaseWriteOptions & { workers?: string[] }): Promise<Lease>;
  /** Tells a worker, through its item, of leases assigned to it (nothing if the item is gone). */
  notifyAssigned(workerKey: string, leaseKeys: string[]): Promise<void>;
  /** Removes leases from a worker item's assigned list once handled. */
  clearAssigned(workerKey: string, leaseKeys: string[]): Promise<void>;
  /** Deletes the lease only if its counter is still `leaseCounter` (a departed worker's item); false otherwise. */
  deleteIfUnchanged(lease: Lease): Promise<boolean>;
  /**
   * Deletes the lease only if `owner` holds it, whatever its counter (a draining worker's own item, which a renewal
   * still in flight may have moved); false otherwise.
   */
  deleteIfOwned(leaseKey: string, owner: string): Promise<boolean>;
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

/**
 * How leases reach workers. 'leader': the sync-lease holder lists the table and assigns; every other worker reads only
 * its own item and the sync lease. 'every-worker': each worker lists the table every pass and takes for itself.
 */
export const LEASE_ASSIGNMENTS = ['leader', 'every-worker'] as const;
export type LeaseAssignment = (typeof LEASE_ASSIGNMENTS)[number];

// A colon is not allowed in a KVS stream name, so a worker item can never be mistaken for a stream's lease.
const WORKER_KEY_PREFIX = '__worker__:';

/** The item a worker keeps alive in the lease table under 'leader' assignment, as a lease it holds. */
export const workerLeaseKey = (workerId: string): string => `${WORKER_KEY_PREFIX}${workerId}`;

export const isWorkerLeaseKey = (leaseKey: string): boolean => leaseKey.startsWith(WORKER_KEY_PREFIX);

/** The worker a worker item belongs to. */
export const workerOfKey = (leaseKey: string): string => leaseKey.slice(WORKER_KEY_PREFIX.length);
