// More streams than an HTTP agent's default socket cap (50): one worker reads and checkpoints every
// one of them. (Under the AWS SDK's default handler, GetMedia number 51 waited for a socket for ever.)

import t from 'tap';
import { until, WorkerCluster } from '../../src/local/worker-cluster.js';

const STREAMS = 60;

t.test(`one worker reads all ${STREAMS} of its streams`, async (t) => {
  // Prepare
  const cluster = await WorkerCluster.start({ streams: STREAMS, failoverTimeMillis: 10_000 });
  t.teardown(() => cluster.close());

  // Act
  cluster.spawn('w1');
  await until(`all ${STREAMS} leases held`, () => cluster.counts(['w1'])[0] === STREAMS, 60_000);
  const checkpointed = () => new Set(cluster.find('checkpoint', 'w1').map((l) => l.stream));
  await until(
    `every stream checkpointed (${checkpointed().size} so far)`,
    () => checkpointed().size === STREAMS,
    60_000,
  ).catch(() => undefined);

  // Assess
  const missing = cluster.streams.filter((s) => !checkpointed().has(s));
  t.same(missing, [], `all ${STREAMS} streams read and checkpointed`);
});
