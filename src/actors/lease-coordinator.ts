// One worker's side of KCL's lease scheme: renews the leases it holds, takes expired ones, steals one
// at a time towards an even share, and holds the synchronisation lease that elects the discovery runner.

import { LeaseError, isLeaseLost } from './lease-errors.js';
import { SYNC_LEASE_KEY, type Checkpoint, type Lease, type LeaseClock, type LeaseLostReason, type LeaseStore } from './lease-types.js';

export interface LeaseCoordinatorOptions {
  table: LeaseStore;
  /** Unique per process (KCL uses host + UUID): two processes sharing an id would share leases. */
  workerId: string;
  /** Drives expiry judgement and the start() timers; xstate's SimulatedClock fits for tests. */
  clock: LeaseClock;
  /** A lease whose counter has not moved for this long, as seen by this worker, is expired. Default 10000. */
  failoverTimeMillis?: number;
  /** Default failoverTimeMillis / 3, in whole milliseconds. */
  renewIntervalMillis?: number;
  /**
   * Period of the list/take/steal pass under start(). A dead worker's leases are taken within
   * failoverTimeMillis + 2 × this of its last renewal. Default min(1000, failoverTimeMillis / 3).
   */
  takeIntervalMillis?: number;
  /** Stream leases this worker holds at most (the sync lease is not counted). Default unlimited. */
  maxLeasesPerWorker?: number;
  syncLeaseKey?: string;
  /** Order of candidates, so that workers starting together do not all race for the same lease. */
  random?: () => number;
  /**
   * A stream lease is now ours; start its reader from `lease.checkpoint`. `stolen`: it was taken
   * from a live worker, which goes on reading until its next renewal fails. Not called for the sync lease.
   */
  onAcquired?: (lease: Lease, how: { stolen: boolean }) => void | Promise<void>;
  /** A stream lease is no longer ours: stop its reader at once, it must not checkpoint again. */
  onLost?: (leaseKey: string, reason: LeaseLostReason) => void | Promise<void>;
  /** This worker gained (true) or lost (false) the sync lease, i.e. the duty to run discovery. */
  onSyncLease?: (held: boolean) => void | Promise<void>;
  /** Errors the background passes and callbacks swallow (DynamoDB unreachable, a throwing callback). */
  onError?: (error: unknown) => void;
  /** Told of every count as it happens (for metrics); `counters` has the totals. */
  onCount?: (counter: keyof LeaseCoordinatorCounters) => void;
}

export interface LeaseCoordinatorCounters {
  /** Stream leases acquired, steals included. */
  taken: number;
  /** Of those, taken from a live owner. */
  stolen: number;
  /** Stream leases lost to another worker, deletion, or failed renewals (not releases). */
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

interface HeldLease {
  lease: Lease;
  /** When the last successful write on it was sent: the write landed no earlier, so expiry is judged conservatively. */
  renewedAt: number;
}

interface Observation {
  counter: number;
  owner: string | undefined;
  /** When this worker first saw the current counter: only our own clock is compared with it. */
  changedAt: number;
}

export class LeaseCoordinator {
  readonly workerId: string;
  readonly failoverTimeMillis: number;
  readonly renewIntervalMillis: number;
  readonly takeIntervalMillis: number;
  readonly maxLeasesPerWorker: number;
  readonly syncLeaseKey: string;

  readonly #table: LeaseStore;
  readonly #clock: LeaseClock;
  readonly #random: () => number;
  readonly #options: LeaseCoordinatorOptions;
  readonly #held = new Map<string, HeldLease>();
  readonly #seen = new Map<string, Observation>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #timers = new Map<'renew' | 'take', unknown>();
  readonly #counters: LeaseCoordinatorCounters = { taken: 0, stolen: 0, lost: 0, renewed: 0, released: 0 };
  #renewChain: Promise<unknown> = Promise.resolve();
  #takeChain: Promise<unknown> = Promise.resolve();
  #workers: string[] = [];
  #scans = 0;
  #taking = true;
  #running = false;

  constructor(options: LeaseCoordinatorOptions) {
    const failover = options.failoverTimeMillis ?? 10_000;
    // Whole milliseconds: timers (and simulated clocks) compare sums of these, where fractions drift.
    const renew = options.renewIntervalMillis ?? Math.max(1, Math.floor(failover / 3));
    const take = options.takeIntervalMillis ?? Math.max(1, Math.min(1000, Math.floor(failover / 3)));
    const max = options.maxLeasesPerWorker ?? Number.POSITIVE_INFINITY;
    const bad = (what: string) => new LeaseError('BAD_LEASE_OPTIONS', `LeaseCoordinator: ${what}`);
    if (typeof options.workerId !== 'string' || options.workerId === '') throw bad('workerId must be a non-empty string');
    if (!options.table || !options.clock) throw bad('table and clock are required');
    if (!(failover > 0)) throw bad(`failoverTimeMillis must be positive, got ${failover}`);
    if (!(renew > 0 && renew < failover)) throw bad(`renewIntervalMillis must be positive and below failoverTimeMillis, got ${renew}`);
    if (!(take > 0)) throw bad(`takeIntervalMillis must be positive, got ${take}`);
    if (!(max >= 1) || (Number.isFinite(max) && !Number.isInteger(max))) throw bad(`maxLeasesPerWorker must be a positive integer, got ${max}`);
    this.workerId = options.workerId;
    this.failoverTimeMillis = failover;
    this.renewIntervalMillis = renew;
    this.takeIntervalMillis = take;
    this.maxLeasesPerWorker = max;
    this.syncLeaseKey = options.syncLeaseKey ?? SYNC_LEASE_KEY;
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
      .filter((l) => l.leaseKey !== this.syncLeaseKey)
      .sort((a, b) => compare(a.leaseKey, b.leaseKey));
  }

  holds(leaseKey: string): boolean {
    return leaseKey !== this.syncLeaseKey && this.#held.has(leaseKey);
  }

  /** Only the holder runs discovery and syncStreamLeases(). */
  get holdsSyncLease(): boolean {
    return this.#held.has(this.syncLeaseKey);
  }

  /** Owners of live leases at the last take pass, this worker included. */
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

  /** One renewal pass, then one take pass: what start() does on its timers, for tests and tools. */
  async runOnce(): Promise<void> {
    await this.renewLeases();
    await this.takeLeases();
  }

  /** Renews every held lease. A lease found lost is dropped and reported to onLost before this resolves. */
  renewLeases(): Promise<void> {
    return this.#serial('renew', async () => {
      await Promise.all([...this.#held.keys()].map((key) => this.#withLock(key, () => this.#renew(key))));
    });
  }

  /** Lists the table; takes expired leases up to this worker's share, else steals at most one. */
  takeLeases(): Promise<void> {
    return this.#serial('take', () => this.#takePass());
  }

  /** Runs renewals every renewIntervalMillis and take passes every takeIntervalMillis, starting with one now. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#taking = true;
    this.#schedule('take', 0);
    this.#schedule('renew', this.renewIntervalMillis);
  }

  /** Stops the timers; held leases are kept (and will expire) unless shutdown() releases them. */
  stop(): void {
    this.#running = false;
    for (const id of this.#timers.values()) this.#clock.clearTimeout(id);
    this.#timers.clear();
  }

  /** First step of a graceful shutdown: take nothing more, keep renewing while readers drain. */
  stopTaking(): void {
    this.#taking = false;
  }

  /** Resolves once the passes and writes under way have finished. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Writes a checkpoint through the held lease (which also renews it). Throws LEASE_LOST, after
   * reporting onLost, when the lease turns out to be someone else's; LEASE_NOT_HELD when not held.
   */
  checkpoint(leaseKey: string, checkpoint: Checkpoint): Promise<Lease> {
    return this.#withLock(leaseKey, async () => {
      const entry = this.#held.get(leaseKey);
      if (!entry || leaseKey === this.syncLeaseKey) {
        throw new LeaseError('LEASE_NOT_HELD', `worker ${this.workerId} does not hold lease ${leaseKey}`, { leaseKey, owner: this.workerId });
      }
      const sentAt = this.#clock.now();
      try {
        entry.lease = await this.#table.checkpoint(entry.lease, this.workerId, checkpoint);
        entry.renewedAt = sentAt;
        return copy(entry.lease);
      } catch (error) {
        if (isLeaseLost(error)) this.#drop(leaseKey, error.current ? 'taken' : 'deleted');
        throw error;
      }
    });
  }

  /**
   * Makes the stream leases match the streams discovery found: creates the missing, deletes the
   * retired (their checkpoints go with them). Does nothing unless this worker holds the sync lease.
   */
  syncStreamLeases(desiredStreamKeys: Iterable<string>): Promise<SyncResult> {
    const desired = new Set(desiredStreamKeys);
    for (const key of desired) {
      if (typeof key !== 'string' || key === '' || key === this.syncLeaseKey) {
        return Promise.reject(new LeaseError('BAD_LEASE_OPTIONS', `not a usable stream lease key: ${JSON.stringify(key)}`, { leaseKey: String(key) }));
      }
    }
    return this.#track(
      this.#withLock(this.syncLeaseKey, async (): Promise<SyncResult> => {
        const none: SyncResult = { holdsSyncLease: false, created: [], deleted: [] };
        const sync = this.#held.get(this.syncLeaseKey);
        if (!sync) return none;
        const leases = await this.#table.list();
        // A fresh read of the sync lease: if it moved under us, another worker runs discovery now.
        const current = leases.find((l) => l.leaseKey === this.syncLeaseKey);
        if (current?.leaseOwner !== this.workerId || current.leaseCounter !== sync.lease.leaseCounter) {
          this.#drop(this.syncLeaseKey, current ? 'taken' : 'deleted');
          return none;
        }
        const existing = new Set(leases.map((l) => l.leaseKey).filter((k) => k !== this.syncLeaseKey));
        const created: string[] = [];
        const deleted: string[] = [];
        for (const key of [...desired].sort(compare)) {
          if (!existing.has(key) && (await this.#table.createLease(key))) created.push(key);
        }
        for (const key of [...existing].sort(compare)) {
          if (desired.has(key)) continue;
          await this.#withLock(key, async () => {
            // Our own reader stops before its lease disappears; other holders learn at their next renewal.
            if (this.#held.has(key)) this.#drop(key, 'deleted');
            await this.#table.deleteLease(key);
          });
          deleted.push(key);
        }
        return { holdsSyncLease: true, created, deleted };
      }),
    );
  }

  /**
   * Hands one held lease back (owner cleared) so that another worker takes it at its next pass
   * instead of after failoverTimeMillis. onLost(key, 'released') fires before the release is written.
   */
  release(leaseKey: string): Promise<void> {
    return this.#withLock(leaseKey, async () => {
      const entry = this.#held.get(leaseKey);
      if (!entry) return;
      this.#drop(leaseKey, 'released');
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
    await Promise.all([...this.#held.keys()].map((key) => this.release(key)));
  }

  async #renew(key: string): Promise<void> {
    const entry = this.#held.get(key);
    if (!entry) return;
    const sentAt = this.#clock.now();
    try {
      entry.lease = await this.#table.renew(entry.lease, this.workerId);
      entry.renewedAt = sentAt;
      this.#count('renewed');
    } catch (error) {
      if (isLeaseLost(error)) {
        this.#drop(key, error.current ? 'taken' : 'deleted');
        return;
      }
      this.#report(error);
      // Others may take the lease failoverTimeMillis after our last landed write. The next check comes one
      // interval later, perhaps late by another (timers, slow passes): give the lease up while both still
      // fit, so that a worker cut off from DynamoDB stops reading before anyone else starts.
      if (sentAt - entry.renewedAt >= this.failoverTimeMillis - 2 * this.renewIntervalMillis) this.#drop(key, 'expired');
    }
  }

  async #takePass(): Promise<void> {
    if (!this.#taking) return;
    const leases = await this.#table.list();
    const now = this.#clock.now();
    this.#observe(leases, now);
    const expired = (lease: Lease) => {
      const seen = this.#seen.get(lease.leaseKey);
      return lease.leaseOwner === undefined || !seen || now - seen.changedAt >= this.failoverTimeMillis;
    };

    let sync = leases.find((l) => l.leaseKey === this.syncLeaseKey);
    if (!sync && (await this.#table.createLease(this.syncLeaseKey))) sync = { leaseKey: this.syncLeaseKey, leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 };
    // The sync lease is outside the balance: never stolen, taken by whoever finds it expired.
    if (sync && !this.#held.has(sync.leaseKey) && expired(sync)) await this.#take(sync, false);
    if (!this.#taking) return;

    const streams = leases.filter((l) => l.leaseKey !== this.syncLeaseKey);
    const counts = new Map<string, number>();
    for (const lease of streams) {
      if (lease.leaseOwner && lease.leaseOwner !== this.workerId && !expired(lease)) counts.set(lease.leaseOwner, (counts.get(lease.leaseOwner) ?? 0) + 1);
    }
    // A worker holding only the sync lease is a worker too and deserves its share.
    if (sync?.leaseOwner && sync.leaseOwner !== this.workerId && !expired(sync) && !counts.has(sync.leaseOwner)) counts.set(sync.leaseOwner, 0);
    const mine = this.held.length;
    this.#workers = [...counts.keys(), this.workerId].sort(compare);
    this.#scans++;

    const target = Math.min(streams.length === 0 ? 0 : Math.ceil(streams.length / this.#workers.length), this.maxLeasesPerWorker);
    let needed = target - mine;
    if (needed <= 0) return;

    const available = this.#shuffle(streams.filter((l) => !this.#held.has(l.leaseKey) && expired(l)));
    if (available.length > 0) {
      for (const lease of available) {
        if (needed <= 0 || !this.#taking) break;
        if (await this.#take(lease, false)) needed--;
      }
      return;
    }

    // KCL: steal only when nothing is expired, from the most loaded worker, one lease per pass.
    let victim: string | undefined;
    for (const [owner, count] of counts) {
      const best = victim === undefined ? -1 : counts.get(victim)!;
      if (count > best || (count === best && compare(owner, victim!) < 0)) victim = owner;
    }
    if (victim === undefined) return;
    const over = counts.get(victim)! - target;
    // At exactly target the victim can still spare one when we are more than one short: 3/3/1 becomes 2/3/2.
    if (over > 0 || (over === 0 && needed > 1)) {
      const [lease] = this.#shuffle(streams.filter((l) => l.leaseOwner === victim && !expired(l)));
      if (lease) await this.#take(lease, true);
    }
  }

  async #take(lease: Lease, steal: boolean): Promise<boolean> {
    const sentAt = this.#clock.now();
    let taken: Lease;
    try {
      taken = await this.#table.take(lease, this.workerId);
    } catch (error) {
      // LEASE_LOST here only means another worker got there first.
      if (!isLeaseLost(error)) this.#report(error);
      return false;
    }
    this.#held.set(taken.leaseKey, { lease: taken, renewedAt: sentAt });
    if (taken.leaseKey === this.syncLeaseKey) {
      this.#call(() => this.#options.onSyncLease?.(true));
    } else {
      this.#count('taken');
      if (steal) this.#count('stolen');
      this.#call(() => this.#options.onAcquired?.(copy(taken), { stolen: steal }));
    }
    return true;
  }

  #observe(leases: Lease[], now: number): void {
    const keys = new Set<string>();
    for (const lease of leases) {
      keys.add(lease.leaseKey);
      const seen = this.#seen.get(lease.leaseKey);
      // A lease first seen counts as renewed now (KCL): a worker that just started steals nothing live.
      if (!seen || seen.counter !== lease.leaseCounter || seen.owner !== lease.leaseOwner) {
        this.#seen.set(lease.leaseKey, { counter: lease.leaseCounter, owner: lease.leaseOwner, changedAt: now });
      }
    }
    for (const key of this.#seen.keys()) if (!keys.has(key)) this.#seen.delete(key);
  }

  #drop(key: string, reason: LeaseLostReason): void {
    if (!this.#held.delete(key)) return;
    if (key === this.syncLeaseKey) {
      this.#call(() => this.#options.onSyncLease?.(false));
      return;
    }
    if (reason !== 'released') this.#count('lost');
    this.#call(() => this.#options.onLost?.(key, reason));
  }

  #schedule(kind: 'renew' | 'take', delay: number): void {
    if (!this.#running) return;
    // A pass begun before a stop() and start() finishes into the new run: keep one timer per kind.
    if (this.#timers.has(kind)) this.#clock.clearTimeout(this.#timers.get(kind));
    const id = this.#clock.setTimeout(() => {
      this.#timers.delete(kind);
      const pass = kind === 'renew' ? this.renewLeases() : this.takeLeases();
      // Tracked up to the rescheduling, so idle() resolves only once the next timer is armed.
      void this.#track(
        pass.catch((error) => this.#report(error)).then(() => this.#schedule(kind, kind === 'renew' ? this.renewIntervalMillis : this.takeIntervalMillis)),
      );
    }, delay);
    this.#timers.set(kind, id);
  }

  // Passes of one kind never overlap (a second would count leases the first is still taking).
  #serial(kind: 'renew' | 'take', pass: () => Promise<void>): Promise<void> {
    const previous = kind === 'renew' ? this.#renewChain : this.#takeChain;
    const next = previous.catch(() => undefined).then(pass);
    if (kind === 'renew') this.#renewChain = next;
    else this.#takeChain = next;
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

  #report(error: unknown): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // An error reporter that throws has nowhere left to report to.
    }
  }

  #shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const copy = (lease: Lease): Lease => ({ ...lease, ...(lease.checkpoint ? { checkpoint: { ...lease.checkpoint } } : {}) });
