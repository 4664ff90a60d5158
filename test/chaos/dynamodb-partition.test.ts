// One worker partitioned from DynamoDB: it cannot renew, so it stops reading its streams itself before
// the other may take them; the other takes them after failoverTimeMillis plus the handover delay and
// publishes them; once healed, the cut-off worker rejoins and the streams rebalance. At no sampled instant
// is a stream read by both.

import t from 'tap';
import { until } from '../../src/local/worker-cluster.js';
import { ChaosCluster } from './chaos-cluster.js';
import { blackhole } from './fault-proxy.js';
import { assertInvariants, assertRecovered, duplicatesIn, printFailureMode } from './invariants.js';

const STREAMS = 4;
/** Longer than a take-over (failoverTimeMillis 10 s, a 3.3 s renewal interval, publishing). */
const FAULT_MS = 30_000;

t.test(`one worker partitioned from DynamoDB for ${FAULT_MS / 1000} s, then healed`, async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: STREAMS });
  await chaos.spawnAll(['w1', 'w2']);
  await chaos.settled(['w1', 'w2'], [STREAMS / 2, STREAMS / 2]);
  const cutOff = [...chaos.cluster.holdings().get('w1')!];
  const { failoverTimeMillis } = chaos.config;
  // Stated: the lease expires (failover), the taker waits out the old owner's renewal interval (a third), then a few
  // seconds to publish.
  const takeoverBudgetMs = failoverTimeMillis + failoverTimeMillis / 3 + 5000;
  const duplicatesBefore = duplicatesIn(await chaos.records());

  // Act
  const fault = chaos.proxy('w1', 'dynamodb').window(blackhole(), FAULT_MS);
  const start = Date.now();
  // Measured from the partition's start, so "after the fault" below reads "after the partition began".
  const taken = await assertRecovered(
    t,
    chaos,
    start,
    { flowingMs: takeoverBudgetMs, liveMs: FAULT_MS },
    { streams: cutOff, worker: 'w2' },
  );
  const { end } = await fault;
  await assertRecovered(t, chaos, end, { flowingMs: 10_000, liveMs: 20_000 });
  await until('the streams rebalanced 2/2', () => chaos.cluster.counts(['w1', 'w2']).join() === '2,2', 30_000).then(
    () => t.pass('w1 rejoined and the streams rebalanced 2/2 after the partition'),
    (error: Error) => t.fail(error.message),
  );

  // Assess
  const fenced = cutOff.map((stream) =>
    chaos.monitor.of('w1', start).find((s) => s.state !== null && !s.state.reading.includes(stream)),
  );
  const fencedInTime = fenced.every((s) => s !== undefined && s.at - start < failoverTimeMillis);
  t.ok(fencedInTime, `w1 stopped reading ${cutOff.join(', ')} itself within failoverTimeMillis of the partition`);
  // Its checkpoints written between renewals (checkpointIntervalMillis is shorter than a renewal interval here)
  // failed too, each said so, naming its stream and fragment.
  const checkpointFailures = chaos.cluster.lines.filter(
    (l) => l.event === 'checkpoint-failed' && l.worker === 'w1' && l.at >= start && l.at < end,
  );
  t.ok(
    checkpointFailures.length > 0 &&
      checkpointFailures.every((l) => cutOff.includes(String(l.stream)) && l.fragmentNumber && l.code),
    `w1 logged its failed checkpoint writes (${checkpointFailures.length}), each with stream, fragment and code`,
  );
  const duplicates = await assertInvariants(t, chaos);
  printFailureMode({
    fault:
      `one worker partitioned from DynamoDB, ${FAULT_MS / 1000} s (recovery: its streams published by the ` +
      `other, from the partition's start)`,
    behaviour:
      'the cut-off worker stops reading its streams before their leases expire; another takes them after ' +
      'failoverTimeMillis ' +
      'plus a renewal interval; it rejoins and rebalances when healed',
    recovery: taken,
    duplicates: duplicates - duplicatesBefore,
  });
});
