// Runs the lease machine on a simulated clock with test doubles for its three I/O actors, which a test drives by hand.

import { type AnyEventObject, createActor, type EventObject, fromCallback, fromPromise, SimulatedClock } from 'xstate';
import { LeaseError } from '../../src/actors/lease/lease-errors.js';
import {
  type AcquirerInput,
  type AcquirerOutput,
  type CheckpointerInput,
  type LeaseMachineInput,
  leaseMachine,
  type ReaderInput,
  reconnectDelayWith,
} from '../../src/machines/index.js';
import type { Checkpoint } from '../../src/media/checkpoint.js';

export interface ReaderDouble {
  input: ReaderInput;
  /** Sends an event as the reader would (its `sendBack`). */
  send: (event: AnyEventObject) => void;
  stopped: boolean;
}

export interface Deferred<T> {
  input: unknown;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
}

export interface WriteDouble extends Deferred<void> {
  input: CheckpointerInput;
}

export interface AcquireDouble extends Deferred<AcquirerOutput> {
  input: AcquirerInput;
}

export const leaseLost = (): LeaseError =>
  new LeaseError('LEASE_LOST', 'conditional check failed: lease owned by worker-b');
export const throttled = (): LeaseError =>
  new LeaseError('LEASE_TABLE_FAILED', 'ProvisionedThroughputExceededException');
export const cp = (fragmentNumber: string, serverTimestamp = Number(fragmentNumber.slice(-6))): Checkpoint => ({
  fragmentNumber,
  serverTimestamp,
});

/** Lets promise actors settle and their results reach the machine; no time passes on any clock. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface HarnessOptions {
  input?: Partial<LeaseMachineInput>;
  /** Source of the reconnect jitter; the machine's default (Math.random) when absent. */
  random?: () => number;
}

export function startLease(options: HarnessOptions = {}) {
  const clock = new SimulatedClock();
  const readers: ReaderDouble[] = [];
  const writes: WriteDouble[] = [];
  const acquires: AcquireDouble[] = [];
  /** missingRetryMs of each wait for a missing stream, as announced (the actor logs it). */
  const announcedWaits: number[] = [];
  const machine = leaseMachine.provide({
    actors: {
      acquirer: fromPromise<AcquirerOutput, AcquirerInput>(
        ({ input, signal }) => new Promise((resolve, reject) => acquires.push({ input, resolve, reject, signal })),
      ),
      reader: fromCallback<EventObject, ReaderInput>(({ input, sendBack }) => {
        const reader: ReaderDouble = { input, send: sendBack, stopped: false };
        readers.push(reader);
        return () => {
          reader.stopped = true;
        };
      }),
      checkpointer: fromPromise<void, CheckpointerInput>(
        ({ input, signal }) => new Promise((resolve, reject) => writes.push({ input, resolve, reject, signal })),
      ),
    },
    actions: { announceStreamMissing: ({ context }) => void announcedWaits.push(context.missingRetryMs) },
    ...(options.random ? { delays: { reconnectDelay: reconnectDelayWith(options.random) } } : {}),
  });
  const actor = createActor(machine, {
    clock,
    input: { streamName: 'front-door', leaseKey: 'front-door', ...options.input },
  });
  actor.start();

  return {
    actor,
    clock,
    readers,
    writes,
    acquires,
    announcedWaits,
    /** The current reader; fails the test with a clear message if there is none. */
    reader(): ReaderDouble {
      const reader = readers.at(-1);
      if (!reader) throw new Error('no reader was started');
      return reader;
    },
    write(): WriteDouble {
      const write = writes.at(-1);
      if (!write) throw new Error('no checkpoint write was started');
      return write;
    },
    /** The state value as a dotted path (parallel regions joined with `|`), for readable assertions. */
    state(): string {
      return flatten(actor.getSnapshot().value);
    },
    context() {
      return actor.getSnapshot().context;
    },
    /** Resolves the acquirer with `checkpoint` and lets the machine move on to reading. */
    async acquire(checkpoint: Checkpoint | null = null): Promise<void> {
      const acquire = acquires.at(-1);
      if (!acquire) throw new Error('no acquire was started');
      acquire.resolve({ checkpoint });
      await settle();
    },
    /** Sends FRAGMENT_COMPLETE for each fragment number, in order. */
    complete(...fragmentNumbers: string[]): void {
      for (const n of fragmentNumbers) actor.send({ type: 'FRAGMENT_COMPLETE', ...cp(n) });
    },
  };
}

export type Harness = ReturnType<typeof startLease>;

function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const parts = entries.map(([key, child]) => {
    const rest = flatten(child);
    return rest.includes('|') && entries.length === 1 ? `${key}.(${rest})` : `${key}.${rest}`;
  });
  return parts.length === 1 ? parts[0]! : parts.join('|');
}
