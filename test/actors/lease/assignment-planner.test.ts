// The leader's assignment planner as properties (fast-check): for any table of stream leases and worker items, what
// one plan may assign and to whom, and that applying plans again and again ends balanced with every lease owned.

import fc from 'fast-check';
import t from 'tap';
import { planAssignments } from '../../../src/actors/lease/assignment-planner.js';
import { isExpired, type LeaseObservation } from '../../../src/actors/lease/lease-planner.js';
import { type Lease, workerLeaseKey } from '../../../src/actors/lease/lease-types.js';
import { seededRandom } from '../../../src/local/random.js';

const FAILOVER = 10_000;
const SYNC = '__sync__';
const NOW = 1_000_000;
const WORKERS = ['a', 'b', 'c', 'd', 'e'];

/** Up to 30 stream leases, worker items for some workers (live or departed), observations of any age. */
const tableArb = fc
  .record({
    leases: fc.array(
      fc.record({
        owner: fc.option(fc.constantFrom(...WORKERS, 'gone'), { nil: undefined }),
        age: fc.nat(2 * FAILOVER),
      }),
      { maxLength: 30 },
    ),
    items: fc.array(fc.option(fc.nat(2 * FAILOVER), { nil: undefined }), {
      minLength: WORKERS.length,
      maxLength: WORKERS.length,
    }),
    max: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
    seed: fc.nat(),
  })
  .map(({ leases, items, max, seed }) => {
    const observations = new Map<string, LeaseObservation>();
    const table: Lease[] = [];
    const add = (leaseKey: string, owner: string | undefined, age: number) => {
      table.push({
        leaseKey,
        leaseCounter: 1,
        ownerSwitchesSinceCheckpoint: 0,
        ...(owner ? { leaseOwner: owner } : {}),
      });
      observations.set(leaseKey, { counter: 1, owner, since: NOW - age });
    };
    leases.forEach((l, i) => {
      add(`s${i}`, l.owner, l.age);
    });
    // Worker 'a' is the leader; the others have an item of a given age, or none.
    items.forEach((age, i) => {
      if (age !== undefined && WORKERS[i] !== 'a') add(workerLeaseKey(WORKERS[i]!), WORKERS[i], age);
    });
    add(SYNC, 'a', 0);
    const held = new Set(
      table.filter((l) => l.leaseOwner === 'a' && l.leaseKey.startsWith('s')).map((l) => l.leaseKey),
    );
    // The leader's own leases are renewed: fresh in its observations.
    for (const key of held) observations.set(key, { counter: 1, owner: 'a', since: NOW });
    return { table, observations, held, max: max ?? Number.POSITIVE_INFINITY, seed };
  });

const options = (seed: number, max: number) => ({
  failoverTimeMillis: FAILOVER,
  maxLeasesPerWorker: max,
  syncLeaseKey: SYNC,
  random: seededRandom(seed),
});

t.test(
  'one plan: free leases go unflagged, live ones flagged, only to live workers, none past the share',
  async (t) => {
    let assigned = 0;
    let moved = 0;
    let lastInLine = 0;
    let passedOver = 0;
    fc.assert(
      fc.property(tableArb, ({ table, observations, held, max, seed }) => {
        const plan = planAssignments({ leases: table, observations, held, now: NOW, self: 'a' }, options(seed, max));
        const expired = (l: Lease) => isExpired(l, observations, NOW, FAILOVER);
        const liveItems = table.filter((l) => l.leaseKey.startsWith('__worker__:') && !expired(l));
        const live = new Set(['a', ...liveItems.map((l) => l.leaseOwner!)]);
        assigned += plan.assign.length;
        moved += plan.assign.filter((x) => x.live).length;
        if (plan.workers.join() !== [...live].sort().join()) return false;
        if (new Set(plan.assign.map((x) => x.lease.leaseKey)).size !== plan.assign.length) return false;
        for (const { lease, to, live: fromLive } of plan.assign) {
          if (!live.has(to) || !lease.leaseKey.startsWith('s')) return false;
          const free = !held.has(lease.leaseKey) && expired(lease);
          // Never two readers: a lease someone may still read is only ever moved with its handover.
          if (!free && !fromLive) return false;
          if (fromLive && (free || lease.leaseOwner === to)) return false;
        }
        const load = (w: string) =>
          table.filter((l) => l.leaseKey.startsWith('s') && l.leaseOwner === w && (!expired(l) || held.has(l.leaseKey)))
            .length;
        const after = (w: string) =>
          load(w) +
          plan.assign.filter((x) => x.to === w).length -
          plan.assign.filter((x) => x.lease.leaseOwner === w && x.live).length;
        for (const w of live) {
          if (plan.assign.some((x) => x.to === w) && after(w) > plan.target) return false;
        }
        // Owners that let a lease of theirs expire are last in line: a free lease only once the others are full, and
        // never a move.
        const lapsed = new Set(
          table
            .filter((l) => l.leaseKey.startsWith('s') && l.leaseOwner !== 'a' && expired(l))
            .map((l) => l.leaseOwner),
        );
        const others = [...live].filter((w) => !lapsed.has(w));
        for (const { to, live: fromLive } of plan.assign) {
          if (lapsed.has(to) && (fromLive || others.some((w) => after(w) < plan.target))) return false;
        }
        lastInLine += plan.assign.filter((x) => lapsed.has(x.to)).length;
        passedOver += lapsed.size > 0 && plan.assign.some((x) => !lapsed.has(x.to)) ? 1 : 0;
        const departed = table.filter((l) => l.leaseKey.startsWith('__worker__:') && expired(l));
        return plan.departed.map((l) => l.leaseKey).join() === departed.map((l) => l.leaseKey).join();
      }),
      { numRuns: 2000, seed: 17 },
    );
    t.ok(assigned > 0 && moved > 0, `exercised: ${assigned} assignments, ${moved} of them moves`);
    t.ok(
      lastInLine > 0 && passedOver > 0,
      `exercised: ${passedOver} plans passed over a worker that let a lease lapse, ${lastInLine} gave one the rest`,
    );
  },
);

t.test(
  'a worker whose lease expired while its item lives gets nothing: its expired leases go to the others',
  async (t) => {
    // Prepare: the leader a holds two; b's item is fresh, but b's two leases have not moved for a failover (b was cut
    // off from the table after renewing its item, the item due later in the interval than its leases).
    const lease = (leaseKey: string, leaseOwner: string): Lease => ({
      leaseKey,
      leaseOwner,
      leaseCounter: 1,
      ownerSwitchesSinceCheckpoint: 0,
    });
    const table = [
      lease('s0', 'a'),
      lease('s1', 'a'),
      lease('s2', 'b'),
      lease('s3', 'b'),
      lease(workerLeaseKey('b'), 'b'),
      lease(SYNC, 'a'),
    ];
    const age = (key: string) => (key === 's2' || key === 's3' ? FAILOVER : FAILOVER / 2);
    const observations = new Map(
      table.map((l): [string, LeaseObservation] => [
        l.leaseKey,
        { counter: 1, owner: l.leaseOwner, since: NOW - age(l.leaseKey) },
      ]),
    );

    // Act
    const plan = planAssignments(
      { leases: table, observations, held: new Set(['s0', 's1']), now: NOW, self: 'a' },
      options(1, Number.POSITIVE_INFINITY),
    );

    // Assess
    t.same(plan.workers, ['a', 'b'], 'b is still a live worker');
    t.same(
      plan.assign.map((x) => `${x.lease.leaseKey} to ${x.to}${x.live ? ' (moved)' : ''}`).sort(),
      ['s2 to a', 's3 to a'],
      "b's expired leases go to a at once, not back to b",
    );
    t.same(plan.departed, [], "b's item is not deleted: b may be back");
  },
);

t.test('applying plans pass after pass ends with every lease owned by a live worker, within the share', async (t) => {
  fc.assert(
    fc.property(tableArb, ({ table, observations, held, max, seed }) => {
      const random = seededRandom(seed);
      let leases = table;
      let mine = new Set(held);
      let now = NOW;
      let quiet = 0;
      // Who renews what: live workers their items and the leases they hold (live when listed, or given since).
      const expiredAtStart = (l: Lease) => isExpired(l, observations, now, FAILOVER);
      const liveWorkers = new Set(
        table.filter((l) => l.leaseKey.startsWith('__worker__:') && !expiredAtStart(l)).map((l) => l.leaseOwner!),
      );
      liveWorkers.add('a');
      const renewed = new Set(
        table
          .filter((l) => l.leaseKey === SYNC || (l.leaseOwner !== undefined && liveWorkers.has(l.leaseOwner)))
          .filter((l) => !expiredAtStart(l) || mine.has(l.leaseKey))
          .map((l) => l.leaseKey),
      );
      const renewedAtStart = new Set(renewed);
      let plan = planAssignments(
        { leases, observations, held: mine, now, self: 'a' },
        { ...options(seed, max), random },
      );
      // Past 2 x failover every lease of a departed or itemless worker has expired; then plans must fall quiet.
      for (let pass = 0; pass < 40; pass++) {
        quiet = plan.assign.length === 0 ? quiet + 1 : 0;
        // Each assignment lands, and is renewed by its new owner from then on (its counter moves).
        const next = new Map(plan.assign.map((x) => [x.lease.leaseKey, x.to]));
        for (const key of next.keys()) renewed.add(key);
        leases = leases.map((l) => {
          const to = next.get(l.leaseKey);
          if (to === undefined) return l;
          return { ...l, leaseOwner: to, leaseCounter: l.leaseCounter + 1 };
        });
        mine = new Set(leases.filter((l) => l.leaseOwner === 'a' && l.leaseKey.startsWith('s')).map((l) => l.leaseKey));
        now += 1000;
        for (const l of leases) {
          const seen = observations.get(l.leaseKey);
          if (renewed.has(l.leaseKey) || seen?.counter !== l.leaseCounter) {
            observations.set(l.leaseKey, { counter: l.leaseCounter, owner: l.leaseOwner, since: now });
          }
        }
        plan = planAssignments({ leases, observations, held: mine, now, self: 'a' }, { ...options(seed, max), random });
      }
      const streams = leases.filter((l) => l.leaseKey.startsWith('s'));
      const owned = (w: string) => streams.filter((l) => l.leaseOwner === w && renewed.has(l.leaseKey)).length;
      // Nothing is taken away to be left unowned: a worker over a lowered maxLeasesPerWorker keeps what it held.
      const atStart = (w: string) => table.filter((l) => l.leaseOwner === w && renewedAtStart.has(l.leaseKey)).length;
      const allOwned = streams.every((l) => plan.workers.includes(l.leaseOwner!) && renewed.has(l.leaseKey));
      return (
        quiet >= 5 &&
        allOwned === streams.length <= plan.workers.length * plan.target &&
        plan.workers.every((w) => owned(w) <= Math.max(plan.target, atStart(w)))
      );
    }),
    { numRuns: 500, seed: 17 },
  );
  t.pass('balanced within 40 passes for every table tried');
});
