// A worker killed before its first periodic checkpoint, its frames still at the endpoint: its first fragment read
// was written at once as an inclusive checkpoint, so the next owner starts at that fragment rather than at NOW,
// and nothing read in between is lost. Real worker processes (`kvs-infer run`) on a live stream of the local stack.

import t from 'tap';
import { until, WorkerCluster } from '../../src/local/worker-cluster.js';
import { served } from './pipeline-oracle.js';

// Generous for a loaded 2-core machine: a worker that cannot renew in time gives its lease up by itself.
const FAILOVER = 3000;
/** Fragments (200 ms each) the first worker reads before it is killed. */
const READ_BEFORE_KILL = 5;

t.test(
  'kill -9 before the first periodic checkpoint: the next owner resumes at the first fragment read, not at NOW',
  async (t) => {
    // Prepare: a live stream started at NOW, and periodic checkpoints too rare to happen in this test. The endpoint
    // answers nothing (each call times out and is retried), so no fragment of w1's completes: w1's only checkpoint
    // can be the inclusive one. (A fragment complete by its first read is checkpointed plain: the machine tests.)
    const cluster = await WorkerCluster.start({
      streams: 1,
      failoverTimeMillis: FAILOVER,
      config: { startSelectorType: 'NOW', checkpointIntervalMillis: 60_000, inferenceInterval: 1 },
    });
    t.teardown(() => cluster.close());
    cluster.stack.model.setFaults({ hang: 1 });
    const [stream] = cluster.streams as [string];
    const reads = (worker: string) => cluster.find('fragment', worker, stream).map((l) => l.fragmentNumber!);
    cluster.spawn('w1');
    await until(`w1 read ${READ_BEFORE_KILL} fragments`, () => reads('w1').length >= READ_BEFORE_KILL, 60_000);
    // Written at the first read; waited for (not required) so that the test shows what a new owner does without it.
    await until(
      'w1 wrote its first checkpoint',
      () => cluster.find('checkpoint-inclusive', 'w1', stream).length > 0,
      15_000,
    ).catch(() => undefined);

    // Act
    const w1 = cluster.workers.get('w1')!;
    w1.process.kill('SIGKILL');
    await w1.exited;
    const killedAt = Date.now();
    cluster.stack.model.setFaults({});
    cluster.spawn('w2');
    await until('w2 reads the stream', () => reads('w2').length > 0, FAILOVER + 60_000);

    // Assess
    const firstByW1 = reads('w1')[0]!;
    const lastByW1 = reads('w1').at(-1)!;
    const firstByW2 = reads('w2')[0]!;
    t.same(
      cluster.find('checkpoint-inclusive', 'w1', stream).map((l) => l.fragmentNumber),
      [firstByW1],
      'w1 wrote one checkpoint, inclusive, at its first fragment read',
    );
    t.same(cluster.find('checkpoint', 'w1', stream), [], 'and no other (nothing completed)');
    t.match(
      cluster.find('acquired', 'w2', stream)[0],
      { checkpoint: firstByW1, inclusive: true },
      'w2 took the lease with that checkpoint',
    );
    t.equal(
      firstByW2,
      firstByW1,
      `w2 read first the fragment w1 read first (w1 read up to ${lastByW1} before it was killed)`,
    );

    // Assess: every fragment from w1's first read until the kill has its record
    // (the clip has one keyframe per fragment).
    const lost = () => {
      const published = new Set(recordsSeen.map((r) => r.fragmentNumber));
      return served(cluster, stream)
        .filter((f) => BigInt(f.fragmentNumber) >= BigInt(firstByW1) && f.serverTimestamp < killedAt)
        .filter((f) => !published.has(f.fragmentNumber))
        .map((f) => f.fragmentNumber);
    };
    let recordsSeen = await cluster.records();
    const deadline = Date.now() + 30_000;
    while (lost().length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      recordsSeen = await cluster.records();
    }
    t.same(lost(), [], "no fragment between w1's first read and the kill went unpublished");
  },
);
