// Sampling by time across a failover: with samplingIntervalMillis, kill -9 of a worker in the middle of its streams,
// and the survivor goes on from the checkpoints' next tick. The published records' producer timestamps show one
// sample per tick of the grid, no tick missed and none sampled twice beyond the at-least-once re-publication of
// what came after the checkpoint; and fragments with no tick in them complete and are checkpointed as the others.

import t from 'tap';
import type { StoredFragment } from '../../src/local/kvs/types.js';
import { until, WorkerCluster } from '../../src/local/worker-cluster.js';
import { namePhase } from '../../src/name-phase.js';
import {
  assertCovered,
  assertDuplicatesAfterCheckpoints,
  assertResumedAfterLastCheckpoint,
  type ExpectedFrame,
  recordsCovering,
  served,
} from './pipeline-oracle.js';

/** Five I-frames (the cluster's clip has one every 200 ms) per tick. */
const INTERVAL_MS = 1000;
// Long enough that, even on a loaded machine (a worker may take 30 s to start), w1 dies while its streams are live.
const CLIP_SECONDS = 90;
// Renewals every 2.1 s, so that a loaded machine (workers catching up from EARLIEST) keeps its leases until the kill.
// Not a whole number of ticks: renewals carry the checkpoints, and every 2 s they would fall at the same point of
// each tick, always just after the same one of its five fragments.
const FAILOVER = 6300;

/**
 * The sampled I-frames of a stream, worked out tick by tick rather than as the sampler does: the first I-frame (no
 * tick before it), then for every point of the stream's grid (the multiples of the interval shifted by its name's
 * phase) up to the last I-frame the first I-frame at or after it, each once.
 * Every fragment holds one I-frame, at its start, so an I-frame's producer time is its fragment's.
 */
function expectedByTime(stream: string, fragments: StoredFragment[]): ExpectedFrame[] {
  const times = fragments.map((f) => f.producerTimestamp);
  const picked = new Set([0]);
  const phase = namePhase(stream, INTERVAL_MS);
  const firstTick = phase + (Math.floor((times[0]! - phase) / INTERVAL_MS) + 1) * INTERVAL_MS;
  for (let tick = firstTick; tick <= times.at(-1)!; tick += INTERVAL_MS)
    picked.add(times.findIndex((at) => at >= tick));
  return [...picked]
    .sort((a, b) => a - b)
    .map((i) => ({
      stream,
      fragmentNumber: fragments[i]!.fragmentNumber,
      frameTimecode: fragments[i]!.clusterTimecode!,
      keyframeIndex: i,
    }));
}

t.test('samplingIntervalMillis across kill -9: one sample per tick, no gap, no tick sampled twice', async (t) => {
  // Prepare
  const cluster = await WorkerCluster.start({
    streams: 4,
    failoverTimeMillis: FAILOVER,
    clipSeconds: CLIP_SECONDS,
    stack: { loop: false },
    // Checkpoints every 2 s rather than at every fragment, so that w1 dies with published frames not yet checkpointed.
    config: { samplingIntervalMillis: INTERVAL_MS, startSelectorType: 'EARLIEST', checkpointIntervalMillis: 2000 },
  });
  t.teardown(() => cluster.close());
  cluster.spawn('w1');
  cluster.spawn('w2');
  await until('2/2', () => cluster.counts(['w1', 'w2']).join() === '2,2', 120_000);
  const held = () => [...(cluster.holdings().get('w1') ?? [])];
  // Since it last acquired them: the checkpoints of this tenure are what w2 goes on from.
  const checkpointedPastTick = (stream: string) => {
    const acquired = cluster.find('acquired', 'w1', stream).at(-1)!.at;
    return cluster.find('checkpoint', 'w1', stream).some((l) => l.at > acquired && typeof l.nextSampleAt === 'number');
  };
  await until(
    'w1 holds streams and checkpointed past a tick on them',
    () => held().length > 0 && held().every(checkpointedPastTick),
    60_000,
  );
  // Half-way to the next checkpoint: frames published since the last one are not checkpointed yet.
  await new Promise((resolve) => setTimeout(resolve, 1000));

  // Act
  const victims = held();
  const killedAt = Date.now();
  cluster.workers.get('w1')!.process.kill('SIGKILL');
  await cluster.workers.get('w1')!.exited;
  await until(
    "w2 took over w1's streams",
    () => victims.every((s) => cluster.find('acquired', 'w2', s).some((l) => l.at >= killedAt)),
    FAILOVER + 30_000,
  );
  await until(
    'the clip replayed on every stream',
    () => cluster.streams.every((s) => served(cluster, s).length === (CLIP_SECONDS * 1000) / 200),
    (CLIP_SECONDS + 10) * 1000,
  );
  const fragments = new Map(cluster.streams.map((s) => [s, served(cluster, s)]));
  const expected = cluster.streams.flatMap((s) => expectedByTime(s, fragments.get(s)!));
  const records = await recordsCovering(cluster, expected, 30_000);
  /** The next tick after the last sample at or before `fragmentNumber` of `stream`: what a checkpoint there holds. */
  const nextTick = (stream: string, fragmentNumber: bigint): number => {
    const last = expected.filter((f) => f.stream === stream && BigInt(f.fragmentNumber) <= fragmentNumber).at(-1)!;
    const at = fragments.get(stream)!.find((f) => f.fragmentNumber === last.fragmentNumber)!.producerTimestamp;
    const phase = namePhase(stream, INTERVAL_MS);
    return phase + (Math.floor((at - phase) / INTERVAL_MS) + 1) * INTERVAL_MS;
  };

  // Assess
  t.ok(victims.length > 0, `w1 held ${victims.join(', ')} when it was killed`);
  t.ok(
    cluster.streams.every((s) => fragments.get(s)!.every((f) => f.keyframes === 1)),
    'every fragment holds one I-frame',
  );
  t.ok(
    victims.every((s) => fragments.get(s)!.at(-1)!.serverTimestamp > killedAt),
    'w1 was killed while its streams were still live',
  );
  const duplicates = assertCovered(t, records, expected, 'sampling by time, kill -9');
  assertDuplicatesAfterCheckpoints(t, duplicates, cluster.lines, 'sampling by time, kill -9');
  for (const stream of cluster.streams) {
    // By the records alone: the grid cells of the distinct producer times sampled follow one another.
    const sampled = [...new Set(records.filter((r) => r.streamName === stream).map((r) => r.producerTimestamp!))];
    const phase = namePhase(stream, INTERVAL_MS);
    const cells = sampled.sort((a, b) => a - b).map((at) => Math.floor((at - phase) / INTERVAL_MS));
    const jumps = cells.slice(1).filter((cell, i) => cell !== cells[i]! + 1);
    t.same(jumps, [], `${stream}: ${cells.length} samples, one in each ${INTERVAL_MS} ms tick, none missed`);
    t.ok(cells.length >= CLIP_SECONDS - 1, `${stream}: ${cells.length} samples over the ${CLIP_SECONDS} s clip`);

    // Each checkpoint holds the next tick after the last sample at or before its fragment.
    const checkpoints = cluster.lines.filter((l) => l.event === 'checkpoint' && l.stream === stream);
    const wrong = checkpoints.filter((l) => l.nextSampleAt !== nextTick(stream, BigInt(l.fragmentNumber!)));
    t.same(
      wrong.map((l) => `${l.worker} ${l.fragmentNumber}: ${l.nextSampleAt}`),
      [],
      `${stream}: all ${checkpoints.length} checkpoints hold the next tick after their fragment`,
    );
    const sampledNumbers = new Set(expected.filter((f) => f.stream === stream).map((f) => f.fragmentNumber));
    const unsampled = checkpoints.filter((l) => !sampledNumbers.has(l.fragmentNumber!)).length;
    t.ok(unsampled > 0, `${stream}: fragments without a sample are checkpointed too (${unsampled} of the checkpoints)`);
  }
  for (const stream of victims) {
    const killed = { victim: 'w1', survivor: 'w2', killedAt };
    const { resumedAfter } = assertResumedAfterLastCheckpoint(t, cluster.lines, stream, killed);
    const firstByW2 = records
      .filter((r) => r.streamName === stream && r.workerId === 'w2' && r.publishedAt >= killedAt)
      .sort((a, b) => a.producerTimestamp! - b.producerTimestamp!)[0];
    // The tick that checkpoint holds (checked above for every logged one; w1 may have died before logging it).
    const tick = nextTick(stream, resumedAfter);
    const due = fragments.get(stream)!.find((f) => f.producerTimestamp >= tick);
    t.equal(
      firstByW2?.producerTimestamp,
      due?.producerTimestamp,
      `${stream}: w2's first sample is the first I-frame at or after the checkpointed tick ${tick}`,
    );
  }
  const count = [...duplicates.values()].reduce((n, copies) => n + copies.length - 1, 0);
  t.comment(`re-published after kill -9: ${count} record(s): ${[...duplicates.keys()].join(', ') || 'none'}`);
});
