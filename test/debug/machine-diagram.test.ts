// Diagrams of the lease machine (Mermaid, DOT, SVG): every state and external event drawn, DOT clusters nested
// like the machine, SVG geometry consistent; and the exact Mermaid text of a small hand-made machine.

import parseDot from 'dotparser';
import { XMLParser } from 'fast-xml-parser';
import t from 'tap';
import { createMachine } from 'xstate';
import { describeMachine } from '../../src/debug/machine-description.js';
import {
  type DiagramDescription,
  describeDiagram,
  edgeLabel,
  eventLabel,
  toDot,
  toMermaid,
} from '../../src/debug/machine-diagram.js';
import { svgStateId, toSvg } from '../../src/debug/machine-svg.js';
import { leaseMachine } from '../../src/machines/index.js';

const EXTERNAL_EVENTS = [
  'LEASE_LOST',
  'SHUTDOWN',
  'DRAINED',
  'FRAGMENT_COMPLETE',
  'READER_FAILED',
  'READER_ENDED',
  'STREAM_MISSING',
  'CHECKPOINT_NOW',
];

const lease = describeDiagram(leaseMachine);
const key = (id: string) => id.split('.').at(-1)!;

// ---------------------------------------------------------------- description

t.test('describeDiagram adds each compound state its initial child, and nothing else', async (t) => {
  const plain = describeMachine(leaseMachine);
  t.same(lease.edges, plain.edges);
  t.same(
    lease.nodes.map(({ initial: _initial, ...node }) => node),
    plain.nodes,
  );
  const initials = Object.fromEntries(lease.nodes.filter((n) => n.initial).map((n) => [n.id, n.initial]));
  t.same(initials, {
    lease: 'lease.acquiring',
    'lease.reading.media': 'lease.reading.media.streaming',
    'lease.reading.checkpoints': 'lease.reading.checkpoints.idle',
  });
});

t.test('edge labels are humanised', async (t) => {
  t.equal(
    eventLabel('xstate.after.checkpointInterval.lease.reading.checkpoints.idle', 'lease.reading.checkpoints.idle'),
    'after checkpointInterval',
  );
  t.equal(eventLabel('xstate.after.1000.door.open.light.on', 'door.open.light.on'), 'after 1000ms');
  t.equal(eventLabel('xstate.done.actor.acquirer', 'lease.acquiring'), 'acquirer done');
  t.equal(eventLabel('xstate.error.actor.finalCheckpoint', 'lease.checkpointing'), 'finalCheckpoint error');
  t.equal(eventLabel('LEASE_LOST', 'lease.reading'), 'LEASE_LOST');
  t.equal(
    edgeLabel({ source: 'a', target: 'b', event: 'DRAINED', guard: 'canWriteCheckpoint' }),
    'DRAINED [canWriteCheckpoint]',
  );
});

// ---------------------------------------------------------------- Mermaid

t.test('Mermaid: every state, every external event, regions and initial / final arrows', async (t) => {
  const text = toMermaid(lease);
  t.ok(text.includes('\nstateDiagram-v2\n'));
  t.match(text, /^title: lease$/m);
  for (const node of lease.nodes.slice(1)) t.match(text, new RegExp(`\\b${key(node.id)}\\b`), node.id);
  for (const event of EXTERNAL_EVENTS) t.match(text, new RegExp(` : ${event}\\b`), event);
  t.notMatch(text, /FRAGMENT_READ/, 'an unguarded action-only self-loop is left out');
  t.match(text, /^ {2}\[\*\] --> acquiring$/m);
  t.match(text, /^ {2}state reading \{\n {4}state media \{\n {6}\[\*\] --> streaming$/m);
  t.match(text, /^ {4}\}\n {4}--\n {4}state checkpoints \{\n {6}\[\*\] --> idle$/m);
  t.match(text, /^ {2}released --> \[\*\]$/m);
  t.match(text, /^ {2}lost --> \[\*\]$/m);
  t.match(text, /^ {2}acquiring --> reading : acquirer done$/m);
  t.match(text, /^ {2}writing --> lost : periodicCheckpoint error \[errorIsLeaseLost\]$/m);
  t.match(text, /^ {6}idle --> idle : after checkpointInterval$/m);
  t.match(text, /^ {2}reading --> reading : FRAGMENT_COMPLETE \[advancesCheckpoint\]$/m);
});

t.test('Mermaid of a small hand-made machine, exactly', async (t) => {
  const door = createMachine({
    id: 'door',
    initial: 'closed',
    states: {
      closed: { on: { OPEN: 'open', KNOCK: {} } },
      open: {
        type: 'parallel',
        on: { CLOSE: { target: 'closed', guard: 'isEmpty' } },
        states: {
          light: { initial: 'on', states: { on: { after: { 1000: 'off' } }, off: {} } },
          alarm: { initial: 'quiet', states: { quiet: { on: { TIMEOUT: 'ringing' } }, ringing: { type: 'final' } } },
        },
      },
    },
  });
  t.equal(
    toMermaid(describeDiagram(door)),
    [
      '---',
      'title: door',
      '---',
      'stateDiagram-v2',
      '  [*] --> closed',
      '  state open {',
      '    state light {',
      '      [*] --> on',
      '      on --> off : after 1000ms',
      '    }',
      '    --',
      '    state alarm {',
      '      [*] --> quiet',
      '      quiet --> ringing : TIMEOUT',
      '      ringing --> [*]',
      '    }',
      '  }',
      '  closed --> open : OPEN',
      '  open --> closed : CLOSE [isEmpty]',
      '',
    ].join('\n'),
  );
  t.match(toMermaid(describeDiagram(door), { selfLoops: 'all' }), /^ {2}closed --> closed : KNOCK$/m);
});

t.test('Mermaid: names used twice take their path as id, shown by their own name', async (t) => {
  const twins = createMachine({
    id: 'twins',
    type: 'parallel',
    states: {
      a: { initial: 'idle', states: { idle: { on: { GO: 'busy' } }, busy: {} } },
      b: { initial: 'idle', states: { idle: {} } },
    },
  });
  const text = toMermaid(describeDiagram(twins));
  t.match(text, /^ {4}state "idle" as s_a_idle$/m);
  t.match(text, /^ {4}\[\*\] --> s_b_idle$/m);
  t.match(text, /^ {4}s_a_idle --> busy : GO$/m);
  t.match(text, /^ {2}--$/m);
});

t.test('Mermaid from a plain description (no initial states) still draws every state', async (t) => {
  const text = toMermaid(describeMachine(leaseMachine));
  t.notMatch(text, /\[\*\] -->/);
  for (const node of lease.nodes.slice(1)) t.match(text, new RegExp(`\\b${key(node.id)}\\b`), node.id);
});

// ---------------------------------------------------------------- DOT

interface DotStatement {
  type: string;
  id?: string;
  children?: DotStatement[];
  node_id?: { id: string };
  edge_list?: Array<{ id: string }>;
  attr_list?: Array<{ id: string; eq: string }>;
}

t.test('DOT parses, its clusters nest like the machine, and every state and external event is in it', async (t) => {
  const [graph] = parseDot(toDot(lease)) as DotStatement[];
  t.equal(graph!.type, 'digraph');
  t.equal(graph!.id, 'lease');

  // cluster id -> parent cluster id; node id -> enclosing cluster id; every edge label
  const clusterParent = new Map<string, string | null>();
  const nodeCluster = new Map<string, string | null>();
  const labels: string[] = [];
  const edgeEnds: string[] = [];
  const walk = (statements: DotStatement[], cluster: string | null): void => {
    for (const statement of statements) {
      if (statement.type === 'subgraph') {
        clusterParent.set(statement.id!, cluster);
        walk(statement.children ?? [], statement.id!);
      } else if (statement.type === 'node_stmt') {
        nodeCluster.set(statement.node_id!.id, cluster);
      } else if (statement.type === 'edge_stmt') {
        edgeEnds.push(...statement.edge_list!.map((end) => end.id));
        const label = statement.attr_list?.find((a) => a.id === 'label');
        if (label) labels.push(label.eq);
      }
    }
  };
  walk(graph!.children!, null);

  const containers = lease.nodes.filter((n) => n.type === 'compound' || n.type === 'parallel');
  t.same(
    [...clusterParent.entries()].sort(),
    containers.map((n) => [`cluster_${n.id}`, n.parent === null ? null : `cluster_${n.parent}`]).sort(),
  );
  for (const node of lease.nodes) {
    t.ok(nodeCluster.has(node.id), `node ${node.id}`);
    const expected =
      node.type === 'compound' || node.type === 'parallel' ? `cluster_${node.id}` : `cluster_${node.parent}`;
    t.equal(nodeCluster.get(node.id), expected, `${node.id} sits in ${expected}`);
  }
  for (const end of edgeEnds) t.ok(nodeCluster.has(end), `edge end ${end} is a declared node`);
  for (const event of EXTERNAL_EVENTS)
    t.ok(
      labels.some((label) => label.split(' ')[0] === event),
      event,
    );
  t.ok(labels.includes('acquirer done'));
  t.ok(labels.includes('after drainTimeout [canWriteCheckpoint]'));
});

// ---------------------------------------------------------------- SVG

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface SvgState {
  id: string;
  state: string;
  className: string;
  rect: Rect;
  parent: SvgState | null;
}

type XmlElement = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  isArray: (name) => ['g', 'rect', 'text', 'path'].includes(name),
});

function parseSvg(svg: string) {
  const document = parser.parse(svg) as { svg: XmlElement };
  const root = document.svg;
  const groups = root.g as XmlElement[];
  const states: SvgState[] = [];
  const transitions: XmlElement[] = [];
  const visitState = (g: XmlElement, parent: SvgState | null): void => {
    const [rect] = g.rect as XmlElement[];
    const state: SvgState = {
      id: g['@_id'] as string,
      state: g['@_data-state'] as string,
      className: g['@_class'] as string,
      rect: {
        x: Number(rect!['@_x']),
        y: Number(rect!['@_y']),
        width: Number(rect!['@_width']),
        height: Number(rect!['@_height']),
      },
      parent,
    };
    states.push(state);
    for (const child of (g.g as XmlElement[] | undefined) ?? []) visitState(child, state);
  };
  for (const layer of groups) {
    if (layer['@_class'] === 'states') for (const g of layer.g as XmlElement[]) visitState(g, null);
    if (layer['@_class'] === 'transitions')
      transitions.push(...(layer.g as XmlElement[]).filter((g) => g['@_class'] === 'transition'));
  }
  return { root, states, transitions };
}

const inside = (inner: Rect, outer: Rect) =>
  inner.x >= outer.x &&
  inner.y >= outer.y &&
  inner.x + inner.width <= outer.x + outer.width &&
  inner.y + inner.height <= outer.y + outer.height;
const overlap = (a: Rect, b: Rect) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

t.test('SVG: one group per state with the id scheme the debug page relies on', async (t) => {
  const svg = toSvg(lease);
  const { root, states } = parseSvg(svg);
  t.equal(root['@_xmlns'], 'http://www.w3.org/2000/svg');
  t.match(root['@_viewBox'], /^0 0 \d+(\.\d)? \d+(\.\d)?$/);
  t.equal(`0 0 ${root['@_width']} ${root['@_height']}`, root['@_viewBox']);
  t.match(String(root.style), /\.state\.active > rect/);
  t.notMatch(svg, /<script|@import|@font-face|xlink:href|href=|url\((?!#)/, 'no scripts or external references');

  t.same(states.map((s) => s.state).sort(), lease.nodes.map((n) => n.id).sort());
  t.equal(svgStateId('lease.reading.media.streaming'), 'state-lease-reading-media-streaming');
  for (const state of states) {
    const node = lease.nodes.find((n) => n.id === state.state)!;
    t.equal(state.id, `state-${node.id.replace(/\./g, '-')}`);
    t.equal(state.className, `state state-${node.type}`);
    t.equal(state.parent?.state ?? null, node.parent, `${node.id} is drawn inside its parent's group`);
  }
  t.ok(states.find((s) => s.id === 'state-lease-reading-media-streaming'));
});

t.test('SVG geometry: nested states lie inside their parents, siblings do not overlap', async (t) => {
  const { root, states } = parseSvg(toSvg(lease));
  const [, , width, height] = String(root['@_viewBox']).split(' ').map(Number);
  for (const state of states) {
    t.ok(state.rect.width > 0 && state.rect.height > 0, `${state.state} has a size`);
    t.ok(inside(state.rect, { x: 0, y: 0, width: width!, height: height! }), `${state.state} is inside the viewBox`);
    if (state.parent !== null)
      t.ok(inside(state.rect, state.parent.rect), `${state.state} is inside ${state.parent.state}`);
  }
  for (const a of states) {
    for (const b of states) {
      if (a === b || a.parent !== b.parent || a.state > b.state) continue;
      t.notOk(overlap(a.rect, b.rect), `${a.state} and ${b.state} do not overlap`);
    }
  }
});

t.test('SVG: every transition group references existing states, and every external event labels one', async (t) => {
  const { states, transitions } = parseSvg(toSvg(lease));
  const ids = new Set(states.map((s) => s.state));
  t.ok(transitions.length > 20);
  for (const g of transitions) {
    t.ok(ids.has(g['@_data-source'] as string), `source ${g['@_data-source']}`);
    t.ok(ids.has(g['@_data-target'] as string), `target ${g['@_data-target']}`);
    t.type(g['@_data-event'], 'string');
    t.ok((g.path as XmlElement[])[0]!['@_d'], 'has a path');
    t.equal((g.path as XmlElement[])[0]!['@_marker-end'], 'url(#arrow-lease)');
  }
  const labels = transitions.map((g) => String((g.text as XmlElement[])[0]!['#text']));
  for (const event of EXTERNAL_EVENTS)
    t.ok(
      labels.some((label) => label.split(' ')[0] === event),
      event,
    );
  const events = new Set(transitions.map((g) => g['@_data-event']));
  t.ok(events.has('xstate.done.actor.acquirer'));
  const actionOnly = ['FRAGMENT_READ', 'CHECKPOINT_WRITTEN'];
  for (const event of actionOnly) t.notOk(events.has(event), `${event} is action-only`);
  t.equal(
    transitions.length,
    lease.edges.filter((edge) => !actionOnly.includes(edge.event)).length,
    'every transition but the action-only ones',
  );
});

t.test('output is deterministic', async (t) => {
  const again: DiagramDescription = describeDiagram(leaseMachine);
  t.equal(toSvg(again), toSvg(lease));
  t.equal(toDot(again), toDot(lease));
  t.equal(toMermaid(again), toMermaid(lease));
});

t.test('SVG of a small machine with a parallel state and a final state', async (t) => {
  const door = createMachine({
    id: 'door',
    initial: 'closed',
    states: {
      closed: { on: { OPEN: 'open' } },
      open: {
        type: 'parallel',
        on: { CLOSE: 'closed', BREAK: 'broken' },
        states: {
          light: { initial: 'on', states: { on: { on: { FLICK: 'off' } }, off: {} } },
          alarm: { initial: 'quiet', states: { quiet: {} } },
        },
      },
      broken: { type: 'final' },
    },
  });
  const svg = toSvg(describeDiagram(door));
  const { states, transitions } = parseSvg(svg);
  t.same(
    states.map((s) => [s.id, s.className]),
    [
      ['state-door', 'state state-compound'],
      ['state-door-closed', 'state state-atomic'],
      ['state-door-open', 'state state-parallel'],
      ['state-door-open-light', 'state state-compound'],
      ['state-door-open-light-on', 'state state-atomic'],
      ['state-door-open-light-off', 'state state-atomic'],
      ['state-door-open-alarm', 'state state-compound'],
      ['state-door-open-alarm-quiet', 'state state-atomic'],
      ['state-door-broken', 'state state-final'],
    ],
  );
  t.match(
    svg,
    /<g id="state-door-open-light" class="state state-compound" data-state="door.open.light" data-region="true">/,
  );
  t.match(
    svg,
    new RegExp(
      /<g id="state-door-broken" class="state state-final" data-state="door.broken">\s*/.source +
        /<rect class="outer"[^>]*\/>\s*<rect class="inner"/.source,
    ),
  );
  t.same(
    transitions.map((g) => g['@_data-event']),
    ['OPEN', 'CLOSE', 'BREAK', 'FLICK'],
  );
});
