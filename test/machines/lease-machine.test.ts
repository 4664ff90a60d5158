// The lease machine driven event by event: test doubles for acquirer, reader and checkpointer, a simulated clock.

import t from 'tap';
import { createActor, SimulatedClock, toPromise } from 'xstate';
import { LeaseError } from '../../src/actors/lease/lease-errors.js';
import { checkpointToCarry, type LeaseMachineOutput, leaseMachine } from '../../src/machines/index.js';
import type { Checkpoint } from '../../src/media/checkpoint.js';
import { cp, type Harness, leaseLost, settle, startLease, throttled } from './lease-harness.js';

const INTERVAL = 5_000;
// Longer than the interval, so that a periodic timer would fire during draining if it still ran.
const DRAIN = 12_000;

/** A lease that has been acquired (with `checkpoint`) and is reading. */
async function reading(
  options: Parameters<typeof startLease>[0] = {},
  checkpoint: Checkpoint | null = cp('100'),
): Promise<Harness> {
  const h = startLease({
    ...options,
    input: { checkpointIntervalMs: INTERVAL, drainTimeoutMs: DRAIN, ...options.input },
  });
  await h.acquire(checkpoint);
  return h;
}

const inWriting = (h: Harness) => h.actor.getSnapshot().matches({ reading: { checkpoints: 'writing' } });
const inReconnecting = (h: Harness) => h.actor.getSnapshot().matches({ reading: { media: 'reconnecting' } });
const inStreaming = (h: Harness) => h.actor.getSnapshot().matches({ reading: { media: 'streaming' } });
const inWaitingForStream = (h: Harness) => h.actor.getSnapshot().matches({ reading: { media: 'waitingForStream' } });
const output = (h: Harness) => h.actor.getSnapshot().output as LeaseMachineOutput;

// ---------------------------------------------------------------- acquiring

t.test('acquiring: starts by taking the lease, then reads from after the checkpoint the lease holds', async (t) => {
  // Prepare
  const h = startLease();

  // Act
  const before = h.state();
  await h.acquire(cp('91343852333181432392682062607743920146264596384', 1_700_000_000_000));

  // Assess
  t.equal(before, 'acquiring');
  t.same(h.acquires[0]!.input, { streamName: 'front-door', leaseKey: 'front-door' });
  t.ok(inStreaming(h), 'reading');
  t.ok(h.actor.getSnapshot().matches({ reading: { checkpoints: 'idle' } }), 'checkpoint region idle');
  t.same(h.reader().input, {
    streamName: 'front-door',
    leaseKey: 'front-door',
    resumeFrom: cp('91343852333181432392682062607743920146264596384', 1_700_000_000_000),
    continuationToken: null,
    attempt: 0,
  });
  t.same(h.context().checkpoint, cp('91343852333181432392682062607743920146264596384', 1_700_000_000_000));
});

t.test('acquiring: a stream never checkpointed is read from its configured start (resumeFrom null)', async (t) => {
  // Prepare
  const h = startLease();

  // Act
  await h.acquire(null);

  // Assess
  t.equal(h.reader().input.resumeFrom, null);
});

t.test('acquiring: losing the take to another worker ends in lost, with nothing read', async (t) => {
  // Prepare
  const h = startLease();

  // Act
  h.acquires[0]!.reject(leaseLost());
  await settle();

  // Assess
  t.equal(h.state(), 'lost');
  t.equal(h.actor.getSnapshot().status, 'done');
  t.equal(output(h).reason, 'lease-lost');
  t.same(output(h).lastError, {
    source: 'acquirer',
    code: 'LEASE_LOST',
    message: 'conditional check failed: lease owned by worker-b',
  });
  t.equal(h.readers.length, 0);
});

t.test(
  'acquiring: any other take failure ends in released (acquire-failed) so the actor gives the lease back',
  async (t) => {
    // Prepare
    const h = startLease();

    // Act
    h.acquires[0]!.reject(throttled());
    await settle();

    // Assess
    t.equal(h.state(), 'released');
    t.equal(output(h).reason, 'acquire-failed');
    t.equal(output(h).lastError?.code, 'LEASE_TABLE_FAILED');
    t.equal(h.readers.length, 0);
  },
);

t.test('acquiring: SHUTDOWN and LEASE_LOST end the lease before anything is read', async (t) => {
  for (const [event, state, reason] of [
    ['SHUTDOWN', 'released', 'shutdown'],
    ['LEASE_LOST', 'lost', 'lease-lost'],
  ] as const) {
    // Prepare
    const h = startLease();

    // Act
    h.actor.send({ type: event });
    h.acquires[0]!.resolve({ checkpoint: cp('5') }); // a take that lands late changes nothing
    await settle();

    // Assess
    t.equal(h.state(), state, event);
    t.equal(output(h).reason, reason, event);
    t.ok(h.acquires[0]!.signal.aborted, `${event}: the take is aborted`);
    t.equal(h.readers.length + h.writes.length, 0, `${event}: no reader, no write`);
  }
});

t.test(
  'the unprovided machine: its writers fail with ACTOR_NOT_PROVIDED instead of pretending to succeed',
  async (t) => {
    // Prepare
    const actor = createActor(leaseMachine, { input: { streamName: 's', leaseKey: 's' }, clock: new SimulatedClock() });

    // Act
    actor.start();
    const result = await toPromise(actor);

    // Assess
    t.equal(result.reason, 'acquire-failed');
    t.equal(result.lastError?.code, 'ACTOR_NOT_PROVIDED');
  },
);

t.test('bad options stop the actor with BAD_LEASE_OPTIONS', async (t) => {
  for (const input of [
    { checkpointIntervalMs: 0 },
    { drainTimeoutMs: -1 },
    { backoff: { baseMs: 1000, maxMs: 10 } },
    { backoff: { jitter: 2 } },
  ]) {
    // Prepare
    const actor = createActor(leaseMachine, { input: { streamName: 's', leaseKey: 's', ...input } });
    let failure: unknown;
    actor.subscribe({ error: (error) => (failure = error) });

    // Act
    actor.start();

    // Assess
    t.equal(actor.getSnapshot().status, 'error', JSON.stringify(input));
    t.match(failure, { code: 'BAD_LEASE_OPTIONS' }, JSON.stringify(input));
  }
});

// ---------------------------------------------------------------- periodic checkpoints

t.test(
  'reading: every checkpointIntervalMs the latest completed fragment is written, and the reader keeps running',
  async (t) => {
    // Prepare
    const h = await reading();
    h.reader().send({ type: 'FRAGMENT_COMPLETE', ...cp('101') });
    h.reader().send({ type: 'FRAGMENT_COMPLETE', ...cp('102') });

    // Act
    h.clock.increment(INTERVAL - 1);
    const writesBefore = h.writes.length;
    h.clock.increment(1);

    // Assess
    t.equal(writesBefore, 0, 'nothing before the interval');
    t.equal(h.writes.length, 1);
    t.same(h.write().input, { leaseKey: 'front-door', checkpoint: cp('102'), final: false });
    t.ok(inWriting(h) && inStreaming(h), 'writing while streaming');
    t.equal(h.readers.length, 1);
    t.notOk(h.reader().stopped, 'the reader was not stopped for the write');

    // Act
    h.write().resolve();
    await settle();

    // Assess
    t.same(h.context().checkpoint, cp('102'));
    t.equal(h.context().pending, null);
    t.equal(h.context().inFlight, null);
  },
);

t.test('reading: an interval with nothing new writes nothing, and the timer keeps running', async (t) => {
  // Prepare
  const h = await reading();

  // Act
  h.clock.increment(INTERVAL * 3);
  const idleWrites = h.writes.length;
  h.complete('101');
  h.clock.increment(INTERVAL);

  // Assess
  t.equal(idleWrites, 0);
  t.equal(h.writes.length, 1);
  t.same(h.write().input.checkpoint, cp('101'));
});

t.test('reading: the interval is counted from the end of the last write', async (t) => {
  // Prepare
  const h = await reading();
  h.complete('101');
  h.clock.increment(INTERVAL);
  h.clock.increment(1_000); // the write takes a second
  h.write().resolve();
  await settle();
  h.complete('102');

  // Act
  h.clock.increment(INTERVAL - 1);
  const early = h.writes.length;
  h.clock.increment(1);

  // Assess
  t.equal(early, 1);
  t.equal(h.writes.length, 2);
});

t.test('CHECKPOINT_NOW writes at once; it is ignored with nothing new, and while a write is in flight', async (t) => {
  // Prepare
  const h = await reading();

  // Act
  h.actor.send({ type: 'CHECKPOINT_NOW' });
  const withNothing = h.writes.length;
  h.complete('101');
  h.actor.send({ type: 'CHECKPOINT_NOW' });
  const afterRequest = h.writes.length;
  h.complete('102');
  h.actor.send({ type: 'CHECKPOINT_NOW' });

  // Assess
  t.equal(withNothing, 0);
  t.equal(afterRequest, 1);
  t.equal(h.writes.length, 1, 'the second request, during the write, is dropped');
  t.same(h.write().input.checkpoint, cp('101'));
});

t.test(
  'a renewal carries what the next periodic write would take, and the interval starts again from it',
  async (t) => {
    // Prepare
    const h = await reading();
    const before = checkpointToCarry(h.actor.getSnapshot());
    h.complete('101', '102');

    // Act: the renewal carries 102 a second before the interval ends; 103 completes after it.
    h.clock.increment(INTERVAL - 1_000);
    const offered = checkpointToCarry(h.actor.getSnapshot());
    h.actor.send({ type: 'CHECKPOINT_WRITTEN', checkpoint: offered! });
    const after = checkpointToCarry(h.actor.getSnapshot());
    const context = h.context();
    h.complete('103');
    h.clock.increment(INTERVAL - 1);
    const beforeInterval = h.writes.length;
    h.clock.increment(1);

    // Assess
    t.equal(before, null, 'nothing completed yet');
    t.same(offered, cp('102'));
    t.same(context.checkpoint, cp('102'));
    t.equal(context.pending, null);
    t.equal(after, null);
    t.equal(beforeInterval, 0, 'the carried write started the interval again');
    t.equal(h.writes.length, 1, 'a whole interval with none carried: the periodic write');
    t.same(h.write().input.checkpoint, cp('103'));
  },
);

t.test('a carried checkpoint: not what a write under way already writes, never after the lease is lost', async (t) => {
  // Prepare: a periodic write of 101 in flight.
  const h = await reading();
  h.complete('101');
  h.clock.increment(INTERVAL);

  // Act
  const duringWrite = checkpointToCarry(h.actor.getSnapshot());
  h.complete('102');
  const newer = checkpointToCarry(h.actor.getSnapshot());
  // The renewal carrying 102 lands before the write of 101 answers.
  h.actor.send({ type: 'CHECKPOINT_WRITTEN', checkpoint: cp('102') });
  h.write().resolve();
  await settle();
  const afterBoth = h.context().checkpoint;
  h.complete('103');
  h.actor.send({ type: 'LEASE_LOST' });

  // Assess
  t.equal(duringWrite, null);
  t.same(newer, cp('102'));
  t.same(afterBoth, cp('102'), 'the older write answering last does not move it back');
  t.equal(checkpointToCarry(h.actor.getSnapshot()), null);
});

t.test('completions that arrive during a write stay pending and go in the next write', async (t) => {
  // Prepare
  const h = await reading();
  h.complete('101');
  h.actor.send({ type: 'CHECKPOINT_NOW' });
  h.complete('102', '103');

  // Act
  h.write().resolve();
  await settle();

  // Assess
  t.same(h.context().checkpoint, cp('101'));
  t.same(h.context().pending, cp('103'));

  // Act
  h.clock.increment(INTERVAL);

  // Assess
  t.same(h.write().input.checkpoint, cp('103'));
});

// ---------------------------------------------------------------- the first checkpoint

const at = (fragmentNumber: string): Checkpoint => ({ ...cp(fragmentNumber), inclusive: true });
const read = (h: Harness, fragmentNumber: string) =>
  h.reader().send({ type: 'FRAGMENT_READ', ...cp(fragmentNumber), continuationToken: `token-${fragmentNumber}` });

t.test(
  'a stream with no checkpoint writes its first fragment read at once, inclusive; completing it advances past it',
  async (t) => {
    // Prepare
    const h = await reading({}, null);

    // Act: no time passes
    read(h, '101');

    // Assess
    t.ok(inWriting(h) && inStreaming(h), 'written at once, while streaming');
    t.same(h.write().input, { leaseKey: 'front-door', checkpoint: at('101'), final: false });

    // Act
    read(h, '102');
    h.write().resolve();
    await settle();
    read(h, '103');

    // Assess
    t.equal(h.writes.length, 1, 'once: later reads write nothing');
    t.same(h.context().checkpoint, at('101'));
    t.equal(h.context().pending, null);

    // Act: the reader fails; its successor resumes at the fragment, should the continuation token be refused
    h.reader().send({ type: 'READER_FAILED', error: new Error('ECONNRESET') });
    h.clock.increment(10_000);

    // Assess
    t.same(h.reader().input.resumeFrom, at('101'));

    // Act
    h.complete('101');
    h.clock.increment(INTERVAL);

    // Assess
    t.same(h.context().pending, cp('101'), 'completing the fragment advances past its inclusive checkpoint');
    t.equal(h.writes.length, 2);
    t.same(h.write().input.checkpoint, cp('101'), 'the next write is the plain checkpoint');
  },
);

t.test(
  'a completion before the first read (a fragment with nothing sampled) is written at once instead, plain',
  async (t) => {
    // Prepare
    const h = await reading({}, null);

    // Act
    h.complete('101');
    read(h, '101');

    // Assess
    t.equal(h.writes.length, 1);
    t.same(h.write().input.checkpoint, cp('101'));
  },
);

t.test('a lease with a checkpoint writes nothing at its first read, inclusive or not', async (t) => {
  for (const checkpoint of [cp('100'), at('101')]) {
    // Prepare
    const h = await reading({}, checkpoint);

    // Act
    read(h, '101');
    h.complete('101');
    read(h, '102');

    // Assess
    t.equal(h.writes.length, 0, `${JSON.stringify(checkpoint)}: no write before the interval`);
    t.same(h.context().pending, cp('101'), `${JSON.stringify(checkpoint)}: the completion is pending`);
    h.actor.stop();
  }
});

t.test('a failed first write is not repeated at every read: the next interval writes it', async (t) => {
  // Prepare
  const h = await reading({}, null);
  read(h, '101');

  // Act
  h.write().reject(throttled());
  await settle();
  read(h, '102');
  const afterRead = h.writes.length;
  h.clock.increment(INTERVAL);

  // Assess
  t.equal(afterRead, 1, 'no write at the next read');
  t.equal(h.writes.length, 2);
  t.same(h.write().input.checkpoint, at('101'), 'the interval writes the first read, still inclusive');
});

t.test('the checkpoint never moves backwards: older or repeated completions are ignored', async (t) => {
  // Prepare: the lease holds 100; "99" sorts after "100" as text, not as a fragment number.
  const h = await reading({}, cp('100'));

  // Act
  h.complete('99', '100');
  const afterOld = h.context().pending;
  h.complete('1000', '101', '999', '1000');
  h.clock.increment(INTERVAL);

  // Assess
  t.equal(afterOld, null, 'nothing at or before the lease checkpoint is pending');
  t.same(h.write().input.checkpoint, cp('1000'), 'the highest fragment number, not the latest event');

  // Act: the write lands; a reader that reconnected replays older fragments
  h.write().resolve();
  await settle();
  h.complete('500', '1000');
  h.actor.send({ type: 'CHECKPOINT_NOW' });
  h.clock.increment(INTERVAL * 2);

  // Assess
  t.same(h.context().checkpoint, cp('1000'));
  t.equal(h.context().pending, null);
  t.equal(h.writes.length, 1, 'nothing older is ever written');
});

t.test('every written checkpoint is after the one before it, whatever order completions arrive in', async (t) => {
  // Prepare
  const h = await reading({}, null);
  const order = ['3', '1', '2', '7', '5', '6', '4', '12', '9', '10', '8', '11'];

  // Act
  for (const n of order) {
    h.complete(n);
    h.actor.send({ type: 'CHECKPOINT_NOW' });
    if (inWriting(h)) {
      h.write().resolve();
      await settle();
    }
  }

  // Assess
  const written = h.writes.map((w) => Number(w.input.checkpoint.fragmentNumber));
  t.same(written, [3, 7, 12]);
  t.same(h.context().checkpoint, cp('12'));
});

t.test(
  'a failed checkpoint write (not LEASE_LOST) keeps the fragment pending and retries at the next interval',
  async (t) => {
    // Prepare
    const h = await reading();
    h.complete('101');
    h.clock.increment(INTERVAL);

    // Act
    h.write().reject(throttled());
    await settle();

    // Assess
    t.ok(h.actor.getSnapshot().matches({ reading: { checkpoints: 'idle' } }));
    t.same(h.context().pending, cp('101'));
    t.same(h.context().checkpoint, cp('100'));
    t.same(h.context().lastError, {
      source: 'checkpointer',
      code: 'LEASE_TABLE_FAILED',
      message: 'ProvisionedThroughputExceededException',
    });

    // Act
    h.clock.increment(INTERVAL);

    // Assess
    t.equal(h.writes.length, 2);
    t.same(h.write().input.checkpoint, cp('101'));
  },
);

// ---------------------------------------------------------------- lease lost

t.test('LEASE_LOST from a checkpoint write stops the reader at once and never writes again', async (t) => {
  // Prepare
  const h = await reading();
  h.complete('101');
  h.clock.increment(INTERVAL);

  // Act
  h.write().reject(leaseLost());
  await settle();
  const readerStopped = h.reader().stopped;
  h.complete('102');
  h.actor.send({ type: 'CHECKPOINT_NOW' });
  h.actor.send({ type: 'SHUTDOWN' });
  h.actor.send({ type: 'DRAINED' });
  h.clock.increment(INTERVAL * 10);

  // Assess
  t.equal(h.state(), 'lost');
  t.ok(readerStopped);
  t.equal(h.writes.length, 1);
  t.equal(h.readers.length, 1);
  t.equal(output(h).reason, 'lease-lost');
  t.same(output(h).unwritten, cp('101'));
  t.equal(output(h).lastError?.source, 'checkpointer');
});

t.test('LEASE_NOT_HELD from a write (the coordinator already dropped the lease) is a loss too', async (t) => {
  // Prepare
  const h = await reading();
  h.complete('101');
  h.actor.send({ type: 'CHECKPOINT_NOW' });

  // Act
  h.write().reject(new LeaseError('LEASE_NOT_HELD', 'worker-a does not hold lease front-door'));
  await settle();
  h.clock.increment(INTERVAL * 3);

  // Assess
  t.equal(h.state(), 'lost');
  t.ok(h.reader().stopped);
  t.equal(h.writes.length, 1);
});

t.test(
  'LEASE_LOST from the coordinator stops the reader in the same step and abandons a write in flight',
  async (t) => {
    // Prepare
    const h = await reading();
    h.complete('101');
    h.clock.increment(INTERVAL);
    const write = h.write();

    // Act
    h.actor.send({ type: 'LEASE_LOST', error: leaseLost() });

    // Assess: synchronously, before any promise settles
    t.equal(h.state(), 'lost');
    t.ok(h.reader().stopped, 'reader stopped');
    t.ok(write.signal.aborted, 'the write was aborted');

    // Act: the abandoned write resolves late; time passes
    write.resolve();
    await settle();
    h.clock.increment(INTERVAL * 10);

    // Assess
    t.same(h.context().checkpoint, cp('100'), 'a write resolved after the loss is not recorded');
    t.equal(h.writes.length, 1);
    t.equal(output(h).lastError?.source, 'coordinator');
  },
);

t.test(
  'LEASE_LOST while reconnecting, draining or writing the final checkpoint ends in lost with no (further) write',
  async (t) => {
    const cases: Array<[string, (h: Harness) => Promise<void>]> = [
      ['reconnecting', async (h) => h.reader().send({ type: 'READER_FAILED', error: new Error('socket hang up') })],
      ['waitingForStream', async (h) => h.reader().send({ type: 'STREAM_MISSING' })],
      ['draining', async (h) => h.actor.send({ type: 'SHUTDOWN' })],
      [
        'checkpointing',
        async (h) => {
          h.actor.send({ type: 'SHUTDOWN' });
          h.actor.send({ type: 'DRAINED' });
        },
      ],
    ];
    for (const [where, reach] of cases) {
      // Prepare
      const h = await reading();
      h.complete('101');
      await reach(h);
      const writesBefore = h.writes.length;

      // Act
      h.actor.send({ type: 'LEASE_LOST' });
      h.clock.increment(60_000);
      await settle();

      // Assess
      t.equal(h.state(), 'lost', where);
      t.equal(h.writes.length, writesBefore, `${where}: no write started after the loss`);
      t.ok(
        h.writes.every((w) => w.signal.aborted),
        `${where}: any write in flight aborted`,
      );
      t.equal(h.readers.filter((r) => !r.stopped).length, 0, `${where}: no reader left running`);
    }
  },
);

// ---------------------------------------------------------------- reconnects

t.test('a GetMedia failure reconnects after a backoff, from after the latest completed fragment', async (t) => {
  // Prepare
  const h = await reading({ input: { backoff: { baseMs: 200, maxMs: 10_000, jitter: 0 } } });
  h.reader().send({
    type: 'FRAGMENT_READ',
    fragmentNumber: '101',
    serverTimestamp: 101,
    continuationToken: 'token-101',
  });
  h.complete('101');
  const first = h.reader();

  // Act
  first.send({ type: 'READER_FAILED', error: Object.assign(new Error('ECONNRESET'), { code: 'ECONNRESET' }) });

  // Assess
  t.ok(first.stopped);
  t.ok(inReconnecting(h));
  t.same(h.context().lastError, { source: 'reader', code: 'ECONNRESET', message: 'ECONNRESET' });

  // Act
  h.clock.increment(199);
  const early = h.readers.length;
  h.clock.increment(1);

  // Assess
  t.equal(early, 1, 'no reader before the delay');
  t.ok(inStreaming(h));
  t.same(h.reader().input, {
    streamName: 'front-door',
    leaseKey: 'front-door',
    resumeFrom: cp('101'),
    continuationToken: 'token-101',
    attempt: 1,
  });
  t.equal(h.context().attempts, 1, 'one reconnect since the last read');
});

t.test('backoff delays double with each failed reconnect and stop growing at maxMs', async (t) => {
  // Prepare
  const h = await reading({ input: { backoff: { baseMs: 100, maxMs: 1_000, jitter: 0 } } });
  const delays: number[] = [];

  // Act: fail every reader at once and measure, on the simulated clock, how long the next one takes to come
  for (let i = 0; i < 7; i++) {
    h.reader().send({ type: 'READER_FAILED', error: new Error('503') });
    const count = h.readers.length;
    let waited = 0;
    while (h.readers.length === count) {
      h.clock.increment(10);
      waited += 10;
    }
    delays.push(waited);
  }

  // Assess
  t.same(delays, [100, 200, 400, 800, 1_000, 1_000, 1_000]);
  t.equal(h.context().attempts, 7);
});

t.test(
  'a fragment read resets the backoff; READER_ENDED reconnects the same way without recording an error',
  async (t) => {
    // Prepare
    const h = await reading({ input: { backoff: { baseMs: 100, maxMs: 1_000, jitter: 0 } } });
    for (let i = 0; i < 3; i++) {
      h.reader().send({ type: 'READER_FAILED', error: new Error('503') });
      h.clock.increment(1_000);
    }
    t.equal(h.context().attempts, 3);

    // Act
    h.reader().send({
      type: 'FRAGMENT_READ',
      fragmentNumber: '101',
      serverTimestamp: 101,
      continuationToken: 'token-101',
    });
    const afterRead = h.context().attempts;
    const lastError = h.context().lastError;
    h.reader().send({ type: 'READER_ENDED' });
    h.clock.increment(99);
    const early = inReconnecting(h);
    h.clock.increment(1);

    // Assess
    t.equal(afterRead, 0);
    t.ok(early);
    t.ok(inStreaming(h), 'back after the base delay');
    t.same(h.context().lastError, lastError, 'an ended body is not an error');
    t.equal(h.context().hasRead, true, 'the read is noted for the first-read checkpoint');
    t.equal(h.context().attempts, 1, 'the ended body is one reconnect since the read');
  },
);

t.test(
  'jitter only shortens the delay, within [d * (1 - jitter), d], drawn from the injected random source',
  async (t) => {
    for (const [random, expected] of [
      [() => 0, 800],
      [() => 0.5, 600],
      [() => 0.999_999, 400],
    ] as const) {
      // Prepare
      const h = await reading({ random, input: { backoff: { baseMs: 100, maxMs: 800, jitter: 0.5 } } });
      for (let i = 0; i < 4; i++) {
        h.reader().send({ type: 'READER_FAILED', error: new Error('503') });
        h.clock.increment(800);
      }

      // Act: the fifth failure is capped at 800 before jitter
      h.reader().send({ type: 'READER_FAILED', error: new Error('503') });
      h.clock.increment(expected - 1);
      const early = inReconnecting(h);
      h.clock.increment(1);

      // Assess
      t.ok(early, `random ${random()}: still waiting at ${expected - 1} ms`);
      t.ok(inStreaming(h), `random ${random()}: reconnected at ${expected} ms`);
    }
  },
);

t.test('the default jitter (Math.random) stays within its bounds', async (t) => {
  for (let trial = 0; trial < 20; trial++) {
    // Prepare
    const h = await reading({ input: { backoff: { baseMs: 1_000, maxMs: 1_000, jitter: 0.25 } } });

    // Act
    h.reader().send({ type: 'READER_FAILED', error: new Error('503') });
    h.clock.increment(749);
    const early = inReconnecting(h);
    h.clock.increment(251);

    // Assess
    t.ok(early && inStreaming(h), `trial ${trial}`);
  }
});

t.test('a checkpoint write in flight survives a reconnect (the regions are parallel)', async (t) => {
  // Prepare
  const h = await reading({ input: { backoff: { baseMs: 100, maxMs: 100, jitter: 0 } } });
  h.complete('101');
  h.clock.increment(INTERVAL);
  const write = h.write();

  // Act
  h.reader().send({ type: 'READER_FAILED', error: new Error('503') });
  write.resolve();
  await settle();

  // Assess
  t.notOk(write.signal.aborted);
  t.same(h.context().checkpoint, cp('101'));
  t.ok(inReconnecting(h));

  // Act: checkpoints keep their rhythm while reconnecting
  h.complete('102');
  h.reader().send({ type: 'READER_FAILED', error: new Error('503') }); // stale: this reader is already stopped
  h.clock.increment(INTERVAL);

  // Assess
  t.equal(h.writes.length, 2);
});

// ---------------------------------------------------------------- missing stream

t.test(
  'STREAM_MISSING keeps the lease: the reader stops, and a new one starts after 1 s (the default base)',
  async (t) => {
    // Prepare
    const h = await reading({ input: { missingStreamBackoff: { jitter: 0 } } });
    h.complete('101');
    const first = h.reader();

    // Act
    first.send({ type: 'STREAM_MISSING' });
    const waiting = inWaitingForStream(h);
    h.clock.increment(999);
    const early = h.readers.length;
    h.clock.increment(1);

    // Assess
    t.ok(waiting, 'waiting for the stream');
    t.ok(first.stopped, 'the reader stopped');
    t.equal(early, 1, 'no reader before the delay');
    t.ok(inStreaming(h), 'reading again after 1000 ms');
    t.same(h.reader().input.resumeFrom, cp('101'), 'from after the latest completed fragment');
    t.equal(h.actor.getSnapshot().status, 'active', 'the lease is neither released nor lost');
    t.same(h.announcedWaits, [1_000], 'the wait announced once, with its length');
    t.equal(h.context().missingAttempts, 1);
    t.equal(h.context().attempts, 0, 'not counted as a reconnect');
  },
);

t.test(
  'missing-stream waits double up to missingStreamBackoff.maxMs, apart from the reconnect backoff, ' +
    'and a fragment read resets them',
  async (t) => {
    // Prepare
    const h = await reading({
      input: { backoff: { baseMs: 100, maxMs: 100, jitter: 0 }, missingStreamBackoff: { maxMs: 10_000, jitter: 0 } },
    });
    const missing = () => {
      const count = h.readers.length;
      h.reader().send({ type: 'STREAM_MISSING' });
      let waited = 0;
      while (h.readers.length === count) {
        h.clock.increment(100);
        waited += 100;
      }
      return waited;
    };

    // Act
    const delays = Array.from({ length: 6 }, missing);
    h.reader().send({ type: 'READER_FAILED', error: new Error('503') });
    h.clock.increment(100);
    const afterFailure = missing();
    h.reader().send({
      type: 'FRAGMENT_READ',
      fragmentNumber: '101',
      serverTimestamp: 101,
      continuationToken: 'token-101',
    });
    const afterRead = missing();

    // Assess
    t.same(delays, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    t.equal(afterFailure, 10_000, 'a reconnect in between does not reset the wait');
    t.equal(afterRead, 1_000, 'a fragment read starts it over');
    t.same(
      h.announcedWaits,
      [...delays, afterFailure, afterRead],
      'each wait announced once, with the delay it waited',
    );
  },
);

t.test('the default missing-stream backoff: jittered within [d / 2, d], capped at 5 minutes', async (t) => {
  // Prepare
  const h = await reading();

  // Act
  for (let i = 0; i < 12; i++) {
    h.reader().send({ type: 'STREAM_MISSING' });
    h.clock.increment(h.context().missingRetryMs);
  }

  // Assess
  const caps = h.announcedWaits.map((_, i) => Math.min(300_000, 1_000 * 2 ** i));
  t.equal(h.announcedWaits.length, 12);
  t.ok(
    h.announcedWaits.every((d, i) => d >= caps[i]! / 2 && d <= caps[i]!),
    `waits ${h.announcedWaits.join(', ')} within bounds ${caps.join(', ')}`,
  );
  t.ok(inStreaming(h), 'each wait ends with a new reader');
  t.equal(h.readers.length, 13);
});

t.test(
  'while waiting for the stream: checkpoints keep their rhythm, and SHUTDOWN drains without another reader',
  async (t) => {
    // Prepare
    const h = await reading({ input: { missingStreamBackoff: { baseMs: 60_000, maxMs: 60_000 } } });
    h.complete('101');
    h.reader().send({ type: 'STREAM_MISSING' });

    // Act
    h.clock.increment(INTERVAL);
    const periodic = h.write();
    periodic.resolve();
    await settle();
    h.actor.send({ type: 'SHUTDOWN' });
    h.clock.increment(120_000);

    // Assess
    t.same(periodic.input, { leaseKey: 'front-door', checkpoint: cp('101'), final: false });
    t.equal(h.readers.length, 1, 'no reader started after SHUTDOWN');
    t.equal(h.state(), 'released', 'drained (timed out) with nothing new, released');
    t.equal(output(h).reason, 'shutdown');
  },
);

// ---------------------------------------------------------------- graceful shutdown

t.test('SHUTDOWN stops the reader, drains, writes the final checkpoint exactly once, then releases', async (t) => {
  // Prepare
  const h = await reading();
  h.complete('101');

  // Act
  h.actor.send({ type: 'SHUTDOWN' });

  // Assess
  t.equal(h.state(), 'draining');
  t.ok(h.reader().stopped, 'no new media');

  // Act: frames in flight finish; periodic timers would have fired by now
  h.complete('102', '103');
  h.clock.increment(DRAIN - 1);
  h.actor.send({ type: 'SHUTDOWN' }); // a second signal changes nothing
  h.actor.send({ type: 'DRAINED' });

  // Assess
  t.equal(h.state(), 'checkpointing');
  t.equal(h.writes.length, 1);
  t.same(h.write().input, { leaseKey: 'front-door', checkpoint: cp('103'), final: true });

  // Act
  h.write().resolve();
  h.actor.send({ type: 'DRAINED' });
  await settle();
  h.clock.increment(60_000);

  // Assess
  t.equal(h.state(), 'released');
  t.equal(h.writes.length, 1, 'exactly one final write');
  t.equal(h.readers.length, 1);
  t.same(output(h), {
    reason: 'shutdown',
    streamName: 'front-door',
    leaseKey: 'front-door',
    checkpoint: cp('103'),
    unwritten: null,
    lastError: null,
    drainTimedOut: false,
  });
});

t.test('drain timeout: without DRAINED the final checkpoint is written after drainTimeoutMs', async (t) => {
  // Prepare
  const h = await reading();
  h.complete('101');
  h.actor.send({ type: 'SHUTDOWN' });

  // Act
  h.clock.increment(DRAIN - 1);
  const early = h.state();
  h.clock.increment(1);

  // Assess
  t.equal(early, 'draining');
  t.equal(h.state(), 'checkpointing');
  t.same(h.write().input.checkpoint, cp('101'));
  t.equal(h.context().drainTimedOut, true);

  // Act
  h.write().resolve();
  await settle();

  // Assess
  t.equal(h.state(), 'released');
  t.equal(output(h).drainTimedOut, true);
});

t.test('SHUTDOWN with nothing newer than the stored checkpoint releases without writing', async (t) => {
  for (const ending of ['DRAINED', 'timeout'] as const) {
    // Prepare
    const h = await reading();
    h.complete('101');
    h.actor.send({ type: 'CHECKPOINT_NOW' });
    h.write().resolve();
    await settle();

    // Act
    h.actor.send({ type: 'SHUTDOWN' });
    if (ending === 'DRAINED') h.actor.send({ type: 'DRAINED' });
    else h.clock.increment(DRAIN);

    // Assess
    t.equal(h.state(), 'released', ending);
    t.equal(h.writes.length, 1, `${ending}: only the periodic write`);
    t.same(output(h).checkpoint, cp('101'));
  }
});

t.test(
  'SHUTDOWN during a periodic write abandons it and the final write carries the same or a newer checkpoint',
  async (t) => {
    // Prepare
    const h = await reading();
    h.complete('101');
    h.clock.increment(INTERVAL);
    const periodic = h.write();

    // Act
    h.actor.send({ type: 'SHUTDOWN' });
    periodic.resolve();
    await settle();
    h.actor.send({ type: 'DRAINED' });

    // Assess
    t.ok(periodic.signal.aborted);
    t.equal(h.writes.length, 2);
    t.same(h.write().input, { leaseKey: 'front-door', checkpoint: cp('101'), final: true });
  },
);

t.test('SHUTDOWN while reconnecting drains without starting another reader', async (t) => {
  // Prepare
  const h = await reading({ input: { backoff: { baseMs: 100, maxMs: 100, jitter: 0 } } });
  h.complete('101');
  h.reader().send({ type: 'READER_FAILED', error: new Error('503') });

  // Act
  h.actor.send({ type: 'SHUTDOWN' });
  h.clock.increment(1_000);
  h.actor.send({ type: 'DRAINED' });

  // Assess
  t.equal(h.readers.length, 1);
  t.equal(h.state(), 'checkpointing');
});

t.test(
  'a failed final write releases anyway and reports the fragment left unwritten; LEASE_LOST there ends in lost',
  async (t) => {
    for (const [error, state] of [
      [throttled(), 'released'],
      [leaseLost(), 'lost'],
    ] as const) {
      // Prepare
      const h = await reading();
      h.complete('101');
      h.actor.send({ type: 'SHUTDOWN' });
      h.actor.send({ type: 'DRAINED' });

      // Act
      h.write().reject(error);
      await settle();

      // Assess
      t.equal(h.state(), state, error.code);
      t.same(output(h).unwritten, cp('101'), error.code);
      t.same(output(h).checkpoint, cp('100'), error.code);
      t.equal(output(h).lastError?.code, error.code);
      t.equal(h.writes.length, 1, `${error.code}: not retried`);
    }
  },
);
