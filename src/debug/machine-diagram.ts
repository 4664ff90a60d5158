// Diagrams of an xstate machine from its plain-data description: Mermaid and Graphviz DOT text here,
// a laid-out SVG in machine-svg.ts. Shared by both: the state tree, which edges are drawn, and their labels.

import type { AnyStateMachine, AnyStateNode } from 'xstate';
import {
  describeMachine,
  type MachineDescription,
  type MachineEdgeDescription,
  type MachineNodeDescription,
} from './machine-description.js';

export interface DiagramNode extends MachineNodeDescription {
  /** Id of the child entered first, for a compound state; absent when the description does not say. */
  initial?: string | null;
}

/** A MachineDescription, optionally with each compound state's initial child (see describeDiagram). */
export interface DiagramDescription {
  id: string;
  nodes: DiagramNode[];
  edges: MachineEdgeDescription[];
}

export interface DiagramOptions {
  /**
   * Which transitions that stay in their state are drawn. `significant` (the default) keeps a self-loop only
   * when it is guarded (a decision the reader should see, e.g. FRAGMENT_COMPLETE [advancesCheckpoint]) or
   * timed (a timer that re-arms itself); an unguarded event that only runs actions (FRAGMENT_READ) is
   * bookkeeping, and drawing it on every state that has one makes the diagram unreadable.
   */
  selfLoops?: 'significant' | 'all';
}

/** describeMachine plus each compound state's initial child, which the plain description leaves out. */
export function describeDiagram(machine: AnyStateMachine): DiagramDescription {
  const description: MachineDescription = describeMachine(machine);
  const initials = new Map<string, string>();
  const visit = (node: AnyStateNode): void => {
    const target = node.type === 'compound' ? node.initial?.target?.[0] : undefined;
    if (target !== undefined) initials.set(node.id, target.id);
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  return {
    ...description,
    nodes: description.nodes.map((node) => ({
      ...node,
      initial: node.type === 'compound' ? (initials.get(node.id) ?? null) : null,
    })),
  };
}

// ---- the state tree ----

export interface StateTree {
  root: DiagramNode;
  byId: Map<string, DiagramNode>;
  children: Map<string, DiagramNode[]>;
  /** The state's own name: its id relative to its parent's, or the whole id when it has an explicit one. */
  key(node: DiagramNode): string;
  /** The state's ancestors, root first, ending with the state itself. */
  path(id: string): DiagramNode[];
}

export function stateTree(description: DiagramDescription): StateTree {
  const byId = new Map<string, DiagramNode>();
  const children = new Map<string, DiagramNode[]>();
  let root: DiagramNode | undefined;
  for (const node of description.nodes) {
    byId.set(node.id, node);
    children.set(node.id, []);
  }
  for (const node of description.nodes) {
    if (node.parent === null) root ??= node;
    else children.get(node.parent)?.push(node);
  }
  if (root === undefined) throw new Error(`machine ${description.id} has no root state`);
  const key = (node: DiagramNode): string =>
    node.parent !== null && node.id.startsWith(`${node.parent}.`) ? node.id.slice(node.parent.length + 1) : node.id;
  const path = (id: string): DiagramNode[] => {
    const chain: DiagramNode[] = [];
    for (let node = byId.get(id); node !== undefined; node = node.parent === null ? undefined : byId.get(node.parent))
      chain.unshift(node);
    return chain;
  };
  return { root, byId, children, key, path };
}

/** The deepest state that contains both edges' ends strictly (a self-loop's container is its parent). */
export function edgeContainer(tree: StateTree, edge: MachineEdgeDescription): DiagramNode {
  const a = tree.path(edge.source).slice(0, -1);
  const b = tree.path(edge.target).slice(0, -1);
  let container = tree.root;
  for (let i = 0; i < Math.min(a.length, b.length) && a[i] === b[i]; i++) container = a[i]!;
  return container;
}

/** The initial child of a compound state: from the description, else none (a plain MachineDescription lacks it). */
export function initialChild(tree: StateTree, node: DiagramNode): DiagramNode | null {
  if (node.type !== 'compound' || node.initial === undefined || node.initial === null) return null;
  return tree.byId.get(node.initial) ?? null;
}

// ---- edges and labels ----

export function drawnEdges(description: DiagramDescription, options: DiagramOptions = {}): MachineEdgeDescription[] {
  const all = options.selfLoops === 'all';
  return description.edges.filter(
    (edge) => all || edge.source !== edge.target || edge.guard !== null || edge.event.startsWith('xstate.after.'),
  );
}

/** `xstate.after.<delay>.<state>` → `after <delay>`, `xstate.done.actor.<id>` → `<id> done`, and so on. */
export function eventLabel(event: string, source: string): string {
  const after = 'xstate.after.';
  if (event.startsWith(after)) {
    const rest = event.slice(after.length);
    const delay = rest.endsWith(`.${source}`) ? rest.slice(0, -source.length - 1) : rest.split('.')[0]!;
    return /^\d+$/.test(delay) ? `after ${delay}ms` : `after ${delay}`;
  }
  for (const [prefix, suffix] of [
    ['xstate.done.actor.', 'done'],
    ['xstate.error.actor.', 'error'],
  ] as const) {
    if (event.startsWith(prefix)) return `${event.slice(prefix.length)} ${suffix}`;
  }
  if (event.startsWith('xstate.done.state.')) return 'done';
  return event;
}

export function edgeLabel(edge: MachineEdgeDescription): string {
  const label = eventLabel(edge.event, edge.source);
  return edge.guard === null ? label : `${label} [${edge.guard}]`;
}

/** The external events a machine reacts to: every event type that is not one of xstate's own. */
export function externalEvents(description: DiagramDescription): string[] {
  return [
    ...new Set(description.edges.map((edge) => edge.event).filter((event) => !event.startsWith('xstate.'))),
  ].sort();
}

// ---- Mermaid ----

const MERMAID_RESERVED = new Set([
  'state',
  'note',
  'end',
  'direction',
  'class',
  'classdef',
  'style',
  'as',
  'left',
  'right',
  'of',
  'hide',
  'scale',
]);

function mermaidIds(tree: StateTree, description: DiagramDescription): Map<string, string> {
  const counts = new Map<string, number>();
  for (const node of description.nodes) counts.set(tree.key(node), (counts.get(tree.key(node)) ?? 0) + 1);
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  for (const node of description.nodes) {
    if (node === tree.root) continue;
    const key = tree.key(node);
    const plain =
      /^[A-Za-z][A-Za-z0-9_]*$/.test(key) && !MERMAID_RESERVED.has(key.toLowerCase()) && counts.get(key) === 1;
    // Mermaid's state ids are global to the diagram, so a name used twice (two regions' `idle`) takes its path.
    let id = plain
      ? key
      : `s_${tree
          .path(node.id)
          .slice(1)
          .map((n) => tree.key(n))
          .join('_')
          .replace(/[^A-Za-z0-9_]/g, '_')}`;
    while (taken.has(id)) id = `${id}_`;
    taken.add(id);
    ids.set(node.id, id);
  }
  return ids;
}

function mermaidText(text: string): string {
  return text.replace(/#/g, '#35;').replace(/;/g, '#59;').replace(/"/g, '#quot;').replace(/\s+/g, ' ');
}

/** A Mermaid `stateDiagram-v2`; the root state is the diagram itself, titled with the machine's id. */
export function toMermaid(description: DiagramDescription, options: DiagramOptions = {}): string {
  const tree = stateTree(description);
  const ids = mermaidIds(tree, description);
  const id = (stateId: string): string => ids.get(stateId) ?? '[*]';
  const edgesIn = new Map<string, MachineEdgeDescription[]>();
  for (const edge of drawnEdges(description, options)) {
    const container = edgeContainer(tree, edge).id;
    edgesIn.set(container, [...(edgesIn.get(container) ?? []), edge]);
  }
  const lines = ['---', `title: ${mermaidText(description.id)}`, '---', 'stateDiagram-v2'];

  // The lines inside `container`'s block (or the diagram, for the root), at `depth`.
  const body = (container: DiagramNode, depth: number): string[] => {
    const pad = '  '.repeat(depth);
    const out: string[] = [];
    const referenced = new Set<string>();
    const initial = initialChild(tree, container);
    if (initial !== null) {
      out.push(`${pad}[*] --> ${id(initial.id)}`);
      referenced.add(initial.id);
    }
    const edges = edgesIn.get(container.id) ?? [];
    for (const edge of edges) referenced.add(edge.source).add(edge.target);
    const children = tree.children.get(container.id) ?? [];
    for (const child of children) if (child.type === 'final') referenced.add(child.id);
    const declarations: string[] = [];
    const regions: string[][] = [];
    for (const child of children) {
      const key = tree.key(child);
      const childId = id(child.id);
      const head = childId === key ? `state ${childId}` : `state "${mermaidText(key)}" as ${childId}`;
      if (child.type === 'compound' || child.type === 'parallel') {
        regions.push([`${pad}${head} {`, ...body(child, depth + 1), `${pad}}`]);
      } else if (childId !== key || !referenced.has(child.id)) {
        declarations.push(`${pad}${head}`);
      }
    }
    out.push(...declarations);
    // A parallel state's children are its regions, which Mermaid separates with `--`.
    for (const [i, region] of regions.entries()) {
      out.push(...(i > 0 && container.type === 'parallel' ? [`${pad}--`] : []), ...region);
    }
    for (const edge of edges)
      out.push(`${pad}${id(edge.source)} --> ${id(edge.target)} : ${mermaidText(edgeLabel(edge))}`);
    for (const child of children) if (child.type === 'final') out.push(`${pad}${id(child.id)} --> [*]`);
    return out;
  };
  lines.push(...body(tree.root, 1));
  return `${lines.join('\n')}\n`;
}

// ---- Graphviz DOT ----

function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * Graphviz DOT: compound and parallel states are `cluster_<id>` subgraphs, each holding an invisible point
 * named by the state's id, so that edges to and from a container can end on its border (lhead / ltail).
 */
export function toDot(description: DiagramDescription, options: DiagramOptions = {}): string {
  const tree = stateTree(description);
  const isContainer = (node: DiagramNode): boolean => node.type === 'compound' || node.type === 'parallel';
  const lines = [
    `digraph ${dotString(description.id)} {`,
    '  compound=true;',
    '  rankdir=TB;',
    '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=12];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  const initialEdges: string[] = [];
  const emit = (node: DiagramNode, depth: number): void => {
    const pad = '  '.repeat(depth);
    const key = tree.key(node);
    if (!isContainer(node)) {
      const attributes = [`label=${dotString(key)}`];
      if (node.type === 'final') attributes.push('peripheries=2');
      if (node.description !== null) attributes.push(`tooltip=${dotString(node.description)}`);
      lines.push(`${pad}${dotString(node.id)} [${attributes.join(', ')}];`);
      return;
    }
    const region = node.parent !== null && tree.byId.get(node.parent)?.type === 'parallel';
    lines.push(`${pad}subgraph ${dotString(`cluster_${node.id}`)} {`);
    lines.push(`${pad}  label=${dotString(node.type === 'parallel' ? `${key} (parallel)` : key)};`);
    lines.push(`${pad}  style=${dotString(region ? 'rounded,dashed' : 'rounded')};`);
    lines.push(`${pad}  ${dotString(node.id)} [shape=point, style=invis, width=0, height=0, label=""];`);
    const initial = initialChild(tree, node);
    if (initial !== null) {
      const start = `${node.id}.[*]`;
      lines.push(`${pad}  ${dotString(start)} [shape=point, width=0.12, label=""];`);
      const head = isContainer(initial) ? `, lhead=${dotString(`cluster_${initial.id}`)}` : '';
      initialEdges.push(`  ${dotString(start)} -> ${dotString(initial.id)} [arrowsize=0.7${head}];`);
    }
    for (const child of tree.children.get(node.id) ?? []) emit(child, depth + 1);
    lines.push(`${pad}}`);
  };
  emit(tree.root, 1);
  lines.push(...initialEdges);
  for (const edge of drawnEdges(description, options)) {
    const attributes = [`label=${dotString(edgeLabel(edge))}`];
    const source = tree.byId.get(edge.source);
    const target = tree.byId.get(edge.target);
    if (edge.source !== edge.target) {
      if (source !== undefined && isContainer(source)) attributes.push(`ltail=${dotString(`cluster_${source.id}`)}`);
      if (target !== undefined && isContainer(target)) attributes.push(`lhead=${dotString(`cluster_${target.id}`)}`);
    }
    lines.push(`  ${dotString(edge.source)} -> ${dotString(edge.target)} [${attributes.join(', ')}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
