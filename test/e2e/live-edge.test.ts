// Staying at the live edge: a worker started far behind a live stream (EARLIEST on seconds of backlog) with
// maxMillisBehindNow reads the oldest fragment, jumps to NOW, logs and counts the range it skipped, and checkpoints
// past it, so the next owner goes on from there; without the key the same backlog is read through. Real worker
// processes (`kvs-infer run`) on the local stack, whose stream gets a 200 ms fragment five times a second.

import t, { type Test } from 'tap';
import { type LogLine, until, WorkerCluster } from '../../src/local/worker-cluster.js';
import { served } from './pipeline-oracle.js';

/** What the stream holds when the worker starts: 40 fragments. */
const BACKLOG_MS = 8000;
const LIMIT = 3000;
const FRAGMENT_MS = 200;

async function backlogged(t: Test, config: Record<string, unknown>) {
  const cluster = await WorkerCluster.start({
    streams: 1,
    failoverTimeMillis: 3000,
    config: { startSelectorType: 'EARLIEST', inferenceInterval: 1, ...config },
  });
  t.teardown(() => cluster.close());
  const [stream] = cluster.streams as [string];
  await until('the backlog', () => served(cluster, stream).length >= BACKLOG_MS / FRAGMENT_MS, BACKLOG_MS + 30_000);
  const reads = (worker: string) => cluster.find('fragment', worker, stream).map((l) => l.fragmentNumber!);
  return { cluster, stream, reads };
}

const n = (fragmentNumber: string) => BigInt(fragmentNumber);
const sum = (lines: LogLine[], field: string) => lines.reduce((total, l) => total + Number(l[field]), 0);

async function stop(cluster: WorkerCluster, id: string): Promise<void> {
  const worker = cluster.workers.get(id)!;
  worker.process.kill('SIGTERM');
  await worker.exited;
}

t.test(
  'far behind with maxMillisBehindNow: jumps to NOW, logs and counts the range skipped, checkpoints past it',
  async (t) => {
    // Prepare
    const { cluster, stream, reads } = await backlogged(t, { maxMillisBehindNow: LIMIT });

    // Act
    cluster.spawn('w1', ['--debug-port', '0']);
    const skips = () => cluster.find('live-edge-skip', 'w1', stream);
    await until('w1 jumps to the live edge', () => skips().length > 0, 60_000);
    // The jump is logged as the first fragment after it ends, and that fragment's own line may come just after.
    await until('the first fragment after the jump is logged', () => reads('w1').length >= 2, 10_000);

    // Assess: the log line names the range, from the last fragment read to the first read after the jump.
    const skip = skips()[0]!;
    const fragments = served(cluster, stream);
    const [last, first] = [reads('w1')[0]!, reads('w1')[1]!];
    t.equal(last, fragments[0]!.fragmentNumber, 'w1 read the oldest fragment first');
    t.match(skip, {
      level: 'warn',
      lastFragmentNumber: last,
      firstFragmentNumber: first,
      maxMillisBehindNow: LIMIT,
    });
    t.ok(Number(skip.millisBehindNow) > LIMIT, `the trigger: ${skip.millisBehindNow} ms behind`);
    const skipped = fragments.filter((f) => n(f.fragmentNumber) > n(last) && n(f.fragmentNumber) < n(first));
    const [lastStored, firstStored] = [fragments[0]!, fragments.find((f) => f.fragmentNumber === first)!];
    t.ok(skipped.length >= (BACKLOG_MS - LIMIT) / FRAGMENT_MS, `${skipped.length} fragments skipped: the backlog`);
    const span = firstStored.serverTimestamp - lastStored.serverTimestamp;
    t.ok(
      Number(skip.skippedMillis) > span - FRAGMENT_MS && Number(skip.skippedMillis) <= span,
      `${skip.skippedMillis} ms skipped: from the last frame of ${last} to ${first}, ${span} ms after it began`,
    );
    t.ok(
      Math.abs(Number(skip.fragmentsSkipped) - skipped.length) <= 1,
      `${skip.fragmentsSkipped} fragments estimated skipped, ${skipped.length} were`,
    );

    // Assess: the checkpoint moves past the range, once the frames read before the jump are published.
    await until(
      'a checkpoint past the range',
      () => cluster.find('checkpoint', 'w1', stream).some((l) => n(l.fragmentNumber!) >= n(first)),
      30_000,
    );
    const published = async () => new Set((await cluster.records()).map((r) => r.fragmentNumber));
    t.ok((await published()).has(last), 'the fragment read before the jump has its record (at-least-once)');

    // Assess: counted, and exported (Prometheus, from the metric table).
    const base = String(cluster.lines.find((l) => l.event === 'debug-server')!.url).replace(/\/debug$/, '');
    const text = await (await fetch(`${base}/metrics`)).text();
    const metric = (name: string) =>
      Number(new RegExp(`^${name}\\{[^}]*stream="${stream}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1]);
    t.equal(metric('kvs_infer_fragments_skipped_total'), sum(skips(), 'fragmentsSkipped'), 'FragmentsSkipped');
    t.equal(metric('kvs_infer_skipped_ms_total'), sum(skips(), 'skippedMillis'), 'TimeSkipped');

    // Act: w1 stops; w2 takes the stream over from w1's checkpoint.
    await stop(cluster, 'w1');
    cluster.spawn('w2');
    await until('w2 reads the stream', () => reads('w2').length > 0, 60_000);

    // Assess
    const checkpoint = cluster.find('acquired', 'w2', stream)[0]!.checkpoint as string;
    t.ok(n(checkpoint) >= n(first), `w2 took the lease with w1's checkpoint ${checkpoint}, past the range`);
    t.ok(n(reads('w2')[0]!) > n(checkpoint), 'and read on after it');
    t.match(cluster.find('released', 'w1', stream)[0], { counters: { incompleteFragments: 0 } });
    const readByAny = new Set([...reads('w1'), ...reads('w2')]);
    t.same(
      skipped.filter((f) => readByAny.has(f.fragmentNumber)),
      [],
      'no fragment of the range was ever read',
    );
    const records = await published();
    t.same(
      skipped.filter((f) => records.has(f.fragmentNumber)),
      [],
      'nor inferred',
    );
  },
);

t.test('without maxMillisBehindNow the same backlog is read through, fragment after fragment', async (t) => {
  // Prepare
  const { cluster, stream, reads } = await backlogged(t, {});

  // Act
  const started = Date.now();
  cluster.spawn('w1');
  await until(
    'w1 reads a fragment that arrived after it started',
    () => cluster.find('fragment', 'w1', stream).some((l) => Number(l.serverTimestamp) > started),
    60_000,
  );
  await stop(cluster, 'w1');

  // Assess
  const firstRead = cluster.find('fragment', 'w1', stream)[0]!;
  t.ok(
    firstRead.at - Number(firstRead.serverTimestamp) > LIMIT,
    `its first fragment was ${firstRead.at - Number(firstRead.serverTimestamp)} ms behind when read`,
  );
  const read = reads('w1');
  t.same(
    read,
    served(cluster, stream)
      .slice(0, read.length)
      .map((f) => f.fragmentNumber),
    `every fragment from the oldest, none skipped (${read.length})`,
  );
  t.same(cluster.find('live-edge-skip', 'w1', stream), []);
  t.match(cluster.find('released', 'w1', stream)[0], { counters: { fragmentsSkipped: 0, skippedMs: 0 } });
});
