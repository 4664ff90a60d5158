// A checkpoint older than retention: a worker checkpoints a stream and stops; while no one reads it, the
// stream's fragments up to and past the checkpoint age out. The next worker's GetMedia from that checkpoint
// meets KVS's in-band "fragment not found" (4000); it falls back to the oldest retained fragment, logs the
// range given up, and the stream makes progress again.

import t from 'tap';
import { until } from '../../src/local/worker-cluster.js';
import { served } from '../e2e/pipeline-oracle.js';
import { ChaosCluster } from './chaos-cluster.js';
import { assertInvariants, faultPhase } from './invariants.js';

const STREAMS = 2;
const AGED = 'cam-0';
/** Fragments past the checkpoint that age out with it: the range the next owner must give up. */
const AGED_PAST_CHECKPOINT = 5;

t.test('a checkpoint older than retention: fallback to the oldest retained fragment, logged', async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: STREAMS });
  await chaos.spawn('w1');
  await chaos.settled(['w1'], [STREAMS]);
  await until(`w1 checkpointed ${AGED} twice`, () => chaos.cluster.find('checkpoint', 'w1', AGED).length >= 2, 30_000);
  t.equal(await chaos.stop('w1'), 0, 'w1 stopped (SIGTERM), its final checkpoints written');
  const checkpoint = String(chaos.cluster.find('checkpoint', 'w1', AGED).at(-1)!.fragmentNumber);
  const log = chaos.cluster.stack.kvs.streamLog(AGED);
  const after = () => served(chaos.cluster, AGED).filter((f) => BigInt(f.fragmentNumber) > BigInt(checkpoint)).length;
  // Some fragments must remain once those past the checkpoint are gone: the ones to fall back to.
  await until(
    `${AGED_PAST_CHECKPOINT + 2} fragments past the checkpoint`,
    () => after() >= AGED_PAST_CHECKPOINT + 2,
    30_000,
  );
  const aged = served(chaos.cluster, AGED).length - after() + AGED_PAST_CHECKPOINT;

  // Act
  await faultPhase(
    t,
    chaos,
    {
      fault: 'checkpoint older than retention',
      behaviour:
        'GetMedia from the checkpoint meets in-band error 4000; the reader falls back to the oldest retained ' +
        'fragment ' +
        'and logs checkpoint-unresumable with the range given up',
      // From w2's start: it takes the released lease at once, falls back and reads the retained backlog.
      budget: { flowingMs: 30_000, liveMs: 60_000 },
    },
    async () => {
      const start = Date.now();
      t.equal(
        log.dropOldest(aged),
        aged,
        `${aged} fragments of ${AGED} aged out, up to ${AGED_PAST_CHECKPOINT} past its checkpoint`,
      );
      await chaos.spawn('w2');
      return { start, end: Date.now() };
    },
  );

  // Assess
  const fallback = chaos.cluster.lines.find((l) => l.event === 'checkpoint-unresumable' && l.stream === AGED);
  const why = String(fallback?.reason ?? 'none logged');
  t.equal(
    fallback?.checkpoint,
    checkpoint,
    `the fallback is logged for ${AGED}, naming the checkpoint given up (${why})`,
  );
  t.equal(
    fallback?.firstFragmentNumber,
    served(chaos.cluster, AGED)[0]!.fragmentNumber,
    'and the oldest retained fragment read instead',
  );
  await assertInvariants(t, chaos);
});
