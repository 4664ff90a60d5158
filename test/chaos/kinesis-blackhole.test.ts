// Kinesis black-holed for both workers (connections accepted, nothing forwarded, open ones dead for good) for
// 60 s, with 20 streams and a model whose answers are 32 KiB: PutRecords calls time out and are retried, reading
// pauses instead of piling frames up, in-flight frames and memory stay under the README's bounds, the worker says
// so in its log and its /healthz fails once it has been stuck long enough; once Kinesis is back every stream
// publishes again, with every checkpointed frame published and no error record.

import t from 'tap';
import { ChaosCluster } from './chaos-cluster.js';
import { blackhole } from './fault-proxy.js';
import { assertInvariants, assertMemoryBound, faultPhase, inFlightMemoryBound } from './invariants.js';

/**
 * Ten streams per worker at 2.5 sampled frames a second: the fault reads 1500 frames per worker, against an
 * in-flight bound of 567 frames. Answers of 32 KiB (about 75 KiB as records, which hold them twice) make the
 * publisher's byte bound bind before its count, and the records weigh in the memory bound.
 */
const STREAMS = 20;
const FAULT_MS = 60_000;
const ANSWER_BYTES = 32 * 1024;
/** The fixture's 64x48 frames, as the largest image format (BMP, 3 bytes a pixel) and its header. */
const IMAGE_BYTES = 64 * 48 * 3 + 54;
/** RSS just before the fault, the baseline the bound is added to: the process at work, nothing held back. */
const BASELINE_MS = 10_000;

// Twenty streams' start-up, a minute's fault and its backlog, on two cores beside another test job: more than the
// suite's 300 s per file.
t.setTimeout(600_000);

t.test(`Kinesis black hole for ${FAULT_MS / 1000} s, ${STREAMS} streams`, async (t) => {
  // Prepare
  const chaos = await ChaosCluster.start(t, { streams: STREAMS, stack: { fixedAnswerBytes: ANSWER_BYTES } });
  await chaos.spawnAll(['w1', 'w2']);
  // Twenty streams' start-up backlog, beside another test job on two cores: more time than the default.
  await chaos.settled(['w1', 'w2'], [STREAMS / 2, STREAMS / 2], 180_000);
  const stallMs = chaos.config.healthCheckStallFactor * chaos.config.failoverTimeMillis;

  // Act
  const { start, end } = await faultPhase(
    t,
    chaos,
    {
      fault: `Kinesis black hole, ${FAULT_MS / 1000} s (${STREAMS} streams, 32 KiB answers)`,
      behaviour:
        'PutRecords times out (publishTimeoutMillis) and is retried with backoff; reading pauses, in-flight frames ' +
        'and memory stay bounded; ' +
        '/healthz fails once stuck; resumes where it stopped',
      // Stated: a timed-out call (10 s) and a backoff of at most 5 s; then the fault's backlog (60 s of ten streams per
      // worker) is worked off while live media goes on, on two cores shared with another test job (40 s measured
      // alone).
      budget: { flowingMs: 20_000, liveMs: 120_000 },
    },
    () => chaos.window('kinesis', blackhole(), FAULT_MS),
  );

  // Assess
  await assertInvariants(t, chaos);
  assertMemoryBound(
    t,
    chaos,
    { start, end, before: BASELINE_MS },
    inFlightMemoryBound(chaos.config, IMAGE_BYTES, ANSWER_BYTES),
  );
  for (const worker of ['w1', 'w2']) {
    const warned = chaos.cluster.lines.filter(
      (l) => l.worker === worker && l.at >= start && l.at <= end && (l.level === 'warn' || l.level === 'error'),
    );
    t.ok(
      warned.length > 0,
      `${worker} logged the fault while it lasted ` +
        `(${[...new Set(warned.map((l) => l.event))].join(', ') || 'nothing'})`,
    );
    const failing = chaos.monitor
      .of(worker, start + stallMs)
      .filter((s) => s.at <= end && s.healthz !== null && s.healthz !== 200);
    t.ok(
      failing.length > 0,
      `${worker}'s /healthz failed while it was stuck past ${stallMs} ms (${failing.length} polls)`,
    );
    const last = chaos.monitor.of(worker).at(-1);
    t.equal(
      last?.healthz,
      200,
      `${worker}'s /healthz is green again after recovery (${last?.state?.stuck ?? 'not stuck'})`,
    );
  }
});
