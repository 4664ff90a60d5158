// Lease items a KIT user, another tool or an older version left malformed, against the DynamoDB emulator: each
// problem is reported (LEASE_ITEM_INVALID, naming the stream, the field and the value), the checkpoint is read as
// exactly as it can be, and a lease whose counter is not a number is still taken, by one worker only.

import { type AttributeValue, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import t, { type Test } from 'tap';
import { LeaseError } from '../../../src/actors/lease/lease-errors.js';
import type { LeaseTable } from '../../../src/actors/lease/lease-table.js';
import { FAILOVER, type LeaseStack, leaseStack, ownersInTable, type Worker, worker } from './lease-fixtures.js';

const FRAGMENT = '91343852333181432392682062607743920146264316306';
const TIME = 1_700_000_000_123;

/** Writes `item` as it is, attribute types and all, the way a hand edit in the console would. */
async function put(stack: LeaseStack, item: Record<string, AttributeValue>): Promise<void> {
  await stack.client.send(new PutItemCommand({ TableName: 'leases', Item: item }));
}

async function raw(stack: LeaseStack, leaseKey: string): Promise<Record<string, AttributeValue> | undefined> {
  const out = await stack.client.send(
    new GetItemCommand({ TableName: 'leases', Key: { leaseKey: { S: leaseKey } }, ConsistentRead: true }),
  );
  return out.Item;
}

/** The LEASE_ITEM_INVALID errors a worker reported, as messages. */
const invalid = (w: Worker): string[] =>
  w.errors
    .filter((e): e is LeaseError => e instanceof LeaseError && e.code === 'LEASE_ITEM_INVALID')
    .map((e) => `${e.leaseKey}: ${e.message}`);

async function setUp(t: Test): Promise<{ stack: LeaseStack; table: LeaseTable }> {
  const stack = await leaseStack(t);
  const table = await stack.table();
  return { stack, table };
}

t.test('a serverTimestamp spelled as a string is read as its number, and reported', async (t) => {
  // Prepare
  const { stack, table } = await setUp(t);
  await put(stack, {
    leaseKey: { S: 'stream-a' },
    leaseCounter: { N: '3' },
    checkpoint: { M: { fragmentNumber: { S: FRAGMENT }, serverTimestamp: { S: String(TIME) } } },
  });
  const a = worker(table, 'a');

  // Act
  await a.coordinator.runOnce();

  // Assess
  t.same(a.acquired[0]?.checkpoint, { fragmentNumber: FRAGMENT, serverTimestamp: TIME }, 'the checkpoint is kept');
  t.same(invalid(a), [`stream-a: lease item stream-a: checkpoint.serverTimestamp is "${TIME}"; read as ${TIME}`]);
});

t.test(
  'a serverTimestamp that is no number: a completed fragment is resumed after by its number alone; ' +
    'an inclusive one is resumed after, not at',
  async (t) => {
    // Prepare
    const { stack, table } = await setUp(t);
    const checkpoint = (inclusive: boolean): AttributeValue => ({
      M: {
        fragmentNumber: { S: FRAGMENT },
        serverTimestamp: { S: 'yesterday' },
        ...(inclusive ? { inclusive: { BOOL: true } } : {}),
      },
    });
    await put(stack, { leaseKey: { S: 'done' }, leaseCounter: { N: '0' }, checkpoint: checkpoint(false) });
    await put(stack, { leaseKey: { S: 'first' }, leaseCounter: { N: '0' }, checkpoint: checkpoint(true) });
    const a = worker(table, 'a');

    // Act
    await a.coordinator.runOnce();

    // Assess
    const acquired = Object.fromEntries(a.acquired.map((l) => [l.leaseKey, l.checkpoint]));
    t.same(Object.keys(acquired).sort(), ['done', 'first'], 'both streams are read');
    t.equal(acquired.done?.fragmentNumber, FRAGMENT);
    t.ok(Number.isNaN(acquired.done?.serverTimestamp), 'the time is unknown');
    t.equal(acquired.done?.inclusive, undefined, 'resumed after the fragment, as written');
    t.equal(acquired.first?.fragmentNumber, FRAGMENT);
    t.equal(acquired.first?.inclusive, undefined, 'without a time the fragment cannot be found: resumed after it');
    const reported = invalid(a);
    t.equal(reported.length, 2);
    t.match(
      reported.find((m) => m.startsWith('done:')),
      /checkpoint\.serverTimestamp is "yesterday"; not a number/,
    );
    t.match(
      reported.find((m) => m.startsWith('first:')),
      /checkpoint\.serverTimestamp is "yesterday"; .*resumes after that fragment instead/,
    );
  },
);

t.test(
  'a checkpoint with no usable fragment number: the stream is read from the configured start, said loudly',
  async (t) => {
    // Prepare
    const { stack, table } = await setUp(t);
    await put(stack, {
      leaseKey: { S: 'stream-a' },
      leaseCounter: { N: '5' },
      checkpoint: { M: { fragmentNumber: { BOOL: true }, serverTimestamp: { N: String(TIME) } } },
    });
    await put(stack, { leaseKey: { S: 'stream-b' }, leaseCounter: { N: '5' }, checkpoint: { S: 'TRIM_HORIZON' } });
    const a = worker(table, 'a');

    // Act
    await a.coordinator.runOnce();
    const written = await a.coordinator.checkpoint('stream-a', { fragmentNumber: FRAGMENT, serverTimestamp: TIME });

    // Assess
    t.same(
      a.acquired.map((l) => [l.leaseKey, l.checkpoint]).sort(),
      [
        ['stream-a', undefined],
        ['stream-b', undefined],
      ],
      'both are read, as never checkpointed',
    );
    t.same(invalid(a), [
      'stream-a: lease item stream-a: checkpoint.fragmentNumber is true; not a fragment number: the checkpoint ' +
        'cannot be used: the stream is read from the configured startSelectorType (NOW by default) as if never ' +
        'checkpointed, and its first checkpoint replaces this one; what came in between is not read',
      'stream-b: lease item stream-b: checkpoint is "TRIM_HORIZON"; not a map: the checkpoint cannot be used: the ' +
        'stream is read from the configured startSelectorType (NOW by default) as if never checkpointed, and its ' +
        'first checkpoint replaces this one; what came in between is not read',
    ]);
    t.same(written.checkpoint, { fragmentNumber: FRAGMENT, serverTimestamp: TIME }, 'its first checkpoint is written');
  },
);

t.test('a long value is quoted cut short', async (t) => {
  // Prepare
  const { stack, table } = await setUp(t);
  await put(stack, {
    leaseKey: { S: 'stream-a' },
    leaseCounter: { N: '0' },
    checkpoint: { M: { fragmentNumber: { S: FRAGMENT }, serverTimestamp: { N: String(TIME) } } },
    ownerSwitchesSinceCheckpoint: { S: 'x'.repeat(5000) },
  });

  // Act
  const lease = await table.get('stream-a');

  // Assess
  t.equal(lease?.problems?.length, 1);
  t.equal(lease?.problems?.[0]?.field, 'ownerSwitchesSinceCheckpoint');
  t.equal(lease?.problems?.[0]?.found, `"${'x'.repeat(119)}... (5002 characters)`);
});

t.test(
  'a leaseCounter that is not a number: reported, and the stream taken and read, conditional on the value found',
  async (t) => {
    // Prepare
    const { stack, table } = await setUp(t);
    await put(stack, {
      leaseKey: { S: 'odd' },
      leaseCounter: { S: '7' },
      ownerSwitchesSinceCheckpoint: { S: 'many' },
      checkpoint: { M: { fragmentNumber: { S: FRAGMENT }, serverTimestamp: { N: String(TIME) } } },
    });
    await put(stack, { leaseKey: { S: 'missing' } });
    await table.createLease('fine');
    const a = worker(table, 'a');

    // Act
    await a.coordinator.runOnce();
    await a.coordinator.checkpoint('odd', { fragmentNumber: `${FRAGMENT.slice(0, -1)}7`, serverTimestamp: TIME + 1 });
    a.clock.increment(FAILOVER / 2);
    await a.coordinator.runOnce();

    // Assess
    t.same(a.keys(), ['fine', 'missing', 'odd'], 'every stream is read, the well-formed one too');
    t.same(a.acquired.find((l) => l.leaseKey === 'odd')?.checkpoint, {
      fragmentNumber: FRAGMENT,
      serverTimestamp: TIME,
    });
    const odd = await raw(stack, 'odd');
    t.same(odd?.leaseCounter, { N: '10' }, 'a number from then on: 8 at the take, then a checkpoint and a renewal');
    t.same(odd?.ownerSwitchesSinceCheckpoint, { N: '0' });
    t.same((await raw(stack, 'missing'))?.leaseCounter, { N: '2' }, 'a missing counter is taken as 1, then renewed');
    t.same(a.lost, [], 'held since');
    t.same(invalid(a), [
      'missing: lease item missing: leaseCounter is absent; not an integer number: the lease is taken over like any ' +
        'expired or ownerless one, by a write conditional on this exact value that sets the counter to 1; until ' +
        'then nobody reads it',
      'odd: lease item odd: leaseCounter is "7"; not an integer number: the lease is taken over like any expired ' +
        'or ownerless one, by a write conditional on this exact value that sets the counter to 8; until then ' +
        'nobody reads it',
      'odd: lease item odd: ownerSwitchesSinceCheckpoint is "many"; read as 0; the next take sets it afresh',
    ]);
  },
);

t.test(
  'a malformed counter with an owner is taken only once it has not changed for failoverTimeMillis, and by one ' +
    'worker only',
  async (t) => {
    // Prepare
    const { stack, table } = await setUp(t);
    await put(stack, { leaseKey: { S: 'odd' }, leaseCounter: { S: 'seven' }, leaseOwner: { S: 'ghost' } });
    const a = worker(table, 'a');
    const b = worker(table, 'b');
    const both = () => Promise.all([a.coordinator.runOnce(), b.coordinator.runOnce()]);
    const tick = (ms: number) => {
      a.clock.increment(ms);
      b.clock.increment(ms);
    };

    // Act
    await both();
    tick(FAILOVER - 1);
    await both();
    const beforeFailover = [...a.keys(), ...b.keys()];
    // Its holder (another version, say) moves it: seen anew, so the wait starts again.
    await stack.client.send(
      new UpdateItemCommand({
        TableName: 'leases',
        Key: { leaseKey: { S: 'odd' } },
        UpdateExpression: 'SET leaseCounter = :v',
        ExpressionAttributeValues: { ':v': { S: 'eight' } },
      }),
    );
    tick(1);
    await both();
    tick(FAILOVER - 1);
    await both();
    const afterMove = [...a.keys(), ...b.keys()];
    tick(1);
    await both();

    // Assess
    t.same(beforeFailover, [], 'not taken from a live-looking owner');
    t.same(afterMove, [], 'a change of the value found restarts the wait');
    t.same([...a.keys(), ...b.keys()], ['odd'], 'both tried at once: exactly one holds it');
    const owner = a.keys().length > 0 ? 'a' : 'b';
    t.same(await ownersInTable(table), { odd: owner });
    t.same((await raw(stack, 'odd'))?.leaseCounter, { N: '1' });
    t.match(invalid(a), [/^odd: .*leaseCounter is "seven"/, /^odd: .*leaseCounter is "eight"/]);
  },
);

t.test('the table: a take or delete on a malformed counter read before it changed fails', async (t) => {
  // Prepare
  const { stack, table } = await setUp(t);
  await put(stack, { leaseKey: { S: 'odd' }, leaseCounter: { S: '7' } });
  const stale = (await table.get('odd'))!;
  await put(stack, { leaseKey: { S: 'odd' }, leaseCounter: { S: '9' } });

  // Act
  const take = await table.take(stale, 'w1').catch((error: unknown) => error);
  const deleted = await table.deleteIfUnchanged(stale);
  const fresh = (await table.get('odd'))!;
  const taken = await table.take(fresh, 'w1');
  await put(stack, { leaseKey: { S: 'gone' }, leaseCounter: { BOOL: true } });
  const removed = await table.deleteIfUnchanged((await table.get('gone'))!);

  // Assess
  t.match(take, { code: 'LEASE_LOST', message: /found owner \(none\) and counter "9", expected counter "7"/ });
  t.equal(deleted, false);
  t.same(stale.malformedCounter, { value: '7' });
  t.ok(stale.leaseCounter < 0, 'the stand-in is negative');
  t.not(fresh.leaseCounter, stale.leaseCounter, 'and moves with the value found');
  t.match(taken, { leaseOwner: 'w1', leaseCounter: 10 });
  t.equal(taken.malformedCounter, undefined);
  t.equal(taken.problems, undefined);
  t.equal(removed, true, "a departed worker's malformed item can still be deleted");
});

t.test('each problem is reported once a minute while it stays, and at once when its value changes', async (t) => {
  // Prepare
  const { stack, table } = await setUp(t);
  await put(stack, { leaseKey: { S: 'odd' }, leaseCounter: { S: 'x' }, leaseOwner: { S: 'ghost' } });
  const a = worker(table, 'a', { failoverTimeMillis: 1_000_000 });

  // Act
  const counts: number[] = [];
  for (let pass = 0; pass < 4; pass++) {
    await a.coordinator.runOnce();
    counts.push(invalid(a).length);
    a.clock.increment(20_000);
  }
  await stack.client.send(
    new UpdateItemCommand({
      TableName: 'leases',
      Key: { leaseKey: { S: 'odd' } },
      UpdateExpression: 'SET leaseCounter = :v',
      ExpressionAttributeValues: { ':v': { S: 'y' } },
    }),
  );
  await a.coordinator.runOnce();
  counts.push(invalid(a).length);

  // Assess
  t.same(counts, [1, 1, 1, 2, 3]);
});

t.test("'leader' assignment: a malformed stream lease is assigned and read, and its checkpoint kept", async (t) => {
  // Prepare
  const { stack, table } = await setUp(t);
  await put(stack, {
    leaseKey: { S: 'odd' },
    leaseCounter: { S: '2' },
    checkpoint: { M: { fragmentNumber: { S: FRAGMENT }, serverTimestamp: { S: String(TIME) } } },
  });
  const workers = ['a', 'b'].map((id) => worker(table, id, { assignment: 'leader' }));

  // Act
  for (let round = 0; round < 4; round++) {
    for (const w of workers) await w.coordinator.runOnce();
    for (const w of workers) w.clock.increment(1000);
  }

  // Assess
  const holders = workers.filter((w) => w.keys().includes('odd'));
  t.equal(holders.length, 1, 'read by one worker');
  t.same(holders[0]?.acquired.find((l) => l.leaseKey === 'odd')?.checkpoint, {
    fragmentNumber: FRAGMENT,
    serverTimestamp: TIME,
  });
  const reported = workers.flatMap(invalid);
  t.ok(
    reported.some((m) => /^odd: .*leaseCounter is "2"/.test(m)),
    'the counter is reported',
  );
  t.ok(reported.some((m) => /^odd: .*checkpoint\.serverTimestamp is "1700000000123"; read as/.test(m)));
});

t.test('a sync lease with a malformed counter is taken over: discovery is not left without a runner', async (t) => {
  // Prepare
  const { stack, table } = await setUp(t);
  await put(stack, { leaseKey: { S: '__sync__' }, leaseCounter: { S: 'zero' } });
  const a = worker(table, 'a');

  // Act
  await a.coordinator.runOnce();

  // Assess
  t.equal(a.coordinator.holdsSyncLease, true);
  t.match(invalid(a), [/^__sync__: .*leaseCounter is "zero"/]);
});
