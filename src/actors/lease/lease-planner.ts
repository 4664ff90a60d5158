// The decisions of KCL's lease scheme as pure functions of what one worker has seen of the lease table and
// when, on its own clock: which leases have expired, which to take, whether to steal one, how long a new owner
// waits before reading, and when a held lease can no longer be trusted. The coordinator performs the writes.
//
// Safety rests on one fact: another worker can see the counter our write produced only after we sent that
// write. It judges expiry (and the handover delay of a steal) from its first sight of the current counter, so
// it reads no earlier than failoverTimeMillis after our last successful write was sent, on its own clock. We
// give the lease up at failoverTimeMillis - safety margin after that sending, on ours. No two clocks are compared.

import { isWorkerLeaseKey, type Lease } from './lease-types.js';

/** What this worker last saw of one lease in the table. */
export interface LeaseObservation {
  counter: number;
  owner: string | undefined;
  /** When (this worker's clock) it first saw this counter and owner. */
  since: number;
}

export type LeaseObservations = ReadonlyMap<string, LeaseObservation>;

export interface LeasePlanOptions {
  failoverTimeMillis: number;
  /** Stream leases one worker holds at most (the sync lease is not counted). */
  maxLeasesPerWorker: number;
  syncLeaseKey: string;
  /**
   * [0, 1), like Math.random: the order of candidates, so that workers starting together do not all race for one lease.
   */
  random: () => number;
}

export interface LeasePlanInput {
  /** The table as just listed (possibly a write or two behind: every take is conditional on the counter read). */
  leases: readonly Lease[];
  /** Observations already updated with `leases` (see observe()). */
  observations: LeaseObservations;
  /** Keys of the leases this worker holds, the sync lease included. */
  held: ReadonlySet<string>;
  now: number;
  self: string;
}

/** A lease to take, conditional on the counter in `lease`. */
export interface PlannedTake {
  lease: Lease;
  /**
   * How long the new owner waits before reading: until the previous owner has stopped, whether it learns of the
   * take at its next renewal or is cut off from the table and gives the lease up by itself. 0 for an expired or
   * ownerless lease.
   */
  handoverDelayMillis: number;
}

export interface LeasePlan {
  /** There is no sync lease: create it, then take it. */
  createSync: boolean;
  /** The sync lease, expired and not ours: take it. It is outside the balance and never stolen. */
  takeSync: Lease | null;
  /** Expired or ownerless stream leases to take, at most target minus those held. */
  take: PlannedTake[];
  /** When nothing is expired and this worker is short: one lease of the most loaded worker. Never with `take`. */
  steal: PlannedTake | null;
  /** Owners of live leases, this worker included, sorted. */
  workers: string[];
  /** Stream leases this worker should hold: its even share, capped by maxLeasesPerWorker. */
  target: number;
}

/**
 * Observations after listing `leases` at `now`: a lease whose counter or owner changed is seen anew; a lease
 * first seen counts as renewed now (KCL), so a worker that just started takes nothing live. Leases no longer
 * listed are forgotten.
 */
export function observe(
  previous: LeaseObservations,
  leases: readonly Lease[],
  now: number,
): Map<string, LeaseObservation> {
  const next = new Map<string, LeaseObservation>();
  for (const lease of leases) {
    const seen = previous.get(lease.leaseKey);
    next.set(
      lease.leaseKey,
      seen && matches(seen, lease) ? seen : { counter: lease.leaseCounter, owner: lease.leaseOwner, since: now },
    );
  }
  return next;
}

/** Free to take: nobody owns it, or its counter has not moved for failoverTimeMillis of this worker's clock. */
export function isExpired(
  lease: Lease,
  observations: LeaseObservations,
  now: number,
  failoverTimeMillis: number,
): boolean {
  if (lease.leaseOwner === undefined) return true;
  const seen = observations.get(lease.leaseKey);
  // Not observed as listed: as good as first seen now, so not expired.
  return seen !== undefined && matches(seen, lease) && now - seen.since >= failoverTimeMillis;
}

/**
 * How long a new owner of `lease` (as read) waits before reading. An owner that released it stopped before the
 * release was written. Any other owner sent its last write before this worker first saw the counter it produced,
 * and gives the lease up by itself within failoverTimeMillis of sending it: wait out the rest of that.
 */
export function handoverDelay(
  lease: Lease,
  observations: LeaseObservations,
  now: number,
  failoverTimeMillis: number,
): number {
  if (lease.leaseOwner === undefined) return 0;
  const seen = observations.get(lease.leaseKey);
  const since = seen && matches(seen, lease) ? seen.since : now;
  return Math.max(0, since + failoverTimeMillis - now);
}

/**
 * How long before failoverTimeMillis (counted from the sending of its last successful write) a holder gives a
 * lease up. It covers the lateness of the timer that does so (event-loop lag) and clock rate differences
 * (NTP slews at most 0.05%). It comes out of the renewals' budget: renewals run every renewIntervalMillis, so
 * after one failed renewal the next success is sent about 2 x renewIntervalMillis after the last one. What is
 * left of failoverTimeMillis is split evenly between the lateness of those two renewal timers and this margin.
 * Defaults (failover 10 s, renew 3333 ms): 1667 ms, so a lease is dropped 8333 ms after its last successful write.
 */
export function defaultSafetyMargin(failoverTimeMillis: number, renewIntervalMillis: number): number {
  return Math.floor((failoverTimeMillis - 2 * renewIntervalMillis) / 2);
}

/**
 * Whether a held lease may be handed back (owner cleared, so that others take and read it at once): only once
 * nobody else can be reading it, i.e. once its own handover is over. Before that, a lease stolen from a live
 * owner is left to expire instead.
 */
export function mayRelease(readableAt: number, now: number): boolean {
  return now >= readableAt;
}

/** Keys of held leases whose last successful write was sent `cutoffMillis` ago or more: no longer provably ours. */
export function lapsed(renewedAt: ReadonlyMap<string, number>, now: number, cutoffMillis: number): string[] {
  return [...renewedAt].filter(([, at]) => now - at >= cutoffMillis).map(([key]) => key);
}

/** What one take pass should do. KCL's rules: take expired leases up to the even share, else steal at most one. */
export function planTakes(input: LeasePlanInput, options: LeasePlanOptions): LeasePlan {
  const { leases, observations, held, now, self } = input;
  const { failoverTimeMillis, syncLeaseKey } = options;
  const expired = (lease: Lease) => isExpired(lease, observations, now, failoverTimeMillis);
  const planned = (lease: Lease): PlannedTake => ({
    lease,
    handoverDelayMillis: handoverDelay(lease, observations, now, failoverTimeMillis),
  });

  const sync = leases.find((l) => l.leaseKey === syncLeaseKey);
  const takeSync = sync && !held.has(sync.leaseKey) && expired(sync) ? sync : null;

  const streams = leases.filter((l) => l.leaseKey !== syncLeaseKey && !isWorkerLeaseKey(l.leaseKey));
  const counts = new Map<string, number>();
  for (const lease of streams) {
    if (lease.leaseOwner && lease.leaseOwner !== self && !expired(lease))
      counts.set(lease.leaseOwner, (counts.get(lease.leaseOwner) ?? 0) + 1);
  }
  // A worker holding only the sync lease is a worker too and deserves its share.
  if (sync?.leaseOwner && sync.leaseOwner !== self && !expired(sync) && !counts.has(sync.leaseOwner))
    counts.set(sync.leaseOwner, 0);
  const workers = [...counts.keys(), self].sort(compare);
  const target = Math.min(
    streams.length === 0 ? 0 : Math.ceil(streams.length / workers.length),
    options.maxLeasesPerWorker,
  );
  const mine = [...held].filter((key) => key !== syncLeaseKey).length;
  const needed = target - mine;
  const result: LeasePlan = { createSync: !sync, takeSync, take: [], steal: null, workers, target };
  if (needed <= 0) return result;

  const available = shuffle(
    streams.filter((l) => !held.has(l.leaseKey) && expired(l)),
    options.random,
  );
  if (available.length > 0) return { ...result, take: available.slice(0, needed).map(planned) };

  // KCL: steal only when nothing is expired, from the most loaded worker, one lease per pass.
  let victim: string | undefined;
  for (const [owner, count] of counts) {
    const best = victim === undefined ? -1 : counts.get(victim)!;
    if (count > best || (count === best && compare(owner, victim!) < 0)) victim = owner;
  }
  if (victim === undefined) return result;
  const over = counts.get(victim)! - target;
  // At exactly target the victim can still spare one when we are more than one short: 3/3/1 becomes 2/3/2.
  if (over < 0 || (over === 0 && needed <= 1)) return result;
  const [lease] = shuffle(
    streams.filter((l) => l.leaseOwner === victim && !expired(l)),
    options.random,
  );
  return lease ? { ...result, steal: planned(lease) } : result;
}

const matches = (seen: LeaseObservation, lease: Lease): boolean =>
  seen.counter === lease.leaseCounter && seen.owner === lease.leaseOwner;

export const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Fisher–Yates, in place, on `random`. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
