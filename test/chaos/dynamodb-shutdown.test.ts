// A worker stopped (SIGTERM) while cut off from DynamoDB: its final checkpoints, the deletion of its item and its
// releases cannot land. It still exits 0 within shutdownTimeoutMillis; its leases, never released, expire, and the
// other worker takes its streams after failoverTimeMillis and publishes them from their last checkpoints, losing
// nothing.

import t from 'tap';
import { ChaosCluster } from './chaos-cluster.js';
import { blackhole } from './fault-proxy.js';
import { assertInvariants, assertRecovered, printFailureMode } from './invariants.js';

const STREAMS = 4;
/** The local cluster's (the default is 25 s): a drain that cannot finish gives up this long after SIGTERM. */
const SHUTDOWN_TIMEOUT_MS = 5000;
/** Longer than a take-over (failoverTimeMillis 10 s, a 3.3 s renewal interval, publishing). */
const FAULT_MS = 30_000;

t.test('a worker stopped while partitioned from DynamoDB exits in time; the other takes its streams', async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, {
    streams: STREAMS,
    config: { shutdownTimeoutMillis: SHUTDOWN_TIMEOUT_MS },
  });
  await chaos.spawnAll(['w1', 'w2']);
  await chaos.settled(['w1', 'w2'], [STREAMS / 2, STREAMS / 2]);
  const stopped = [...chaos.cluster.holdings().get('w1')!];
  const { failoverTimeMillis } = chaos.config;
  // Stated, as for a partition: the leases expire (failover), the taker waits out a renewal interval, then a few
  // seconds to publish.
  const takeoverBudgetMs = failoverTimeMillis + failoverTimeMillis / 3 + 5000;

  // Act
  const fault = chaos.proxy('w1', 'dynamodb').window(blackhole(), FAULT_MS);
  const start = Date.now();
  const code = await chaos.stop('w1');
  const exitedMs = Date.now() - start;
  const taken = await assertRecovered(
    t,
    chaos,
    start,
    { flowingMs: takeoverBudgetMs, liveMs: FAULT_MS },
    { streams: stopped, worker: 'w2' },
  );
  await fault;

  // Assess
  t.equal(code, 0, 'w1 exits 0');
  // After the deadline: the publisher's last second, the decode pool's teardown and the process's last second.
  t.ok(exitedMs < SHUTDOWN_TIMEOUT_MS + 5000, `w1 exited ${exitedMs} ms after SIGTERM`);
  const stoppedLine = chaos.cluster.lines.find((l) => l.event === 'worker-stopped' && l.worker === 'w1');
  t.ok(stoppedLine, `w1 logged worker-stopped (timedOut: ${stoppedLine?.timedOut})`);
  const duplicates = await assertInvariants(t, chaos);
  printFailureMode({
    fault:
      'one worker stopped (SIGTERM) while partitioned from DynamoDB (recovery: its streams published by the other, ' +
      'from the SIGTERM)',
    behaviour:
      'the stopped worker drains and exits within shutdownTimeoutMillis though nothing it writes lands; its leases ' +
      'expire and another takes them after failoverTimeMillis plus a renewal interval',
    recovery: taken,
    duplicates,
  });
});
