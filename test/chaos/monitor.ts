// Polls every worker's debug server (/debug/state, /healthz, /readyz) about five times a second and
// keeps what the chaos invariants need: which streams each worker is reading at each sampled instant,
// its frames in flight, its RSS, and what its probes answered.

import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerView } from '../../src/debug/types.js';

/**
 * A lease machine in any `reading` state has a GetMedia reader running or about to run, and calls the endpoint for its
 * frames.
 */
const READING_STATE = 'lease.reading';
const POLL_INTERVAL_MS = 200;
/** A worker busy enough to miss this is recorded as not answering rather than waited for. */
const POLL_TIMEOUT_MS = 1000;

export interface WorkerSample {
  /** The worker's clock when it built the view, epoch ms (same host as the test). */
  now: number;
  /** Streams whose lease machine is active in a reading state. */
  reading: string[];
  /** Streams with an active lease machine (acquiring, reading, draining, ...). */
  held: string[];
  ready: boolean;
  /** Why /readyz fails, and why /healthz does, as the worker states them; null when it does not. */
  notReady: string | null;
  stuck: string | null;
  inFlight: number;
  rssBytes: number;
}

export interface Sample {
  worker: string;
  /** When the poll was sent, epoch ms. */
  at: number;
  /** Null when /debug/state did not answer in time. */
  state: WorkerSample | null;
  /** HTTP status of each probe, null when it did not answer in time. */
  healthz: number | null;
  readyz: { status: number; body: Record<string, unknown> } | null;
}

export class Monitor {
  readonly samples: Sample[] = [];
  readonly #workers = new Map<string, string>();
  #running: Promise<void> | null = null;
  #stopped = false;

  /** Starts polling worker `id`, whose debug server is at `url` (`http://127.0.0.1:port`). */
  add(id: string, url: string): void {
    this.#workers.set(id, url);
    this.#running ??= this.#loop();
  }

  /** Stops polling worker `id` (it was stopped). */
  remove(id: string): void {
    this.#workers.delete(id);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  /** Samples of `worker` (all workers when omitted) taken at or after `since`. */
  of(worker?: string, since = 0): Sample[] {
    return this.samples.filter((s) => (worker === undefined || s.worker === worker) && s.at >= since);
  }

  /** The latest sample of `worker` with an answer from /debug/state. */
  latest(worker: string): WorkerSample | undefined {
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const { worker: sampled, state } = this.samples[i]!;
      if (sampled === worker && state !== null) return state;
    }
    return undefined;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const started = Date.now();
      await Promise.all([...this.#workers].map(([id, url]) => this.#poll(id, url, started)));
      await sleep(Math.max(0, POLL_INTERVAL_MS - (Date.now() - started)));
    }
  }

  async #poll(worker: string, url: string, at: number): Promise<void> {
    const [view, healthz, readyz] = await Promise.all([
      getJson<WorkerView>(`${url}/debug/state`),
      getJson<Record<string, unknown>>(`${url}/healthz`),
      getJson<Record<string, unknown>>(`${url}/readyz`),
    ]);
    this.samples.push({
      worker,
      at,
      state: view && view.status === 200 ? summarize(view.body) : null,
      healthz: healthz?.status ?? null,
      readyz: readyz && { status: readyz.status, body: readyz.body },
    });
  }
}

function summarize(view: WorkerView): WorkerSample {
  const active = view.leases.filter((l) => l.status === 'active');
  return {
    now: view.now,
    reading: active.filter((l) => l.states.some((s) => s.startsWith(READING_STATE))).map((l) => l.stream),
    held: active.map((l) => l.stream),
    ready: view.ready,
    notReady: view.notReady ?? null,
    stuck: view.stuck ?? null,
    inFlight: Number(view.stats.inFlight),
    rssBytes: Number(view.stats.rssBytes),
  };
}

async function getJson<T>(url: string): Promise<{ status: number; body: T } | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
    return { status: response.status, body: (await response.json()) as T };
  } catch {
    return null;
  }
}
