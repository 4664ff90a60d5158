// What the debug server shows: a plain-data view of one worker and its leases, and where it comes from.

import type { MediaCost } from '../metrics/cost.js';

/** One step of a lease machine: the event and the active states before and after it. */
export interface TransitionView {
  /** Epoch ms. */
  at: number;
  event: string;
  from: string[];
  to: string[];
}

/** One stage of a stream's sampled frames (PIPELINE_STAGES), since this worker took the stream's lease. */
export interface StageLatencyView {
  /** Its metric, e.g. IngestToProcessLatency. */
  metric: string;
  /** Where it starts and ends, e.g. `ingest` and `received`. */
  from: string;
  to: string;
  /** Frames through it; p50 and p99 (ms, rounded) are null while there are none. */
  count: number;
  p50: number | null;
  p99: number | null;
}

export interface LeaseView {
  stream: string;
  /** Active leaf states, as dotted ids with the machine's id first (`lease.reading.media.streaming`). */
  states: string[];
  /** `done` once the machine has reached a final state. */
  status: 'active' | 'done';
  checkpoint: string | null;
  /** Completed, not yet written. */
  pending: string | null;
  lastError: { source: string; code: string | null; message: string } | null;
  /** For a worker's lease, its stream's counters from the metrics registry (field names as in StreamCounters). */
  counters: Record<string, number>;
  /** From the last fragment read; null before one. */
  millisBehindNow: number | null;
  /** What reading the stream cost since its lease began on this worker (the GetMedia meter), and what it bought. */
  cost: MediaCost;
  /** Each stage of the stream's sampled frames, in a frame's order (KIT's IngestToProcessLatency first). */
  stages: StageLatencyView[];
  /** Oldest first, at most TRANSITIONS_KEPT. */
  transitions: TransitionView[];
}

export interface WorkerView {
  workerId: string;
  appName: string;
  /** Epoch ms. */
  startedAt: number;
  now: number;
  ready: boolean;
  /** Why it is not ready (`/readyz` answers 503 with it); null when ready. */
  notReady: string | null;
  /** Why it is stuck (`/healthz` answers 503 with it); null when healthy. */
  stuck: string | null;
  draining: boolean;
  holdsSyncLease: boolean;
  /** Owners of live leases at the last scan of the lease table, this worker included. */
  workers: string[];
  leases: LeaseView[];
  /** The cost meter over every stream this worker has read, ended leases included. */
  cost: MediaCost;
  /** Queue depths and totals (the worker's stats). */
  stats: Record<string, unknown>;
}

/** What the debug server reads: a worker, or a test's stand-in driving lease machines by hand. */
export interface DebugSource {
  view(): WorkerView;
  /** `onChange` runs after anything in the view changed; returns the unsubscribe function. */
  subscribe(onChange: () => void): () => void;
}

export const TRANSITIONS_KEPT = 20;
