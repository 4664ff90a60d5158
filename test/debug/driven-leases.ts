// Lease machines a test drives by hand (it settles their acquirer and checkpoint writes, sends their
// events), watched as a worker watches its own, and served to the debug server as a worker's view.

import { type Actor, createActor, fromCallback, fromPromise } from 'xstate';
import { LeaseWatch } from '../../src/debug/lease-watch.js';
import { stageLatencies } from '../../src/debug/stage-latency.js';
import type { DebugSource, WorkerView } from '../../src/debug/types.js';
import { type AcquirerOutput, type LeaseEvent, leaseMachine } from '../../src/machines/index.js';
import { type MediaCost, type MetricsRegistry, mediaCost, streamCounters } from '../../src/metrics/index.js';

export class DrivenLease {
  readonly stream: string;
  readonly watch = new LeaseWatch();
  readonly actor: Actor<typeof leaseMachine>;
  /** What the view shows as the stream's MillisBehindNow and cost; the test sets them. */
  millisBehindNow: number | null = null;
  cost: MediaCost = mediaCost({ bytesRead: 0, inferred: 0 }, 0);
  #acquired!: (output: AcquirerOutput) => void;
  #written: (() => void)[] = [];

  constructor(stream: string) {
    this.stream = stream;
    const acquired = new Promise<AcquirerOutput>((resolve) => (this.#acquired = resolve));
    const machine = leaseMachine.provide({
      actors: {
        acquirer: fromPromise(() => acquired),
        reader: fromCallback(() => () => undefined),
        checkpointer: fromPromise(() => new Promise<void>((resolve) => this.#written.push(resolve))),
      },
    });
    // A long interval: only the test decides when checkpoints are written.
    this.actor = createActor(machine, {
      input: { streamName: stream, leaseKey: stream, checkpointIntervalMs: 3_600_000 },
      inspect: this.watch.inspect,
    });
    this.actor.start();
  }

  acquire(checkpoint: string | null = null): void {
    this.#acquired({
      checkpoint: checkpoint === null ? null : { fragmentNumber: checkpoint, serverTimestamp: 1_700_000_000_000 },
    });
  }

  send(event: LeaseEvent): void {
    this.actor.send(event);
  }

  /** Completes the checkpoint write in flight. */
  finishWrite(): void {
    this.#written.shift()?.();
  }

  /** Stops the machine and its timers (an hour-long checkpoint interval would keep the test process alive). */
  stop(): void {
    this.actor.stop();
  }

  get states(): string[] {
    return this.watch.view(this.stream).states;
  }
}

/**
 * A worker's view over `leases`, changing as they do, with their counters and stage latencies from `metrics` as a
 * worker's.
 */
export function drivenSource(
  leases: DrivenLease[],
  metrics: MetricsRegistry | null = null,
  workerId = 'test-worker',
): DebugSource {
  const startedAt = Date.now();
  return {
    view: (): WorkerView => ({
      workerId,
      appName: 'debug-test',
      startedAt,
      now: Date.now(),
      ready: true,
      notReady: null,
      stuck: null,
      draining: false,
      holdsSyncLease: true,
      workers: [workerId, 'other-worker'],
      leases: leases.map((l) => ({
        ...l.watch.view(l.stream),
        counters: metrics === null ? {} : streamCounters(metrics, l.stream),
        millisBehindNow: l.millisBehindNow,
        cost: l.cost,
        stages: stageLatencies(metrics, l.stream),
      })),
      cost: mediaCost(
        {
          bytesRead: leases.reduce((sum, l) => sum + l.cost.bytesRead, 0),
          inferred: leases.reduce((sum, l) => sum + l.cost.framesInferred, 0),
        },
        0.0085,
      ),
      stats: {},
    }),
    subscribe(onChange) {
      const unsubscribes = leases.map((l) => l.watch.onChange(onChange));
      return () => {
        for (const u of unsubscribes) u();
      };
    },
  };
}

/** Waits a tick for the machine's promise actors to settle and the snapshot to follow. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
