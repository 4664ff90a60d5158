// Workers in-process against the local KVS server and the DynamoDB emulator: every stream read and
// checkpointed, streams split between workers, and a shutdown handing streams over without rereads.

import t from 'tap';
import { getMediaCost } from '../../src/metrics/index.js';
import { until, workerStack } from './worker-fixtures.js';

t.test('one worker reads every stream from the start and checkpoints the last fragment read', async (t) => {
  // Prepare
  const stack = await workerStack(t, 2);
  const appended = [stack.appendAll(), stack.appendAll(), stack.appendAll()];
  // GetMedia's fragments have no size: the parser knows one has ended only when the next begins.
  stack.appendAll();

  // Act
  const a = await stack.start('a');
  await until('every fragment checkpointed', () =>
    stack.streams.every((s) =>
      a.records.some((r) => r.event === 'checkpoint' && r.stream === s && r.fragmentNumber === appended[2]![s]),
    ),
  );
  await a.worker.shutdown();

  // Assess
  for (const s of stack.streams)
    t.same(
      a.reads(s),
      appended.map((f) => f[s]),
      `${s}: each fragment read once, in order`,
    );
  t.same(a.worker.streams, [], 'no lease actor left after shutdown');
  const released = a.records
    .filter((r) => r.event === 'released')
    .map((r) => r.stream)
    .sort();
  t.same(released, stack.streams, 'every stream lease released');
  // The counters live in the metrics registry, which drops a stream's series when its lease ends: the released
  // line, the ended lease's view and the worker's totals still show what the lease did.
  const completed = (counters: unknown) => (counters as { fragmentsCompleted: number }).fragmentsCompleted;
  const logged = a.records.filter((r) => r.event === 'released').map((r) => completed(r.counters));
  t.ok(
    logged.every((n) => n >= appended.length),
    `each released line counts the lease's completed fragments (${logged.join(', ')})`,
  );
  t.same(
    a.worker
      .view()
      .leases.map((l) => completed(l.counters))
      .sort(),
    [...logged].sort(),
    'the ended leases show the same counts',
  );
  t.equal(
    a.worker.stats().totals.fragmentsCompleted,
    logged.reduce((n, c) => n + c, 0),
    "the worker's totals keep them",
  );
  // The cost meter too, at the default price.
  const loggedBytes = a.records
    .filter((r) => r.event === 'released')
    .map((r) => (r.counters as { bytesRead: number }).bytesRead);
  const view = a.worker.view();
  t.ok(
    loggedBytes.every((n) => n > 0),
    `each released line counts the lease's bytes (${loggedBytes.join(', ')})`,
  );
  t.same(view.leases.map((l) => l.cost.bytesRead).sort(), [...loggedBytes].sort(), 'the ended leases show them');
  for (const { stream, cost } of view.leases) t.equal(cost.dollars, getMediaCost(cost.bytesRead, 0.0085), stream);
  t.equal(
    view.cost.bytesRead,
    loggedBytes.reduce((n, b) => n + b, 0),
    "the worker's cost keeps them",
  );
});

t.test('two workers split four streams two and two', async (t) => {
  // Prepare
  const stack = await workerStack(t, 4);
  stack.feed(200);
  const a = await stack.start('a');
  await until('a holds all four', () => a.worker.streams.length === 4);

  // Act
  const b = await stack.start('b');
  // A lease actor leaves `streams` a moment after its lease is lost (it has stopped reading by then), so the
  // split is judged on a settled view: two each, every stream on exactly one of them.
  const split = () =>
    a.worker.streams.length === 2 &&
    b.worker.streams.length === 2 &&
    [...a.worker.streams, ...b.worker.streams].sort().join() === stack.streams.join();

  // Assess
  await until('a 2/2 split, every stream read by exactly one of them', split, 20_000);
  t.pass('two each, every stream read by exactly one of them');
  await until('b reads its streams', () => b.worker.streams.every((s) => b.reads(s).length > 0));
  t.pass('b reads both of its streams');
});

t.test('a worker that shuts down hands its streams over and the other resumes just after its checkpoint', async (t) => {
  // Prepare
  // A failover long enough that a hand-over waiting for it could not pass for one that did not, on a loaded machine.
  const failoverTimeMillis = 4000;
  const stack = await workerStack(t, 2, { failoverTimeMillis });
  stack.feed(100);
  const a = await stack.start('a');
  await until('a holds both', () => a.worker.streams.length === 2);
  const b = await stack.start('b');
  await until('a 1/1 split', () => a.worker.streams.length === 1 && b.worker.streams.length === 1, 20_000);
  const [moved] = a.worker.streams;
  await until('a reads its stream', () => a.reads(moved!).length >= 3);

  // Act
  const stoppedAt = Date.now();
  await a.worker.shutdown();
  await until('b reads the moved stream', () => b.reads(moved!).length >= 3);
  const tookMillis = Date.now() - stoppedAt;

  // Assess
  const readByA = a.reads(moved!);
  const readByB = b.reads(moved!);
  const finalCheckpoint = a.records.findLast((r) => r.event === 'checkpoint' && r.stream === moved);
  t.equal(finalCheckpoint?.fragmentNumber, readByA.at(-1), 'a checkpointed the last fragment it read');
  const all = [...readByA, ...readByB];
  t.same(
    all,
    stack.appended(moved!).slice(0, all.length),
    "every fragment read once, in order: b starts just after a's checkpoint",
  );
  t.ok(
    tookMillis < failoverTimeMillis,
    `taken over in ${tookMillis} ms, without waiting for failover (${failoverTimeMillis} ms)`,
  );
});

t.test('a stolen lease: its old owner stops reading before the new owner reads', async (t) => {
  // Prepare: fragments every 100 ms, so a new owner reading at once would overlap the old one.
  const stack = await workerStack(t, 2);
  stack.feed(100);
  const a = await stack.start('a');
  await until('a reads both', () => stack.streams.every((s) => a.reads(s).length >= 2));

  // Act: b joins and steals one.
  const b = await stack.start('b');
  await until(
    'b reads a stolen stream',
    () => b.worker.streams.length === 1 && b.reads(b.worker.streams[0]!).length >= 2,
  );

  // Assess
  const [moved] = b.worker.streams;
  const at = (records: typeof a.records, event: string) =>
    records.filter((r) => r.event === event && r.stream === moved).map((r) => r.at as number);
  const lostAt = at(a.records, 'lost')[0];
  const aLastRead = Math.max(...at(a.records, 'fragment'));
  const bFirstRead = Math.min(...at(b.records, 'fragment'));
  t.ok(lostAt !== undefined, `a saw ${moved} lost`);
  t.ok(lostAt! < bFirstRead, `a lost it ${(bFirstRead - lostAt!).toFixed(0)} ms before b read it`);
  t.ok(aLastRead < bFirstRead, 'a read nothing of it once b had started');
  // A checkpoint write already under way when a gave the lease up may still land (b's take, conditional on the
  // counter, then waits for it); none may once b reads.
  t.ok(
    a.records.every((r) => !(r.event === 'checkpoint' && r.stream === moved && (r.at as number) > bFirstRead)),
    'a wrote no checkpoint once b read it',
  );
});
