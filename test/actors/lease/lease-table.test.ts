// The DynamoDB lease table against the emulator: creation, and every write conditional on the counter.

import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import t from 'tap';
import { LeaseError } from '../../../src/actors/lease/lease-errors.js';
import { LeaseTable, parseLease } from '../../../src/actors/lease/lease-table.js';
import { leaseStack } from './lease-fixtures.js';

const CP = { fragmentNumber: '91343852333181432392682062607743920146264316306', serverTimestamp: 1_700_000_000_123 };

t.test('create makes a PAY_PER_REQUEST table keyed by leaseKey, and opens it when it exists', async (t) => {
  // Prepare
  const stack = await leaseStack(t);

  // Act
  const first = await LeaseTable.create({ client: stack.client, tableName: 'app' });
  await first.createLease('stream-a');
  const second = await LeaseTable.create({ client: stack.client, tableName: 'app' });

  // Assess
  const { Table } = await stack.client.send(new DescribeTableCommand({ TableName: 'app' }));
  t.equal(Table?.TableStatus, 'ACTIVE');
  t.equal(Table?.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
  t.same(Table?.KeySchema, [{ AttributeName: 'leaseKey', KeyType: 'HASH' }]);
  t.same(await second.list(), [{ leaseKey: 'stream-a', leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 }]);
});

t.test('create refuses a table of that name keyed otherwise', async (t) => {
  // Prepare
  const stack = await leaseStack(t);
  await stack.client.send(
    new CreateTableCommand({
      TableName: 'other',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );

  // Act
  const opening = LeaseTable.create({ client: stack.client, tableName: 'other' });

  // Assess
  await t.rejects(opening, { name: 'LeaseError', code: 'LEASE_TABLE_INVALID' });
});

t.test('createLease creates once and reports an existing lease as not created', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();

  // Act
  const created = await table.createLease('stream-a');
  const again = await table.createLease('stream-a');

  // Assess
  t.equal(created, true);
  t.equal(again, false);
  t.same(await table.get('stream-a'), { leaseKey: 'stream-a', leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 });
});

t.test('take sets the owner and bumps the counter; a take from a stale read fails with LEASE_LOST', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await table.createLease('stream-a');
  const read = (await table.get('stream-a'))!;

  // Act
  const taken = await table.take(read, 'w1');
  const stale = table.take(read, 'w2');

  // Assess
  t.same(taken, { leaseKey: 'stream-a', leaseOwner: 'w1', leaseCounter: 1, ownerSwitchesSinceCheckpoint: 1 });
  const error = (await stale.catch((e: unknown) => e)) as LeaseError;
  t.type(error, LeaseError);
  t.equal(error.code, 'LEASE_LOST');
  t.equal(error.leaseKey, 'stream-a');
  t.equal(error.owner, 'w2');
  t.equal(error.current?.leaseOwner, 'w1');
  t.match(error.message, /take of lease stream-a by w2 failed: found owner w1 and counter 1, expected counter 0/);
  t.equal((error.cause as Error).name, 'ConditionalCheckFailedException');
  t.same(await table.get('stream-a'), taken);
});

t.test('take by the current owner does not count as an owner switch', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await table.createLease('stream-a');
  const mine = await table.take((await table.get('stream-a'))!, 'w1');

  // Act
  const again = await table.take(mine, 'w1');

  // Assess
  t.equal(again.leaseCounter, 2);
  t.equal(again.ownerSwitchesSinceCheckpoint, 1);
});

t.test('renew bumps the counter for its owner only', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await table.createLease('stream-a');
  const held = await table.take((await table.get('stream-a'))!, 'w1');

  // Act
  const renewed = await table.renew(held, 'w1');
  const again = await table.renew(renewed, 'w1');
  const byOther = table.renew(again, 'w2');
  // Two writes behind: one behind by the same owner is indistinguishable from our own retried write.
  const stale = table.renew(held, 'w1');

  // Assess
  t.equal(renewed.leaseCounter, 2);
  t.equal(again.leaseCounter, 3);
  t.equal(again.leaseOwner, 'w1');
  await t.rejects(byOther, { code: 'LEASE_LOST', owner: 'w2' });
  await t.rejects(stale, { code: 'LEASE_LOST', owner: 'w1' });
  t.equal((await table.get('stream-a'))?.leaseCounter, 3);
});

t.test('checkpoint stores the checkpoint, bumps the counter and resets the owner switches', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await table.createLease('stream-a');
  const held = await table.take((await table.get('stream-a'))!, 'w1');

  // Act
  const checkpointed = await table.checkpoint(held, 'w1', CP);
  const stale = table.checkpoint(held, 'w1', { fragmentNumber: '1', serverTimestamp: 1 });

  // Assess
  t.same(checkpointed, {
    leaseKey: 'stream-a',
    leaseOwner: 'w1',
    leaseCounter: 2,
    checkpoint: CP,
    ownerSwitchesSinceCheckpoint: 0,
  });
  await t.rejects(stale, { code: 'LEASE_LOST' });
  t.same((await table.get('stream-a'))?.checkpoint, CP);
});

t.test(
  'an inclusive checkpoint is stored and read back as inclusive; the plain one at its fragment replaces it',
  async (t) => {
    // Prepare
    const table = await (await leaseStack(t)).table();
    await table.createLease('stream-a');
    const held = await table.take((await table.get('stream-a'))!, 'w1');
    const at = { ...CP, inclusive: true as const };

    // Act
    const first = await table.checkpoint(held, 'w1', at);
    const stored = await table.get('stream-a');
    const listed = await table.list();
    const taken = await table.take(await table.release(first, 'w1'), 'w2');
    const completed = await table.checkpoint(taken, 'w2', { ...CP, keyframesSeen: 1 });

    // Assess
    t.same(first.checkpoint, at);
    t.same(stored?.checkpoint, at, 'get reads it back inclusive');
    t.same(listed[0]?.checkpoint, at, 'so does list');
    t.same(taken.checkpoint, at, 'the next owner takes it inclusive');
    t.same(
      (await table.get('stream-a'))?.checkpoint,
      { ...CP, keyframesSeen: 1 },
      'the plain checkpoint leaves no inclusive flag behind',
    );
    t.same(completed.checkpoint, { ...CP, keyframesSeen: 1 });
  },
);

t.test(
  'parseLease: a checkpoint without inclusive resumes after its fragment; another value than true is reported, ' +
    'and resumes at it (read again rather than skipped)',
  async (t) => {
    const item = (checkpoint: Record<string, unknown>) =>
      parseLease({ leaseKey: 'k', leaseCounter: 1, checkpoint: { ...CP, ...checkpoint } });
    t.same(item({ inclusive: true })?.checkpoint, { ...CP, inclusive: true });
    t.same(item({})?.checkpoint, CP);
    t.same(item({ inclusive: false })?.checkpoint, CP);
    t.same(item({ inclusive: false })?.problems, undefined);
    const odd = item({ inclusive: 'true' });
    t.same(odd?.checkpoint, { ...CP, inclusive: true });
    t.match(odd?.problems, [{ field: 'checkpoint.inclusive', found: '"true"', handling: /read as true/ }]);
  },
);

t.test("sampling by time: the checkpoint's next tick is stored and read back; a malformed one dropped", async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await table.createLease('stream-a');
  const held = await table.take((await table.get('stream-a'))!, 'w1');
  const at = { ...CP, keyframesSeen: 7, nextSampleAt: 1_700_000_002_000 };

  // Act
  const written = await table.checkpoint(held, 'w1', at);
  const stored = await table.get('stream-a');
  const spelled = parseLease({ leaseKey: 'k', leaseCounter: 1, checkpoint: { ...CP, nextSampleAt: '1700000002000' } });
  const bad = parseLease({ leaseKey: 'k', leaseCounter: 1, checkpoint: { ...CP, nextSampleAt: 'soon' } });

  // Assess
  t.same(written.checkpoint, at);
  t.same(stored?.checkpoint, at, 'a new owner reads the next tick back');
  t.same(spelled?.checkpoint, { ...CP, nextSampleAt: 1_700_000_002_000 }, 'a tick spelled as a string is read');
  t.match(spelled?.problems, [{ field: 'checkpoint.nextSampleAt', found: '"1700000002000"' }], 'and reported');
  t.same(bad?.checkpoint, CP, 'a malformed next tick reads as absent: sampling starts afresh');
  t.match(bad?.problems, [{ field: 'checkpoint.nextSampleAt', found: '"soon"', handling: /starts afresh/ }]);
});

t.test('release clears the owner, keeps the checkpoint, and lets another worker take the lease', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await table.createLease('stream-a');
  const held = await table.checkpoint(await table.take((await table.get('stream-a'))!, 'w1'), 'w1', CP);

  // Act
  const released = await table.release(held, 'w1');
  const taken = await table.take(released, 'w2');

  // Assess
  t.same(released, { leaseKey: 'stream-a', leaseCounter: 3, checkpoint: CP, ownerSwitchesSinceCheckpoint: 0 });
  t.same(taken, {
    leaseKey: 'stream-a',
    leaseOwner: 'w2',
    leaseCounter: 4,
    checkpoint: CP,
    ownerSwitchesSinceCheckpoint: 1,
  });
});

t.test('a write on a deleted lease fails with LEASE_LOST and no current lease', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await table.createLease('stream-a');
  const held = await table.take((await table.get('stream-a'))!, 'w1');
  await table.deleteLease('stream-a');

  // Act
  const renewal = table.renew(held, 'w1');
  const take = table.take(held, 'w2');

  // Assess
  const error = (await renewal.catch((e: unknown) => e)) as LeaseError;
  t.equal(error.code, 'LEASE_LOST');
  t.equal(error.current, undefined);
  t.match(error.message, /no longer exists/);
  await t.rejects(take, { code: 'LEASE_LOST' });
  t.same(await table.list(), [], 'the take did not recreate the item');
});

t.test('a write the SDK sent twice (answer lost, retried) is recognised as having landed', async (t) => {
  // Prepare
  const stack = await leaseStack(t);
  const table = await stack.table();
  await table.createLease('stream-a');
  const held = await table.take((await table.get('stream-a'))!, 'w1');
  // Sends every UpdateItem twice and answers with the second outcome, as a retry after a lost answer does.
  stack.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'UpdateItemCommand') await next(args);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'duplicateUpdates' },
  );

  // Act
  const renewed = await table.renew(held, 'w1');
  const checkpointed = await table.checkpoint(renewed, 'w1', CP);
  const released = await table.release(checkpointed, 'w1');

  // Assess
  t.equal(renewed.leaseCounter, 2);
  t.equal(checkpointed.leaseCounter, 3);
  t.same(checkpointed.checkpoint, CP);
  t.equal(released.leaseCounter, 4);
  t.equal(released.leaseOwner, undefined);
});

t.test('a DynamoDB failure other than a condition keeps its cause under LEASE_TABLE_FAILED', async (t) => {
  // Prepare
  const stack = await leaseStack(t);
  const table = await stack.table('gone');
  await stack.client.send(new DeleteTableCommand({ TableName: 'gone' }));

  // Act
  const listing = table.list().catch((e: unknown) => e) as Promise<LeaseError>;
  const renewal = table
    .renew({ leaseKey: 'k', leaseOwner: 'w1', leaseCounter: 1, ownerSwitchesSinceCheckpoint: 0 }, 'w1')
    .catch((e: unknown) => e) as Promise<LeaseError>;

  // Assess
  for (const error of [await listing, await renewal]) {
    t.type(error, LeaseError);
    t.equal(error.code, 'LEASE_TABLE_FAILED');
    t.equal((error.cause as Error).name, 'ResourceNotFoundException');
  }
  t.equal((await renewal).leaseKey, 'k');
});

t.test(
  'list keeps a malformed item, with its problem, and pages through a table larger than one Scan page',
  async (t) => {
    // Prepare
    const stack = await leaseStack(t);
    const table = await stack.table();
    // Five 300 KB items exceed the 1 MB a Scan page holds.
    const pad = { S: 'x'.repeat(300_000) };
    const keys = ['s1', 's2', 's3', 's4', 's5'];
    for (const key of keys) {
      await stack.client.send(
        new PutItemCommand({ TableName: 'leases', Item: { leaseKey: { S: key }, leaseCounter: { N: '0' }, pad } }),
      );
    }
    await stack.client.send(
      new PutItemCommand({
        TableName: 'leases',
        Item: { leaseKey: { S: 'junk' }, leaseCounter: { S: 'not a number' } },
      }),
    );
    let scans = 0;
    stack.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ScanCommand') scans++;
        return next(args);
      },
      { step: 'initialize', name: 'countScans' },
    );

    // Act
    const leases = await table.list();

    // Assess
    t.same(
      leases.map((l) => l.leaseKey),
      ['junk', ...keys],
    );
    t.same(leases[0]?.malformedCounter, { value: 'not a number' });
    t.match(leases[0]?.problems, [{ field: 'leaseCounter', found: '"not a number"' }]);
    t.ok(scans > 1, `paged (${scans} Scan requests)`);
  },
);

t.test(
  'list reads strongly consistent by default, eventually consistent when asked, with the same leases',
  async (t) => {
    // Prepare
    const stack = await leaseStack(t);
    const table = await stack.table();
    await table.createLease('stream-a');
    const consistent: unknown[] = [];
    stack.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ScanCommand')
          consistent.push((args.input as { ConsistentRead?: boolean }).ConsistentRead);
        return next(args);
      },
      { step: 'initialize', name: 'recordConsistentRead' },
    );

    // Act
    const strong = await table.list();
    const eventual = await table.list({ consistentRead: false });
    const explicit = await table.list({ consistentRead: true });

    // Assess
    t.same(consistent, [true, false, true]);
    t.same(eventual, strong);
    t.same(explicit, strong);
  },
);

t.test('an aborted renewal or checkpoint fails with LEASE_TABLE_FAILED and changes nothing', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await table.createLease('stream');
  const taken = await table.take((await table.get('stream'))!, 'w1');
  const abort = new AbortController();
  abort.abort();

  // Act
  const renewal = table.renew(taken, 'w1', { abortSignal: abort.signal });
  const checkpoint = table.checkpoint(taken, 'w1', CP, { abortSignal: abort.signal });

  // Assess
  await t.rejects(renewal, { name: 'LeaseError', code: 'LEASE_TABLE_FAILED', leaseKey: 'stream' });
  await t.rejects(checkpoint, { name: 'LeaseError', code: 'LEASE_TABLE_FAILED', leaseKey: 'stream' });
  t.same(await table.get('stream'), taken);
});

t.test('bad keys and checkpoints are refused before any request', async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();

  // Act
  const noKey = table.createLease('');
  const badCheckpoint = () =>
    table.checkpoint({ leaseKey: 'k', leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 }, 'w1', {
      fragmentNumber: 5 as unknown as string,
      serverTimestamp: 1,
    });

  // Assess
  await t.rejects(noKey, { code: 'BAD_LEASE_OPTIONS' });
  t.throws(badCheckpoint, { code: 'BAD_LEASE_OPTIONS' });
});

t.test(
  "the leader's writes: assignments flagged live or not, worker items' assigned sets, the workers list",
  async (t) => {
    // Prepare
    const table = await (await leaseStack(t)).table();
    await table.createLease('stream');
    await table.createLease('__worker__:w2');
    const held = await table.take((await table.get('stream'))!, 'w1');
    await table.createLease('__sync__');
    const sync = await table.take((await table.get('__sync__'))!, 'w1');

    // Act
    const moved = await table.take(held, 'w2', { live: true });
    await table.notifyAssigned('__worker__:w2', ['stream', 'other']);
    await table.clearAssigned('__worker__:w2', ['other']);
    await table.notifyAssigned('__worker__:gone', ['stream']);
    const retaken = await table.take(moved, 'w2');
    const renewed = await table.renew(sync, 'w1', { workers: ['w1', 'w2'] });
    const stale = await table.deleteIfUnchanged({ ...(await table.get('__worker__:w2'))!, leaseCounter: 7 });
    const item = await table.get('__worker__:w2', { consistentRead: false });
    const gone = await table.deleteIfUnchanged(item!);

    // Assess
    t.equal(moved.leaseOwner, 'w2');
    t.equal(moved.assignedLive, true, 'a move from a live owner is flagged');
    t.equal(retaken.assignedLive, undefined, 'and the flag goes with the next take');
    t.same(item?.assigned, ['stream'], 'added, then cleared one by one');
    t.equal(await table.get('__worker__:gone'), undefined, 'an assignment does not re-create a departed worker item');
    t.same(renewed.workers, ['w1', 'w2']);
    t.equal(stale, false, 'not deleted when the counter moved');
    t.equal(gone, true);
    t.equal(await table.get('__worker__:w2'), undefined);
  },
);

t.test("a draining worker deletes its own item whatever its counter, and never another's", async (t) => {
  // Prepare
  const table = await (await leaseStack(t)).table();
  await table.createLease('__worker__:w3');
  const taken = await table.take((await table.get('__worker__:w3'))!, 'w3');
  // A renewal that landed without its answer: the worker still knows the counter before it.
  await table.renew(taken, 'w3');

  // Act
  const another = await table.deleteIfOwned('__worker__:w3', 'w4');
  const kept = await table.get('__worker__:w3');
  const own = await table.deleteIfOwned('__worker__:w3', 'w3');
  const again = await table.deleteIfOwned('__worker__:w3', 'w3');

  // Assess
  t.equal(another, false, "not another worker's");
  t.equal(kept?.leaseCounter, taken.leaseCounter + 1, 'left as it was');
  t.equal(own, true, 'its own, one renewal past what it knew');
  t.equal(await table.get('__worker__:w3'), undefined);
  t.equal(again, false, 'already gone');
});
