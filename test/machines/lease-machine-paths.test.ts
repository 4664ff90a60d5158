// The lease machine as a graph: every state and transition reachable, and no path that writes a checkpoint after
// the lease is lost. Paths come from @xstate/graph walking the pure transition function with sample events.

import {
  adjacencyMapToArray,
  getAdjacencyMap,
  getShortestPaths,
  getSimplePaths,
  getStateNodes,
  toDirectedGraph,
} from '@xstate/graph';
import t from 'tap';
import { type AnyEventObject, type SnapshotFrom, transition } from 'xstate';
import { describeMachine } from '../../src/debug/machine-description.js';
import { type LeaseEvent, leaseMachine } from '../../src/machines/index.js';

type LeaseSnapshot = SnapshotFrom<typeof leaseMachine>;

const input = { streamName: 'front-door', leaseKey: 'front-door' };
const description = describeMachine(leaseMachine);
const LOST = { code: 'LEASE_LOST', message: 'conditional check failed' };
const THROTTLED = { code: 'THROTTLED', message: 'slow down' };

/**
 * Every event type the machine knows (its own transitions, delays and actor results included), each with sample
 * payloads: both outcomes for every actor, and a completion that is always the next fragment, so that there is
 * always something new to write. Every event is offered in every state; where it is not handled it changes nothing.
 */
function sampleEvents(snapshot: LeaseSnapshot): AnyEventObject[] {
  const { checkpoint, pending } = snapshot.context;
  const next = String(Number(pending?.fragmentNumber ?? checkpoint?.fragmentNumber ?? '0') + 1);
  const payloads: Record<string, AnyEventObject[]> = {
    FRAGMENT_COMPLETE: [{ type: 'FRAGMENT_COMPLETE', fragmentNumber: next, serverTimestamp: Number(next) }],
    FRAGMENT_READ: [
      {
        type: 'FRAGMENT_READ',
        fragmentNumber: next,
        serverTimestamp: Number(next),
        continuationToken: `token-${next}`,
      },
    ],
    // A renewal carries what is pending (checkpointToCarry).
    CHECKPOINT_WRITTEN: pending ? [{ type: 'CHECKPOINT_WRITTEN', checkpoint: pending }] : [],
    READER_FAILED: [{ type: 'READER_FAILED', error: THROTTLED }],
    LEASE_LOST: [{ type: 'LEASE_LOST', error: LOST }],
    'xstate.done.actor.acquirer': [
      { type: 'xstate.done.actor.acquirer', output: { checkpoint: null } },
      { type: 'xstate.done.actor.acquirer', output: { checkpoint: { fragmentNumber: '10', serverTimestamp: 10 } } },
    ],
  };
  const types = new Set<string>([
    ...description.edges.map((edge) => edge.event),
    'CHECKPOINT_NOW',
    'LEASE_LOST',
    'STREAM_MISSING',
    'SHUTDOWN',
    'DRAINED',
    'READER_ENDED',
  ]);
  return [...types].flatMap((type) => {
    if (payloads[type]) return payloads[type];
    if (type.startsWith('xstate.error.actor.'))
      return [
        { type, error: LOST },
        { type, error: THROTTLED },
      ];
    return [{ type }];
  });
}

/** Two snapshots are the same vertex when they agree on the state and on every fact a guard or a test looks at. */
function abstractState(snapshot: LeaseSnapshot): string {
  const { context } = snapshot;
  return JSON.stringify({
    value: snapshot.value,
    status: snapshot.status,
    checkpoint: context.checkpoint !== null,
    pending: context.pending !== null,
    inFlight: context.inFlight !== null,
    // The first fragment read of a stream with no checkpoint writes one: a guard in all but name.
    read: context.hasRead,
    attempts: Math.min(context.attempts, 2),
    missingAttempts: Math.min(context.missingAttempts, 2),
    reason: context.endReason,
    drainTimedOut: context.drainTimedOut,
  });
}

const traversal = {
  input,
  events: sampleEvents as (snapshot: LeaseSnapshot) => LeaseEvent[],
  serializeState: abstractState,
};

const isLeaseLostEvent = (event: AnyEventObject): boolean =>
  event.type === 'LEASE_LOST' ||
  (event.type.startsWith('xstate.error.actor.') && (event as { error?: unknown }).error === LOST);

/** A checkpoint is being written in this snapshot (a write starts on entering one of these, and only then). */
const isWriting = (snapshot: LeaseSnapshot): boolean =>
  snapshot.matches({ reading: { checkpoints: 'writing' } }) || snapshot.matches('checkpointing');

const activeIds = (snapshot: LeaseSnapshot): string[] => snapshot._nodes.map((node) => node.id);

/** Every step (state, event, next state) reachable from the initial state, each sample event in each state. */
const reachableSteps = adjacencyMapToArray(getAdjacencyMap(leaseMachine, traversal));
const reachableStates = [...new Set(reachableSteps.map((step) => step.state))];

t.test('every state node is reachable (shortest paths from the initial state)', async (t) => {
  // Prepare
  const all = getStateNodes(leaseMachine.root).map((node) => node.id);

  // Act
  const paths = getShortestPaths(leaseMachine, traversal);
  const reached = new Set(paths.flatMap((path) => activeIds(path.state)));

  // Assess
  t.same(
    all.filter((id) => !reached.has(id)),
    [],
    'no unreachable state node',
  );
  t.ok(all.length >= 12, `${all.length} state nodes`);
  for (const id of [
    'lease.reading.media.reconnecting',
    'lease.reading.checkpoints.writing',
    'lease.checkpointing',
    'lease.lost',
  ]) {
    t.ok(reached.has(id), id);
  }
});

t.test('every transition of the machine is taken by some reachable step', async (t) => {
  // Prepare
  const steps = reachableSteps;

  // Act: an edge is taken when, from a state with its source active, its event leads to its target and does
  // something (an unhandled event returns the same snapshot and no actions).
  const untaken = description.edges.filter(
    (edge) =>
      !steps.some(({ state, event, nextState: next }) => {
        if (
          event.type !== edge.event ||
          !activeIds(state).includes(edge.source) ||
          !activeIds(next).includes(edge.target)
        ) {
          return false;
        }
        const [, actions] = transition(leaseMachine, state, event);
        return next !== state || actions.length > 0;
      }),
  );

  // Assess
  t.same(untaken, []);
  t.ok(description.edges.length >= 25, `${description.edges.length} transitions`);
});

t.test('no path writes a checkpoint after the lease is lost (all simple paths)', async (t) => {
  // Prepare: a coarser vertex keeps the number of simple paths small enough to list them all
  const coarse = (snapshot: LeaseSnapshot) =>
    JSON.stringify({
      value: snapshot.value,
      pending: snapshot.context.pending !== null,
      reason: snapshot.context.endReason,
    });

  // Act
  const paths = getSimplePaths(leaseMachine, { ...traversal, serializeState: coarse });
  const violations: string[] = [];
  let pathsThroughLoss = 0;
  for (const path of paths) {
    // Every step of a simple path changes the vertex, so a loss event on a path is one the machine handled.
    const lossAt = path.steps.findIndex((step) => isLeaseLostEvent(step.event));
    if (lossAt < 0) continue;
    pathsThroughLoss++;
    const after = path.steps
      .slice(lossAt)
      .map((step) => step.state)
      .concat(path.state);
    if (after.some(isWriting) || after.some((state) => !state.matches('lost'))) {
      violations.push(path.steps.map((step) => step.event.type).join(' > '));
    }
  }

  // Assess
  t.same(violations, []);
  t.ok(pathsThroughLoss > 20, `${pathsThroughLoss} of ${paths.length} paths lose the lease`);
  t.ok(
    paths.some((path) => path.steps.some((step) => isWriting(step.state))),
    'and the walk does reach the writing states (the check is not vacuous)',
  );
});

t.test('once lost, no event starts any actor or leads out of lost', async (t) => {
  // Prepare
  const lostStates = reachableStates.filter((state) => state.matches('lost'));

  // Act
  const effects = lostStates.flatMap((state) =>
    sampleEvents(state).map((event) => {
      const [next, actions] = transition(leaseMachine, state, event as LeaseEvent);
      // (An unhandled actor error still marks the snapshot `error` in the pure function; a running actor that
      // is done never sees it.)
      return { event: event.type, left: !next.matches('lost'), actions: actions.length, writing: isWriting(next) };
    }),
  );

  // Assess
  t.ok(lostStates.length >= 2, `${lostStates.length} distinct lost snapshots`);
  t.same(
    effects.filter((e) => e.left || e.actions > 0 || e.writing),
    [],
  );
});

t.test('a checkpointer is only ever started by a step from a state where the lease is held', async (t) => {
  // Prepare
  const starts: Array<{ from: string; event: string; to: string }> = [];

  // Act: replay every reachable step and look at the actions it would execute
  for (const { state, event } of reachableSteps) {
    const [next, actions] = transition(leaseMachine, state, event);
    for (const action of actions) {
      const params = action.params as { src?: unknown } | undefined;
      if (action.type === 'xstate.spawnChild' && params?.src === 'checkpointer') {
        starts.push({ from: JSON.stringify(state.value), event: event.type, to: JSON.stringify(next.value) });
      }
    }
  }

  // Assess
  t.ok(starts.length > 0, `${starts.length} steps start a write`);
  t.same(
    starts.filter((s) => s.from.includes('lost') || s.to.includes('lost') || s.to.includes('released')),
    [],
  );
  t.same(
    [...new Set(starts.map((s) => s.to))].sort(),
    [
      '"checkpointing"',
      JSON.stringify({ reading: { media: 'reconnecting', checkpoints: 'writing' } }),
      JSON.stringify({ reading: { media: 'streaming', checkpoints: 'writing' } }),
      JSON.stringify({ reading: { media: 'waitingForStream', checkpoints: 'writing' } }),
    ],
    'writes start only on entering a writing state',
  );
});

t.test('describeMachine gives the same transitions as @xstate/graph, as plain JSON', async (t) => {
  // Prepare
  type GraphNode = ReturnType<typeof toDirectedGraph>;
  const flatten = (node: GraphNode): string[] => [
    ...node.edges.map((edge) => `${edge.source.id} -${edge.label.text}-> ${edge.target.id}`),
    ...node.children.flatMap(flatten),
  ];

  // Act
  const fromGraph = flatten(toDirectedGraph(leaseMachine)).sort();
  const fromDescription = description.edges.map((edge) => `${edge.source} -${edge.event}-> ${edge.target}`).sort();
  const roundTrip = JSON.parse(JSON.stringify(description));

  // Assess
  t.same(fromDescription, fromGraph);
  t.same(roundTrip, description, 'survives JSON');
  t.same(
    description.nodes.map((node) => node.id),
    ['lease', ...getStateNodes(leaseMachine.root).map((node) => node.id)],
  );
  t.same(description.nodes.find((node) => node.id === 'lease.reading')?.type, 'parallel');
  t.same(description.nodes.find((node) => node.id === 'lease.reading.media.streaming')?.invoke, [
    { id: 'reader', src: 'reader' },
  ]);
  t.same(description.nodes.find((node) => node.id === 'lease.checkpointing')?.invoke, [
    { id: 'finalCheckpoint', src: 'checkpointer' },
  ]);
});
