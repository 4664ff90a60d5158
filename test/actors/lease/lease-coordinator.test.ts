// The lease coordinator against the DynamoDB emulator: renewal, failover judged on each worker's own
// clock, self-fencing of leases it can no longer prove, balancing by stealing one lease per pass, checkpoints,
// shutdown, the sync lease.

import t, { type Test } from 'tap';
import { systemClock } from '../../../src/actors/clock.js';
import { LeaseCoordinator } from '../../../src/actors/lease/lease-coordinator.js';
import { LeaseError } from '../../../src/actors/lease/lease-errors.js';
import { dynamoDbRequestTimeoutMs } from '../../../src/aws/clients.js';
import {
  type CallPlan,
  clockFor,
  createLeases,
  delegate,
  FAILOVER,
  leaseStack,
  ownersInTable,
  type PlannedCall,
  runClocks,
  settle,
  type TimedStore,
  timedStore,
  type Worker,
  worker,
} from './lease-fixtures.js';

const CP = { fragmentNumber: '91343852333181432392682062607743920146264316306', serverTimestamp: 1_700_000_000_123 };
const LATER = { fragmentNumber: '91343852333181432392682062607743920146264316307', serverTimestamp: 1_700_000_002_123 };
const streams = (n: number) => Array.from({ length: n }, (_, i) => `stream-${i}`);
const sizes = (workers: Worker[]) => workers.map((w) => w.keys().length);
const tally = (owners: Record<string, string | undefined>) => {
  const counts: Record<string, number> = {};
  for (const owner of Object.values(owners)) counts[owner ?? '(none)'] = (counts[owner ?? '(none)'] ?? 0) + 1;
  return counts;
};

t.test('renewal keeps a lease: another worker never takes it, however far its own clock moves', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['stream']);
  const a = worker(table, 'a');
  const b = worker(table, 'b');
  await a.coordinator.runOnce();
  await b.coordinator.runOnce();

  // Act
  for (let i = 0; i < 5; i++) {
    a.clock.increment(a.coordinator.renewIntervalMillis);
    await a.coordinator.renewLeases();
    b.clock.increment(FAILOVER);
    await b.coordinator.runOnce();
  }

  // Assess
  t.same(a.keys(), ['stream']);
  t.same(b.keys(), []);
  t.same(a.lost, []);
  t.equal(a.coordinator.counters.renewed, 5 + 5, 'the stream and the sync lease renewed each time');
  t.equal((await table.get('stream'))?.leaseCounter, 1 + 5);
  t.same(b.coordinator.workers, ['a', 'b']);
});

t.test(
  "a worker that stops renewing loses its leases after failoverTimeMillis of the other worker's clock",
  async (t) => {
    // Prepare
    const table = await (await leaseStack(t)).table();
    await createLeases(table, ['stream']);
    const a = worker(table, 'a');
    const b = worker(table, 'b');
    await a.coordinator.runOnce();
    await b.coordinator.runOnce();

    // Act: a is silent from here on; only b's clock moves.
    b.clock.increment(FAILOVER - 1);
    await b.coordinator.runOnce();
    const beforeFailover = b.keys();
    b.clock.increment(1);
    await b.coordinator.runOnce();
    await a.coordinator.renewLeases();

    // Assess
    t.same(beforeFailover, [], 'nothing taken one millisecond early');
    t.same(b.keys(), ['stream']);
    t.equal(b.coordinator.holdsSyncLease, true, 'the sync lease fails over too');
    t.equal(a.coordinator.holdsSyncLease, false);
    t.same(a.lost, [{ leaseKey: 'stream', reason: 'taken' }], 'the old owner learns at its next renewal');
    t.same(a.keys(), []);
    t.equal(b.coordinator.counters.stolen, 0, 'an expired lease is taken, not stolen');
    t.equal((await table.get('stream'))?.leaseOwner, 'b');
  },
);

t.test('6 leases over 3 coordinators settle at 2/2/2 and stay there', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(6));
  const workers = ['a', 'b', 'c'].map((id) => worker(table, id));

  // Act
  const rounds = await settle(workers, () => sizes(workers).every((n) => n === 2));
  const stolen = workers.map((w) => w.coordinator.counters.stolen);
  await settle(workers, () => false, { rounds: 5 });

  // Assess
  t.ok(rounds > 0, `settled after ${rounds} rounds`);
  t.same(sizes(workers), [2, 2, 2]);
  t.same(tally(await ownersInTable(table)), { a: 2, b: 2, c: 2 });
  t.equal(new Set(workers.flatMap((w) => w.keys())).size, 6, 'no lease held twice');
  t.same(
    workers.map((w) => w.coordinator.counters.stolen),
    stolen,
    'no stealing once balanced',
  );
  t.equal(
    workers.filter((w) => w.coordinator.holdsSyncLease).length,
    1,
    'the sync lease does not count towards the share',
  );
  t.same(workers[0]!.coordinator.workers, ['a', 'b', 'c']);
});

t.test('a fourth worker joining steals one lease per pass until balanced', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(8));
  const workers = ['a', 'b', 'c'].map((id) => worker(table, id));
  await settle(workers, () => [...sizes(workers)].sort().join() === '2,3,3');
  for (const w of workers) w.lost.length = 0;
  const d = worker(table, 'd');

  // Act
  const perPass: number[] = [];
  for (let pass = 0; pass < 3; pass++) {
    await d.coordinator.runOnce();
    perPass.push(d.keys().length);
  }
  for (const w of workers) await w.coordinator.renewLeases();

  // Assess
  t.same(perPass, [1, 2, 2], 'one lease per pass, then none once at its share');
  t.equal(d.coordinator.counters.stolen, 2);
  t.same(tally(await ownersInTable(table)), { a: 2, b: 2, c: 2, d: 2 });
  t.same(sizes([...workers, d]), [2, 2, 2, 2]);
  t.same(
    workers.flatMap((w) => w.lost.map((l) => l.reason)),
    ['taken', 'taken'],
    'each victim told at its next renewal',
  );
  t.same(workers.flatMap((w) => w.lost.map((l) => l.leaseKey)).sort(), [...d.keys()].sort());
});

t.test(
  "a stolen lease: the old owner's onLost fires at its next renewal, and checkpointing it is refused",
  async (t) => {
    // Prepare
    const table = await (await leaseStack(t)).table();
    await createLeases(table, ['x', 'y']);
    const a = worker(table, 'a');
    const b = worker(table, 'b');
    await a.coordinator.runOnce();
    await b.coordinator.runOnce();
    const [stolen] = b.keys();

    // Act
    await a.coordinator.renewLeases();
    const checkpoint = a.coordinator.checkpoint(stolen!, CP);

    // Assess
    t.ok(stolen, `b stole ${stolen}`);
    t.same(a.lost, [{ leaseKey: stolen, reason: 'taken' }]);
    t.equal(a.coordinator.counters.lost, 1);
    t.notOk(a.coordinator.holds(stolen!));
    await t.rejects(checkpoint, { name: 'LeaseError', code: 'LEASE_NOT_HELD', leaseKey: stolen });
  },
);

t.test(
  'a stolen lease: a checkpoint written before the old owner renews fails with LEASE_LOST and reports the loss',
  async (t) => {
    // Prepare
    const table = await (await leaseStack(t)).table();
    await createLeases(table, ['x', 'y']);
    const a = worker(table, 'a');
    const b = worker(table, 'b');
    await a.coordinator.runOnce();
    await b.coordinator.runOnce();
    const [stolen] = b.keys();

    // Act
    const error = (await a.coordinator.checkpoint(stolen!, CP).catch((e: unknown) => e)) as LeaseError;
    await a.coordinator.renewLeases();

    // Assess
    t.type(error, LeaseError);
    t.equal(error.code, 'LEASE_LOST');
    t.equal(error.leaseKey, stolen);
    t.equal(error.owner, 'a');
    t.same(a.lost, [{ leaseKey: stolen, reason: 'taken' }], 'reported once, not again at renewal');
    t.equal((await table.get(stolen!))?.checkpoint, undefined, 'the stale owner wrote nothing');
    t.same(a.keys().length, 1, 'the other lease is still held');
  },
);

t.test('the checkpoint travels with the lease: the new owner gets it in onAcquired', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['stream']);
  const a = worker(table, 'a');
  const b = worker(table, 'b');
  await a.coordinator.runOnce();
  const written = await a.coordinator.checkpoint('stream', CP);
  await b.coordinator.runOnce();

  // Act: a dies; b takes over after failover.
  b.clock.increment(FAILOVER);
  await b.coordinator.runOnce();

  // Assess
  t.same(written.checkpoint, CP);
  t.same(a.coordinator.held[0]?.checkpoint, CP, 'held shows the checkpoint');
  t.equal(b.acquired.length, 1);
  t.same(b.acquired[0]?.checkpoint, CP);
  t.equal(b.acquired[0]?.ownerSwitchesSinceCheckpoint, 1);
  t.equal(b.acquired[0]?.leaseOwner, 'b');
});

t.test('checkpoints and renewals of one lease run one at a time instead of failing each other', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['stream']);
  const a = worker(table, 'a');
  await a.coordinator.runOnce();
  const later = {
    fragmentNumber: '91343852333181432392682062607743920146264316307',
    serverTimestamp: CP.serverTimestamp + 2000,
  };

  // Act
  const results = await Promise.allSettled([
    a.coordinator.checkpoint('stream', CP),
    a.coordinator.renewLeases(),
    a.coordinator.checkpoint('stream', later),
  ]);

  // Assess
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled'],
  );
  t.same(a.lost, []);
  t.same((await table.get('stream'))?.checkpoint, later);
  t.same(a.coordinator.held[0]?.checkpoint, later);
});

t.test('a renewal carries the checkpoint its reader offers: one write per renewal, checkpoint included', async (t) => {
  // Prepare: every write of the stream's lease counted (the sync lease's are not).
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['stream']);
  const writes: string[] = [];
  const counting = delegate(table, {
    renew: (lease, owner, options) => {
      if (lease.leaseKey === 'stream') writes.push('renew');
      return table.renew(lease, owner, options);
    },
    checkpoint: (lease, owner, cp, options) => {
      if (lease.leaseKey === 'stream') writes.push('checkpoint');
      return table.checkpoint(lease, owner, cp, options);
    },
  });
  const a = worker(counting, 'a');
  await a.coordinator.runOnce();
  const offers = [null, CP, CP, LATER];
  const written: (typeof CP)[] = [];
  a.coordinator.carryCheckpoints('stream', {
    next: () => offers.shift() ?? null,
    written: (checkpoint) => written.push(checkpoint),
  });
  const counterBefore = (await table.get('stream'))!.leaseCounter;

  // Act: four renewals; the reader offers nothing, then CP (twice: the second is what the lease has), then LATER.
  for (let i = 0; i < 4; i++) await a.coordinator.renewLeases();

  // Assess
  t.same(writes, ['renew', 'checkpoint', 'renew', 'checkpoint'], 'no write beyond the renewals');
  t.same(written, [CP, LATER]);
  const stored = (await table.get('stream'))!;
  t.same(stored.checkpoint, LATER);
  t.equal(stored.leaseCounter, counterBefore + 4, 'each one renewed the lease');
  t.same(a.lost, []);
});

t.test('a checkpoint write behind the one a renewal carried is not written: checkpoints never move back', async (t) => {
  // Prepare: a renewal has carried LATER.
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['stream']);
  const a = worker(table, 'a');
  await a.coordinator.runOnce();
  const stop = a.coordinator.carryCheckpoints('stream', { next: () => LATER, written: () => {} });
  await a.coordinator.renewLeases();
  stop();
  const counter = (await table.get('stream'))!.leaseCounter;

  // Act: the periodic write of the older CP, begun before the renewal finished, arrives after it.
  const answered = await a.coordinator.checkpoint('stream', CP);
  await a.coordinator.renewLeases();

  // Assess
  t.same(answered.checkpoint, LATER);
  const stored = (await table.get('stream'))!;
  t.same(stored.checkpoint, LATER);
  t.equal(stored.leaseCounter, counter + 1, 'only the plain renewal after it wrote (the carrier was ended)');
});

t.test(
  'shutdown releases every lease and another worker takes them at its next pass, without waiting for failover',
  async (t) => {
    // Prepare
    const table = await (await leaseStack(t)).table();
    await createLeases(table, streams(3));
    const a = worker(table, 'a');
    const b = worker(table, 'b');
    await a.coordinator.runOnce();
    await b.coordinator.runOnce();
    await a.coordinator.renewLeases();
    const bBefore = b.keys().length;

    // Act
    await a.coordinator.shutdown();
    const owners = await ownersInTable(table);
    await b.coordinator.runOnce();
    await a.coordinator.runOnce();

    // Assess
    t.equal(bBefore, 1, 'b had stolen its share while a was alive');
    t.same(
      Object.values(owners).filter((o) => o === 'a'),
      [],
      'no lease names a after shutdown',
    );
    t.same(
      a.lost.map((l) => l.reason),
      ['taken', 'released', 'released'],
      'the stolen one was lost before',
    );
    t.equal(a.coordinator.counters.released, 3, 'two stream leases and the sync lease');
    t.equal(a.coordinator.counters.lost, 1, 'only the stolen lease counts as lost, releases do not');
    t.same(b.keys(), streams(3), 'b took them all with its clock unmoved');
    t.equal(b.coordinator.holdsSyncLease, true);
    t.same(a.keys(), [], 'a takes nothing after shutdown');
    await t.rejects(a.coordinator.checkpoint('stream-0', CP), { code: 'LEASE_NOT_HELD' });
  },
);

t.test('release hands one lease back, keeps the others, and another worker takes it at its next pass', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(2));
  const a = worker(table, 'a');
  await a.coordinator.runOnce();

  // Act
  await a.coordinator.release('stream-0');
  const b = worker(table, 'b');
  await b.coordinator.runOnce();

  // Assess
  t.same(a.lost, [{ leaseKey: 'stream-0', reason: 'released' }]);
  t.same(a.keys(), ['stream-1'], 'the other lease stays held');
  t.equal(a.coordinator.counters.released, 1);
  t.same(b.keys(), ['stream-0'], "taken at b's first pass, not after failover");
  await t.resolves(a.coordinator.release('stream-0'), 'releasing a lease no longer held does nothing');
});

t.test('stopTaking keeps renewing what is held but takes nothing more', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['s1']);
  const a = worker(table, 'a');
  await a.coordinator.runOnce();
  await table.createLease('s2');

  // Act
  a.coordinator.stopTaking();
  a.clock.increment(FAILOVER);
  await a.coordinator.runOnce();

  // Assess
  t.same(a.keys(), ['s1']);
  t.equal(a.coordinator.counters.renewed, 2);
  t.equal((await table.get('s2'))?.leaseOwner, undefined);
});

t.test('maxLeasesPerWorker caps what each worker takes; the rest waits for another worker', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(5));
  const a = worker(table, 'a', { maxLeasesPerWorker: 2 });
  const b = worker(table, 'b', { maxLeasesPerWorker: 2 });
  const c = worker(table, 'c');

  // Act
  await settle([a, b], () => false, { rounds: 4 });
  const capped = tally(await ownersInTable(table));
  await settle([a, b, c], () => false, { rounds: 3 });

  // Assess
  t.same(capped, { a: 2, b: 2, '(none)': 1 });
  t.same(sizes([a, b, c]), [2, 2, 1]);
});

t.test('the sync lease is held by exactly one worker, and only its holder changes the stream leases', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, streams(6));
  const workers = ['a', 'b', 'c'].map((id) => worker(table, id));
  await settle(workers, () => sizes(workers).every((n) => n === 2));
  for (const w of workers) w.lost.length = 0;
  const holder = workers.find((w) => w.coordinator.holdsSyncLease)!;
  const other = workers.find((w) => !w.coordinator.holdsSyncLease)!;
  const retiredOwner = workers.find((w) => w.keys().includes('stream-5'))!;
  const desired = [...streams(5), 'stream-new'];

  // Act
  const refused = await other.coordinator.syncStreamLeases(desired);
  const afterRefusal = Object.keys(await ownersInTable(table));
  const synced = await holder.coordinator.syncStreamLeases(desired);
  for (const w of workers) await w.coordinator.renewLeases();
  await settle(workers, () => workers.some((w) => w.keys().includes('stream-new')));

  // Assess
  t.equal(workers.filter((w) => w.coordinator.holdsSyncLease).length, 1);
  t.same(refused, { holdsSyncLease: false, created: [], deleted: [] });
  t.same(afterRefusal, streams(6), 'a non-holder changes nothing');
  t.same(synced, { holdsSyncLease: true, created: ['stream-new'], deleted: ['stream-5'] });
  t.same(Object.keys(await ownersInTable(table)).sort(), [...desired].sort());
  t.same(retiredOwner.lost, [{ leaseKey: 'stream-5', reason: 'deleted' }]);
  t.ok(
    workers.some((w) => w.keys().includes('stream-new')),
    'the new stream lease is taken',
  );
  await t.rejects(holder.coordinator.syncStreamLeases(['__sync__']), { code: 'BAD_LEASE_OPTIONS' });
});

t.test('start() runs take passes and renewals on the injected clock, and stop() ends them', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['stream']);
  const a = worker(table, 'a');
  const b = worker(table, 'b');
  const tick = async (w: Worker, ms: number) => {
    w.clock.increment(ms);
    await w.coordinator.idle();
  };

  // Act
  a.coordinator.start();
  b.coordinator.start();
  await tick(a, 0);
  await tick(b, 0);
  for (let i = 0; i < 6; i++) await tick(a, a.coordinator.renewIntervalMillis);
  const renewedWhileRunning = a.coordinator.counters.renewed;
  a.coordinator.stop();
  let elapsed = 0;
  while (!b.coordinator.holds('stream') && elapsed < 3 * FAILOVER) {
    await tick(b, 500);
    elapsed += 500;
  }
  b.coordinator.stop();

  // Assess
  t.equal(renewedWhileRunning, 12, 'stream and sync lease renewed every renewIntervalMillis');
  t.ok(b.coordinator.holds('stream'), `b took the stream ${elapsed} ms (its clock) after a stopped`);
  t.ok(
    elapsed >= FAILOVER && elapsed <= FAILOVER + 2 * b.coordinator.takeIntervalMillis,
    'within failover + 2 take intervals',
  );
  t.same(b.errors, []);
});

t.test('bad options are refused with BAD_LEASE_OPTIONS', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  const make = (options: Parameters<typeof worker>[2]) => () => worker(table, 'a', options);

  // Act, Assess
  t.throws(make({ workerId: '' }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ failoverTimeMillis: 0 }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ renewIntervalMillis: FAILOVER }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ maxLeasesPerWorker: 0 }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ maxLeasesPerWorker: 1.5 }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ safetyMarginMillis: 0 }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ safetyMarginMillis: FAILOVER - 3333 }), {
    code: 'BAD_LEASE_OPTIONS',
    message: /leave more than renewIntervalMillis/,
  });
  t.throws(
    make({ renewIntervalMillis: FAILOVER / 2 }),
    { code: 'BAD_LEASE_OPTIONS' },
    'no margin left for the default',
  );
  t.equal(worker(table, 'a').coordinator.safetyMarginMillis, 1667, 'default: (failover - 2 x renew) / 2');
});

// ---------------------------------------------------------------- clock

t.test('the system clock is monotonic: a step of the wall clock does not move it', async (t) => {
  // Prepare
  const realNow = Date.now;
  t.teardown(() => {
    Date.now = realNow;
  });
  const before = systemClock.now();

  // Act
  const readings: number[] = [];
  for (const step of [-3_600_000, 86_400_000]) {
    Date.now = () => realNow() + step;
    readings.push(systemClock.now());
  }
  Date.now = realNow;

  // Assess
  t.ok(Math.abs(before - realNow()) < 60_000, 'epoch-like: close to the wall clock when nothing stepped');
  t.ok(
    readings.every((r) => r >= before && r - before < 1_000),
    `unmoved by steps of -1 h and +1 day: ${readings.map((r) => r - before).join(', ')} ms`,
  );
});

t.test(
  'on the system clock, a wall-clock step neither lets another worker take a live lease ' +
    'nor makes its holder give it up',
  async (t) => {
    // Prepare
    const realNow = Date.now;
    t.teardown(() => {
      Date.now = realNow;
    });
    const table = await (await leaseStack(t)).table();
    await createLeases(table, ['stream']);
    const onSystem = (id: string) =>
      new LeaseCoordinator({
        table,
        workerId: id,
        clock: systemClock,
        failoverTimeMillis: FAILOVER,
        onLost: (key, reason) => void lost.push(`${id}:${key}:${reason}`),
      });
    const lost: string[] = [];
    const holder = onSystem('holder');
    const other = onSystem('other');
    await holder.runOnce();
    await other.runOnce();

    // Act: the wall clock jumps a day ahead (an NTP step, a VM resumed)
    Date.now = () => realNow() + 86_400_000;
    holder.expireLeases();
    await other.runOnce();
    await holder.runOnce();

    // Assess
    t.same(
      holder.held.map((l) => l.leaseKey),
      ['stream'],
    );
    t.equal(holder.holdsSyncLease, true);
    t.same(other.held, [], 'nothing looked expired to the other worker');
    t.same(lost, []);
  },
);

// ---------------------------------------------------------------- self-fencing

const RENEW = Math.floor(FAILOVER / 3);
/** DynamoDB's request timeout as the worker derives it. */
const DYNAMODB_TIMEOUT = dynamoDbRequestTimeoutMs(FAILOVER);
const MARGIN = Math.floor((FAILOVER - 2 * RENEW) / 2);

interface Timed {
  w: Worker;
  store: TimedStore;
  /** Elapsed time on this worker's clock since the scenario began. */
  elapsed(): number;
  /** Each lease given up, with the elapsed time it happened at. */
  drops: { leaseKey: string; reason: string; at: number }[];
  /** Each lease taken, with the elapsed time the coordinator reported it at. */
  takes: { leaseKey: string; stolen: boolean; handoverDelayMillis: number; at: number }[];
}

/** A worker on a timedStore, started, recording what happens and when on its own clock. */
function timedWorker(
  table: Parameters<typeof timedStore>[0],
  id: string,
  plan: Parameters<typeof timedStore>[2],
): Timed {
  const clock = clockFor(id);
  const start = clock.now();
  const store = timedStore(table, clock, plan);
  const drops: Timed['drops'] = [];
  const takes: Timed['takes'] = [];
  const elapsed = () => clock.now() - start;
  const w = worker(store, id, {
    clock,
    onLost: (leaseKey, reason) => void drops.push({ leaseKey, reason, at: elapsed() }),
    onAcquired: (lease, how) => void takes.push({ leaseKey: lease.leaseKey, ...how, at: elapsed() }),
  });
  return { w, store, elapsed, drops, takes };
}

/** Worker a on a timedStore with `plan`, started on a table of one lease, `stream`; stopped when `t` ends. */
async function startedOnOneStream(t: Test, plan: Parameters<typeof timedStore>[2], tableName?: string) {
  const table = await (await leaseStack(t)).table(tableName);
  await createLeases(table, ['stream']);
  const a = timedWorker(table, 'a', plan);
  a.w.coordinator.start();
  t.teardown(() => a.w.coordinator.stop());
  return { a, table };
}

/** Calls that answer after 40 ms (a loaded DynamoDB), unless `special` says otherwise. */
const slow =
  (special: (call: PlannedCall) => CallPlan | undefined = () => undefined) =>
  (call: PlannedCall): CallPlan =>
    special(call) ?? { ms: 40 };

/** Starts a, then b `leadMs` later (so that a takes first); both stop when `t` ends. */
async function startInOrder(t: Test, a: Timed, b: Timed, leadMs: number): Promise<void> {
  a.w.coordinator.start();
  await runClocks([a.w.clock, b.w.clock], [a.store, b.store], leadMs);
  b.w.coordinator.start();
  t.teardown(() => {
    a.w.coordinator.stop();
    b.w.coordinator.stop();
  });
}

/** The sending time (elapsed) of the last write on `key` that succeeded. */
function lastWriteSent(x: Timed, key: string): number {
  const writes = x.store.calls.filter(
    (c) => c.leaseKey === key && c.outcome === 'ok' && ['take', 'renew', 'checkpoint'].includes(c.operation),
  );
  return writes.at(-1)!.sentAt - (x.w.clock.now() - x.elapsed());
}

t.test(
  'one failed renewal is tolerated when calls take time, even one that fails only at the DynamoDB timeout',
  async (t) => {
    // Prepare: every call takes 40 ms; the third renewal of the stream fails after the request timeout.
    const third = (c: PlannedCall): CallPlan | undefined =>
      c.operation === 'renew' && c.leaseKey === 'stream' && c.nth === 3
        ? { ms: DYNAMODB_TIMEOUT, outcome: 'fail' }
        : undefined;
    const { a } = await startedOnOneStream(t, slow(third));

    // Act
    const heldAt: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      await runClocks([a.w.clock], [a.store], RENEW);
      heldAt.push(a.w.coordinator.holds('stream'));
    }
    await runClocks([a.w.clock], [a.store], 100);

    // Assess
    const renewals = a.store.calls.filter((c) => c.operation === 'renew' && c.leaseKey === 'stream');
    t.equal(renewals.length, 8);
    t.same(
      renewals.map((c) => c.outcome),
      ['ok', 'ok', 'fail', 'ok', 'ok', 'ok', 'ok', 'ok'],
    );
    t.same(heldAt, Array(8).fill(true), 'held all along');
    t.same(a.drops, []);
    t.equal(a.w.errors.length, 1, 'the failure reported');
    t.equal(a.w.coordinator.counters.renewed, 2 * 8 - 1, 'the stream and the sync lease, but the failed one');
  },
);

t.test(
  'a worker spreads its renewals over the interval, each lease renewed once an interval, never later',
  async (t) => {
    // Prepare: 30 streams, all taken in one pass within one tenth of the interval (takes answer in 1 ms).
    const table = await (await leaseStack(t)).table();
    const streams = Array.from({ length: 30 }, (_, i) => `cam-${i}`);
    await createLeases(table, streams);
    const a = timedWorker(
      table,
      'a',
      slow((c) => (c.operation === 'take' ? { ms: 1 } : undefined)),
    );
    a.w.coordinator.start();
    t.teardown(() => a.w.coordinator.stop());

    // Act
    await runClocks([a.w.clock], [a.store], 5 * RENEW);

    // Assess
    const offset = a.w.clock.now() - a.elapsed();
    const sent = (key: string, operation: string) =>
      a.store.calls.filter((c) => c.leaseKey === key && c.operation === operation).map((c) => c.sentAt - offset);
    const takenAt = streams.map((s) => sent(s, 'take')[0]!);
    t.ok(Math.max(...takenAt) - Math.min(...takenAt) < RENEW / 10, 'all taken at once');
    const gaps = streams.flatMap((s) => {
      const times = [takenAt[streams.indexOf(s)]!, ...sent(s, 'renew')];
      return times.slice(1).map((at, i) => at - times[i]!);
    });
    t.ok(gaps.length >= 4 * streams.length, `${gaps.length} renewals, at least 4 a lease`);
    t.ok(Math.max(...gaps) <= RENEW, `never more than an interval after the previous write (${Math.max(...gaps)} ms)`);
    // The last whole interval: how many renewals each moment of sending had.
    const burst = new Map<number, number>();
    for (const s of streams)
      for (const at of sent(s, 'renew').filter((at) => at >= 4 * RENEW - RENEW && at < 4 * RENEW))
        burst.set(at, (burst.get(at) ?? 0) + 1);
    t.equal(
      [...burst.values()].reduce((sum, n) => sum + n, 0),
      streams.length,
      'each lease renewed once in it',
    );
    t.ok(burst.size >= 7, `sent at ${burst.size} moments of the interval's 10, not all at one`);
    t.ok(Math.max(...burst.values()) <= 8, `at most 8 of the 30 together (${Math.max(...burst.values())})`);
  },
);

t.test(
  'a checkpoint written between renewals stands for a renewal: with DynamoDB slow, renewals do not queue behind it',
  async (t) => {
    // Prepare: every call takes 2 s (DynamoDB 1 s slower each way); the stream's reader checkpoints every 3 s, more
    // often than the renewals come.
    const { a } = await startedOnOneStream(
      t,
      slow(() => ({ ms: 2000 })),
    );
    // Take passes take a few calls of 2 s each.
    while (!a.w.coordinator.holds('stream') && a.elapsed() < 10 * RENEW) await runClocks([a.w.clock], [a.store], 10);
    t.ok(a.w.coordinator.holds('stream'), `taken after ${a.elapsed()} ms`);

    // Act
    const written: Promise<unknown>[] = [];
    for (let i = 1; i <= 8; i++) {
      const fragmentNumber = (BigInt(CP.fragmentNumber) + BigInt(i)).toString();
      written.push(a.w.coordinator.checkpoint('stream', { fragmentNumber, serverTimestamp: CP.serverTimestamp + i }));
      await runClocks([a.w.clock], [a.store], 3000);
    }
    await runClocks([a.w.clock], [a.store], 2100);

    // Assess
    const results = await Promise.allSettled(written);
    t.same(
      results.map((r) => r.status),
      Array(8).fill('fulfilled'),
      'every checkpoint written',
    );
    const offset = a.w.clock.now() - a.elapsed();
    const writes = a.store.calls.filter((c) => c.leaseKey === 'stream' && c.outcome === 'ok');
    const checkpoints = writes.filter((c) => c.operation === 'checkpoint').map((c) => c.sentAt);
    const renewalsBetween = writes.filter(
      (c) => c.operation === 'renew' && c.sentAt > checkpoints[0]! && c.sentAt < checkpoints.at(-1)!,
    );
    t.same(
      renewalsBetween.map((c) => c.sentAt - offset),
      [],
      'no renewal sent while checkpoints come more often than renewals (each one renewed)',
    );
    t.ok(writes.at(-1)!.operation === 'renew', 'renewals again once the checkpoints stop');
    const sent = writes.map((c) => c.sentAt);
    const gaps = sent.slice(1).map((at, i) => at - sent[i]!);
    t.ok(Math.max(...gaps) <= RENEW, `never more than an interval between writes (${Math.max(...gaps)} ms)`);
    t.same(a.drops, [], 'held all along');
  },
);

t.test(
  'a renewal unanswered when the next is due is abandoned, so one lost call (all its retries) costs one interval only',
  async (t) => {
    for (const landed of [false, true]) {
      // Prepare: the second renewal of the stream answers only after 6 s (three attempts timing out), failed or landed.
      const second = (c: PlannedCall): CallPlan | undefined =>
        c.operation === 'renew' && c.leaseKey === 'stream' && c.nth === 2
          ? { ms: 6_000, outcome: landed ? 'ok' : 'fail' }
          : undefined;
      const { a, table } = await startedOnOneStream(t, slow(second), landed ? 'landed' : 'failed');

      // Act
      await runClocks([a.w.clock], [a.store], 5 * RENEW + 100);

      // Assess
      const what = landed ? 'landed' : 'failed';
      const renewals = a.store.calls.filter((c) => c.operation === 'renew' && c.leaseKey === 'stream');
      t.same(
        renewals.map((c) => c.outcome),
        ['ok', 'aborted', 'ok', 'ok', 'ok'],
        `${what}: abandoned, then renewed at every interval`,
      );
      t.same(a.drops, [], `${what}: never given up`);
      t.same(
        a.w.coordinator.held.map((l) => l.leaseOwner),
        ['a'],
      );
      // Landed: the next renewal's condition fails on the counter the abandoned one moved, and the store takes that for
      // it.
      t.equal((await table.get('stream'))?.leaseCounter, 1 + 4, `${what}: four renewals landed`);
    }
  },
);

t.test(
  'a write abandoned but landed, then taken for the next one: the lease counts as proven from the abandoned one only',
  async (t) => {
    // Prepare: the second renewal lands but answers only after 6 s; from the fourth on, nothing reaches the table.
    const plan = (c: PlannedCall): CallPlan | undefined => {
      if (c.operation !== 'renew' || c.leaseKey !== 'stream') return undefined;
      return c.nth === 2 ? { ms: 6_000 } : c.nth >= 4 ? { ms: 40, outcome: 'fail' } : undefined;
    };
    const { a } = await startedOnOneStream(t, slow(plan));

    // Act
    await runClocks([a.w.clock], [a.store], 5 * FAILOVER);

    // Assess
    const renewals = a.store.calls.filter((c) => c.operation === 'renew' && c.leaseKey === 'stream');
    const abandoned = renewals[1]!.sentAt - (a.w.clock.now() - a.elapsed());
    t.same(
      renewals.slice(0, 4).map((c) => c.outcome),
      ['ok', 'aborted', 'ok', 'fail'],
    );
    // Others first saw the counter the abandoned renewal moved no earlier than its sending, and may take it failover
    // later.
    t.equal(a.drops[0]?.reason, 'expired');
    t.ok(
      a.drops[0]!.at <= abandoned + FAILOVER - MARGIN + 10,
      `given up at ${a.drops[0]!.at} ms, the abandoned renewal sent at ${abandoned} ms`,
    );
  },
);

t.test(
  'a renewal abandoned but landed, then a checkpoint: still ours, the checkpoint is written on the counter it moved',
  async (t) => {
    // Prepare: the second renewal lands but answers only after 6 s, so it is abandoned; a checkpoint waits behind it.
    const { a, table } = await startedOnOneStream(
      t,
      slow((c) => (c.operation === 'renew' && c.leaseKey === 'stream' && c.nth === 2 ? { ms: 6_000 } : undefined)),
    );
    const renewals = () => a.store.calls.filter((c) => c.operation === 'renew' && c.leaseKey === 'stream').length;
    while (renewals() < 2) await runClocks([a.w.clock], [a.store], 10);
    await runClocks([a.w.clock], [a.store], RENEW / 2);

    // Act
    const written = a.w.coordinator.checkpoint('stream', CP).catch((error: unknown) => error);
    await runClocks([a.w.clock], [a.store], RENEW / 2 + 100);

    // Assess
    const result = await written;
    t.notOk(result instanceof Error, `the checkpoint is written (${String(result)})`);
    t.same(a.drops, [], 'never given up');
    t.ok(a.w.coordinator.holds('stream'));
    const stored = await table.get('stream');
    t.equal(stored?.leaseOwner, 'a');
    t.same(stored?.checkpoint, CP);
    const writes = a.store.calls.filter(
      (c) => c.leaseKey === 'stream' && ['renew', 'checkpoint'].includes(c.operation),
    );
    t.same(
      writes.map((c) => `${c.operation} ${c.outcome}`),
      ['renew ok', 'renew aborted', 'checkpoint lost', 'checkpoint ok'],
      'refused on the old counter, sent again; it renewed the lease, so the renewal due next is an interval after it',
    );
  },
);

t.test(
  'a renewal that hangs: the lease is given up at its cut-off, on a timer of its own, before another worker takes it',
  async (t) => {
    // Prepare: from its second renewal on, the stream's renewals never answer; the sync lease's renew as usual.
    const table = await (await leaseStack(t)).table();
    await createLeases(table, ['stream']);
    const a = timedWorker(
      table,
      'a',
      slow((c) => (c.operation === 'renew' && c.leaseKey === 'stream' && c.nth >= 2 ? { outcome: 'hang' } : undefined)),
    );
    const b = timedWorker(table, 'b', slow());
    await startInOrder(t, a, b, 200);

    // Act
    await runClocks([a.w.clock, b.w.clock], [a.store, b.store], 3 * FAILOVER);

    // Assess
    const [firstTake, secondWrite] = a.store.calls.filter((c) => c.leaseKey === 'stream' && c.operation !== 'list');
    const sent = secondWrite!.sentAt - (a.w.clock.now() - a.elapsed());
    const [drop] = a.drops;
    // Whoever takes it next, a itself included: it too sees the lease expired.
    const [take] = [...a.takes.slice(1), ...b.takes].filter((x) => x.leaseKey === 'stream').sort((x, y) => x.at - y.at);
    t.same(
      [firstTake?.operation, secondWrite?.operation, secondWrite?.outcome],
      ['take', 'renew', 'ok'],
      'the first renewal succeeded',
    );
    t.same(drop && { leaseKey: drop.leaseKey, reason: drop.reason }, { leaseKey: 'stream', reason: 'expired' });
    const cutoff = sent + FAILOVER - MARGIN;
    t.ok(drop!.at >= cutoff && drop!.at <= cutoff + 10, `given up at ${drop!.at} ms, its cut-off being ${cutoff} ms`);
    t.ok(take && take.at >= sent + FAILOVER, `taken again at ${take?.at} ms, failover after the last write was sent`);
    t.equal(take?.handoverDelayMillis, 0, 'an expired lease is read at once');
    t.ok(
      take!.at - drop!.at >= MARGIN - 10,
      `${take!.at - drop!.at} ms between the holder stopping and the taker reading`,
    );
    t.equal(a.w.coordinator.holdsSyncLease, true, 'the other lease kept renewing meanwhile');
    t.ok(
      a.w.coordinator.counters.renewed >= Math.floor((3 * FAILOVER) / RENEW),
      `${a.w.coordinator.counters.renewed} renewals despite the hung one`,
    );
  },
);

t.test(
  'a worker cut off from the table keeps its leases until their cut-off, ' +
    'then gives them up before anyone may take them',
  async (t) => {
    // Prepare: after 4 s every call of a fails, fast.
    const table = await (await leaseStack(t)).table();
    await createLeases(table, ['stream']);
    let cutOff = false;
    const a = timedWorker(
      table,
      'a',
      slow(() => (cutOff ? { ms: 5, outcome: 'fail' } : undefined)),
    );
    const b = timedWorker(table, 'b', slow());
    await startInOrder(t, a, b, 200);
    await runClocks([a.w.clock, b.w.clock], [a.store, b.store], 4_000 - 200);

    // Act
    cutOff = true;
    const sent = lastWriteSent(a, 'stream');
    const cutoff = sent + FAILOVER - MARGIN;
    await runClocks([a.w.clock, b.w.clock], [a.store, b.store], cutoff - 1 - a.elapsed(), 1);
    const heldBefore = a.w.keys();
    const failuresBefore = a.store.calls.filter(
      (c) => c.operation === 'renew' && c.leaseKey === 'stream' && c.outcome === 'fail',
    ).length;
    await runClocks([a.w.clock, b.w.clock], [a.store, b.store], 1, 1);
    const heldAtCutoff = a.w.keys();
    await runClocks([a.w.clock, b.w.clock], [a.store, b.store], 2 * FAILOVER);

    // Assess
    t.same(heldBefore, ['stream'], `held 1 ms before the cut-off, after ${failuresBefore} failed renewals`);
    t.equal(failuresBefore, 2, 'two failures in a row do not drop it by themselves');
    t.same(heldAtCutoff, [], 'given up at the cut-off');
    t.same(a.drops, [{ leaseKey: 'stream', reason: 'expired', at: cutoff }]);
    t.equal(a.w.coordinator.holdsSyncLease, false, 'the sync lease too');
    const take = b.takes.find((x) => x.leaseKey === 'stream');
    t.ok(take && take.at >= sent + FAILOVER, `b took it at ${take?.at} ms, not before ${sent + FAILOVER}`);
    t.equal(b.w.coordinator.holdsSyncLease, true);
    t.ok(
      a.w.errors.length >= 2 && a.w.errors.every((e) => (e as LeaseError).code === 'LEASE_TABLE_FAILED'),
      'failures reported to onError',
    );
  },
);

t.test(
  'a stolen lease: the thief waits until the victim has stopped, even a victim cut off from the table right after',
  async (t) => {
    // Prepare: a holds both streams; once b has stolen one, every renewal of a hangs.
    const table = await (await leaseStack(t)).table();
    await createLeases(table, ['x', 'y']);
    let partitioned = false;
    const a = timedWorker(
      table,
      'a',
      slow((c) => (partitioned && c.operation === 'renew' ? { outcome: 'hang' } : undefined)),
    );
    const b = timedWorker(table, 'b', slow());
    await startInOrder(t, a, b, 2_000);

    // Act
    while (b.takes.length === 0 && b.elapsed() < 3 * FAILOVER)
      await runClocks([a.w.clock, b.w.clock], [a.store, b.store], 10);
    partitioned = true;
    const [steal] = b.takes;
    await runClocks([a.w.clock, b.w.clock], [a.store, b.store], FAILOVER);

    // Assess
    t.ok(steal?.stolen, `b stole ${steal?.leaseKey}`);
    const sent = lastWriteSent(a, steal!.leaseKey);
    const readsFrom = steal!.at + steal!.handoverDelayMillis;
    const drop = a.drops.find((d) => d.leaseKey === steal!.leaseKey);
    t.same(
      drop && { reason: drop.reason },
      { reason: 'expired' },
      'a never learnt of the steal, and gave the lease up by itself',
    );
    t.ok(readsFrom >= sent + FAILOVER, `b reads from ${readsFrom} ms, failover after a's last write (${sent} ms)`);
    t.ok(drop!.at < readsFrom, `a stopped at ${drop!.at} ms, before b reads`);
    t.ok(
      steal!.handoverDelayMillis > RENEW + 500,
      `waits ${steal!.handoverDelayMillis} ms, more than a renewal interval`,
    );
  },
);

t.test(
  'a stolen lease handed back during its handover is only dropped: a third worker does not read it at once',
  async (t) => {
    for (const late of [false, true]) {
      // Prepare: b steals one of a's two streams; a is still reading it until its next renewal.
      const table = await (await leaseStack(t)).table(late ? 'late' : 'early');
      await createLeases(table, ['x', 'y']);
      const a = worker(table, 'a');
      const b = worker(table, 'b');
      await a.coordinator.runOnce();
      await b.coordinator.runOnce();
      const [stolen] = b.handovers;

      // Act: b shuts down, during its handover or (control) after it; a third worker starts.
      if (late) b.clock.increment(stolen!.handoverDelayMillis);
      await b.coordinator.release(stolen!.leaseKey);
      const c = worker(table, 'c');
      await c.coordinator.runOnce();

      // Assess
      const when = late ? 'after the handover' : 'during the handover';
      t.ok(
        stolen?.stolen && stolen.handoverDelayMillis > 0,
        `b stole ${stolen?.leaseKey}, to read it after ${stolen?.handoverDelayMillis} ms`,
      );
      t.same(b.lost, [{ leaseKey: stolen!.leaseKey, reason: 'released' }], `${when}: its reader told to stop`);
      t.equal(b.coordinator.counters.released, late ? 1 : 0, `${when}: release ${late ? '' : 'not '}written`);
      t.same(c.keys(), late ? [stolen!.leaseKey] : [], `${when}: c ${late ? 'took it at once' : 'took nothing'}`);
      if (!late)
        t.equal(
          (await table.get(stolen!.leaseKey))?.leaseOwner,
          'b',
          'the table still names b: it expires for others after failoverTimeMillis',
        );
    }
  },
);

t.test('a slow lease sync does not hold up the renewals of the sync lease, which would then expire', async (t) => {
  // Prepare: creating a lease takes 4 s (a throttled table, retried): three of them outlast the sync lease's cut-off.
  const table = await (await leaseStack(t)).table();
  const a = timedWorker(
    table,
    'a',
    slow((c) => (c.operation === 'createLease' && c.leaseKey !== '__sync__' ? { ms: 4_000 } : undefined)),
  );
  a.w.coordinator.start();
  t.teardown(() => a.w.coordinator.stop());
  await runClocks([a.w.clock], [a.store], 200);

  // Act
  const syncing = a.w.coordinator.syncStreamLeases(['s1', 's2', 's3']);
  let result: unknown;
  void syncing.then((r) => (result = r));
  await runClocks([a.w.clock], [a.store], 13_000);

  // Assess
  t.same(result, { holdsSyncLease: true, created: ['s1', 's2', 's3'], deleted: [] });
  t.equal(a.w.coordinator.holdsSyncLease, true, 'the sync lease is still held');
  const syncRenewals = a.store.calls.filter(
    (c) => c.operation === 'renew' && c.leaseKey === '__sync__' && c.outcome === 'ok',
  );
  t.ok(syncRenewals.length >= 3, `renewed ${syncRenewals.length} times during the sync`);
});

t.test('a lease sync stops part way once the sync lease is lost, deleting nothing more', async (t) => {
  // Prepare: a holds the sync lease and syncs slowly (4 s a creation); its other writes fail from the start of the
  // sync.
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['old-1', 'old-2']);
  let cutOff = false;
  const a = timedWorker(
    table,
    'a',
    slow((c) => {
      if (c.operation === 'createLease' && c.leaseKey !== '__sync__') return { ms: 4_000 };
      return cutOff && ['renew', 'take', 'checkpoint'].includes(c.operation) ? { ms: 40, outcome: 'fail' } : undefined;
    }),
  );
  a.w.coordinator.start();
  t.teardown(() => a.w.coordinator.stop());
  await runClocks([a.w.clock], [a.store], 200);

  // Act
  cutOff = true;
  let result: unknown;
  void a.w.coordinator.syncStreamLeases(['n1', 'n2', 'n3', 'n4']).then((r) => (result = r));
  await runClocks([a.w.clock], [a.store], 14_000);

  // Assess: the sync lease expired at 8.4 s, during the third creation.
  t.equal(a.w.coordinator.holdsSyncLease, false, 'the sync lease expired while syncing');
  t.same(
    result,
    { holdsSyncLease: false, created: ['n1', 'n2', 'n3'], deleted: [] },
    'stopped at the next step once it was lost',
  );
  const keys = (await table.list()).map((l) => l.leaseKey).sort();
  t.same(
    keys,
    ['__sync__', 'n1', 'n2', 'n3', 'old-1', 'old-2'],
    'nothing deleted by a worker that no longer runs discovery',
  );
});

// ---------------------------------------------------------------- reads

t.test('take passes list with an eventually consistent Scan; syncStreamLeases reads strongly consistent', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['stream']);
  const reads: (boolean | undefined)[] = [];
  const a = worker(
    delegate(table, {
      list: (options) => {
        reads.push(options?.consistentRead);
        return table.list(options);
      },
    }),
    'a',
  );

  // Act
  await a.coordinator.runOnce();
  const byTakes = [...reads];
  reads.length = 0;
  await a.coordinator.syncStreamLeases(['stream']);

  // Assess
  t.same(byTakes, [false]);
  t.same(reads, [true]);
});
