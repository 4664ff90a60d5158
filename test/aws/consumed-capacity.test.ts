// The DynamoDB capacity meter against dynalite through the real SDK: the lease table's own calls (DocumentClient
// commands) report the read and write units DynamoDB answers, and failed conditions as 1.

import t from 'tap';
import { type CapacityKind, meterConsumedCapacity } from '../../src/aws/consumed-capacity.js';
import { leaseStack } from '../actors/lease/lease-fixtures.js';

t.test("the lease table's reads and writes are metered in DynamoDB's units", async (t) => {
  // Prepare
  const stack = await leaseStack(t);
  const table = await stack.table();
  const spent: Record<CapacityKind, number> = { read: 0, write: 0 };
  meterConsumedCapacity(stack.client, (kind, units) => {
    spent[kind] += units;
  });

  // Act: 20 small leases (1 write unit each), then an eventually consistent scan of them (well under 4 KB together:
  // half a read unit; dynalite prices every Scan so, as its Scan drops ConsistentRead), a read of one (1 unit),
  // then a take that loses its condition.
  for (let i = 0; i < 20; i++) await table.createLease(`cam-${i}`);
  const written = spent.write;
  await table.list({ consistentRead: false });
  const scanned = spent.read;
  const lease = (await table.get('cam-0'))!;
  const read = spent.read - scanned;
  await table.take(lease, 'w1');
  const beforeLosing = spent.write;
  await t.rejects(table.take(lease, 'w2'));

  // Assess
  t.equal(written, 20);
  t.equal(scanned, 0.5);
  t.equal(read, 1);
  t.equal(spent.write - beforeLosing, 1, 'the failed conditional write is counted as one unit');
});
