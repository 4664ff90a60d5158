// One clock through the actor system: a worker given a simulated clock runs its lease machines on it
// (createActor's `clock`), so a checkpoint interval passes when the test moves that clock, and never on its own.

import t from 'tap';
import { SimulatedClock } from 'xstate';
import { until, workerStack } from './worker-fixtures.js';

t.test(
  "a lease machine's checkpoint interval runs on the worker's clock: due when the clock is moved, not before",
  async (t) => {
    // Prepare
    // An interval no real wait in this test comes near, and a failover far beyond it, so no lease expires meanwhile.
    const checkpointIntervalMillis = 60_000;
    const clock = new SimulatedClock();
    const stack = await workerStack(t, 1, { checkpointIntervalMillis, failoverTimeMillis: 3_600_000 });
    const [stream] = stack.streams;
    for (let i = 0; i < 4; i++) stack.appendAll();
    const a = await stack.start('a', {}, { clock });
    const completed = () => a.worker.view().leases.find((l) => l.stream === stream)?.counters.fragmentsCompleted ?? 0;
    // The coordinator's own timers wait on the simulated clock too: its passes are run by hand, no time passing.
    await until('the stream lease taken', () => {
      void a.worker.coordinator.runOnce().catch(() => {});
      return a.worker.streams.length === 1;
    });
    await until('three fragments completed', () => completed() >= 3);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // The stream's first checkpoint (inclusive, at its first fragment read) is written at once; the interval's are
    // `checkpoint`.
    const checkpoints = () => a.records.filter((r) => r.event === 'checkpoint').length;
    const beforeMoving = checkpoints();

    // Act
    clock.increment(checkpointIntervalMillis - 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const justBefore = checkpoints();
    clock.increment(1);

    // Assess
    t.equal(beforeMoving, 0, 'no checkpoint while the clock stands still, though fragments completed');
    t.equal(justBefore, 0, 'none a millisecond before the interval');
    await until('a checkpoint once the interval has passed on the clock', () => checkpoints() > 0);
    t.pass('checkpointed when the simulated clock reached the interval');
  },
);
