// Shared set-up of the lease tests: a DynamoDB emulator per test, lease tables on it, and
// coordinators on their own simulated clocks that record what they were told.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SimulatedClock } from 'xstate';
import { dynamoDbClient } from '../../../src/aws/clients.js';
import { Emulator } from '../../../src/local/emulator.js';

export { seededRandom } from '../../../src/local/random.js';

import { LeaseCoordinator, type LeaseCoordinatorOptions } from '../../../src/actors/lease/lease-coordinator.js';
import { LeaseError } from '../../../src/actors/lease/lease-errors.js';
import { LeaseTable } from '../../../src/actors/lease/lease-table.js';
import type { Lease, LeaseLostReason, LeaseStore, LeaseWriteOptions } from '../../../src/actors/lease/lease-types.js';

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
  const client = dynamoDbClient({
    endpoint: emulator.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
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
  /** How each acquired lease was taken, in the same order. */
  handovers: { leaseKey: string; stolen: boolean; handoverDelayMillis: number }[];
  lost: { leaseKey: string; reason: LeaseLostReason }[];
  errors: unknown[];
  /** Keys of the stream leases held, sorted. */
  keys(): string[];
}

/**
 * A simulated clock with an epoch of its own per worker id: any comparison of one host's time with another's would
 * show.
 */
export function clockFor(id: string): SimulatedClock {
  const clock = new SimulatedClock();
  clock.set(id.length * 1_000_000 + id.charCodeAt(id.length - 1) * 10_000);
  return clock;
}

export type WorkerOptions = Omit<Partial<LeaseCoordinatorOptions>, 'clock'> & { clock?: SimulatedClock };

export function worker(
  table: LeaseStore,
  id: string,
  { clock = clockFor(id), ...options }: WorkerOptions = {},
): Worker {
  const acquired: Lease[] = [];
  const handovers: Worker['handovers'] = [];
  const lost: Worker['lost'] = [];
  const errors: unknown[] = [];
  const coordinator = new LeaseCoordinator({
    table,
    workerId: id,
    clock,
    failoverTimeMillis: FAILOVER,
    // The tests of 'leader' assignment say so; the others are of KCL 2.x's scheme.
    assignment: 'every-worker',
    onAcquired: (lease, how) => {
      acquired.push(lease);
      handovers.push({ leaseKey: lease.leaseKey, ...how });
    },
    onLost: (leaseKey, reason) => void lost.push({ leaseKey, reason }),
    onError: (error) => void errors.push(error),
    ...options,
  });
  return {
    id,
    coordinator,
    clock,
    acquired,
    handovers,
    lost,
    errors,
    keys: () => coordinator.held.map((l) => l.leaseKey),
  };
}

export async function createLeases(table: LeaseStore, keys: string[]): Promise<void> {
  for (const key of keys) await table.createLease(key);
}

/** Round-robin passes, each worker's clock moving by `step` between rounds, until `done` or `rounds` run out. */
export async function settle(
  workers: Worker[],
  done: () => boolean,
  { rounds = 30, step = 1000 } = {},
): Promise<number> {
  for (let round = 1; round <= rounds; round++) {
    for (const w of workers) await w.coordinator.runOnce();
    if (done()) return round;
    for (const w of workers) w.clock.increment(step);
  }
  return -1;
}

/** Owner of each stream lease according to the table (the sync lease left out). */
export async function ownersInTable(
  table: LeaseStore,
  syncKey = '__sync__',
): Promise<Record<string, string | undefined>> {
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
    list: wrap((options?: { consistentRead?: boolean }) => table.list(options)),
    get: wrap((key: string, options?: { consistentRead?: boolean }) => table.get(key, options)),
    createLease: wrap((key: string) => table.createLease(key)),
    deleteLease: wrap((key: string) => table.deleteLease(key)),
    take: wrap((lease: Lease, owner: string, options?: { live?: boolean }) => table.take(lease, owner, options)),
    renew: wrap((lease: Lease, owner: string, options?: LeaseWriteOptions) => table.renew(lease, owner, options)),
    notifyAssigned: wrap((key: string, keys: string[]) => table.notifyAssigned(key, keys)),
    clearAssigned: wrap((key: string, keys: string[]) => table.clearAssigned(key, keys)),
    deleteIfUnchanged: wrap((lease: Lease) => table.deleteIfUnchanged(lease)),
    deleteIfOwned: wrap((key: string, owner: string) => table.deleteIfOwned(key, owner)),
    checkpoint: wrap((lease: Lease, owner: string, cp: NonNullable<Lease['checkpoint']>, options?: LeaseWriteOptions) =>
      table.checkpoint(lease, owner, cp, options),
    ),
    release: wrap((lease: Lease, owner: string) => table.release(lease, owner)),
  };
}

/** A store that sends everything to `table` except the operations given. */
export function delegate(table: LeaseStore, overrides: Partial<LeaseStore>): LeaseStore {
  return {
    list: (options) => table.list(options),
    get: (key, options) => table.get(key, options),
    createLease: (key) => table.createLease(key),
    deleteLease: (key) => table.deleteLease(key),
    take: (lease, owner, options) => table.take(lease, owner, options),
    renew: (lease, owner, options) => table.renew(lease, owner, options),
    notifyAssigned: (key, keys) => table.notifyAssigned(key, keys),
    clearAssigned: (key, keys) => table.clearAssigned(key, keys),
    deleteIfUnchanged: (lease) => table.deleteIfUnchanged(lease),
    deleteIfOwned: (key, owner) => table.deleteIfOwned(key, owner),
    checkpoint: (lease, owner, cp, options) => table.checkpoint(lease, owner, cp, options),
    release: (lease, owner) => table.release(lease, owner),
    ...overrides,
  };
}

/**
 * How one call of a timedStore goes: it answers after `ms` of the worker's clock, fails (network down), or never
 * answers, not even to an abort. An abort ends a call that has not answered yet, as the SDK does.
 */
export interface CallPlan {
  ms?: number;
  outcome?: 'ok' | 'fail' | 'hang';
}

export interface TimedCall {
  operation: keyof LeaseStore;
  leaseKey: string | undefined;
  /** The worker's clock when the call was sent. */
  sentAt: number;
  outcome: 'ok' | 'fail' | 'hang' | 'lost' | 'aborted';
}

export interface TimedStore extends LeaseStore {
  /** Every call, as sent. */
  calls: TimedCall[];
  /** Resolves once every real call under way has answered and what it started has run. */
  settled(): Promise<void>;
}

/**
 * A store whose calls take time on a simulated clock: the real call to `table` is made at once, and its answer held
 * back until `clock` has moved `ms` past the sending. `plan` decides each call; a failing one never reaches the table.
 */
/** One call as a timedStore's plan sees it: `nth` counts the calls of this operation on this lease, from 1. */
export interface PlannedCall {
  operation: keyof LeaseStore;
  leaseKey: string | undefined;
  nth: number;
}

export function timedStore(
  table: LeaseStore,
  clock: SimulatedClock,
  plan: (call: PlannedCall) => CallPlan,
): TimedStore {
  const pending = new Set<Promise<unknown>>();
  const calls: TimedCall[] = [];
  const counts = new Map<string, number>();
  const timed =
    <A extends unknown[], R>(operation: keyof LeaseStore, send: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      // A key, a lease, or (for list) options without one.
      const [first] = args as unknown[];
      const leaseKey = typeof first === 'string' ? first : (first as Partial<Lease> | undefined)?.leaseKey;
      const countKey = `${operation}:${leaseKey}`;
      const nth = (counts.get(countKey) ?? 0) + 1;
      counts.set(countKey, nth);
      const { ms = 0, outcome = 'ok' } = plan({ operation, leaseKey, nth });
      const sentAt = clock.now();
      const call: TimedCall = { operation, leaseKey, sentAt, outcome };
      calls.push(call);
      if (outcome === 'hang') return new Promise<R>(() => undefined);
      const answer =
        outcome === 'ok'
          ? send(...args)
          : Promise.reject(
              new LeaseError('LEASE_TABLE_FAILED', `${operation} of ${leaseKey}: network down`, { leaseKey }),
            );
      const answered = answer.then(
        () => undefined,
        (error: unknown) => {
          if (outcome === 'ok' && error instanceof LeaseError && error.code === 'LEASE_LOST') call.outcome = 'lost';
        },
      );
      pending.add(answered);
      void answered.then(() => pending.delete(answered));
      const later = (deliver: () => void) => {
        const wait = sentAt + ms - clock.now();
        if (wait > 0) clock.setTimeout(deliver, wait);
        else deliver();
      };
      const signal = args.find(
        (arg): arg is LeaseWriteOptions => typeof arg === 'object' && arg !== null && 'abortSignal' in arg,
      )?.abortSignal;
      return new Promise<R>((resolve, reject) => {
        signal?.addEventListener('abort', () => {
          call.outcome = 'aborted';
          reject(new LeaseError('LEASE_TABLE_FAILED', `${operation} of ${leaseKey}: aborted`, { leaseKey }));
        });
        answer.then(
          (value) => later(() => resolve(value)),
          (error: unknown) => later(() => reject(error)),
        );
      });
    };
  return {
    calls,
    async settled() {
      do {
        await Promise.allSettled([...pending]);
        for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      } while (pending.size > 0);
    },
    list: timed('list', (options?: { consistentRead?: boolean }) => table.list(options)),
    get: timed('get', (key: string, options?: { consistentRead?: boolean }) => table.get(key, options)),
    createLease: timed('createLease', (key: string) => table.createLease(key)),
    deleteLease: timed('deleteLease', (key: string) => table.deleteLease(key)),
    take: timed('take', (lease: Lease, owner: string, options?: { live?: boolean }) =>
      table.take(lease, owner, options),
    ),
    renew: timed('renew', (lease: Lease, owner: string, options?: LeaseWriteOptions) =>
      table.renew(lease, owner, options),
    ),
    notifyAssigned: timed('notifyAssigned', (key: string, keys: string[]) => table.notifyAssigned(key, keys)),
    clearAssigned: timed('clearAssigned', (key: string, keys: string[]) => table.clearAssigned(key, keys)),
    deleteIfUnchanged: timed('deleteIfUnchanged', (lease: Lease) => table.deleteIfUnchanged(lease)),
    deleteIfOwned: timed('deleteIfOwned', (key: string, owner: string) => table.deleteIfOwned(key, owner)),
    checkpoint: timed(
      'checkpoint',
      (lease: Lease, owner: string, cp: NonNullable<Lease['checkpoint']>, options?: LeaseWriteOptions) =>
        table.checkpoint(lease, owner, cp, options),
    ),
    release: timed('release', (lease: Lease, owner: string) => table.release(lease, owner)),
  };
}

/**
 * Moves every worker's clock forward by `ms`, `step` at a time, letting the calls each step starts answer. The
 * clocks move together: real time passes alike for every host, whatever its clock reads.
 */
export async function runClocks(clocks: SimulatedClock[], stores: TimedStore[], ms: number, step = 10): Promise<void> {
  for (let moved = 0; moved < ms; moved += step) {
    for (const clock of clocks) clock.increment(Math.min(step, ms - moved));
    for (const store of stores) await store.settled();
  }
}
