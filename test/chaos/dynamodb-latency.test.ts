// DynamoDB 1 s slower each way (2 s more per call) for one worker, with the default failoverTimeMillis of
// 10 s (DynamoDB's deadline 80% of a renewal interval, 2666 ms): renewals still land within the lease's
// expiry, so no lease moves, and every stream keeps publishing through the fault.

import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { ChaosCluster } from './chaos-cluster.js';
import { latency } from './fault-proxy.js';
import { assertInvariants, faultPhase } from './invariants.js';

const STREAMS = 4;
const FAULT_MS = 20_000;
/** After the fault, how long the test still watches for a lease moving. */
const AFTER_MS = 5000;
const MOVES = new Set(['acquired', 'lost', 'released']);

t.test('DynamoDB 1 s slower each way for one worker: no lease moves', async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: STREAMS });
  await chaos.spawnAll(['w1', 'w2']);
  await chaos.settled(['w1', 'w2'], [STREAMS / 2, STREAMS / 2]);

  // Act
  const { start, end } = await faultPhase(
    t,
    chaos,
    {
      fault: 'DynamoDB 1 s slower each way, +2 s per call (one worker)',
      behaviour:
        'renewals and checkpoints are slower but land within the lease expiry: no lease moves, publishing goes on',
      budget: { flowingMs: 10_000, liveMs: 20_000 },
    },
    () => chaos.proxy('w1', 'dynamodb').window(latency(1000), FAULT_MS),
  );
  await sleep(Math.max(0, end + AFTER_MS - Date.now()));

  // Assess
  const moves = chaos.cluster.lines.filter((l) => MOVES.has(l.event) && l.at >= start);
  t.same(
    moves.map((l) => `${l.event} ${l.stream} by ${l.worker}`),
    [],
    'no lease moved during the fault or after it',
  );
  const records = await chaos.records();
  const during = chaos.streams.filter(
    (s) =>
      !records.some((r) => r.streamName === s && r.serverTimestamp >= end - FAULT_MS / 2 && r.serverTimestamp <= end),
  );
  t.same(during, [], "every stream published fragments of the fault's second half");
  await assertInvariants(t, chaos);
});
