// The fleet view over a real lease table (dynalite, the real SDK): every lease with its owner, how long its counter
// and checkpoint stood still between this worker's reads, every worker with its count; scans paced and shared by
// every caller, and abandoned at their deadline when the table does not answer.

import { connect, createServer, type Server, type Socket } from 'node:net';
import t from 'tap';
import { LeaseTable } from '../../src/actors/lease/lease-table.js';
import { SYNC_LEASE_KEY } from '../../src/actors/lease/lease-types.js';
import { dynamoDbClient } from '../../src/aws/clients.js';
import { FleetWatch } from '../../src/debug/fleet.js';
import { Emulator } from '../../src/local/emulator.js';
import { leaseStack } from '../actors/lease/lease-fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Takes `leaseKey` for `owner` as it stands in the table. */
async function take(table: LeaseTable, leaseKey: string, owner: string) {
  return table.take((await table.get(leaseKey))!, owner);
}

t.test('every lease with its owner, ages and switches; every worker with its lease count', async (t) => {
  // Prepare: w1 holds a (checkpointed a minute behind) and the sync lease, w2 holds b, nobody c; d is deleted later
  const stack = await leaseStack(t);
  const table = await stack.table('fleet');
  for (const key of ['a', 'b', 'c', 'd', SYNC_LEASE_KEY]) await table.createLease(key);
  const a = await take(table, 'a', 'w1');
  const behind = Date.now() - 60_000;
  const checkpointed = await table.checkpoint(a, 'w1', { fragmentNumber: '9134', serverTimestamp: behind });
  await take(table, 'b', 'w2');
  await take(table, 'b', 'w1');
  await take(table, SYNC_LEASE_KEY, 'w1');
  const fleet = new FleetWatch({ table, intervalMillis: 0, failoverTimeMillis: 400 });

  // Act
  const first = await fleet.view();

  // Assess: the first read dates every value from itself
  t.same(
    first.leases.map((l) => [l.leaseKey, l.owner, l.ownerSwitchesSinceCheckpoint, l.counterAgeAtLeast]),
    [
      ['a', 'w1', 0, true],
      ['b', 'w1', 2, true],
      ['c', null, 0, true],
      ['d', null, 0, true],
    ],
    'the stream leases, by key, with owner and switches; the sync lease is not one of them',
  );
  const firstA = first.leases[0]!;
  t.match(firstA, { checkpoint: '9134', checkpointServerTimestamp: behind, checkpointAgeAtLeast: true });
  t.ok(
    firstA.checkpointBehindMillis! >= 60_000 && firstA.checkpointBehindMillis! < 70_000,
    `a's checkpoint is a minute behind (${firstA.checkpointBehindMillis} ms)`,
  );
  t.same(
    first.workers,
    [{ workerId: 'w1', leases: 2, expired: 0, holdsSyncLease: true }],
    'w1 holds two leases and the sync lease; w2, whose lease w1 took, none',
  );
  t.equal(first.unowned, 2, 'c and d are unowned');
  t.equal(first.error, null);

  // Act: time passes; w1 renews a, w2 takes c, d is deleted
  await sleep(600);
  await table.renew(checkpointed, 'w1');
  await take(table, 'c', 'w2');
  await table.deleteLease('d');
  const second = await fleet.view();

  // Assess: what moved is dated from the read that saw it move; what stood still is older than the pause
  const byKey = new Map(second.leases.map((l) => [l.leaseKey, l]));
  t.same([...byKey.keys()], ['a', 'b', 'c'], 'd is gone');
  t.match(byKey.get('a'), { counterAgeMillis: 0, counterAgeAtLeast: false, expired: false }, 'a was renewed');
  t.match(byKey.get('c'), { owner: 'w2', counterAgeMillis: 0, counterAgeAtLeast: false, expired: false });
  const stale = byKey.get('b')!;
  t.ok(stale.counterAgeMillis >= 600 && stale.counterAgeAtLeast, `b stood still ≥ 600 ms (${stale.counterAgeMillis})`);
  t.ok(stale.expired, 'past failoverTimeMillis: expired');
  t.ok(byKey.get('a')!.checkpointAgeMillis! >= 600, "a's checkpoint has not changed since the first read");
  t.same(
    second.workers,
    [
      { workerId: 'w1', leases: 2, expired: 1, holdsSyncLease: true },
      { workerId: 'w2', leases: 1, expired: 0, holdsSyncLease: false },
    ],
    'w1 holds two leases, one expired; w2 holds c',
  );
  t.equal(second.unowned, 0);
});

t.test('one scan per interval, shared by every caller, and none while nobody asks', async (t) => {
  // Prepare: the real table, its scans counted
  const stack = await leaseStack(t);
  const table = await stack.table('paced');
  await table.createLease('a');
  let scans = 0;
  const counted = {
    list: (options?: Parameters<LeaseTable['list']>[0]) => {
      scans++;
      return table.list(options);
    },
  };
  const fleet = new FleetWatch({ table: counted, intervalMillis: 500 });

  // Act, Assess
  t.equal(scans, 0, 'no scan before anyone asks');
  const views = await Promise.all([fleet.view(), fleet.view(), fleet.view(), fleet.view(), fleet.view()]);
  t.equal(scans, 1, 'five viewers at once: one scan');
  t.ok(
    views.every((v) => v === views[0] && v.leases.length === 1),
    'all five got its result',
  );
  await fleet.view();
  t.equal(scans, 1, 'asked again within the interval: the same scan');
  await sleep(600);
  t.equal(scans, 1, 'nothing scans while nobody asks');
  const later = await fleet.view();
  t.equal(scans, 2, 'asked after the interval: a new scan');
  t.ok(later.scannedAt! > views[0]!.scannedAt!, 'dated later');
});

/** A TCP proxy to `target` that can stop answering: every byte is swallowed while `hang` is set. */
async function hangingProxy(target: URL): Promise<{ url: string; hang: boolean; server: Server }> {
  const sockets = new Set<Socket>();
  const proxy = {
    url: '',
    hang: false,
    server: createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => socket.destroy());
        socket.on('close', () => sockets.delete(socket));
      }
      client.on('data', (data) => proxy.hang || upstream.write(data));
      upstream.on('data', (data) => proxy.hang || client.write(data));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    }),
  };
  await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
  const address = proxy.server.address() as { port: number };
  proxy.url = `http://127.0.0.1:${address.port}`;
  proxy.server.on('close', () => {
    for (const socket of sockets) socket.destroy();
  });
  return proxy;
}

t.test(
  'a scan the table does not answer is abandoned at its deadline; the last view stays, with the error',
  async (t) => {
    // Prepare: the table behind a proxy that the test makes hang
    const emulator = await Emulator.start('dynamodb');
    const proxy = await hangingProxy(new URL(emulator.url));
    const client = dynamoDbClient({
      endpoint: proxy.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    t.teardown(async () => {
      client.destroy();
      proxy.server.close();
      await emulator.close();
    });
    const table = await LeaseTable.create({ client, tableName: 'hangs' });
    await table.createLease('a');
    const fleet = new FleetWatch({ table, intervalMillis: 0, timeoutMillis: 500 });
    const before = await fleet.view();

    // Act
    proxy.hang = true;
    const started = performance.now();
    const during = await fleet.view();
    const took = performance.now() - started;

    // Assess
    t.ok(took >= 400 && took < 5_000, `abandoned at its deadline (${Math.round(took)} ms)`);
    t.match(during.error, /listing leases of hangs failed/, 'the error names the table');
    t.same(during.leases, before.leases, 'the last scan is still shown');
    t.equal(during.scannedAt, before.scannedAt, 'dated when it was read');

    // Act, Assess: the table answers again
    proxy.hang = false;
    const after = await fleet.view();
    t.equal(after.error, null, 'the next scan clears the error');
    t.ok(after.scannedAt! > before.scannedAt!, 'and is dated anew');
  },
);
