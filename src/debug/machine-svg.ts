// A standalone SVG of a machine, laid out by dagre and drawn here: states as nested groups the debug page
// can restyle with CSS (`.state.active > rect`), transitions as labelled paths with arrowheads.

import dagre from '@dagrejs/dagre';
import type { MachineEdgeDescription } from './machine-description.js';
import {
  type DiagramDescription,
  type DiagramNode,
  type DiagramOptions,
  drawnEdges,
  edgeLabel,
  initialChild,
  type StateTree,
  stateTree,
} from './machine-diagram.js';

interface Point {
  x: number;
  y: number;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The drawn transitions that share a layout edge: same source and target. */
interface Bundle {
  v: string;
  w: string;
  name: string;
  self: boolean;
  edges: MachineEdgeDescription[];
}

// Text is measured by estimate (no font metrics without a browser): glyph widths by class, a little over
// what common sans-serif fonts use, which only widens the boxes.
const NAME_SIZE = 13;
const SMALL_SIZE = 11;
const GLYPH = 0.58;
const FONT = "ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
/** Room between a state's right side and a self-loop's label, for the loop itself. */
const LOOP = 24;
const LABEL_HEIGHT = 15;

function textWidth(text: string, size: number): number {
  let ems = 0;
  for (const char of text) {
    if (/[ijlI.,:;'|!() [\]]/.test(char)) ems += 0.32;
    else if (/[A-Z_mwMW]/.test(char)) ems += 0.72;
    else ems += GLYPH;
  }
  return Math.ceil(ems * size);
}

function num(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function svgStateId(stateId: string): string {
  return `state-${stateId.replace(/\./g, '-')}`;
}

const isContainer = (node: DiagramNode): boolean => node.type === 'compound' || node.type === 'parallel';

// Names of the layout graph's helper nodes. Dagre cannot route edges to a cluster, so a container's label is a
// node of its own at the top of the cluster (edges into the container aim at it), and edges out of the container
// start from an exit node at its bottom; both ends are clipped to the container's border when drawn.
const labelNode = (id: string): string => `${id}#label`;
const exitNode = (id: string): string => `${id}#exit`;
const initNode = (id: string): string => `${id}#initial`;

function containerLabel(tree: StateTree, node: DiagramNode): string {
  return node.type === 'parallel' ? `${tree.key(node)} (parallel)` : tree.key(node);
}

function invokeLine(node: DiagramNode): string | null {
  return node.invoke.length === 0 ? null : `invokes ${node.invoke.map((invoke) => invoke.id).join(', ')}`;
}

function atomicSize(tree: StateTree, node: DiagramNode): { width: number; height: number } {
  const invoke = invokeLine(node);
  const width =
    Math.max(textWidth(tree.key(node), NAME_SIZE), invoke === null ? 0 : textWidth(invoke, SMALL_SIZE)) + 24;
  return { width: Math.max(width, 72), height: invoke === null ? 34 : 48 };
}

/** Cuts `points` where they first enter `box` from outside; unchanged when they start inside it. */
function clipEntering(points: Point[], box: Box): Point[] {
  const inside = (p: Point): boolean =>
    p.x > box.x - box.width / 2 &&
    p.x < box.x + box.width / 2 &&
    p.y > box.y - box.height / 2 &&
    p.y < box.y + box.height / 2;
  if (points.length < 2 || inside(points[0]!)) return points;
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    if (inside(a) || !inside(b)) continue;
    // Bisect the segment for the border crossing: exact enough, and simpler than four line intersections.
    let lo = 0;
    let hi = 1;
    for (let step = 0; step < 30; step++) {
      const mid = (lo + hi) / 2;
      if (inside({ x: a.x + (b.x - a.x) * mid, y: a.y + (b.y - a.y) * mid })) hi = mid;
      else lo = mid;
    }
    return [...points.slice(0, i + 1), { x: a.x + (b.x - a.x) * hi, y: a.y + (b.y - a.y) * hi }];
  }
  return points;
}

/** A path through `points` with the corners rounded: straight to each midpoint, a quadratic curve around each point. */
function smoothPath(points: Point[]): string {
  if (points.length === 0) return '';
  const first = points[0]!;
  let d = `M${num(first.x)},${num(first.y)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i]!;
    const next = points[i + 1]!;
    d += ` Q${num(p.x)},${num(p.y)} ${num((p.x + next.x) / 2)},${num((p.y + next.y) / 2)}`;
  }
  const last = points[points.length - 1]!;
  return `${d} L${num(last.x)},${num(last.y)}`;
}

const STYLE = `
.machine-diagram { font-family: ${FONT}; }
.state > rect { fill: #ffffff; stroke: #4a5568; stroke-width: 1.2; }
.state-compound > rect, .state-parallel > rect { fill: #f7fafc; fill-opacity: 0.6; }
.state[data-region] > rect { stroke-dasharray: 5 3; }
.state-final > rect.inner { fill: none; }
.state > .state-name { font-size: ${NAME_SIZE}px; fill: #1a202c; text-anchor: middle; dominant-baseline: central; }
.state > .state-label { font-size: 12px; font-weight: 600; fill: #2d3748; \
text-anchor: middle; dominant-baseline: central; }
.state > .state-invoke { font-size: ${SMALL_SIZE}px; fill: #718096; text-anchor: middle; dominant-baseline: central; }
.state.active > rect { fill: #c6f6d5; stroke: #2f855a; stroke-width: 2; }
.transition > path, .initial > path { fill: none; stroke: #4a5568; stroke-width: 1.1; }
.transition > .transition-label-bg { fill: #ffffff; fill-opacity: 0.85; stroke: none; }
.transition > text { font-size: ${SMALL_SIZE}px; fill: #2d3748; text-anchor: middle; dominant-baseline: central; }
.transition.active > path { stroke: #2f855a; stroke-width: 2; }
.initial > circle { fill: #1a202c; }
.arrowhead { fill: #4a5568; }
`;

/**
 * A standalone SVG (no scripts, fonts or links): every state is a `<g id="state-<id with - for .>" class="state
 * state-<type>" data-state="<id>">` nested in its parent's, every drawn transition a `<g class="transition">`
 * with data-source, data-target and data-event. The same description always gives the same text.
 */
export function toSvg(description: DiagramDescription, options: DiagramOptions = {}): string {
  const tree = stateTree(description);
  const edges = drawnEdges(description, options);
  const graph = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  graph.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 36, edgesep: 12, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));

  // Containers that edges leave get an exit node, and so do their descendant containers (their exits chain down
  // to the outer one, keeping it below everything inside).
  const exits = new Set<string>();
  for (const edge of edges) {
    if (edge.source === edge.target || !isContainer(tree.byId.get(edge.source)!)) continue;
    const mark = (id: string): void => {
      exits.add(id);
      for (const child of tree.children.get(id) ?? []) if (isContainer(child)) mark(child.id);
    };
    mark(edge.source);
  }
  // The node an edge attaches to in the layout, for a state at either end.
  const entry = (id: string): string => (isContainer(tree.byId.get(id)!) ? labelNode(id) : id);
  const leave = (id: string): string => (isContainer(tree.byId.get(id)!) ? exitNode(id) : id);
  const layoutEdge = (
    v: string,
    w: string,
    name: string,
    label: { width?: number; height?: number; weight?: number },
  ): void => {
    graph.setEdge(v, w, { minlen: 1, weight: 1, labelpos: 'c', width: 0, height: 0, ...label }, name);
  };

  let helper = 0;
  const addState = (node: DiagramNode): void => {
    if (!isContainer(node)) {
      graph.setNode(node.id, atomicSize(tree, node));
    } else {
      graph.setNode(node.id, {});
      const title = containerLabel(tree, node);
      graph.setNode(labelNode(node.id), { width: textWidth(title, 12) + 12, height: 20 });
      graph.setParent(labelNode(node.id), node.id);
      const initial = initialChild(tree, node);
      if (initial !== null) {
        graph.setNode(initNode(node.id), { width: 12, height: 12 });
        graph.setParent(initNode(node.id), node.id);
        layoutEdge(labelNode(node.id), initNode(node.id), `h${helper++}`, {});
      }
      if (exits.has(node.id)) {
        graph.setNode(exitNode(node.id), { width: 1, height: 1 });
        graph.setParent(exitNode(node.id), node.id);
      }
      // Hidden edges keep the label above everything in the container and the exit below it. They weigh as
      // much as real ones: with weight 0, dagre 3.1 places nodes at NaN.
      for (const child of tree.children.get(node.id) ?? []) {
        addState(child);
        graph.setParent(child.id, node.id);
        layoutEdge(labelNode(node.id), entry(child.id), `h${helper++}`, {});
        if (exits.has(node.id)) layoutEdge(leave(child.id), exitNode(node.id), `h${helper++}`, {});
      }
    }
    if (node.parent !== null) graph.setParent(node.id, node.parent);
  };
  addState(tree.root);

  const initials: Array<{ container: DiagramNode; target: DiagramNode; name: string }> = [];
  for (const node of description.nodes) {
    const target = initialChild(tree, node);
    if (target === null) continue;
    const name = `i${initials.length}`;
    initials.push({ container: node, target, name });
    layoutEdge(initNode(node.id), entry(target.id), name, { weight: 2 });
  }
  // Transitions between the same two states share one routed path, their labels stacked on it: a third of the
  // lease machine's transitions are such repeats, and routing each apart makes the diagram twice as wide.
  const bundles: Bundle[] = [];
  const bundleOf = new Map<string, Bundle>();
  for (const edge of edges) {
    const self = edge.source === edge.target;
    const v = self ? entry(edge.source) : leave(edge.source);
    const w = entry(edge.target);
    const key = `${v}\u0000${w}`;
    let bundle = bundleOf.get(key);
    if (bundle === undefined) {
      bundle = { v, w, name: `e${bundles.length}`, self, edges: [] };
      bundles.push(bundle);
      bundleOf.set(key, bundle);
    }
    bundle.edges.push(edge);
  }
  for (const bundle of bundles) {
    const width =
      Math.max(...bundle.edges.map((edge) => textWidth(edgeLabel(edge), SMALL_SIZE) + 8)) + (bundle.self ? LOOP : 0);
    layoutEdge(bundle.v, bundle.w, bundle.name, { width, height: LABEL_HEIGHT * bundle.edges.length });
  }

  dagre.layout(graph);

  const box = (id: string): Box => {
    const { x, y, width, height } = graph.node(id) as Box;
    return { x, y, width, height };
  };
  const rect = (b: Box, extra = ''): string =>
    `<rect${extra} x="${num(b.x - b.width / 2)}" y="${num(b.y - b.height / 2)}" ` +
    `width="${num(b.width)}" height="${num(b.height)}" rx="8" ry="8"/>`;

  const drawState = (node: DiagramNode, depth: number): string[] => {
    const pad = '  '.repeat(depth);
    const b = box(node.id);
    const region = node.parent !== null && tree.byId.get(node.parent)?.type === 'parallel' ? ' data-region="true"' : '';
    const out = [
      `${pad}<g id="${xml(svgStateId(node.id))}" class="state state-${node.type}" ` +
        `data-state="${xml(node.id)}"${region}>`,
    ];
    if (node.description !== null) out.push(`${pad}  <title>${xml(node.description)}</title>`);
    if (isContainer(node)) {
      const label = box(labelNode(node.id));
      out.push(`${pad}  ${rect(b)}`);
      out.push(
        `${pad}  <text class="state-label" x="${num(label.x)}" y="${num(label.y)}">` +
          `${xml(containerLabel(tree, node))}</text>`,
      );
      for (const child of tree.children.get(node.id) ?? []) out.push(...drawState(child, depth + 1));
    } else {
      out.push(`${pad}  ${rect(b, node.type === 'final' ? ' class="outer"' : '')}`);
      if (node.type === 'final')
        out.push(`${pad}  ${rect({ ...b, width: b.width - 6, height: b.height - 6 }, ' class="inner"')}`);
      const invoke = invokeLine(node);
      out.push(
        `${pad}  <text class="state-name" x="${num(b.x)}" y="${num(invoke === null ? b.y : b.y - 7)}">` +
          `${xml(tree.key(node))}</text>`,
      );
      if (invoke !== null)
        out.push(`${pad}  <text class="state-invoke" x="${num(b.x)}" y="${num(b.y + 10)}">${xml(invoke)}</text>`);
    }
    out.push(`${pad}</g>`);
    return out;
  };

  const pointsOf = (v: string, w: string, name: string): Point[] =>
    ((graph.edge(v, w, name) as { points?: Point[] }).points ?? []).map((p) => ({ x: p.x, y: p.y }));

  const drawBundle = (bundle: Bundle): string[] => {
    const layout = graph.edge(bundle.v, bundle.w, bundle.name) as Box;
    let d: string;
    // Labels are centred on the path, or start just right of a self-loop.
    let labelLeft: number | null = null;
    if (bundle.self) {
      // Dagre reserves the labels' room to the right of the state (or of a container's label), though not always
      // next to it; the loop and its labels hug the state instead, leaving that room empty rather than far away.
      const b = box(bundle.v);
      const right = b.x + b.width / 2;
      const reach = right + LOOP - 4;
      const dy = Math.min(b.height / 2 - 4, 10);
      d =
        `M${num(right)},${num(b.y - dy)} C${num(reach)},${num(b.y - dy - 12)} ` +
        `${num(reach)},${num(b.y + dy + 12)} ${num(right)},${num(b.y + dy)}`;
      labelLeft = right + LOOP;
    } else {
      let points = pointsOf(bundle.v, bundle.w, bundle.name);
      const source = tree.byId.get(bundle.edges[0]!.source)!;
      const target = tree.byId.get(bundle.edges[0]!.target)!;
      if (isContainer(target)) points = clipEntering(points, box(target.id));
      if (isContainer(source)) points = clipEntering([...points].reverse(), box(source.id)).reverse();
      d = smoothPath(points);
    }
    const out: string[] = [];
    bundle.edges.forEach((edge, k) => {
      const text = edgeLabel(edge);
      const labelWidth = textWidth(text, SMALL_SIZE) + 8;
      const labelX = labelLeft === null ? layout.x : labelLeft + labelWidth / 2;
      const labelY = layout.y - layout.height / 2 + LABEL_HEIGHT * (k + 0.5);
      const guard = edge.guard === null ? '' : ` data-guard="${xml(edge.guard)}"`;
      out.push(
        `    <g class="transition" data-source="${xml(edge.source)}" data-target="${xml(edge.target)}" ` +
          `data-event="${xml(edge.event)}"${guard}>`,
        `      <path d="${d}" marker-end="url(#${markerId})"/>`,
        `      <rect class="transition-label-bg" x="${num(labelX - labelWidth / 2)}" ` +
          `y="${num(labelY - LABEL_HEIGHT / 2)}" width="${num(labelWidth)}" height="${LABEL_HEIGHT}" rx="3" ry="3"/>`,
        `      <text x="${num(labelX)}" y="${num(labelY)}">${xml(text)}</text>`,
        '    </g>',
      );
    });
    return out;
  };

  const markerId = `arrow-${description.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const { width = 0, height = 0 } = graph.graph() as { width?: number; height?: number };
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="machine-diagram" data-machine="${xml(description.id)}" ` +
      `viewBox="0 0 ${num(width)} ${num(height)}" width="${num(width)}" height="${num(height)}">`,
    `  <title>${xml(`${description.id} state machine`)}</title>`,
    `  <style>${STYLE}  </style>`,
    '  <defs>',
    `    <marker id="${markerId}" viewBox="0 0 10 10" refX="9" refY="5" ` +
      `markerWidth="7" markerHeight="7" orient="auto-start-reverse">`,
    '      <path class="arrowhead" d="M0,0 L10,5 L0,10 z"/>',
    '    </marker>',
    '  </defs>',
    '  <g class="states">',
    ...drawState(tree.root, 2),
    '  </g>',
    '  <g class="transitions">',
  ];
  for (const { container, target, name } of initials) {
    const start = box(initNode(container.id));
    let points = pointsOf(initNode(container.id), entry(target.id), name);
    if (isContainer(target)) points = clipEntering(points, box(target.id));
    lines.push(
      `    <g class="initial" data-state="${xml(container.id)}" data-target="${xml(target.id)}">`,
      `      <circle cx="${num(start.x)}" cy="${num(start.y)}" r="5"/>`,
      `      <path d="${smoothPath(points)}" marker-end="url(#${markerId})"/>`,
      '    </g>',
    );
  }
  for (const bundle of bundles) lines.push(...drawBundle(bundle));
  lines.push('  </g>', '</svg>');
  return `${lines.join('\n')}\n`;
}
