// A worker whose checkpoint has aged out of retention: GetMedia answers in-band error 4000, the worker
// logs it and the range it gives up, counts both, and reads on from the oldest retained fragment.

import t from 'tap';
import { until, workerStack } from './worker-fixtures.js';

t.test(
  'a checkpoint older than retention: logged, counted, and the stream moves on from the oldest retained fragment',
  async (t) => {
    // Prepare: worker a reads and checkpoints three fragments, then stops.
    const stack = await workerStack(t, 1);
    const [stream] = stack.streams as [string];
    const before = [stack.appendAll(), stack.appendAll(), stack.appendAll()];
    stack.appendAll();
    const a = await stack.start('a');
    const checkpoint = before[2]![stream]!;
    await until('a checkpoints', () =>
      a.records.some((r) => r.event === 'checkpoint' && r.fragmentNumber === checkpoint),
    );
    await a.worker.shutdown();
    // Everything a read ages out; new fragments arrive.
    stack.kvs.streamLog(stream).dropOldest(Number.MAX_SAFE_INTEGER);
    const after = [stack.appendAll(), stack.appendAll()];
    stack.appendAll();

    // Act
    const b = await stack.start('b');
    await until('b reads the new fragments', () => b.reads(stream).length >= 2);

    // Assess
    const finalCheckpoint = a.records.findLast((r) => r.event === 'checkpoint')?.fragmentNumber;
    const firstNew = after[0]![stream];
    t.same(
      b.reads(stream).slice(0, 2),
      after.map((f) => f[stream]),
      'b reads on from the oldest retained fragment',
    );
    t.match(
      b.records.find((r) => r.event === 'get-media-error'),
      { level: 'warn', stream, errorId: 4000, errorCode: 'Requested fragment is not found' },
    );
    t.match(
      b.records.find((r) => r.event === 'checkpoint-unresumable'),
      { level: 'warn', stream, checkpoint: finalCheckpoint, firstFragmentNumber: firstNew },
    );
    const counted = (name: string) =>
      b.worker.metrics.snapshot().series.find((s) => s.definition.name === name && s.labels.stream === stream);
    t.match(counted('CheckpointFallbacks'), { kind: 'counter', value: 1 });
    t.match(counted('GetMediaErrors'), { kind: 'counter', value: 1 });
    await until('b checkpoints past the gap', () =>
      b.records.some((r) => r.event === 'checkpoint' && r.fragmentNumber === after[1]![stream]),
    );
  },
);
