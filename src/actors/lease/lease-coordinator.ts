// One worker's side of KCL's lease scheme: renews the leases it holds, gives up by itself those it can no
// longer prove, and holds the synchronisation lease that elects the discovery runner. How it gets leases depends on
// leaseAssignment. 'every-worker' (KCL 2.x): every worker lists the table every pass, takes expired leases and steals
// one at a time towards an even share (lease-planner.ts). 'leader' (KCL 3.x's shape): only the sync lease's holder
// lists the table and assigns (assignment-planner.ts); every other worker keeps an item of its own alive, reads it and
// the sync lease each pass, and takes what was assigned to it. One other worker, the standby named by the leader's
// list, lists the table too, so that it judges expiry from warm observations when it succeeds the leader.

import { isAfter } from '../../media/checkpoint.js';
import { namePhase } from '../../name-phase.js';
import type { Clock } from '../clock.js';
import { planAssignments } from './assignment-planner.js';
import { isLeaseLost, LeaseError } from './lease-errors.js';
import {
  compare,
  defaultSafetyMargin,
  handoverDelay,
  isExpired,
  type LeaseObservation,
  lapsed,
  mayRelease,
  observe,
  type PlannedTake,
  planTakes,
} from './lease-planner.js';
import {
  type Checkpoint,
  isWorkerLeaseKey,
  type Lease,
  type LeaseAssignment,
  type LeaseLostReason,
  type LeaseStore,
  type LeaseWriteOptions,
  SYNC_LEASE_KEY,
  workerLeaseKey,
} from './lease-types.js';

export interface LeaseCoordinatorOptions {
  table: LeaseStore;
  /** Unique per process (KCL uses host + UUID): two processes sharing an id would share leases. */
  workerId: string;
  /** Drives expiry judgement and the start() timers; xstate's SimulatedClock fits for tests. */
  clock: Clock;
  /** A lease whose counter has not moved for this long, as seen by this worker, is expired. Default 10000. */
  failoverTimeMillis?: number;
  /** Default failoverTimeMillis / 3, in whole milliseconds; below failoverTimeMillis / 2 with the default margin. */
  renewIntervalMillis?: number;
  /**
   * A held lease whose last successful write was sent failoverTimeMillis minus this long ago is given up
   * (onLost 'expired'), before any other worker may take it. Default: see defaultSafetyMargin().
   */
  safetyMarginMillis?: number;
  /**
   * Period of the take pass under start(). A dead worker's leases are taken within failoverTimeMillis + 2 × this of
   * its last renewal ('every-worker'), + 3 × this under 'leader' (the leader's pass, then the new owner's). Default
   * min(1000, failoverTimeMillis / 3).
   */
  takeIntervalMillis?: number;
  /** Stream leases this worker holds at most (the sync lease is not counted). Default unlimited. */
  maxLeasesPerWorker?: number;
  syncLeaseKey?: string;
  /** Default 'leader'; see the top of this file. */
  assignment?: LeaseAssignment;
  /** Order of candidates, so that workers starting together do not all race for the same lease. */
  random?: () => number;
  /**
   * A stream lease is now ours; start its reader from `lease.checkpoint`, but not before handoverDelayMillis:
   * a lease `stolen` from a live worker is read by it until its next renewal fails or, cut off from the
   * table, until it gives the lease up by itself. Not called for the sync lease.
   */
  onAcquired?: (lease: Lease, how: { stolen: boolean; handoverDelayMillis: number }) => void | Promise<void>;
  /** A stream lease is no longer ours: stop its reader at once, it must not checkpoint again. */
  onLost?: (leaseKey: string, reason: LeaseLostReason) => void | Promise<void>;
  /** This worker gained (true) or lost (false) the sync lease, i.e. the duty to run discovery. */
  onSyncLease?: (held: boolean) => void | Promise<void>;
  /**
   * Errors the background passes and callbacks swallow (DynamoDB unreachable, a throwing callback), and each malformed
   * attribute of the lease items a pass meets (LEASE_ITEM_INVALID, once a minute while it stays).
   */
  onError?: (error: unknown) => void;
  /** Told of every count as it happens (for metrics); `counters` has the totals. */
  onCount?: (counter: keyof LeaseCoordinatorCounters) => void;
}

export interface LeaseCoordinatorCounters {
  /** Stream leases acquired, steals included. */
  taken: number;
  /** Of those, taken from a live owner. */
  stolen: number;
  /** Stream leases lost to another worker, deletion, or expiry (not releases). */
  lost: number;
  renewed: number;
  released: number;
}

export interface SyncResult {
  /** False when this worker does not hold the sync lease: nothing was done. */
  holdsSyncLease: boolean;
  created: string[];
  deleted: string[];
}

/**
 * A held lease's reader, offering its renewals a checkpoint to carry: the renewal then writes it (a checkpoint write
 * renews the lease as well), so that a stream's checkpoints cost no write of their own.
 */
export interface CheckpointCarrier {
  /** The checkpoint to write with the renewal due now, or null for a plain renewal. */
  next(): Checkpoint | null;
  /** Called once a renewal has written `checkpoint`. */
  written(checkpoint: Checkpoint): void;
}

interface HeldLease {
  lease: Lease;
  /** When the last successful write on it was sent: it landed no earlier, so others saw it no earlier. */
  renewedAt: number;
  /** A renewal is under way: a pass does not queue another behind one that hangs. */
  renewing: boolean;
  /**
   * When its next renewal is due: each lease keeps its own phase within the interval (see #renewDue), and any write
   * that succeeds (a checkpoint too) puts it an interval after what that write proves.
   */
  renewDueAt: number;
  /** When its handover ends: from then on nobody else can be reading it. */
  readableAt: number;
  /** Sending time of the first write since the last success that failed without an answer: it may have landed. */
  unansweredSince: number | null;
}

type TimerKind = 'renew' | 'take' | 'expire';

export class LeaseCoordinator {
  readonly workerId: string;
  readonly failoverTimeMillis: number;
  readonly renewIntervalMillis: number;
  readonly safetyMarginMillis: number;
  readonly takeIntervalMillis: number;
  readonly maxLeasesPerWorker: number;
  readonly syncLeaseKey: string;
  readonly assignment: LeaseAssignment;

  readonly #table: LeaseStore;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #options: LeaseCoordinatorOptions;
  readonly #held = new Map<string, HeldLease>();
  #observations = new Map<string, LeaseObservation>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #carriers = new Map<string, CheckpointCarrier>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #timers = new Map<TimerKind, unknown>();
  /** Period of the renewal timer: a tenth of the interval, each tick renewing the leases due within it. */
  readonly #renewSliceMillis: number;
  /** When start() last ran: the renewal ticks fall on its grid of slices. */
  #renewEpoch = 0;
  readonly #counters: LeaseCoordinatorCounters = { taken: 0, stolen: 0, lost: 0, renewed: 0, released: 0 };
  readonly #chains = { take: Promise.resolve() as Promise<unknown>, sync: Promise.resolve() as Promise<unknown> };
  #workers: string[] = [];
  /** This worker's item under 'leader' assignment: held like a lease, it tells the leader this worker is alive. */
  readonly #workerKey: string;
  #scans = 0;
  /** When each problem of a lease item (by lease, field and value) was last reported: see #reportProblems. */
  readonly #reported = new Map<string, number>();
  #taking = true;
  #running = false;

  constructor(options: LeaseCoordinatorOptions) {
    const failover = options.failoverTimeMillis ?? 10_000;
    // Whole milliseconds: timers (and simulated clocks) compare sums of these, where fractions drift.
    const renew = options.renewIntervalMillis ?? Math.max(1, Math.floor(failover / 3));
    const margin = options.safetyMarginMillis ?? defaultSafetyMargin(failover, renew);
    const take = options.takeIntervalMillis ?? Math.max(1, Math.min(1000, Math.floor(failover / 3)));
    const max = options.maxLeasesPerWorker ?? Number.POSITIVE_INFINITY;
    const bad = (what: string) => new LeaseError('BAD_LEASE_OPTIONS', `LeaseCoordinator: ${what}`);
    if (typeof options.workerId !== 'string' || options.workerId === '')
      throw bad('workerId must be a non-empty string');
    if (!options.table || !options.clock) throw bad('table and clock are required');
    if (!(failover > 0)) throw bad(`failoverTimeMillis must be positive, got ${failover}`);
    if (!(renew > 0 && renew < failover))
      throw bad(`renewIntervalMillis must be positive and below failoverTimeMillis, got ${renew}`);
    // A lease given up before its next renewal could land would be lost every interval.
    if (!(margin > 0 && failover - margin > renew)) {
      throw bad(
        `safetyMarginMillis must be positive and leave more than renewIntervalMillis (${renew}) ` +
          `of failoverTimeMillis (${failover}), got ${margin}`,
      );
    }
    if (!(take > 0)) throw bad(`takeIntervalMillis must be positive, got ${take}`);
    if (!(max >= 1) || (Number.isFinite(max) && !Number.isInteger(max)))
      throw bad(`maxLeasesPerWorker must be a positive integer, got ${max}`);
    this.workerId = options.workerId;
    this.failoverTimeMillis = failover;
    this.renewIntervalMillis = renew;
    this.#renewSliceMillis = Math.max(1, Math.floor(renew / RENEW_SLICES));
    this.safetyMarginMillis = margin;
    this.takeIntervalMillis = take;
    this.maxLeasesPerWorker = max;
    this.syncLeaseKey = options.syncLeaseKey ?? SYNC_LEASE_KEY;
    this.assignment = options.assignment ?? 'leader';
    this.#workerKey = workerLeaseKey(options.workerId);
    this.#workers = [options.workerId];
    this.#table = options.table;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#options = options;
  }

  /** The stream leases this worker holds, with their checkpoints, by key. */
  get held(): Lease[] {
    return [...this.#held.values()]
      .map((h) => copy(h.lease))
      .filter((l) => this.#isStream(l.leaseKey))
      .sort((a, b) => compare(a.leaseKey, b.leaseKey));
  }

  holds(leaseKey: string): boolean {
    return this.#isStream(leaseKey) && this.#held.has(leaseKey);
  }

  #isStream(leaseKey: string): boolean {
    return leaseKey !== this.syncLeaseKey && !isWorkerLeaseKey(leaseKey);
  }

  /** Only the holder runs discovery and syncStreamLeases(). */
  get holdsSyncLease(): boolean {
    return this.#held.has(this.syncLeaseKey);
  }

  /**
   * Live workers, this worker included: owners of live leases at the last take pass ('every-worker'), or the live
   * worker items as the leader last listed them ('leader').
   */
  get workers(): string[] {
    return [...this.#workers];
  }

  get counters(): LeaseCoordinatorCounters {
    return { ...this.#counters };
  }

  #count(counter: keyof LeaseCoordinatorCounters): void {
    this.#counters[counter]++;
    this.#options.onCount?.(counter);
  }

  /** Take passes that listed the table: until the first, this worker does not know what it should hold (readiness). */
  get scans(): number {
    return this.#scans;
  }

  /** One renewal pass, the expiry check, then one take pass: what start() does on its timers, for tests and tools. */
  async runOnce(): Promise<void> {
    await this.renewLeases();
    this.expireLeases();
    await this.takeLeases();
  }

  /**
   * Renews every held lease whose previous renewal has finished; resolves when the renewals started have.
   * A lease found lost is dropped and reported to onLost before this resolves. A failed renewal only
   * reports the error: whether the lease is still ours is expireLeases()' judgement, on the clock alone.
   */
  renewLeases(): Promise<void> {
    return this.#renewWhere(() => true);
  }

  /**
   * What start() runs every renewal slice: renews the leases due within the slice. Each lease is renewed once an
   * interval on its own phase, never later than due; so a worker's 100 leases make ten small bursts of writes an
   * interval instead of one of 100, which would hold the main thread and the table's write rate at once.
   */
  #renewDue(): Promise<void> {
    const horizon = this.#clock.now() + this.#renewSliceMillis;
    return this.#renewWhere((entry) => entry.renewDueAt < horizon);
  }

  async #renewWhere(pick: (entry: HeldLease) => boolean): Promise<void> {
    const now = this.#clock.now();
    const due = [...this.#held].filter(([, entry]) => !entry.renewing && pick(entry));
    await Promise.all(
      due.map(async ([key, entry]) => {
        entry.renewing = true;
        // From this sending, not from when it was due: sent up to a slice early, its next one is never more than
        // an interval after it. The slice ticks are shared, so the leases keep the phases they were spread on.
        entry.renewDueAt = now + this.renewIntervalMillis;
        const provenAt = entry.renewedAt;
        try {
          await this.#withLock(key, () => this.#renew(key, entry, provenAt));
        } finally {
          entry.renewing = false;
        }
      }),
    );
  }

  /**
   * Gives up (onLost 'expired') every held lease whose last successful write was sent failoverTimeMillis -
   * safetyMarginMillis ago or more, whatever its writes in flight: another worker may take it at
   * failoverTimeMillis after that sending, and this worker must have stopped reading it by then.
   */
  expireLeases(): void {
    const renewedAt = new Map([...this.#held].map(([key, entry]) => [key, entry.renewedAt]));
    for (const key of lapsed(renewedAt, this.#clock.now(), this.#cutoff)) this.#drop(key, 'expired');
  }

  /** How long after its last successful write was sent a held lease is given up. */
  get #cutoff(): number {
    return this.failoverTimeMillis - this.safetyMarginMillis;
  }

  /**
   * 'every-worker': lists the table; takes expired leases up to this worker's share, else steals at most one.
   * 'leader': the leader lists the table and assigns; any other worker reads its item and takes what it was given.
   */
  takeLeases(): Promise<void> {
    return this.#serial('take', () => (this.assignment === 'leader' ? this.#assignedPass() : this.#takePass()));
  }

  /**
   * Runs renewals every renewIntervalMillis, take passes every takeIntervalMillis (starting with one now),
   * and expireLeases() whenever a held lease's cut-off comes, on its own timer.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#taking = true;
    this.#schedule('take', 0);
    this.#renewEpoch = this.#clock.now();
    this.#schedule('renew', this.#renewSliceMillis);
    this.#armExpiry();
  }

  /**
   * Stops the timers, expiry's included; held leases are kept (and expire for others) unless shutdown() releases them.
   */
  stop(): void {
    this.#running = false;
    for (const id of this.#timers.values()) this.#clock.clearTimeout(id);
    this.#timers.clear();
  }

  /**
   * First step of a graceful shutdown: take nothing more, keep renewing while readers drain. Under 'leader'
   * assignment this worker's item goes at once, so that the leader assigns it nothing more. Deleted as long as it is
   * ours, whatever its counter: a renewal of it in flight may have landed unanswered, and an item left behind would
   * draw the leases this worker hands back to it again, to wait out a failover.
   */
  stopTaking(): void {
    this.#taking = false;
    if (!this.#held.has(this.#workerKey)) return;
    this.#drop(this.#workerKey, 'released');
    void this.#track(this.#table.deleteIfOwned(this.#workerKey, this.workerId).catch((error) => this.#report(error)));
  }

  /** Resolves once the passes and writes under way have finished. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * From now on the renewals of `leaseKey` write the checkpoints `carrier` offers. Returns the function that ends it
   * (it leaves alone a carrier registered since, by a later holding of the same lease).
   */
  carryCheckpoints(leaseKey: string, carrier: CheckpointCarrier): () => void {
    this.#carriers.set(leaseKey, carrier);
    return () => {
      if (this.#carriers.get(leaseKey) === carrier) this.#carriers.delete(leaseKey);
    };
  }

  /**
   * Writes a checkpoint through the held lease (which also renews it). Throws LEASE_LOST, after
   * reporting onLost, when the lease turns out to be someone else's; LEASE_NOT_HELD when not held.
   * A checkpoint before the one the lease has (a renewal carried a later one meanwhile) is not written.
   */
  checkpoint(leaseKey: string, checkpoint: Checkpoint): Promise<Lease> {
    return this.#withLock(leaseKey, async () => {
      const entry = this.#held.get(leaseKey);
      if (!entry || leaseKey === this.syncLeaseKey) {
        throw new LeaseError('LEASE_NOT_HELD', `worker ${this.workerId} does not hold lease ${leaseKey}`, {
          leaseKey,
          owner: this.workerId,
        });
      }
      const stored = entry.lease.checkpoint ?? null;
      if (stored !== null && isAfter(stored, checkpoint)) return copy(entry.lease);
      return copy(
        await this.#write(leaseKey, entry, (options) =>
          this.#table.checkpoint(entry.lease, this.workerId, checkpoint, options),
        ),
      );
    });
  }

  /**
   * Makes the stream leases match the streams discovery found: creates the missing, deletes the
   * retired (their checkpoints go with them). Does nothing unless this worker holds the sync lease,
   * and stops if it loses it part way (holdsSyncLease false, with what was done by then).
   */
  syncStreamLeases(desiredStreamKeys: Iterable<string>): Promise<SyncResult> {
    const desired = new Set(desiredStreamKeys);
    for (const key of desired) {
      if (typeof key !== 'string' || key === '' || key === this.syncLeaseKey) {
        return Promise.reject(
          new LeaseError('BAD_LEASE_OPTIONS', `not a usable stream lease key: ${JSON.stringify(key)}`, {
            leaseKey: String(key),
          }),
        );
      }
    }
    return this.#serial('sync', async (): Promise<SyncResult> => {
      const created: string[] = [];
      const deleted: string[] = [];
      const sync = this.#held.get(this.syncLeaseKey);
      // Under the sync lease's lock, so that its own renewal does not move the counter between the read and the
      // check; the creations and deletions do not hold it, which would hold the renewal up until the lease expired.
      const leases = sync && (await this.#withLock(this.syncLeaseKey, () => this.#listAsSyncHolder(sync)));
      if (!leases) return { holdsSyncLease: false, created, deleted };
      const holds = () => this.#held.get(this.syncLeaseKey) === sync;
      const existing = new Set(leases.map((l) => l.leaseKey).filter((k) => this.#isStream(k)));
      for (const key of [...desired].sort(compare)) {
        if (!holds()) return { holdsSyncLease: false, created, deleted };
        if (!existing.has(key) && (await this.#table.createLease(key))) created.push(key);
      }
      for (const key of [...existing].sort(compare)) {
        if (desired.has(key)) continue;
        if (!holds()) return { holdsSyncLease: false, created, deleted };
        await this.#withLock(key, async () => {
          // Our own reader stops before its lease disappears; other holders learn at their next renewal.
          if (this.#held.has(key)) this.#drop(key, 'deleted');
          await this.#table.deleteLease(key);
        });
        deleted.push(key);
      }
      return { holdsSyncLease: true, created, deleted };
    });
  }

  /**
   * Every lease, if the table says the sync lease is still ours (else it is dropped, and null returned).
   * Strongly consistent, unlike take passes: a stale read could show our sync lease a write behind and drop it
   * for nothing, and the creations and deletions that follow act on this read with no counter condition.
   */
  async #listAsSyncHolder(sync: HeldLease): Promise<Lease[] | null> {
    if (this.#held.get(this.syncLeaseKey) !== sync) return null;
    const leases = await this.#table.list({ consistentRead: true });
    const current = leases.find((l) => l.leaseKey === this.syncLeaseKey);
    const ours = current !== undefined && current.leaseOwner === this.workerId;
    // A renewal abandoned unanswered may have landed: ours, one write ahead of what we know. Proven from its sending.
    if (
      ours &&
      sync.unansweredSince !== null &&
      !current.malformedCounter &&
      current.leaseCounter === sync.lease.leaseCounter + 1
    ) {
      sync.lease = current;
      sync.renewedAt = sync.unansweredSince;
      sync.unansweredSince = null;
    }
    // Moved under us otherwise: another worker runs discovery now.
    if (!ours || current.leaseCounter !== sync.lease.leaseCounter) {
      this.#dropEntry(this.syncLeaseKey, sync, current ? 'taken' : 'deleted');
      return null;
    }
    return leases;
  }

  /**
   * Hands one held lease back (owner cleared) so that another worker takes it at its next pass
   * instead of after failoverTimeMillis. onLost(key, 'released') fires before the release is written.
   * A lease still in its handover (stolen, its old owner perhaps still reading) is only dropped: released,
   * it would be read at once by a third worker; left alone, it expires for others after failoverTimeMillis.
   */
  release(leaseKey: string): Promise<void> {
    return this.#withLock(leaseKey, async () => {
      const entry = this.#held.get(leaseKey);
      if (!entry) return;
      this.#drop(leaseKey, 'released');
      if (!mayRelease(entry.readableAt, this.#clock.now())) return;
      try {
        await this.#table.release(entry.lease, this.workerId);
        this.#count('released');
      } catch (error) {
        // Lost already: the new owner has it, which is what releasing wanted.
        if (!isLeaseLost(error)) this.#report(error);
      }
    });
  }

  /**
   * Stops taking and the timers, then releases every held lease (owner cleared) so that other
   * workers take them at their next pass instead of after failoverTimeMillis. onLost(key,
   * 'released') fires before each release is written: drain readers and write final checkpoints first.
   */
  async shutdown(): Promise<void> {
    this.stopTaking();
    this.stop();
    await this.idle();
    // The sync lease last: the worker that takes it over then finds these free, and hands them out in its first pass.
    await Promise.all(
      [...this.#held.keys()].filter((key) => key !== this.syncLeaseKey).map((key) => this.release(key)),
    );
    await this.release(this.syncLeaseKey);
  }

  /** `provenAt`: the lease's renewedAt when this renewal was due. */
  async #renew(key: string, entry: HeldLease, provenAt: number): Promise<void> {
    if (this.#held.get(key) !== entry) return;
    // A write that went ahead of it on the lock (a checkpoint) and succeeded has renewed the lease: sending this one
    // too would only add a write, and, with DynamoDB slow, hold up the next by a whole call.
    if (entry.renewedAt > provenAt) {
      entry.renewDueAt = entry.renewedAt + this.renewIntervalMillis;
      return;
    }
    // The leader records the live workers it listed on the sync lease, for the others to read.
    const workers =
      key === this.syncLeaseKey && this.assignment === 'leader' && !sameList(entry.lease.workers, this.#workers)
        ? this.#workers
        : undefined;
    const carrier = this.#carriers.get(key);
    const offered = carrier?.next() ?? null;
    const checkpoint = offered !== null && isAfter(offered, entry.lease.checkpoint ?? null) ? offered : null;
    try {
      await this.#write(key, entry, (options) =>
        checkpoint === null
          ? this.#table.renew(entry.lease, this.workerId, { ...options, workers })
          : this.#table.checkpoint(entry.lease, this.workerId, checkpoint, options),
      );
      this.#count('renewed');
      if (checkpoint !== null) this.#call(() => carrier!.written(checkpoint));
    } catch (error) {
      if (!isLeaseLost(error)) this.#report(error);
    }
  }

  /**
   * One write on a held lease (renewal or checkpoint), under its lock. Success proves the lease ours from the
   * write's sending, unless an earlier write failed without an answer (timed out, abandoned): that one may have
   * landed, and the store then takes it for this one (the condition fails on the counter it moved, to the owner
   * we are), so the proof only dates from that earlier sending. A LEASE_LOST drops the lease before rethrowing.
   */
  async #write(key: string, entry: HeldLease, send: (options: LeaseWriteOptions) => Promise<Lease>): Promise<Lease> {
    const sentAt = this.#clock.now();
    try {
      entry.lease = await this.#bounded(send);
      entry.renewedAt = entry.unansweredSince ?? sentAt;
      entry.unansweredSince = null;
      // Any write renews: the next renewal is due an interval after what this one proves, not after the last
      // renewal (a checkpoint written between renewals, more often than they come, stands for them).
      entry.renewDueAt = Math.max(entry.renewDueAt, entry.renewedAt + this.renewIntervalMillis);
      return entry.lease;
    } catch (error) {
      if (!isLeaseLost(error)) {
        entry.unansweredSince ??= sentAt;
        throw error;
      }
      // An earlier write that got no answer landed, and was another kind (a renewal, then this checkpoint): still
      // ours, one write ahead. Proven from that write's sending; this one is sent again on the counter it moved.
      const current = error.current;
      if (
        entry.unansweredSince !== null &&
        current?.leaseOwner === this.workerId &&
        !current.malformedCounter &&
        current.leaseCounter === entry.lease.leaseCounter + 1
      ) {
        entry.lease = current;
        entry.renewedAt = entry.unansweredSince;
        entry.unansweredSince = null;
        return this.#write(key, entry, send);
      }
      this.#dropEntry(key, entry, current ? 'taken' : 'deleted');
      throw error;
    }
  }

  async #takePass(): Promise<void> {
    if (!this.#taking) return;
    // Eventually consistent (half the read capacity, every pass of every worker): a lease read a write behind
    // only makes a take conditional on its stale counter fail, and an observation begun late only delays a take.
    const leases = await this.#table.list({ consistentRead: false });
    const now = this.#clock.now();
    this.#observations = observe(this.#observations, leases, now);
    this.#reportProblems(leases, now);
    const plan = planTakes(
      { leases, observations: this.#observations, held: new Set(this.#held.keys()), now, self: this.workerId },
      {
        failoverTimeMillis: this.failoverTimeMillis,
        maxLeasesPerWorker: this.maxLeasesPerWorker,
        syncLeaseKey: this.syncLeaseKey,
        random: this.#random,
      },
    );
    let sync = plan.takeSync;
    if (plan.createSync && (await this.#table.createLease(this.syncLeaseKey))) {
      sync = { leaseKey: this.syncLeaseKey, leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 };
    }
    if (sync) await this.#take({ lease: sync, handoverDelayMillis: 0 }, false, now);
    this.#workers = plan.workers;
    this.#scans++;
    for (const take of plan.take) {
      if (!this.#taking) return;
      await this.#take(take, false, now);
    }
    if (plan.steal && this.#taking) await this.#take(plan.steal, true, now);
  }

  /** 'leader' assignment: the leader's pass, or another worker's (which becomes the leader's if it takes over). */
  async #assignedPass(): Promise<void> {
    const sync = this.#held.get(this.syncLeaseKey);
    if (sync) return this.#leaderPass();
    // Eventually consistent (half the cost): a read a write behind only delays an observation or an assignment.
    const stale = { consistentRead: false };
    const [item, syncLease] = await Promise.all([
      this.#table.get(this.#workerKey, stale),
      this.#table.get(this.syncLeaseKey, stale),
    ]);
    const standby = syncLease !== undefined && standbyOf(syncLease) === this.workerId;
    // The standby observes the whole table, so that as the next leader it judges expiry without waiting afresh.
    const listed = standby ? await this.#table.list({ consistentRead: false }) : syncLease ? [syncLease] : [];
    const now = this.#clock.now();
    this.#observations = observe(this.#observations, listed, now);
    this.#reportProblems([item, syncLease, ...listed], now);
    this.#workers = syncLease?.workers ?? [this.workerId];
    await this.#keepWorkerItem(item, now);
    if (item?.assigned) await this.#takeAssigned(item.assigned);
    this.#scans++;
    if (!this.#taking) return;
    if (!syncLease) {
      if (await this.#table.createLease(this.syncLeaseKey)) {
        const created = { leaseKey: this.syncLeaseKey, leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 };
        if (await this.#take({ lease: created, handoverDelayMillis: 0 }, false, now)) await this.#leaderPass();
      }
      return;
    }
    // With a standby named, the others leave it the succession: they wait twice as long.
    const named = standbyOf(syncLease);
    const wait = named !== undefined && !standby ? 2 * this.failoverTimeMillis : this.failoverTimeMillis;
    if (isExpired(syncLease, this.#observations, now, wait)) {
      if (await this.#take({ lease: syncLease, handoverDelayMillis: 0 }, false, now)) await this.#leaderPass();
    }
  }

  /** The leader lists the table, takes its own share and assigns the rest. */
  async #leaderPass(): Promise<void> {
    const leases = await this.#table.list({ consistentRead: false });
    const now = this.#clock.now();
    this.#observations = observe(this.#observations, leases, now);
    this.#reportProblems(leases, now);
    const item = leases.find((l) => l.leaseKey === this.#workerKey);
    await this.#keepWorkerItem(item, now);
    if (item?.assigned) await this.#takeAssigned(item.assigned);
    this.#scans++;
    // A draining leader assigns nothing: it hands everything back soon, the sync lease included.
    if (!this.#taking) return;
    const held = new Set([...this.#held.keys()].filter((key) => this.#isStream(key)));
    const plan = planAssignments(
      { leases, observations: this.#observations, held, now, self: this.workerId },
      {
        failoverTimeMillis: this.failoverTimeMillis,
        maxLeasesPerWorker: this.maxLeasesPerWorker,
        syncLeaseKey: this.syncLeaseKey,
        random: this.#random,
      },
    );
    this.#workers = plan.workers;
    const notify = new Map<string, string[]>();
    await inBatches(plan.assign, async ({ lease, to, live }) => {
      if (!this.#taking) return;
      if (to === this.workerId) {
        const delay = handoverDelay(lease, this.#observations, now, this.failoverTimeMillis);
        await this.#take({ lease, handoverDelayMillis: delay }, live, now);
      } else if (held.has(lease.leaseKey)) {
        // Moved off the leader: handed back, and assigned as a free lease at the next pass.
        await this.release(lease.leaseKey);
      } else {
        try {
          await this.#table.take(lease, to, { live });
          notify.set(to, [...(notify.get(to) ?? []), lease.leaseKey]);
        } catch (error) {
          if (!isLeaseLost(error)) this.#report(error);
        }
      }
    });
    await inBatches([...notify], ([to, keys]) =>
      this.#table.notifyAssigned(workerLeaseKey(to), keys).catch((error) => this.#report(error)),
    );
    await inBatches(plan.departed, (departed) =>
      this.#table.deleteIfUnchanged(departed).then(
        () => undefined,
        (error) => this.#report(error),
      ),
    );
  }

  /** Keeps this worker's item held (created, or taken back after a restart or a lapse), unless it is draining. */
  async #keepWorkerItem(item: Lease | undefined, now: number): Promise<void> {
    if (!this.#taking || this.#held.has(this.#workerKey)) return;
    let lease = item;
    if (!lease && (await this.#table.createLease(this.#workerKey)))
      lease = { leaseKey: this.#workerKey, leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 };
    if (lease) await this.#take({ lease, handoverDelayMillis: 0 }, false, now);
  }

  /**
   * Takes the leases the leader assigned to this worker (a draining worker hands them back), then clears them from its
   * item. One moved from a live owner is read only after a full failoverTimeMillis from now: its old owner stops by
   * then, whether it learns of the move at its next renewal or gives the lease up by itself.
   */
  async #takeAssigned(keys: string[]): Promise<void> {
    const handled: string[] = [];
    await inBatches(keys, async (key) => {
      // A stale read only fails the take, conditional on the counter read: tried again next pass.
      const lease = this.#held.has(key) ? undefined : await this.#table.get(key, { consistentRead: false });
      if (lease?.leaseOwner === this.workerId) {
        if (!this.#taking) {
          await this.#table.release(lease, this.workerId).catch((error) => {
            if (!isLeaseLost(error)) this.#report(error);
          });
        } else {
          const live = lease.assignedLive === true;
          const handoverDelayMillis = live ? this.failoverTimeMillis : 0;
          // Failed without an answer: kept in the item, and tried again next pass.
          if (!(await this.#take({ lease, handoverDelayMillis }, live, this.#clock.now())) && !this.#held.has(key))
            return;
        }
      }
      handled.push(key);
    });
    await this.#table.clearAssigned(this.#workerKey, handled);
  }

  /** `plannedAt`: the `now` the handover delay was counted from. */
  async #take({ lease, handoverDelayMillis }: PlannedTake, stolen: boolean, plannedAt: number): Promise<boolean> {
    const sentAt = this.#clock.now();
    let taken: Lease;
    try {
      taken = await this.#table.take(lease, this.workerId);
    } catch (error) {
      // LEASE_LOST here only means another worker got there first.
      if (!isLeaseLost(error)) this.#report(error);
      return false;
    }
    this.#held.set(taken.leaseKey, {
      lease: taken,
      renewedAt: sentAt,
      renewing: false,
      // Its first renewal sooner than an interval by its key's phase: a worker's renewals spread over the interval
      // rather than all landing together, however many leases one take pass took.
      renewDueAt: sentAt + this.renewIntervalMillis - namePhase(taken.leaseKey, this.renewIntervalMillis),
      readableAt: plannedAt + handoverDelayMillis,
      unansweredSince: null,
    });
    // Re-armed, not just armed: a take that was slow to answer may have the earliest cut-off of all.
    this.#armExpiry();
    if (taken.leaseKey === this.syncLeaseKey) {
      this.#call(() => this.#options.onSyncLease?.(true));
    } else if (this.#isStream(taken.leaseKey)) {
      // What the reader starts from: a worker that never listed the lease ('leader' assignment) reports it here.
      this.#reportProblems([taken], this.#clock.now());
      this.#count('taken');
      if (stolen) this.#count('stolen');
      // Counted from the pass's `now`, before the take was sent: waited from here, it ends later still.
      this.#call(() => this.#options.onAcquired?.(copy(taken), { stolen, handoverDelayMillis }));
    }
    return true;
  }

  /**
   * Abandons a renewal or checkpoint still unanswered 90% of a renewal interval after its sending, whatever the
   * client's own timeouts and retries: the next renewal, due one interval after this one, is then sent on time
   * instead of waiting behind it, so one lost call costs one interval and no more.
   */
  async #bounded<T>(write: (options: LeaseWriteOptions) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    const timer = this.#clock.setTimeout(
      () => abort.abort(),
      this.renewIntervalMillis - Math.floor(this.renewIntervalMillis / 10),
    );
    try {
      return await write({ abortSignal: abort.signal });
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  /**
   * Drops `key` if `entry` is still what is held: a write begun before a drop and a retake must not drop the retaken
   * lease.
   */
  #dropEntry(key: string, entry: HeldLease, reason: LeaseLostReason): void {
    if (this.#held.get(key) === entry) this.#drop(key, reason);
  }

  #drop(key: string, reason: LeaseLostReason): void {
    if (!this.#held.delete(key)) return;
    // The writes of the dropped lease may still hang: a retaken one must not queue behind them. Its own writes
    // carry its own counter, so whichever lands first makes the other's condition fail.
    this.#locks.delete(key);
    if (key === this.syncLeaseKey) {
      this.#call(() => this.#options.onSyncLease?.(false));
      return;
    }
    if (!this.#isStream(key)) return;
    if (reason !== 'released') this.#count('lost');
    this.#call(() => this.#options.onLost?.(key, reason));
  }

  #schedule(kind: 'renew' | 'take', delay: number): void {
    this.#setTimer(kind, delay, () => {
      if (kind === 'renew') {
        // Fixed rate, on a grid from start(): a slow or hung renewal delays neither the next tick nor the other
        // leases' renewals, and a late tick does not shift the leases' phases.
        const slice = this.#renewSliceMillis;
        this.#schedule('renew', slice - ((this.#clock.now() - this.#renewEpoch) % slice));
        void this.#renewDue().catch((error) => this.#report(error));
        return;
      }
      // Tracked up to the rescheduling, so idle() resolves only once the next timer is armed.
      void this.#track(
        this.takeLeases()
          .catch((error) => this.#report(error))
          .then(() => this.#schedule('take', this.takeIntervalMillis)),
      );
    });
  }

  /**
   * Arms the expiry timer for the earliest cut-off among held leases. Renewals only move cut-offs later, so a
   * timer armed for an old one fires early, finds nothing, and re-arms; takes re-arm it.
   */
  #armExpiry(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.#held.values()) earliest = Math.min(earliest, entry.renewedAt + this.#cutoff);
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.#setTimer('expire', Math.max(0, earliest - this.#clock.now()), () => {
      this.expireLeases();
      this.#armExpiry();
    });
  }

  #setTimer(kind: TimerKind, delay: number, fire: () => void): void {
    if (!this.#running) return;
    // A pass begun before a stop() and start() finishes into the new run: keep one timer per kind.
    if (this.#timers.has(kind)) this.#clock.clearTimeout(this.#timers.get(kind));
    const id = this.#clock.setTimeout(() => {
      this.#timers.delete(kind);
      fire();
    }, delay);
    this.#timers.set(kind, id);
  }

  // Take passes never overlap (a second would count leases the first is still taking), nor do lease syncs (an
  // older list of streams would undo a newer one's creations and deletions).
  #serial<T>(kind: 'take' | 'sync', pass: () => Promise<T>): Promise<T> {
    const next = this.#chains[kind].catch(() => undefined).then(pass);
    this.#chains[kind] = next;
    return this.#track(next);
  }

  // Renewal, checkpoint, release and deletion of one lease run one at a time: each sends the counter
  // the previous one left, so running them together would fail one with a false LEASE_LOST.
  #withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    const tail = next.catch(() => undefined);
    this.#locks.set(key, tail);
    void tail.then(() => {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    });
    return this.#track(next);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    const settled = promise.catch(() => undefined);
    this.#inFlight.add(settled);
    void settled.then(() => this.#inFlight.delete(settled));
    return promise;
  }

  #call(callback: () => void | Promise<void> | undefined): void {
    try {
      const result = callback();
      if (result && typeof result.then === 'function') result.catch((error) => this.#report(error));
    } catch (error) {
      this.#report(error);
    }
  }

  /**
   * Reports each problem of the lease items met (LEASE_ITEM_INVALID, through onError): the lease, the field, the value
   * and what is done about it. Every pass meets them again, so each (lease, field, value) at most once per
   * REPORT_PROBLEMS_MILLIS: for as long as the item stays malformed, and again at once if its value changes.
   */
  #reportProblems(leases: Iterable<Lease | undefined>, now: number): void {
    for (const [key, at] of this.#reported) if (now - at >= REPORT_PROBLEMS_MILLIS) this.#reported.delete(key);
    for (const lease of leases) {
      if (!lease?.problems) continue;
      const { leaseKey } = lease;
      for (const { field, found, handling } of lease.problems) {
        const key = `${leaseKey}\n${field}\n${found}`;
        if (this.#reported.has(key)) continue;
        this.#reported.set(key, now);
        const message = `lease item ${leaseKey}: ${field} is ${found}; ${handling}`;
        this.#report(new LeaseError('LEASE_ITEM_INVALID', message, { leaseKey }));
      }
    }
  }

  #report(error: unknown): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // An error reporter that throws has nowhere left to report to.
    }
  }
}

/** Ticks of the renewal timer per renewal interval (see #renewDue). */
const RENEW_SLICES = 10;

/** How often one worker reports the same problem of a lease item while it stays (see #reportProblems). */
const REPORT_PROBLEMS_MILLIS = 60_000;

const sameList = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
  a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

/** The worker after the sync lease's holder in the list it recorded: it lists the table too, and succeeds first. */
function standbyOf(sync: Lease): string | undefined {
  const workers = sync.workers ?? [];
  const others = workers.filter((w) => w !== sync.leaseOwner);
  if (others.length === 0) return undefined;
  return others.find((w) => sync.leaseOwner !== undefined && w > sync.leaseOwner) ?? others[0];
}

/** Writes of one pass, 16 at a time: a cold start of thousands of leases does not go one round trip at a time. */
async function inBatches<T>(items: readonly T[], each: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += 16) await Promise.all(items.slice(i, i + 16).map(each));
}

const copy = (lease: Lease): Lease => ({
  ...lease,
  ...(lease.checkpoint ? { checkpoint: { ...lease.checkpoint } } : {}),
});
