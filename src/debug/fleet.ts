// The fleet as the lease table shows it, for the debug page: every lease with its owner, how long its counter and
// its checkpoint have stood still as this worker saw across its reads, and every worker with its lease count.
// The table is scanned only when a page asks, at most once per interval whatever the number of pages: each scan
// reads the whole table (RCUs).

import { isWorkerLeaseKey, type Lease, type LeaseStore, SYNC_LEASE_KEY } from '../actors/lease/lease-types.js';

/** One lease of the table, with ages as of the scan that read it. */
export interface FleetLeaseView {
  leaseKey: string;
  /** Null when nobody holds it (never taken, or released). */
  owner: string | null;
  leaseCounter: number;
  /** Since this worker saw `leaseCounter` change (this worker's clock): how long its owner has not renewed. */
  counterAgeMillis: number;
  /** The counter has not moved since this worker's first read of it: the real age is this or more. */
  counterAgeAtLeast: boolean;
  /** The counter stood still for failoverTimeMillis or more: any worker may take the lease. */
  expired: boolean;
  /** The fragment number checkpointed; null before the stream's first checkpoint. */
  checkpoint: string | null;
  /** The checkpointed fragment's server timestamp (epoch ms, KVS's clock). */
  checkpointServerTimestamp: number | null;
  /** The scan's time (this worker's clock) minus the fragment's server timestamp: how far the checkpoint is behind. */
  checkpointBehindMillis: number | null;
  /** Since this worker saw the checkpoint change; `checkpointAgeAtLeast` as for the counter. */
  checkpointAgeMillis: number | null;
  checkpointAgeAtLeast: boolean;
  ownerSwitchesSinceCheckpoint: number;
}

export interface FleetWorkerView {
  workerId: string;
  /** Stream leases it holds (the sync lease not counted). */
  leases: number;
  /** Of those, how many have expired. */
  expired: number;
  holdsSyncLease: boolean;
}

export interface FleetView {
  /** Epoch ms of the last scan that succeeded; null before one. */
  scannedAt: number | null;
  /** At most one scan per this many ms. */
  intervalMillis: number;
  /** Why the last scan failed; null when it succeeded. The view then is the previous scan's. */
  error: string | null;
  /** Every stream lease, by key. */
  leases: FleetLeaseView[];
  /** Every owner of a lease, most leases first. */
  workers: FleetWorkerView[];
  unowned: number;
}

export interface FleetWatchOptions {
  /** The lease table; scanned eventually consistent, which costs half the RCUs of a strongly consistent scan. */
  table: Pick<LeaseStore, 'list'>;
  /** Default 5 s. */
  intervalMillis?: number;
  /** A scan not finished by then is abandoned. Default 10 s. */
  timeoutMillis?: number;
  /** Marks leases whose counter stood still this long as expired; without it none is. */
  failoverTimeMillis?: number;
}

/** When this worker first saw a value (its monotonic clock), to date how long it has stood still. */
interface Seen {
  counter: number;
  counterSince: number;
  checkpoint: string | null;
  checkpointSince: number;
}

export const FLEET_INTERVAL_MS = 5_000;
export const FLEET_TIMEOUT_MS = 10_000;

export class FleetWatch {
  readonly intervalMillis: number;
  readonly #table: Pick<LeaseStore, 'list'>;
  readonly #timeoutMillis: number;
  readonly #failoverTimeMillis: number;
  readonly #seen = new Map<string, Seen>();
  /** When this watch first scanned: a value seen unchanged since then may be older. */
  #firstScan: number | null = null;
  #lastStart = Number.NEGATIVE_INFINITY;
  #scan: Promise<void> | null = null;
  #view: FleetView;

  constructor(options: FleetWatchOptions) {
    this.intervalMillis = options.intervalMillis ?? FLEET_INTERVAL_MS;
    this.#timeoutMillis = options.timeoutMillis ?? FLEET_TIMEOUT_MS;
    this.#failoverTimeMillis = options.failoverTimeMillis ?? Number.POSITIVE_INFINITY;
    this.#table = options.table;
    this.#view = {
      scannedAt: null,
      intervalMillis: this.intervalMillis,
      error: null,
      leases: [],
      workers: [],
      unowned: 0,
    };
  }

  /**
   * The fleet as of the latest scan. Scans first when the last one started an interval ago or more (failed scans
   * count, so that a failing table is not hammered); callers arriving during a scan share it.
   */
  async view(): Promise<FleetView> {
    if (this.#scan === null && performance.now() - this.#lastStart >= this.intervalMillis) {
      this.#lastStart = performance.now();
      this.#scan = this.#rescan().finally(() => {
        this.#scan = null;
      });
    }
    await this.#scan;
    return this.#view;
  }

  async #rescan(): Promise<void> {
    try {
      const leases = await this.#table.list({
        consistentRead: false,
        abortSignal: AbortSignal.timeout(this.#timeoutMillis),
      });
      this.#view = this.#read(leases, performance.now(), Date.now());
    } catch (error) {
      this.#view = { ...this.#view, error: error instanceof Error ? error.message : String(error) };
    }
  }

  #read(leases: Lease[], now: number, wallNow: number): FleetView {
    this.#firstScan ??= now;
    const since = (was: number) => ({ age: Math.round(now - was), atLeast: was === this.#firstScan });
    const workers = new Map<string, FleetWorkerView>();
    const worker = (workerId: string) => {
      let entry = workers.get(workerId);
      if (entry === undefined) {
        entry = { workerId, leases: 0, expired: 0, holdsSyncLease: false };
        workers.set(workerId, entry);
      }
      return entry;
    };
    const views: FleetLeaseView[] = [];
    let unowned = 0;
    const keys = new Set<string>();
    for (const lease of leases) {
      keys.add(lease.leaseKey);
      const seen = this.#observe(lease, now);
      const counter = since(seen.counterSince);
      const checkpoint = lease.checkpoint === undefined ? null : since(seen.checkpointSince);
      const expired = counter.age >= this.#failoverTimeMillis;
      const owner = lease.leaseOwner ?? null;
      if (lease.leaseKey === SYNC_LEASE_KEY) {
        if (owner !== null) worker(owner).holdsSyncLease = true;
        continue;
      }
      // A live worker item ('leader' assignment) makes its worker a row, even with no leases yet.
      if (isWorkerLeaseKey(lease.leaseKey)) {
        if (owner !== null && !expired) worker(owner);
        continue;
      }
      if (owner === null) unowned++;
      else {
        const entry = worker(owner);
        entry.leases++;
        if (expired) entry.expired++;
      }
      views.push({
        leaseKey: lease.leaseKey,
        owner,
        leaseCounter: lease.leaseCounter,
        counterAgeMillis: counter.age,
        counterAgeAtLeast: counter.atLeast,
        expired,
        checkpoint: lease.checkpoint?.fragmentNumber ?? null,
        checkpointServerTimestamp: lease.checkpoint?.serverTimestamp ?? null,
        checkpointBehindMillis: lease.checkpoint === undefined ? null : wallNow - lease.checkpoint.serverTimestamp,
        checkpointAgeMillis: checkpoint?.age ?? null,
        checkpointAgeAtLeast: checkpoint?.atLeast ?? false,
        ownerSwitchesSinceCheckpoint: lease.ownerSwitchesSinceCheckpoint,
      });
    }
    // Leases deleted from the table are forgotten, so that the map stays the table's size.
    for (const key of this.#seen.keys()) if (!keys.has(key)) this.#seen.delete(key);
    return {
      scannedAt: wallNow,
      intervalMillis: this.intervalMillis,
      error: null,
      leases: views,
      workers: [...workers.values()].sort((a, b) => b.leases - a.leases || a.workerId.localeCompare(b.workerId)),
      unowned,
    };
  }

  #observe(lease: Lease, now: number): Seen {
    const checkpoint = lease.checkpoint?.fragmentNumber ?? null;
    const seen = this.#seen.get(lease.leaseKey);
    if (seen === undefined) {
      const first = { counter: lease.leaseCounter, counterSince: now, checkpoint, checkpointSince: now };
      // A lease first seen by a later scan is new to the table (or back): its values date from this scan, not before.
      this.#seen.set(lease.leaseKey, first);
      return first;
    }
    if (seen.counter !== lease.leaseCounter) {
      seen.counter = lease.leaseCounter;
      seen.counterSince = now;
    }
    if (seen.checkpoint !== checkpoint) {
      seen.checkpoint = checkpoint;
      seen.checkpointSince = now;
    }
    return seen;
  }
}
