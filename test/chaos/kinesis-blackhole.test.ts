// Kinesis black-holed for both workers (connections accepted, nothing forwarded, open ones dead for good) for
// 60 s, with 20 streams and a model whose answers are 64 KiB: PutRecords calls time out and are retried, reading
// pauses instead of piling frames up, in-flight frames and memory stay under the README's bounds, the worker says
// so in its log and its /healthz fails once it has been stuck long enough; once Kinesis is back every stream
// publishes again, with every checkpointed frame published and no error record.

import t from 'tap';
import { ChaosCluster } from './chaos-cluster.js';
import { blackhole } from './fault-proxy.js';
import { assertInvariants, assertMemoryBound, faultPhase, inFlightMemoryBound } from './invariants.js';

/**
 * Ten streams per worker at 2.5 sampled frames a second: the fault reads 1500 frames per worker, against an
 * in-flight bound of 567; unbounded, their 64 KiB answers (about 85 KiB as records) would hold over 120 MiB.
 */
const STREAMS = 20;
const FAULT_MS = 60_000;
const ANSWER_BYTES = 64 * 1024;
/** The fixture's 64x48 frames, as the largest image format (BMP, 3 bytes a pixel) and its header. */
const IMAGE_BYTES = 64 * 48 * 3 + 54;
/** RSS just before the fault, the baseline the bound is added to: the process at work, nothing held back. */
const BASELINE_MS = 10_000;

t.test(`Kinesis black hole for ${FAULT_MS / 1000} s, ${STREAMS} streams`, async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: STREAMS, stack: { fixedAnswerBytes: ANSWER_BYTES } });
  await chaos.spawnAll(['w1', 'w2']);
  await chaos.settled(['w1', 'w2'], [STREAMS / 2, STREAMS / 2]);
  const stallMs = chaos.config.healthCheckStallFactor * chaos.config.failoverTimeMillis;

  // Act
  const { start, end } = await faultPhase(
    t,
    chaos,
    {
      fault: `Kinesis black hole, ${FAULT_MS / 1000} s (${STREAMS} streams, 64 KiB answers)`,
      behaviour:
        'PutRecords times out (publishTimeoutMillis) and is retried with backoff; reading pauses, in-flight frames and memory stay bounded; ' +
        '/healthz fails once stuck; resumes where it stopped',
      // Stated: a timed-out call (10 s) and a backoff of at most 5 s; then the fault's backlog (60 s of ten streams) is worked off.
      budget: { flowingMs: 20_000, liveMs: 120_000 },
    },
    () => chaos.window('kinesis', blackhole(), FAULT_MS),
  );

  // Assess
  await assertInvariants(t, chaos);
  assertMemoryBound(t, chaos, { start, end, before: BASELINE_MS }, inFlightMemoryBound(chaos.config, IMAGE_BYTES, ANSWER_BYTES));
  for (const worker of ['w1', 'w2']) {
    const warned = chaos.cluster.lines.filter((l) => l.worker === worker && l.at >= start && l.at <= end && (l.level === 'warn' || l.level === 'error'));
    t.ok(warned.length > 0, `${worker} logged the fault while it lasted (${[...new Set(warned.map((l) => l.event))].join(', ') || 'nothing'})`);
    const failing = chaos.monitor.of(worker, start + stallMs).filter((s) => s.at <= end && s.healthz !== null && s.healthz !== 200);
    t.ok(failing.length > 0, `${worker}'s /healthz failed while it was stuck past ${stallMs} ms (${failing.length} polls)`);
    const last = chaos.monitor.of(worker).at(-1);
    t.equal(last?.healthz, 200, `${worker}'s /healthz is green again after recovery (${last?.state?.stuck ?? 'not stuck'})`);
  }
});
