// A plain-data picture of a machine's states and transitions, for the debug page's diagrams.
// It reads the machine's own definition, so production code needs no graph library.

import type { AnyStateMachine, AnyStateNode } from 'xstate';

export interface MachineNodeDescription {
  /** Dotted id, e.g. `lease.reading.media.streaming`. */
  id: string;
  parent: string | null;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  description: string | null;
  /** Ids of the actors invoked while in this state, with the logic they run. */
  invoke: Array<{ id: string; src: string }>;
}

export interface MachineEdgeDescription {
  source: string;
  /** The source itself for a transition with no target (it only runs actions). */
  target: string;
  /**
   * The event type; delays appear as `xstate.after.<delay>.<state id>`, actor results as
   * `xstate.done|error.actor.<id>`.
   */
  event: string;
  guard: string | null;
}

export interface MachineDescription {
  id: string;
  nodes: MachineNodeDescription[];
  edges: MachineEdgeDescription[];
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') return guard.type;
  return 'inline';
}

function srcName(src: unknown): string {
  return typeof src === 'string' ? src : 'inline';
}

export function describeMachine(machine: AnyStateMachine): MachineDescription {
  const nodes: MachineNodeDescription[] = [];
  const edges: MachineEdgeDescription[] = [];
  const visit = (node: AnyStateNode, parent: string | null): void => {
    nodes.push({
      id: node.id,
      parent,
      type: node.type,
      description: node.description ?? null,
      invoke: node.invoke.map((invoke) => ({ id: invoke.id, src: srcName(invoke.src) })),
    });
    for (const transitions of node.transitions.values()) {
      for (const transition of transitions) {
        const targets: readonly AnyStateNode[] = transition.target ?? [node];
        for (const target of targets) {
          edges.push({
            source: node.id,
            target: target.id,
            event: transition.eventType,
            guard: guardName(transition.guard),
          });
        }
      }
    }
    for (const child of Object.values(node.states)) visit(child, node.id);
  };
  visit(machine.root, null);
  return { id: machine.id, nodes, edges };
}
