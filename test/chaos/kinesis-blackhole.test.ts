// Kinesis black-holed for both workers (connections accepted, nothing forwarded, open ones dead for good):
// PutRecords calls time out and are retried, reading pauses instead of piling frames up, the worker says so
// in its log and its /healthz fails once it has been stuck long enough; once Kinesis is back every stream
// publishes again, with every checkpointed frame published and no error record.

import t from 'tap';
import { ChaosCluster } from './chaos-cluster.js';
import { blackhole } from './fault-proxy.js';
import { assertInvariants, faultPhase } from './invariants.js';

/** Six streams per worker at 2.5 sampled frames a second: a 45 s fault reads more frames (675) than the in-flight bound (567). */
const STREAMS = 12;
const FAULT_MS = 45_000;

t.test(`Kinesis black hole for ${FAULT_MS / 1000} s`, async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: STREAMS });
  await chaos.spawnAll(['w1', 'w2']);
  await chaos.settled(['w1', 'w2'], [STREAMS / 2, STREAMS / 2]);
  const stallMs = chaos.config.healthCheckStallFactor * chaos.config.failoverTimeMillis;

  // Act
  const { start, end } = await faultPhase(
    t,
    chaos,
    {
      fault: `Kinesis black hole, ${FAULT_MS / 1000} s`,
      behaviour:
        'PutRecords times out (publishTimeoutMillis) and is retried with backoff; reading pauses, in-flight stays bounded; ' +
        '/healthz fails once stuck; resumes where it stopped',
      // Stated: a timed-out call (10 s) and a backoff of at most 5 s; then the fault's backlog (45 s of six streams) is worked off.
      budget: { flowingMs: 20_000, liveMs: 90_000 },
    },
    () => chaos.window('kinesis', blackhole(), FAULT_MS),
  );

  // Assess
  await assertInvariants(t, chaos);
  for (const worker of ['w1', 'w2']) {
    const warned = chaos.cluster.lines.filter((l) => l.worker === worker && l.at >= start && l.at <= end && (l.level === 'warn' || l.level === 'error'));
    t.ok(warned.length > 0, `${worker} logged the fault while it lasted (${[...new Set(warned.map((l) => l.event))].join(', ') || 'nothing'})`);
    const failing = chaos.monitor.of(worker, start + stallMs).filter((s) => s.at <= end && s.healthz !== null && s.healthz !== 200);
    t.ok(failing.length > 0, `${worker}'s /healthz failed while it was stuck past ${stallMs} ms (${failing.length} polls)`);
    const last = chaos.monitor.of(worker).at(-1);
    t.equal(last?.healthz, 200, `${worker}'s /healthz is green again after recovery (${last?.state?.stuck ?? 'not stuck'})`);
  }
});
