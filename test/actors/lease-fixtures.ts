// Shared set-up of the lease tests: a DynamoDB emulator per test, lease tables on it, and
// coordinators on their own simulated clocks that record what they were told.

import { SimulatedClock } from 'xstate';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbClient } from '../../src/aws/clients.js';
import { Emulator } from '../../src/local/emulator.js';
export { seededRandom } from '../../src/local/random.js';
import { LeaseCoordinator, type LeaseCoordinatorOptions } from '../../src/actors/lease-coordinator.js';
import { LeaseTable } from '../../src/actors/lease-table.js';
import type { Lease, LeaseLostReason, LeaseStore } from '../../src/actors/lease-types.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export const FAILOVER = 10_000;

export interface LeaseStack {
  client: DynamoDBClient;
  table(name?: string): Promise<LeaseTable>;
}

export async function leaseStack(t: Teardown): Promise<LeaseStack> {
  const emulator = await Emulator.start('dynamodb');
  const client = dynamoDbClient({ endpoint: emulator.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  t.teardown(async () => {
    client.destroy();
    await emulator.close();
  });
  return { client, table: (name = 'leases') => LeaseTable.create({ client, tableName: name }) };
}

/** A coordinator, its own clock (hosts' clocks are never compared) and the callbacks it made. */
export interface Worker {
  id: string;
  coordinator: LeaseCoordinator;
  clock: SimulatedClock;
  acquired: Lease[];
  lost: { leaseKey: string; reason: LeaseLostReason }[];
  errors: unknown[];
  /** Keys of the stream leases held, sorted. */
  keys(): string[];
}

export function worker(table: LeaseStore, id: string, options: Partial<LeaseCoordinatorOptions> = {}): Worker {
  const clock = new SimulatedClock();
  // Different epochs per worker: any comparison of one host's time with another's would show.
  clock.set(id.length * 1_000_000 + id.charCodeAt(id.length - 1) * 10_000);
  const acquired: Lease[] = [];
  const lost: Worker['lost'] = [];
  const errors: unknown[] = [];
  const coordinator = new LeaseCoordinator({
    table,
    workerId: id,
    clock,
    failoverTimeMillis: FAILOVER,
    onAcquired: (lease) => void acquired.push(lease),
    onLost: (leaseKey, reason) => void lost.push({ leaseKey, reason }),
    onError: (error) => void errors.push(error),
    ...options,
  });
  return { id, coordinator, clock, acquired, lost, errors, keys: () => coordinator.held.map((l) => l.leaseKey) };
}

export async function createLeases(table: LeaseStore, keys: string[]): Promise<void> {
  for (const key of keys) await table.createLease(key);
}

/** Round-robin passes, each worker's clock moving by `step` between rounds, until `done` or `rounds` run out. */
export async function settle(workers: Worker[], done: () => boolean, { rounds = 30, step = 1000 } = {}): Promise<number> {
  for (let round = 1; round <= rounds; round++) {
    for (const w of workers) await w.coordinator.runOnce();
    if (done()) return round;
    for (const w of workers) w.clock.increment(step);
  }
  return -1;
}

/** Owner of each stream lease according to the table (the sync lease left out). */
export async function ownersInTable(table: LeaseStore, syncKey = '__sync__'): Promise<Record<string, string | undefined>> {
  const leases = await table.list();
  return Object.fromEntries(leases.filter((l) => l.leaseKey !== syncKey).map((l) => [l.leaseKey, l.leaseOwner]));
}

/** A store that yields to the event loop a random number of times before each call, to vary interleavings. */
export function jittered(table: LeaseStore, random: () => number): LeaseStore {
  const pause = async () => {
    for (let i = Math.floor(random() * 4); i > 0; i--) await new Promise((resolve) => setImmediate(resolve));
  };
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await pause();
      return fn(...args);
    };
  return {
    list: wrap(() => table.list()),
    get: wrap((key: string) => table.get(key)),
    createLease: wrap((key: string) => table.createLease(key)),
    deleteLease: wrap((key: string) => table.deleteLease(key)),
    take: wrap((lease: Lease, owner: string) => table.take(lease, owner)),
    renew: wrap((lease: Lease, owner: string) => table.renew(lease, owner)),
    checkpoint: wrap((lease: Lease, owner: string, cp: NonNullable<Lease['checkpoint']>) => table.checkpoint(lease, owner, cp)),
    release: wrap((lease: Lease, owner: string) => table.release(lease, owner)),
  };
}

/** A store that sends everything to `table` except the operations given. */
export function delegate(table: LeaseStore, overrides: Partial<LeaseStore>): LeaseStore {
  return {
    list: () => table.list(),
    get: (key) => table.get(key),
    createLease: (key) => table.createLease(key),
    deleteLease: (key) => table.deleteLease(key),
    take: (lease, owner) => table.take(lease, owner),
    renew: (lease, owner) => table.renew(lease, owner),
    checkpoint: (lease, owner, cp) => table.checkpoint(lease, owner, cp),
    release: (lease, owner) => table.release(lease, owner),
    ...overrides,
  };
}
