// kill -9 of a worker in the middle of its streams: the survivor takes them over from their checkpoints
// (sampler position included), and every sampled I-frame is still published; the only duplicates are
// frames after the checkpoint the survivor resumed from, and the test says how many there were.

import t from 'tap';
import { until, WorkerCluster } from '../../src/local/worker-cluster.js';
import {
  assertCovered,
  assertDuplicatesAfterCheckpoints,
  assertResumedAfterLastCheckpoint,
  expectedFrames,
  keyOf,
  recordsCovering,
  served,
} from './pipeline-oracle.js';

const INTERVAL = 3;
// Long enough that, even on a loaded machine, w1 dies while its streams are live.
const CLIP_SECONDS = 45;
const FAILOVER = 1500;

t.test(
  '(b) kill -9 mid-stream: every sampled I-frame published, duplicates only after the last checkpoint',
  async (t) => {
    // Prepare
    const cluster = await WorkerCluster.start({
      streams: 4,
      failoverTimeMillis: FAILOVER,
      clipSeconds: CLIP_SECONDS,
      stack: { loop: false },
      // Checkpoints every 2 s rather than at every fragment, so that w1 dies with published frames not yet
      // checkpointed.
      config: { inferenceInterval: INTERVAL, startSelectorType: 'EARLIEST', checkpointIntervalMillis: 2000 },
    });
    t.teardown(() => cluster.close());
    cluster.spawn('w1');
    cluster.spawn('w2');
    // Two workers compiling the TypeScript sources start in 20 s on a loaded machine. Judged on what w1 holds now, and
    // on the checkpoints of its latest tenure of each: before the balance settles, a stream may change hands.
    const held = () => [...(cluster.holdings().get('w1') ?? [])];
    const checkpointsOf = (stream: string) => {
      const acquired = cluster.find('acquired', 'w1', stream).at(-1)!.at;
      return cluster.find('checkpoint', 'w1', stream).filter((l) => l.at >= acquired).length;
    };
    const tenure = (stream: string) => {
      const since = Date.now() - cluster.find('acquired', 'w1', stream).at(-1)!.at;
      return `${stream} (for ${Math.round(since / 1000)} s, ${checkpointsOf(stream)} checkpoints)`;
    };
    await until(
      '2/2, w1 having published and checkpointed twice on each of its streams',
      () => cluster.counts(['w1', 'w2']).join() === '2,2' && held().every((s) => checkpointsOf(s) >= 2),
      60_000,
    ).catch((error) => {
      t.comment(`w1 holds ${held().map(tenure).join(', ') || 'nothing'}; w2 holds ${cluster.counts(['w2'])[0]}`);
      throw error;
    });
    const victims = held();
    // Half-way to the next checkpoint: frames published since the last one are not checkpointed yet.
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // Act
    const killedAt = Date.now();
    cluster.workers.get('w1')!.process.kill('SIGKILL');
    await cluster.workers.get('w1')!.exited;
    await until(
      "w2 took over w1's streams",
      () => victims.every((s) => cluster.find('acquired', 'w2', s).length > 0),
      FAILOVER + 10_000,
    );
    await until(
      'the clip replayed on every stream',
      () => cluster.streams.every((s) => served(cluster, s).length === (CLIP_SECONDS * 1000) / 200),
      (CLIP_SECONDS + 10) * 1000,
    );
    const expected = (await Promise.all(cluster.streams.map((s) => expectedFrames(t, cluster, s, INTERVAL)))).flat();
    const records = await recordsCovering(cluster, expected, 30_000);

    // Assess
    t.ok(
      victims.every((s) => served(cluster, s).at(-1)!.serverTimestamp > killedAt),
      'w1 was killed while its streams were still live',
    );
    const duplicates = assertCovered(t, records, expected, 'kill -9');
    assertDuplicatesAfterCheckpoints(t, duplicates, cluster.lines, 'kill -9');
    for (const stream of victims) {
      const killed = { victim: 'w1', survivor: 'w2', killedAt };
      const { lastLogged, resumedAfter } = assertResumedAfterLastCheckpoint(t, cluster.lines, stream, killed);
      const publishedBeforeKill = new Set(
        records.filter((r) => r.streamName === stream && r.publishedAt < killedAt).map((r) => r.idempotencyKey),
      );
      t.same(
        expected
          .filter(
            (f) =>
              f.stream === stream && BigInt(f.fragmentNumber) <= resumedAfter && !publishedBeforeKill.has(keyOf(f)),
          )
          .map(keyOf),
        [],
        `${stream}: every sampled frame up to that checkpoint was published before the kill`,
      );
      const w2Records = records.filter(
        (r) => r.streamName === stream && r.workerId === 'w2' && r.publishedAt >= killedAt,
      );
      t.ok(
        w2Records.every((r) => BigInt(r.fragmentNumber) > resumedAfter),
        `${stream}: w2 published nothing at or before that checkpoint`,
      );
      t.ok(
        typeof lastLogged.keyframesSeen === 'number' && w2Records.length > 0,
        `${stream}: w1's checkpoints carry the sampler's position (keyframesSeen ${lastLogged.keyframesSeen}) and w2 ` +
          'went on from it (checked above: no frame out of phase)',
      );
    }
    const count = [...duplicates.values()].reduce((n, copies) => n + copies.length - 1, 0);
    t.comment(
      `duplicates after kill -9: ${count} record(s) over ${victims.length} streams: ` +
        `${[...duplicates.keys()].join(', ') || 'none'}`,
    );
  },
);
