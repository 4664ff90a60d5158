// What the leader (the sync-lease holder, under leaseAssignment 'leader') assigns in one pass, as a pure function of
// the table it listed and its own observations: expired and ownerless leases to the least loaded live workers, then
// leases moved from the most loaded to those still short, until every worker is within its even share. Workers are
// the holders of live worker items; expiry is judged exactly as a worker judges it for itself (lease-planner.ts).

import { compare, isExpired, type LeaseObservations, shuffle } from './lease-planner.js';
import { isWorkerLeaseKey, type Lease, workerOfKey } from './lease-types.js';

export interface AssignmentInput {
  /** The whole table as just listed. */
  leases: readonly Lease[];
  /** Observations already updated with `leases`. */
  observations: LeaseObservations;
  /** Keys of the stream leases the leader holds. */
  held: ReadonlySet<string>;
  now: number;
  /** The leader's worker id: a live worker whatever the table shows of its item. */
  self: string;
}

export interface AssignmentOptions {
  failoverTimeMillis: number;
  /** Applied to every worker: the leader's own setting. */
  maxLeasesPerWorker: number;
  syncLeaseKey: string;
  random: () => number;
}

export interface Assignment {
  lease: Lease;
  to: string;
  /** Moved from a live owner: the new owner waits out the handover before reading. */
  live: boolean;
}

export interface AssignmentPlan {
  /** Live workers, the leader included, sorted. */
  workers: string[];
  /** Stream leases each worker should hold. */
  target: number;
  assign: Assignment[];
  /** Items of workers that stopped renewing them: to delete, so that they are no longer assigned anything. */
  departed: Lease[];
}

export function planAssignments(input: AssignmentInput, options: AssignmentOptions): AssignmentPlan {
  const { leases, observations, held, now, self } = input;
  const expired = (lease: Lease) => isExpired(lease, observations, now, options.failoverTimeMillis);

  const items = leases.filter((l) => isWorkerLeaseKey(l.leaseKey));
  const departed = items.filter((l) => workerOfKey(l.leaseKey) !== self && expired(l));
  const workers = [
    ...new Set([self, ...items.filter((l) => !departed.includes(l)).map((l) => workerOfKey(l.leaseKey))]),
  ].sort(compare);
  const streams = leases.filter((l) => l.leaseKey !== options.syncLeaseKey && !isWorkerLeaseKey(l.leaseKey));
  // A worker that let a lease of its own expire (partitioned from the table, stalled or dead) is last in line while
  // its item lives on: its leases and its item are renewed at different moments, so its item may outlive its leases
  // by up to a renewal interval, and a lease given to it would wait out another failoverTimeMillis. It gets only
  // what the others have no room for (under maxLeasesPerWorker, its own expired lease may have nowhere else to go).
  const lapsed = new Set(
    streams.filter((l) => l.leaseOwner !== undefined && l.leaseOwner !== self && expired(l)).map((l) => l.leaseOwner),
  );
  const [receivers, lastInLine] = [workers.filter((w) => !lapsed.has(w)), workers.filter((w) => lapsed.has(w))];
  const target = Math.min(
    streams.length === 0 ? 0 : Math.ceil(streams.length / receivers.length),
    options.maxLeasesPerWorker,
  );

  // What each live worker holds now; a lease of a worker without a live item (draining, departed) is left to it
  // until it is released or expires.
  const load = new Map(workers.map((w) => [w, [] as Lease[]]));
  for (const lease of streams) {
    if (held.has(lease.leaseKey)) load.get(self)!.push(lease);
    else if (lease.leaseOwner !== undefined && lease.leaseOwner !== self && !expired(lease))
      load.get(lease.leaseOwner)?.push(lease);
  }
  const size = (w: string) => load.get(w)!.length;
  const assign: Assignment[] = [];
  // Given this pass: counted in the new owner's load, never moved again before the next listing.
  const given = new Set<Lease>();
  const give = (lease: Lease, to: string, live: boolean) => {
    assign.push({ lease, to, live });
    given.add(lease);
    load.get(to)!.push(lease);
  };

  const free = shuffle(
    streams.filter((l) => !held.has(l.leaseKey) && expired(l)),
    options.random,
  );
  for (const lease of free) {
    const to = [leastLoaded(receivers, size), leastLoaded(lastInLine, size)].find(
      (w) => w !== undefined && size(w) < target,
    );
    if (to === undefined) break;
    give(lease, to, false);
  }

  // Then moves, as KCL's steals: from the most loaded, while it is over the share, or at it when the short worker
  // is more than one short (3/3/1 becomes 2/3/2). Each move lowers the spread, so this ends. None to or from a
  // worker that let a lease lapse.
  for (;;) {
    // The leader itself is always among the receivers.
    const short = leastLoaded(receivers, size)!;
    const victim = mostLoaded(receivers, size);
    const over = size(victim) - target;
    const need = target - size(short);
    if (need <= 0 || over < 0 || (over === 0 && need <= 1)) break;
    const from = load.get(victim)!;
    const movable = from.filter((l) => !given.has(l));
    if (movable.length === 0) break;
    const lease = movable[Math.floor(options.random() * movable.length)]!;
    from.splice(from.indexOf(lease), 1);
    give(lease, short, true);
  }
  return { workers, target, assign, departed };
}

/** undefined for no workers. */
function leastLoaded(workers: string[], size: (w: string) => number): string | undefined {
  return workers.reduce<string | undefined>(
    (best, w) => (best === undefined || size(w) < size(best) ? w : best),
    undefined,
  );
}

function mostLoaded(workers: string[], size: (w: string) => number): string {
  return workers.reduce((best, w) => (size(w) > size(best) ? w : best));
}
