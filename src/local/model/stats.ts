// Counters of what the model server answered, for tests and, later, the metrics exporters.

import { FAULT_KINDS, type FaultKind } from './faults.js';

export interface ModelServerStats {
  /** HTTP requests of any kind, counted on arrival. */
  requests: number;
  pings: number;
  /** Invocations on either path (SageMaker's and the container's), counted on arrival. */
  invocations: number;
  /** Invocations answered 200 with the model's output (latency spikes included, malformed bodies not). */
  answered: number;
  /**
   * Refused by the SageMaker front before reaching the model: unknown endpoint, empty or oversize body, model not
   * ready.
   */
  rejected: number;
  /**
   * The model container answered an error of its own (415, 406, 400, 500) or could not be reached; injected faults not
   * counted.
   */
  modelErrors: number;
  /** Cut at the invocation timeout: a `hang`, or a container too slow (a ModelError on SageMaker's path). */
  timedOut: number;
  /** Injected faults by kind. */
  faults: Record<FaultKind, number>;
  /** Invocations being handled now, hung ones included. */
  inFlight: number;
  /** Backend time of the invocations that reached it. */
  backend: { calls: number; totalMs: number; maxMs: number };
}

export function emptyStats(): ModelServerStats {
  return {
    requests: 0,
    pings: 0,
    invocations: 0,
    answered: 0,
    rejected: 0,
    modelErrors: 0,
    timedOut: 0,
    faults: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>,
    inFlight: 0,
    backend: { calls: 0, totalMs: 0, maxMs: 0 },
  };
}

/** A copy that later counting does not change. */
export const snapshotStats = (stats: ModelServerStats): ModelServerStats => ({
  ...stats,
  faults: { ...stats.faults },
  backend: { ...stats.backend },
});
