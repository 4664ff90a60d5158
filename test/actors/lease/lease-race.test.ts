// Safety of the lease scheme under contention: however two workers interleave, one lease has one holder.

import t from 'tap';
import { jittered, leaseStack, seededRandom, worker } from './lease-fixtures.js';

const ROUNDS = 50;

t.test('two coordinators racing for one lease never both win (50 interleaved races)', async (t) => {
  // Prepare
  const stack = await leaseStack(t);
  const random = seededRandom(4);
  const outcomes: string[] = [];
  let conflicts = 0;

  for (let round = 0; round < ROUNDS; round++) {
    const table = await stack.table(`race-${round}`);
    await table.createLease('stream');
    // Counts the takes that lost at DynamoDB's condition: races decided by the table, not by timing.
    const take = table.take.bind(table);
    table.take = (lease, owner) =>
      take(lease, owner).catch((error: unknown) => {
        conflicts++;
        throw error;
      });
    const a = worker(jittered(table, random), 'a', { random });
    const b = worker(jittered(table, random), 'b', { random });

    // Act
    await Promise.all([a.coordinator.runOnce(), b.coordinator.runOnce()]);
    // A second pass each, interleaved the other way: a loser must not get the lease while the winner renews.
    await Promise.all([b.coordinator.runOnce(), a.coordinator.runOnce()]);

    // Assess
    const holders = [a, b].filter((w) => w.coordinator.holds('stream')).map((w) => w.id);
    const syncHolders = [a, b].filter((w) => w.coordinator.holdsSyncLease).map((w) => w.id);
    const item = await table.get('stream');
    t.equal(holders.length, 1, `round ${round}: exactly one holder (${holders.join(',')})`);
    t.equal(item?.leaseOwner, holders[0], `round ${round}: the table names the holder`);
    t.equal(a.acquired.length + b.acquired.length, 1, `round ${round}: onAcquired fired once`);
    t.equal(syncHolders.length, 1, `round ${round}: one sync lease holder`);
    outcomes.push(holders[0]!);
  }
  // Both sides won some races, or the interleaving never really varied.
  t.ok(outcomes.includes('a') && outcomes.includes('b'), `winners vary: ${outcomes.join('')}`);
  t.ok(conflicts >= ROUNDS / 5, `many races were decided by a failed condition (${conflicts} takes lost)`);
});

t.test('concurrent takes of the same read lease: exactly one succeeds, the other gets LEASE_LOST', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();

  for (let round = 0; round < ROUNDS; round++) {
    const key = `stream-${round}`;
    await table.createLease(key);
    const read = (await table.get(key))!;

    // Act
    const results = await Promise.allSettled([table.take(read, 'a'), table.take(read, 'b')]);

    // Assess
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    t.equal(won.length, 1, `round ${round}: one take succeeded`);
    t.equal(lost[0]?.reason?.code, 'LEASE_LOST', `round ${round}: the other lost`);
    t.equal(
      (await table.get(key))?.leaseOwner,
      (won[0] as PromiseFulfilledResult<{ leaseOwner?: string }>).value.leaseOwner,
    );
  }
});
