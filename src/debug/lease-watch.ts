// Watches one running lease machine through xstate's inspection API: its active states, its recent
// transitions with the event behind each, and a view of its context for the debug page.

import type { InspectionEvent, StateValue } from 'xstate';
import type { LeaseContext } from '../machines/index.js';
import { mediaCost } from '../metrics/cost.js';
import { stageLatencies } from './stage-latency.js';
import { type LeaseView, TRANSITIONS_KEPT, type TransitionView } from './types.js';

interface WatchedSnapshot {
  value: StateValue;
  status: string;
  context: LeaseContext;
}

/**
 * Active leaf states of a state value, as dotted paths below the root: `{ reading: { media: 'streaming' } }` →
 * `reading.media.streaming`.
 */
export function activePaths(value: StateValue): string[] {
  if (typeof value === 'string') return [value];
  return Object.entries(value).flatMap(([key, child]) => {
    if (child === undefined || (typeof child === 'object' && Object.keys(child).length === 0)) return [key];
    return activePaths(child).map((path) => `${key}.${path}`);
  });
}

export class LeaseWatch {
  readonly #machineId: string;
  readonly #transitions: TransitionView[] = [];
  readonly #listeners = new Set<() => void>();
  #snapshot: WatchedSnapshot | null = null;
  /** The active states of `#snapshot`, and their joined form to compare the next snapshot's with. */
  #states: string[] = [];
  #statesKey = '';

  constructor(machineId = 'lease') {
    this.#machineId = machineId;
  }

  /**
   * Pass as `createActor(machine, { inspect })`; only the lease machine's own snapshots are kept, not its children's.
   */
  readonly inspect = (event: InspectionEvent): void => {
    // The lease machine is the root of its actor system; its invoked readers and writers are not watched.
    if (event.type !== '@xstate.snapshot' || event.actorRef.sessionId !== event.rootId) return;
    const snapshot = event.snapshot as unknown as WatchedSnapshot;
    const from = this.#states;
    const to = activePaths(snapshot.value).map((path) => `${this.#machineId}.${path}`);
    const toKey = to.join();
    this.#snapshot = snapshot;
    this.#states = to;
    const moved = toKey !== this.#statesKey;
    this.#statesKey = toKey;
    if (moved || snapshot.status !== 'active') {
      this.#transitions.push({ at: Date.now(), event: event.event.type, from, to });
      if (this.#transitions.length > TRANSITIONS_KEPT) this.#transitions.shift();
    }
    for (const listener of this.#listeners) listener();
  };

  /** Runs `listener` after every snapshot of the machine; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The machine's part of the view; the caller adds what it knows beyond the machine
   * (the lease's counters, lag, cost, latency).
   */
  view(stream: string): LeaseView {
    const snapshot = this.#snapshot;
    const context = snapshot?.context;
    return {
      stream,
      states: [...this.#states],
      status: snapshot === null || snapshot.status === 'active' ? 'active' : 'done',
      checkpoint: context?.checkpoint?.fragmentNumber ?? null,
      pending: context?.pending?.fragmentNumber ?? null,
      lastError: context?.lastError ?? null,
      counters: {},
      millisBehindNow: null,
      cost: mediaCost({ bytesRead: 0, inferred: 0 }, 0),
      stages: stageLatencies(null, stream),
      transitions: [...this.#transitions],
    };
  }
}
