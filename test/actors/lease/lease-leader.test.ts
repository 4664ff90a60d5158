// leaseAssignment 'leader' against the DynamoDB emulator: the sync lease's holder lists the table and assigns, the
// other workers read only their own item and the sync lease; expiry, handover and succession keep KCL's promises.

import t from 'tap';
import { deferred } from '../../../src/actors/deferred.js';
import type { LeaseStore } from '../../../src/actors/lease/lease-types.js';
import {
  createLeases,
  delegate,
  FAILOVER,
  leaseStack,
  ownersInTable,
  settle,
  type Worker,
  type WorkerOptions,
  worker,
} from './lease-fixtures.js';

const streams = (n: number) => Array.from({ length: n }, (_, i) => `stream-${i}`);
const sizes = (workers: Worker[]) => workers.map((w) => w.keys().length);
const leaderOf = (workers: Worker[]) => workers.filter((w) => w.coordinator.holdsSyncLease);

/** A table that counts each worker's calls by operation. */
function counted(table: LeaseStore): { store: LeaseStore; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const count = (name: string) => void calls.set(name, (calls.get(name) ?? 0) + 1);
  return {
    calls,
    store: delegate(table, {
      list: (options) => {
        count('list');
        return table.list(options);
      },
      get: (key, options) => {
        count('get');
        return table.get(key, options);
      },
    }),
  };
}

function leaders(table: LeaseStore, ids: string[], options: WorkerOptions = {}) {
  const counters = ids.map(() => counted(table));
  const workers = ids.map((id, i) => worker(counters[i]!.store, id, { assignment: 'leader', ...options }));
  return { workers, calls: counters.map((c) => c.calls) };
}

/** Every stream lease held by exactly one worker, and each worker within the even share. */
function balanced(workers: Worker[], total: number): boolean {
  const keys = workers.flatMap((w) => w.keys());
  const share = Math.ceil(total / workers.length);
  return keys.length === total && new Set(keys).size === total && sizes(workers).every((n) => n <= share);
}

t.test('9 leases over 3 workers settle at 3/3/3; only the leader and its standby list the table', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(9));
  const { workers, calls } = leaders(table, ['a', 'b', 'c']);

  // Act
  const rounds = await settle(workers, () => balanced(workers, 9));
  for (const c of calls) c.clear();
  await settle(workers, () => false, { rounds: 5 });

  // Assess
  t.ok(rounds > 0, `settled after ${rounds} rounds`);
  t.same(sizes(workers), [3, 3, 3]);
  t.equal(leaderOf(workers).length, 1, 'one leader');
  const listing = workers.filter((_, i) => (calls[i]!.get('list') ?? 0) > 0).map((w) => w.id);
  t.equal(listing.length, 2, `listing the table in steady state: ${listing.join(', ')}`);
  t.ok(listing.includes(leaderOf(workers)[0]!.id), 'the leader lists');
  const quiet = workers.find((w) => !listing.includes(w.id))!;
  const quietCalls = calls[workers.indexOf(quiet)]!;
  t.equal(quietCalls.get('get'), 2 * 5, `${quiet.id} reads its item and the sync lease each pass, nothing else`);
  t.same(quiet.coordinator.workers, ['a', 'b', 'c'], 'the live workers, from the sync lease');
  // The first worker took all 9; it handed the others' shares back (released), which are read at once too.
  const delays = workers.flatMap((w) => w.handovers.map((h) => h.handoverDelayMillis));
  t.ok(delays.length >= 9 && delays.every((d) => d === 0), `ownerless leases are read at once: ${delays.join()}`);
  const owners = await ownersInTable(table);
  t.same(Object.keys(owners).filter((k) => k.startsWith('stream-')).length, 9);
  t.ok(
    Object.keys(owners).filter((k) => k.startsWith('__worker__:')).length === 3,
    'one item per live worker in the table',
  );
});

t.test("a dead worker's leases go to the others once the leader has seen them still for failover", async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(6));
  const { workers } = leaders(table, ['a', 'b', 'c']);
  await settle(workers, () => balanced(workers, 6));
  const leader = leaderOf(workers)[0]!;
  const dead = workers.find((w) => w !== leader && w.coordinator.workers.length === 3 && !isStandby(w, workers))!;
  const alive = workers.filter((w) => w !== dead);
  const orphaned = dead.keys();
  for (const w of alive) {
    w.acquired.length = 0;
    w.handovers.length = 0;
  }

  // Act: the dead worker runs no pass and renews nothing; the others go on, a second at a time.
  let early = 0;
  for (let ms = 0; ms < FAILOVER - 1000; ms += 1000) {
    for (const w of alive) w.clock.increment(1000);
    for (const w of alive) await w.coordinator.runOnce();
    early += alive.reduce((n, w) => n + w.acquired.length, 0);
  }
  const rounds = await settle(alive, () => balanced(alive, 6), { rounds: 10 });

  // Assess
  t.equal(early, 0, 'nothing taken before failoverTimeMillis');
  t.ok(rounds > 0 && rounds <= 4, `taken over within ${rounds} passes after failover`);
  t.same(alive.flatMap((w) => w.acquired.map((l) => l.leaseKey)).sort(), orphaned.sort());
  t.same(
    alive.flatMap((w) => w.handovers.map((h) => h.handoverDelayMillis)),
    [0, 0],
    'expired leases are read at once',
  );
  const owners = await ownersInTable(table);
  t.notOk(
    Object.keys(owners).includes(`__worker__:${dead.id}`),
    "the leader deletes the dead worker's item: it is assigned nothing more",
  );
});

/** The standby: named by the sync lease's list of workers (the one after the leader). */
function isStandby(w: Worker, workers: Worker[]): boolean {
  const leader = leaderOf(workers)[0]!.id;
  const others = w.coordinator.workers.filter((id) => id !== leader);
  return (others.find((id) => id > leader) ?? others[0]) === w.id;
}

t.test('a joining worker gets leases moved to it; it waits a full failover, the old owner stops first', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(8));
  const { workers } = leaders(table, ['a', 'b']);
  await settle(workers, () => balanced(workers, 8));
  const leader = leaderOf(workers)[0]!;
  for (const w of workers) w.lost.length = 0;
  const [d] = leaders(table, ['d']).workers;

  // Act
  const all = [...workers, d!];
  const rounds = await settle(all, () => sizes(all).every((n) => n >= 2) && balanced(all, 8), { rounds: 10 });

  // Assess
  t.ok(rounds > 0, `balanced after ${rounds} rounds`);
  t.ok(d!.keys().length >= 2, `d holds ${d!.keys().length}`);
  // From the leader, released (nobody reads it any more) and read at once; from the other, moved while it still
  // reads: the new owner waits a full failoverTimeMillis, by which time the old owner has stopped.
  const other = workers.find((w) => w !== leader)!;
  const fromLeader = leader.lost.filter((l) => l.reason === 'released').map((l) => l.leaseKey);
  const fromOther = other.lost.filter((l) => l.reason === 'taken').map((l) => l.leaseKey);
  t.ok(fromOther.length >= 1, `moved from the live non-leader: ${fromOther.join()}`);
  t.same([...fromLeader, ...fromOther].sort(), d!.keys().sort(), "d's leases are exactly those given up");
  for (const h of d!.handovers) {
    const expected = fromOther.includes(h.leaseKey) ? FAILOVER : 0;
    t.equal(h.handoverDelayMillis, expected, `${h.leaseKey} waits ${expected} ms`);
    t.equal(h.stolen, fromOther.includes(h.leaseKey), `${h.leaseKey} counted as stolen only if moved live`);
  }
  t.same(
    [...leader.lost, ...other.lost].map((l) => l.reason).filter((r) => r !== 'released' && r !== 'taken'),
    [],
  );
});

t.test("the leader dies: its standby succeeds it and assigns the leader's leases", async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(6));
  const { workers } = leaders(table, ['a', 'b', 'c']);
  await settle(workers, () => balanced(workers, 6));
  await settle(workers, () => false, { rounds: 2 });
  const leader = leaderOf(workers)[0]!;
  const standby = workers.find((w) => w !== leader && isStandby(w, workers))!;
  const alive = workers.filter((w) => w !== leader);
  const orphaned = leader.keys();

  // Act
  let took: string | undefined;
  const rounds = await settle(
    alive,
    () => {
      took ??= leaderOf(alive)[0]?.id;
      return balanced(alive, 6);
    },
    { rounds: 20 },
  );

  // Assess
  t.ok(rounds > 0, `the leader's ${orphaned.length} leases reassigned after ${rounds} passes`);
  t.ok(rounds * 1000 <= FAILOVER + 4000, 'within failoverTimeMillis and a few passes');
  t.equal(took, standby.id, 'the standby succeeded, not the other worker');
});

t.test('a draining worker is assigned nothing more; what it hands back goes to the others at once', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(4));
  const { workers } = leaders(table, ['a', 'b']);
  await settle(workers, () => balanced(workers, 4));
  const leader = leaderOf(workers)[0]!;
  const leaving = workers.find((w) => w !== leader)!;
  const given = leaving.keys();
  leader.handovers.length = 0;

  // Act
  await leaving.coordinator.shutdown();
  const rounds = await settle([leader], () => leader.keys().length === 4, { rounds: 5 });

  // Assess
  t.same(leaving.keys(), []);
  t.ok(rounds > 0 && rounds <= 2, `taken over after ${rounds} passes, not after failover`);
  t.same(
    leader.handovers.filter((h) => given.includes(h.leaseKey)).map((h) => h.handoverDelayMillis),
    [0, 0],
    'released leases are read at once',
  );
  const owners = await ownersInTable(table);
  t.notOk(Object.keys(owners).includes(`__worker__:${leaving.id}`), 'its item went with it');
});

t.test(
  'a draining leader: its item goes though a renewal of it landed unanswered, and the sync lease goes last',
  async (t) => {
    // Prepare: while `holding`, a's renewals of its item land but their answers are held back.
    const table = await (await leaseStack(t)).table();
    await createLeases(table, streams(4));
    let holding = false;
    const landed = deferred<void>();
    const answered = deferred<void>();
    const released: string[] = [];
    const store = delegate(table, {
      renew: async (lease, owner, options) => {
        const renewed = await table.renew(lease, owner, options);
        if (holding && lease.leaseKey === '__worker__:a') {
          landed.resolve();
          await answered.promise;
        }
        return renewed;
      },
      release: async (lease, owner) => {
        const done = await table.release(lease, owner);
        released.push(lease.leaseKey);
        return done;
      },
    });
    const leaving = worker(store, 'a', { assignment: 'leader' });
    const other = worker(table, 'b', { assignment: 'leader' });
    await settle([leaving, other], () => balanced([leaving, other], 4));
    const led = leaving.coordinator.holdsSyncLease;
    const given = leaving.keys().filter((k) => k.startsWith('stream-'));
    other.handovers.length = 0;
    released.length = 0;

    // Act: a renewal of a's item lands, and a starts draining before its answer comes.
    holding = true;
    const renewing = leaving.coordinator.renewLeases();
    await landed.promise;
    leaving.coordinator.stopTaking();
    answered.resolve();
    await renewing;
    await leaving.coordinator.shutdown();
    const rounds = await settle([other], () => other.keys().filter((k) => k.startsWith('stream-')).length === 4, {
      rounds: 5,
    });

    // Assess
    t.ok(led, `a led, holding ${given.join()}`);
    t.notOk(
      (await table.list()).some((l) => l.leaseKey === '__worker__:a'),
      'its item went with it',
    );
    t.same(released.slice(0, -1).sort(), given.sort(), 'its streams handed back');
    t.equal(released.at(-1), '__sync__', 'then the sync lease');
    t.ok(rounds > 0 && rounds <= 2, `b took them all after ${rounds} passes, not after failover`);
    t.same(
      other.handovers.filter((h) => given.includes(h.leaseKey)).map((h) => h.handoverDelayMillis),
      [0, 0],
      'read at once',
    );
  },
);

t.test('during a switch of leaseAssignment, workers of both schemes share the table safely', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(6));
  const old = ['a', 'b'].map((id) => worker(table, id, { assignment: 'every-worker' }));
  await settle(old, () => balanced(old, 6));
  const { workers: next } = leaders(table, ['c', 'd']);
  const all = [...old, ...next];

  // Act: the old workers leave one by one (SIGTERM), as a rolling deployment replaces them.
  await settle(all, () => false, { rounds: 15 });
  await old[0]!.coordinator.shutdown();
  await settle([old[1]!, ...next], () => false, { rounds: 15 });
  await old[1]!.coordinator.shutdown();
  const rounds = await settle(next, () => balanced(next, 6), { rounds: 20 });

  // Assess
  t.ok(rounds > 0, `the new workers hold all 6 leases, balanced, ${rounds} rounds after the last old one left`);
  t.same(sizes(next), [3, 3]);
  // Whoever took a lease from a live owner, by either scheme, waited out its handover before reading.
  const taken = all.flatMap((w) => w.handovers);
  t.ok(taken.length > 6, `${taken.length} acquisitions while the schemes were mixed`);
  t.same(
    taken.filter((h) => h.stolen && h.handoverDelayMillis === 0),
    [],
    'no lease taken from a live owner was read at once',
  );
  t.same(
    all.flatMap((w) => w.keys()),
    [...new Set(all.flatMap((w) => w.keys()))],
    'no lease held twice at the end',
  );
});
