// The shapes the lease table stores and the coordinator hands out (KCL attribute names), and the
// clock the coordinator runs on: xstate's Clock plus now(), so one clock drives leases and machines.

import type { Checkpoint } from '../machines/checkpoint.js';

export type { Checkpoint };

/** One item of the lease table, as read at some moment; `leaseCounter` says which moment. */
export interface Lease {
  leaseKey: string;
  /** Absent when nobody holds the lease (never taken, or released). */
  leaseOwner?: string;
  /** Bumped by every take, renew, checkpoint and release; every write is conditional on it. */
  leaseCounter: number;
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
  list(): Promise<Lease[]>;
  get(leaseKey: string): Promise<Lease | undefined>;
  /** Resolves true if created, false if a lease with this key already existed. */
  createLease(leaseKey: string): Promise<boolean>;
  deleteLease(leaseKey: string): Promise<void>;
  take(lease: Lease, owner: string): Promise<Lease>;
  renew(lease: Lease, owner: string): Promise<Lease>;
  checkpoint(lease: Lease, owner: string, checkpoint: Checkpoint): Promise<Lease>;
  release(lease: Lease, owner: string): Promise<Lease>;
}

/** Why a held lease left this worker; the reader for it must stop at once whatever the reason. */
export type LeaseLostReason =
  /** A write found another owner or a moved counter: another worker took (or stole) it. */
  | 'taken'
  /** The lease is gone from the table: its stream was retired. */
  | 'deleted'
  /** Renewals kept failing (DynamoDB unreachable, throttled): given up before others may take it. */
  | 'expired'
  /** This worker handed it back (shutdown). */
  | 'released';

/** xstate's `Clock` (so `SimulatedClock` fits) plus the current time in epoch milliseconds. */
export interface LeaseClock {
  now(): number;
  setTimeout(fn: () => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
}

export const systemClock: LeaseClock = {
  now: () => Date.now(),
  setTimeout: (fn, timeout) => setTimeout(fn, timeout),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/** The lease whose holder alone runs discovery (KIT's "lease for synchronization"). */
export const SYNC_LEASE_KEY = '__sync__';
