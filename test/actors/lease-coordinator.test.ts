// The lease coordinator against the DynamoDB emulator: renewal, failover judged on each worker's own
// clock, balancing by stealing one lease per pass, checkpoints, shutdown, the sync lease.

import t from 'tap';
import { LeaseCoordinator } from '../../src/actors/lease-coordinator.js';
import { LeaseError } from '../../src/actors/lease-errors.js';
import { FAILOVER, createLeases, delegate, leaseStack, ownersInTable, settle, worker, type Worker } from './lease-fixtures.js';

const CP = { fragmentNumber: '91343852333181432392682062607743920146264316306', serverTimestamp: 1_700_000_000_123 };
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

t.test('a worker that stops renewing loses its leases after failoverTimeMillis of the other worker\'s clock', async (t) => {
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
});

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
  t.same(workers.map((w) => w.coordinator.counters.stolen), stolen, 'no stealing once balanced');
  t.equal(workers.filter((w) => w.coordinator.holdsSyncLease).length, 1, 'the sync lease does not count towards the share');
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
  t.same(workers.flatMap((w) => w.lost.map((l) => l.reason)), ['taken', 'taken'], 'each victim told at its next renewal');
  t.same(workers.flatMap((w) => w.lost.map((l) => l.leaseKey)).sort(), [...d.keys()].sort());
});

t.test('a stolen lease: the old owner\'s onLost fires at its next renewal, and checkpointing it is refused', async (t) => {
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
});

t.test('a stolen lease: a checkpoint written before the old owner renews fails with LEASE_LOST and reports the loss', async (t) => {
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
});

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
  const later = { fragmentNumber: '91343852333181432392682062607743920146264316307', serverTimestamp: CP.serverTimestamp + 2000 };

  // Act
  const results = await Promise.allSettled([a.coordinator.checkpoint('stream', CP), a.coordinator.renewLeases(), a.coordinator.checkpoint('stream', later)]);

  // Assess
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled']);
  t.same(a.lost, []);
  t.same((await table.get('stream'))?.checkpoint, later);
  t.same(a.coordinator.held[0]?.checkpoint, later);
});

t.test('shutdown releases every lease and another worker takes them at its next pass, without waiting for failover', async (t) => {
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
  t.same(Object.values(owners).filter((o) => o === 'a'), [], 'no lease names a after shutdown');
  t.same(a.lost.map((l) => l.reason), ['taken', 'released', 'released'], 'the stolen one was lost before');
  t.equal(a.coordinator.counters.released, 3, 'two stream leases and the sync lease');
  t.equal(a.coordinator.counters.lost, 1, 'only the stolen lease counts as lost, releases do not');
  t.same(b.keys(), streams(3), 'b took them all with its clock unmoved');
  t.equal(b.coordinator.holdsSyncLease, true);
  t.same(a.keys(), [], 'a takes nothing after shutdown');
  await t.rejects(a.coordinator.checkpoint('stream-0', CP), { code: 'LEASE_NOT_HELD' });
});

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
  t.same(b.keys(), ['stream-0'], 'taken at b\'s first pass, not after failover');
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
  t.ok(workers.some((w) => w.keys().includes('stream-new')), 'the new stream lease is taken');
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
  t.ok(elapsed >= FAILOVER && elapsed <= FAILOVER + 2 * b.coordinator.takeIntervalMillis, 'within failover + 2 take intervals');
  t.same(b.errors, []);
});

t.test('a lease whose renewals keep failing is given up before another worker may take it', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await createLeases(table, ['stream']);
  let down = false;
  const flaky = delegate(table, {
    renew: (lease, owner) =>
      down ? Promise.reject(new LeaseError('LEASE_TABLE_FAILED', 'network down', { leaseKey: lease.leaseKey, owner })) : table.renew(lease, owner),
  });
  const a = worker(flaky, 'a');
  await a.coordinator.runOnce();
  down = true;

  // Act
  a.clock.increment(a.coordinator.renewIntervalMillis);
  await a.coordinator.renewLeases();
  const afterOneFailure = a.keys();
  a.clock.increment(a.coordinator.renewIntervalMillis);
  await a.coordinator.renewLeases();

  // Assess
  t.same(afterOneFailure, ['stream'], 'one failed renewal is tolerated');
  t.equal(a.coordinator.counters.lost, 1);
  t.same(a.lost, [{ leaseKey: 'stream', reason: 'expired' }]);
  t.equal(a.coordinator.holdsSyncLease, false);
  t.ok(a.errors.length >= 2 && a.errors.every((e) => (e as LeaseError).code === 'LEASE_TABLE_FAILED'), 'failures reported to onError');
});

t.test('bad options are refused with BAD_LEASE_OPTIONS', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  const make = (options: Partial<ConstructorParameters<typeof LeaseCoordinator>[0]>) => () => worker(table, 'a', options);

  // Act, Assess
  t.throws(make({ workerId: '' }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ failoverTimeMillis: 0 }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ renewIntervalMillis: FAILOVER }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ maxLeasesPerWorker: 0 }), { code: 'BAD_LEASE_OPTIONS' });
  t.throws(make({ maxLeasesPerWorker: 1.5 }), { code: 'BAD_LEASE_OPTIONS' });
});
