// The lease planner's rules as properties (fast-check): the shape of one plan for any table, and a simulation of
// several workers planning and applying conditional writes against one table, on clocks of their own, with
// partitions, hung and late writes, stale (eventually consistent) reads, steals and releases in any order.

import fc from 'fast-check';
import t from 'tap';
import {
  defaultSafetyMargin,
  handoverDelay,
  isExpired,
  type LeaseObservation,
  type LeasePlanOptions,
  lapsed,
  mayRelease,
  observe,
  planTakes,
} from '../../../src/actors/lease/lease-planner.js';
import type { Lease } from '../../../src/actors/lease/lease-types.js';
import { seededRandom } from '../../../src/local/random.js';

const FAILOVER = 10_000;
const RENEW = Math.floor(FAILOVER / 3);
const MARGIN = defaultSafetyMargin(FAILOVER, RENEW);
const CUTOFF = FAILOVER - MARGIN;
const SYNC = '__sync__';
const options = (random: () => number, maxLeasesPerWorker = Number.POSITIVE_INFINITY): LeasePlanOptions => ({
  failoverTimeMillis: FAILOVER,
  maxLeasesPerWorker,
  syncLeaseKey: SYNC,
  random,
});

// ---------------------------------------------------------------- one plan

const WORKERS = ['a', 'b', 'c', 'd'];

/** A table of up to 8 stream leases and the sync lease, each with an owner (or none) and an observation of any age. */
const tableArb = fc
  .record({
    leases: fc.array(
      fc.record({
        owner: fc.option(fc.constantFrom(...WORKERS), { nil: undefined }),
        counter: fc.nat(50),
        age: fc.nat(2 * FAILOVER),
        seen: fc.boolean(),
      }),
      { maxLength: 8 },
    ),
    sync: fc.option(
      fc.record({ owner: fc.option(fc.constantFrom(...WORKERS), { nil: undefined }), age: fc.nat(2 * FAILOVER) }),
      { nil: undefined },
    ),
    held: fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
    max: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    seed: fc.nat(),
  })
  .map(({ leases, sync, held, max, seed }) => {
    const now = 1_000_000;
    const observations = new Map<string, LeaseObservation>();
    const all: Lease[] = leases.map((l, i) => {
      const lease: Lease = {
        leaseKey: `s${i}`,
        leaseCounter: l.counter,
        ownerSwitchesSinceCheckpoint: 0,
        ...(l.owner ? { leaseOwner: l.owner } : {}),
      };
      if (l.seen) observations.set(lease.leaseKey, { counter: l.counter, owner: l.owner, since: now - l.age });
      return lease;
    });
    if (sync) {
      all.push({
        leaseKey: SYNC,
        leaseCounter: 1,
        ownerSwitchesSinceCheckpoint: 0,
        ...(sync.owner ? { leaseOwner: sync.owner } : {}),
      });
      observations.set(SYNC, { counter: 1, owner: sync.owner, since: now - sync.age });
    }
    // This worker ('a') holds what the table says it owns, sometimes only in its own memory (a steal not yet noticed).
    const heldKeys = new Set(all.filter((l, i) => l.leaseOwner === 'a' && held[i]).map((l) => l.leaseKey));
    return { leases: all, observations, held: heldKeys, now, max: max ?? Number.POSITIVE_INFINITY, seed };
  });

t.test(
  'a plan takes only free leases it does not hold, up to its share, and steals at most one, only when nothing is free',
  async (t) => {
    let steals = 0;
    let takes = 0;
    fc.assert(
      fc.property(tableArb, ({ leases, observations, held, now, max, seed }) => {
        const plan = planTakes({ leases, observations, held, now, self: 'a' }, options(seededRandom(seed), max));
        const streams = leases.filter((l) => l.leaseKey !== SYNC);
        const expired = (l: Lease) => isExpired(l, observations, now, FAILOVER);
        const mine = [...held].filter((k) => k !== SYNC).length;
        takes += plan.take.length;
        steals += plan.steal ? 1 : 0;
        // Takes: free, not held, no more than the share, each once, none of them the sync lease.
        if (plan.take.some(({ lease }) => held.has(lease.leaseKey) || !expired(lease) || lease.leaseKey === SYNC))
          return false;
        if (new Set(plan.take.map(({ lease }) => lease.leaseKey)).size !== plan.take.length) return false;
        if (plan.take.length > Math.max(0, plan.target - mine)) return false;
        if (plan.target > max) return false;
        // Steal: at most one, only when nothing free is left to take, from a live owner that is not us.
        if (plan.steal && (plan.take.length > 0 || streams.some((l) => !held.has(l.leaseKey) && expired(l))))
          return false;
        if (
          plan.steal &&
          (expired(plan.steal.lease) || plan.steal.lease.leaseOwner === 'a' || plan.steal.lease.leaseKey === SYNC)
        )
          return false;
        if (plan.steal && mine >= plan.target) return false;
        // Victim: the most loaded live worker, which keeps at least the share less one.
        if (plan.steal) {
          const live = (owner: string) => streams.filter((l) => l.leaseOwner === owner && !expired(l)).length;
          const victim = live(plan.steal.lease.leaseOwner!);
          if (WORKERS.some((w) => w !== 'a' && live(w) > victim)) return false;
          if (victim < plan.target || (victim === plan.target && plan.target - mine < 2)) return false;
        }
        // The sync lease: taken only when expired and not held; created only when missing.
        const sync = leases.find((l) => l.leaseKey === SYNC);
        if (plan.createSync !== !sync) return false;
        if (plan.takeSync && (held.has(SYNC) || !expired(plan.takeSync))) return false;
        return plan.workers.includes('a') && [...plan.workers].sort().join() === plan.workers.join();
      }),
      { numRuns: 2_000 },
    );
    t.ok(takes > 100 && steals > 20, `the properties were exercised: ${takes} takes, ${steals} steals`);
  },
);

t.test(
  'handover delay: none for a free lease, the rest of failover since first sight of its counter for a live one',
  async (t) => {
    fc.assert(
      fc.property(
        fc.nat(3 * FAILOVER),
        fc.nat(50),
        fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
        (age, counter, owner) => {
          const now = 5_000_000;
          const lease: Lease = {
            leaseKey: 's',
            leaseCounter: counter,
            ownerSwitchesSinceCheckpoint: 0,
            ...(owner ? { leaseOwner: owner } : {}),
          };
          const seen = new Map([['s', { counter, owner, since: now - age }]]);
          const moved = new Map([['s', { counter: counter + 1, owner, since: now - age }]]);
          const delay = handoverDelay(lease, seen, now, FAILOVER);
          const expected = owner === undefined ? 0 : Math.max(0, FAILOVER - age);
          return (
            delay === expected &&
            (delay === 0) === isExpired(lease, seen, now, FAILOVER) &&
            // An observation of another counter is no observation of this one: as if first seen now.
            handoverDelay(lease, moved, now, FAILOVER) === (owner === undefined ? 0 : FAILOVER) &&
            (owner === undefined || !isExpired(lease, moved, now, FAILOVER))
          );
        },
      ),
    );
    t.pass('held for every age, counter and owner');
  },
);

t.test(
  'observe keeps the first sight of an unchanged counter and owner, restarts it on any change, forgets unlisted leases',
  async (t) => {
    // Prepare
    const lease = (key: string, counter: number, owner?: string): Lease => ({
      leaseKey: key,
      leaseCounter: counter,
      ownerSwitchesSinceCheckpoint: 0,
      ...(owner ? { leaseOwner: owner } : {}),
    });
    const first = observe(new Map(), [lease('x', 1, 'a'), lease('y', 1, 'a'), lease('z', 1)], 100);

    // Act
    const second = observe(first, [lease('x', 1, 'a'), lease('y', 2, 'a'), lease('w', 0)], 200);
    const third = observe(second, [lease('x', 1, 'b')], 300);

    // Assess
    t.same(Object.fromEntries([...second].map(([k, o]) => [k, o.since])), { x: 100, y: 200, w: 200 });
    t.same(
      [...third],
      [['x', { counter: 1, owner: 'b', since: 300 }]],
      'a new owner on the same counter is a change too',
    );
  },
);

t.test('lapsed: the held leases whose last successful write was sent the cut-off ago or more', async (t) => {
  const renewedAt = new Map([
    ['old', 1_000],
    ['edge', 2_000],
    ['fresh', 2_001],
  ]);
  t.same(lapsed(renewedAt, 2_000 + CUTOFF, CUTOFF), ['old', 'edge']);
  t.same(lapsed(renewedAt, 999 + CUTOFF, CUTOFF), []);
  t.equal(MARGIN, 1667, 'defaults: 10 s failover, 3333 ms renewals');
});

// ---------------------------------------------------------------- workers against one table

interface Version {
  counter: number;
  owner: string | undefined;
}

/** A stretch of time one worker reads one stream: from its handover to the moment it stops (real time). */
interface Tenure {
  worker: string;
  key: string;
  readsFrom: number;
  end: number;
}

interface Entry {
  counter: number;
  /** The worker's clock when its last successful write on the lease was sent. */
  renewedAt: number;
  renewing: boolean;
  /** Its clock when the handover ends. */
  readableAt: number;
  tenure: Tenure;
}

interface SimWorker {
  id: string;
  /** Its clock reads real time plus this. */
  offset: number;
  /** How late its expiry timer fires: event-loop lag, which the margin must cover. */
  lag: number;
  partitioned: boolean;
  observations: Map<string, LeaseObservation>;
  held: Map<string, Entry>;
}

interface PendingWrite {
  worker: SimWorker;
  key: string;
  expected: number;
  sentAt: number;
  entry: Entry;
}

/** Counts across every run, so that a test can show its properties were exercised rather than vacuous. */
interface Tally {
  expiredTakes: number;
  steals: number;
  selfExpiries: number;
  staleReads: number;
  lateWrites: number;
  releases: number;
}

/**
 * One lease table (each lease's history of versions, for stale reads) and workers applying planTakes() with
 * conditional writes, as the coordinator does. Writes land the moment they are sent, the worst case for safety:
 * others can see them at once. Time only moves in advance(), where each worker gives up, on its own clock and
 * `lag` late, every lease it has not renewed for the cut-off.
 */
class Simulation {
  now = 0;
  readonly table = new Map<string, Version[]>();
  readonly workers: SimWorker[];
  readonly tenures: Tenure[] = [];
  readonly pending: PendingWrite[] = [];
  readonly violations: string[] = [];

  constructor(
    keys: string[],
    workers: { id: string; offset: number; lag: number }[],
    readonly random: () => number,
    readonly tally: Tally,
    ghosts: Record<string, string> = {},
  ) {
    for (const key of [...keys, SYNC]) this.table.set(key, [{ counter: 0, owner: ghosts[key] }]);
    this.workers = workers.map((w) => ({ ...w, partitioned: false, observations: new Map(), held: new Map() }));
  }

  clock(w: SimWorker): number {
    return this.now + w.offset;
  }

  current(key: string): Version {
    return this.table.get(key)!.at(-1)!;
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (const w of this.workers) {
      for (const [key, entry] of w.held) {
        const dropAt = entry.renewedAt + CUTOFF - w.offset + w.lag;
        if (dropAt <= until) {
          this.tally.selfExpiries++;
          this.drop(w, key, dropAt);
        }
      }
    }
    this.now = until;
  }

  /** Renews every held lease not already being renewed; `hang` leaves the writes in flight, to land (or not) later. */
  renew(w: SimWorker, hang: boolean): void {
    if (w.partitioned) return;
    for (const [key, entry] of w.held) {
      if (entry.renewing) continue;
      if (hang) {
        entry.renewing = true;
        this.pending.push({ worker: w, key, expected: entry.counter, sentAt: this.clock(w), entry });
        continue;
      }
      if (this.#conditional(key, entry.counter, w.id, w.id)) {
        entry.counter++;
        entry.renewedAt = this.clock(w);
      } else {
        this.drop(w, key, this.now);
      }
    }
  }

  /** A hung write lands now (conditional on the counter it was sent with); its answer reaches the worker now. */
  land(index: number): void {
    if (this.pending.length === 0) return;
    const [write] = this.pending.splice(index % this.pending.length, 1);
    const { worker: w, key, expected, sentAt, entry } = write!;
    this.tally.lateWrites++;
    const landed = this.#conditional(key, expected, w.id, w.id);
    entry.renewing = false;
    if (w.held.get(key) !== entry) return;
    if (landed) {
      entry.counter = expected + 1;
      entry.renewedAt = sentAt;
    } else {
      this.drop(w, key, this.now);
    }
  }

  /** One take pass; `staleness[i]` is how many versions behind the listing shows lease i (eventually consistent). */
  takePass(w: SimWorker, staleness: number[]): void {
    if (w.partitioned) return;
    const keys = [...this.table.keys()];
    const leases: Lease[] = keys.map((key, i) => {
      const history = this.table.get(key)!;
      const back = Math.min(staleness[i % Math.max(1, staleness.length)] ?? 0, history.length - 1);
      if (back > 0) this.tally.staleReads++;
      const version = history[history.length - 1 - back]!;
      return {
        leaseKey: key,
        leaseCounter: version.counter,
        ownerSwitchesSinceCheckpoint: 0,
        ...(version.owner ? { leaseOwner: version.owner } : {}),
      };
    });
    const now = this.clock(w);
    w.observations = observe(w.observations, leases, now);
    const plan = planTakes(
      { leases, observations: w.observations, held: new Set(w.held.keys()), now, self: w.id },
      options(this.random),
    );
    if (plan.takeSync) this.#take(w, plan.takeSync, 0, false);
    for (const take of plan.take) this.#take(w, take.lease, take.handoverDelayMillis, false);
    if (plan.steal) this.#take(w, plan.steal.lease, plan.steal.handoverDelayMillis, true);
  }

  /** Graceful hand-back of one held lease: the reader stops first, then the owner is cleared. */
  release(w: SimWorker, index: number): void {
    const keys = [...w.held.keys()];
    if (keys.length === 0) return;
    const key = keys[index % keys.length]!;
    const entry = w.held.get(key)!;
    this.drop(w, key, this.now);
    if (!mayRelease(entry.readableAt, this.clock(w)) || w.partitioned || entry.renewing) return;
    if (this.#conditional(key, entry.counter, w.id, undefined)) this.tally.releases++;
  }

  drop(w: SimWorker, key: string, at: number): void {
    const entry = w.held.get(key);
    if (!entry) return;
    w.held.delete(key);
    entry.tenure.end = at;
  }

  /** Closes the run: time enough for every lease nobody renews to be given up, then the invariants over all of it. */
  finish(): string[] {
    this.advance(FAILOVER + MARGIN);
    for (const key of this.table.keys()) {
      const tenures = this.tenures
        .filter((x) => x.key === key && x.end > x.readsFrom)
        .sort((x, y) => x.readsFrom - y.readsFrom);
      for (let i = 1; i < tenures.length; i++) {
        const [before, after] = [tenures[i - 1]!, tenures[i]!];
        if (before.end > after.readsFrom)
          this.violations.push(
            `${key}: ${before.worker} read until ${before.end}, ${after.worker} from ${after.readsFrom}`,
          );
      }
    }
    return this.violations;
  }

  /** After every step: the table names one owner, and only that worker's copy carries the current counter. */
  checkOwners(): void {
    for (const key of this.table.keys()) {
      const version = this.current(key);
      const current = this.workers.filter((w) => w.held.get(key)?.counter === version.counter);
      if (current.length > 1 || (current.length === 1 && current[0]!.id !== version.owner)) {
        this.violations.push(
          `${key} at ${this.now}: ${current.map((w) => w.id).join(', ')} hold counter ${version.counter}, ` +
            `owner ${version.owner}`,
        );
      }
    }
  }

  #take(w: SimWorker, lease: Lease, handoverDelayMillis: number, stolen: boolean): void {
    const previous = this.current(lease.leaseKey).owner;
    if (!this.#conditional(lease.leaseKey, lease.leaseCounter, undefined, w.id)) return;
    const readsFrom = this.now + handoverDelayMillis;
    // The previous owner, cut off or not, believes it holds the lease until its own cut-off; it must stop by the time
    // we read.
    const owner = this.workers.find((x) => x.id === previous && x !== w);
    const entry = owner?.held.get(lease.leaseKey);
    if (entry && entry.renewedAt + CUTOFF - owner!.offset + owner!.lag > readsFrom) {
      const until = entry.renewedAt + CUTOFF - owner!.offset;
      this.violations.push(
        `${lease.leaseKey}: ${w.id} reads from ${readsFrom}, ${owner!.id} believes it holds it until ${until}`,
      );
    }
    if (stolen) this.tally.steals++;
    else if (previous !== undefined) this.tally.expiredTakes++;
    const tenure: Tenure = { worker: w.id, key: lease.leaseKey, readsFrom, end: Number.POSITIVE_INFINITY };
    this.tenures.push(tenure);
    const now = this.clock(w);
    w.held.set(lease.leaseKey, {
      counter: lease.leaseCounter + 1,
      renewedAt: now,
      renewing: false,
      readableAt: now + handoverDelayMillis,
      tenure,
    });
  }

  /** A conditional write as DynamoDB runs it: applied only if the counter (and the owner, where given) still match. */
  #conditional(key: string, expected: number, owner: string | undefined, newOwner: string | undefined): boolean {
    const version = this.current(key);
    if (version.counter !== expected || (owner !== undefined && version.owner !== owner)) return false;
    this.table.get(key)!.push({ counter: expected + 1, owner: newOwner });
    return true;
  }
}

const command = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 5_000 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('renew' as const),
      worker: fc.nat(2),
      hang: fc.nat(3).map((n) => n === 0),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('take' as const),
      worker: fc.nat(2),
      staleness: fc.array(fc.nat(2), { maxLength: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('land' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), worker: fc.nat(2), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('partition' as const), worker: fc.nat(2), on: fc.boolean() }) },
);

/**
 * Three workers: clocks with epochs of their own, and expiry timers up to 1 s late, which the default margin must
 * cover.
 */
const workersArb = fc.tuple(
  fc.array(fc.integer({ min: -1e9, max: 1e9 }), { minLength: 3, maxLength: 3 }),
  fc.array(fc.nat(1_000), { minLength: 3, maxLength: 3 }),
);

t.test(
  'never two readers: however workers interleave, are cut off, hang, read stale or steal, ' +
    'no stream is read by two at once',
  async (t) => {
    const tally: Tally = { expiredTakes: 0, steals: 0, selfExpiries: 0, staleReads: 0, lateWrites: 0, releases: 0 };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        workersArb,
        fc.array(command, { minLength: 10, maxLength: 120 }),
        fc.nat(),
        (streams, ghostOwned, [offsets, lags], commands, seed) => {
          const keys = Array.from({ length: streams }, (_, i) => `s${i}`);
          // Some leases start owned by a worker that died: taken once they expire.
          const ghosts = Object.fromEntries(keys.filter((_, i) => ghostOwned[i]).map((k) => [k, 'ghost']));
          const sim = new Simulation(
            keys,
            ['a', 'b', 'c'].map((id, i) => ({ id, offset: offsets[i]!, lag: lags[i]! })),
            seededRandom(seed),
            tally,
            ghosts,
          );
          for (const c of commands) {
            const w = 'worker' in c ? sim.workers[c.worker]! : undefined;
            if (c.kind === 'advance') sim.advance(c.ms);
            else if (c.kind === 'renew') sim.renew(w!, c.hang);
            else if (c.kind === 'take') sim.takePass(w!, c.staleness);
            else if (c.kind === 'land') sim.land(c.index);
            else if (c.kind === 'release') sim.release(w!, c.index);
            else w!.partitioned = c.on;
            sim.checkOwners();
          }
          const violations = sim.finish();
          if (violations.length > 0) throw new Error(violations.join('\n'));
        },
      ),
      { numRuns: 1_000 },
    );
    t.ok(
      Object.values(tally).every((n) => n > 50),
      `every kind of event happened many times: ${JSON.stringify(tally)}`,
    );
  },
);

t.test(
  'balance: leases spread to ceil(leases / workers) each (one less at worst), ' +
    'including those of dead workers, then stay',
  async (t) => {
    const tally: Tally = { expiredTakes: 0, steals: 0, selfExpiries: 0, staleReads: 0, lateWrites: 0, releases: 0 };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        fc.array(fc.integer({ min: -1e9, max: 1e9 }), { minLength: 5, maxLength: 5 }),
        fc.nat(),
        (streams, workerCount, ghostOwned, offsets, seed) => {
          const keys = Array.from({ length: streams }, (_, i) => `s${i}`);
          const ghosts = Object.fromEntries(keys.filter((_, i) => ghostOwned[i]).map((k) => [k, 'ghost']));
          const ids = Array.from({ length: workerCount }, (_, i) => `w${i}`);
          const sim = new Simulation(
            keys,
            ids.map((id, i) => ({ id, offset: offsets[i]!, lag: 0 })),
            seededRandom(seed),
            tally,
            ghosts,
          );
          const round = (r: number) => {
            sim.advance(1_000);
            // A different worker goes first each round, as timers drift apart.
            for (let i = 0; i < workerCount; i++) {
              const w = sim.workers[(i + r) % workerCount]!;
              sim.renew(w, false);
              sim.takePass(w, []);
            }
            sim.checkOwners();
          };
          const counts = () => sim.workers.map((w) => [...w.held.keys()].filter((k) => k !== SYNC).length);
          const rounds = FAILOVER / 1_000 + 3 * streams + 5;
          for (let r = 0; r < rounds; r++) round(r);
          const settled = counts();
          const owners = keys.map((k) => sim.current(k).owner);
          for (let r = rounds; r < rounds + 10; r++) round(r);

          const target = Math.ceil(streams / workerCount);
          if (settled.reduce((a, b) => a + b, 0) !== streams) throw new Error(`not every lease held: ${settled}`);
          if (settled.some((n) => n > target || n < target - 1))
            throw new Error(`unbalanced ${settled}, target ${target}`);
          if (keys.some((k, i) => owners[i] !== sim.current(k).owner))
            throw new Error('leases kept moving once balanced');
          if (sim.violations.length > 0) throw new Error(sim.violations.join('\n'));
        },
      ),
      { numRuns: 300 },
    );
    t.ok(
      tally.steals > 50 && tally.expiredTakes > 50,
      `steals (${tally.steals}) and takes of dead workers' leases (${tally.expiredTakes}) happened`,
    );
  },
);
