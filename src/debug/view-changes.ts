// What the event stream sends of a worker's view: the whole view first, then only what changed. With hundreds of
// leases a change touches a few of them, and sending every lease four times a second cost the worker and the
// browser more than the page's drawing.

import type { LeaseView, WorkerView } from './types.js';

/** The view's changes: every field but the leases, the leases that changed, and the streams whose leases are gone. */
export interface WorkerViewChanges extends Omit<WorkerView, 'leases'> {
  leases: LeaseView[];
  removed: string[];
}

/** One server-sent event: `message` carries a WorkerView, `changes` a WorkerViewChanges. */
export interface ViewEvent {
  event: 'message' | 'changes';
  data: string;
}

/** Follows what one event stream has been sent. */
export class ViewChanges {
  /** Each lease as last sent, as JSON. */
  readonly #sent = new Map<string, string>();
  #started = false;

  /** The first view whole; after it, what changed since the last (no lease at all when none changed). */
  next(view: WorkerView): ViewEvent {
    const first = !this.#started;
    this.#started = true;
    const { leases, ...rest } = view;
    const changed: string[] = [];
    const present = new Set<string>();
    for (const lease of leases) {
      const json = JSON.stringify(lease);
      present.add(lease.stream);
      if (this.#sent.get(lease.stream) === json) continue;
      this.#sent.set(lease.stream, json);
      changed.push(json);
    }
    const removed = [...this.#sent.keys()].filter((stream) => !present.has(stream));
    for (const stream of removed) this.#sent.delete(stream);
    // The leases' JSON is spliced in as it was compared rather than serialized twice.
    const head = JSON.stringify(first ? rest : { ...rest, removed });
    return { event: first ? 'message' : 'changes', data: `${head.slice(0, -1)},"leases":[${changed.join(',')}]}` };
  }
}
