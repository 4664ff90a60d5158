// The whole pipeline in real `kvs-infer run` processes on the local stack: every sampled I-frame of
// every fragment of every stream reaches the Kinesis data stream, with its fragment number, timecode and
// keyframe index, on a clean run, under endpoint faults, under partial PutRecords failures, and with a
// corrupt fragment in one stream. Records are read back from the Kinesis emulator.

import t, { type Test } from 'tap';
import { type ClusterOptions, until, WorkerCluster } from '../../src/local/worker-cluster.js';
import {
  assertCovered,
  assertDuplicatesAfterCheckpoints,
  type ExpectedFrame,
  expectedFrames,
  recordsCovering,
  served,
} from './pipeline-oracle.js';

const INTERVAL = 2;
const CLIP_SECONDS = 8;

async function cluster(t: Test, options: Partial<ClusterOptions> = {}): Promise<WorkerCluster> {
  const cluster = await WorkerCluster.start({
    streams: 3,
    failoverTimeMillis: 3000,
    clipSeconds: CLIP_SECONDS,
    ...options,
    stack: { loop: false, ...options.stack },
    config: { inferenceInterval: INTERVAL, startSelectorType: 'EARLIEST', ...options.config },
  });
  t.teardown(() => cluster.close());
  return cluster;
}

/** Waits for each replay to have served the whole clip. */
async function replayed(cluster: WorkerCluster, streams: string[], fragments: number): Promise<void> {
  await until(
    'the clip replayed on every stream',
    () => streams.every((s) => served(cluster, s).length === fragments),
    (CLIP_SECONDS + 10) * 1000,
  );
}

async function expectedOf(t: Test, cluster: WorkerCluster, streams: string[]): Promise<ExpectedFrame[]> {
  return (await Promise.all(streams.map((s) => expectedFrames(t, cluster, s, INTERVAL)))).flat();
}

const FRAGMENTS = (CLIP_SECONDS * 1000) / 200;

/**
 * One worker over the whole clip on every stream: the records once they cover every sampled I-frame, checked, and the
 * duplicates.
 */
async function runOneWorker(t: Test, c: WorkerCluster, what: string, timeoutMs: number) {
  c.spawn('w1');
  await replayed(c, c.streams, FRAGMENTS);
  const expected = await expectedOf(t, c, c.streams);
  const records = await recordsCovering(c, expected, timeoutMs);
  return { records, duplicates: assertCovered(t, records, expected, what) };
}

t.test(
  '(a) clean run: two workers publish every sampled I-frame exactly once and checkpoint behind what they published',
  async (t) => {
    // Prepare
    const c = await cluster(t, { streams: 4 });

    // Act
    c.spawn('w1');
    c.spawn('w2');
    await replayed(c, c.streams, FRAGMENTS);
    const expected = await expectedOf(t, c, c.streams);
    const records = await recordsCovering(c, expected, 30_000);

    // Assess
    const duplicates = assertCovered(t, records, expected, 'clean run');
    assertDuplicatesAfterCheckpoints(t, duplicates, c.lines, 'clean run');
    t.ok(
      records.every((r) => r.error === undefined && r.attempts === 1 && typeof r.result === 'object'),
      "every record carries the endpoint's JSON answer, first attempt",
    );
    for (const stream of c.streams) {
      const checkpoints = c.lines
        .filter((l) => l.event === 'checkpoint' && l.stream === stream)
        .map((l) => l.fragmentNumber!);
      const fragments = served(c, stream).map((f) => f.fragmentNumber);
      // The newest fragment is complete only once the next begins, and the clip has ended: all but the last.
      await until(
        `${stream} checkpointed up to its second-last fragment`,
        () =>
          c.lines.some((l) => l.event === 'checkpoint' && l.stream === stream && l.fragmentNumber === fragments.at(-2)),
        10_000,
      );
      t.ok(
        checkpoints.every((cp, i) => i === 0 || BigInt(cp) > BigInt(checkpoints[i - 1]!)),
        `${stream}: checkpoints only move forward`,
      );
    }
  },
);

t.test(
  '(c) endpoint faults: 20% 5xx, 5% hangs, 10% 429: every frame published with its answer, none as an error record',
  async (t) => {
    // Prepare
    const c = await cluster(t, {
      stack: { faults: { '500': 0.1, '503': 0.1, hang: 0.05, '429': 0.1 } },
      config: { sageMakerTaskTimeoutInMilli: 800 },
    });

    // Act
    const { records, duplicates } = await runOneWorker(t, c, 'endpoint faults', 60_000);

    // Assess
    t.equal(duplicates.size, 0, 'retries inside the worker publish each frame once');
    const retried = records.filter((r) => r.attempts > 1).length;
    const failed = records.filter((r) => r.error !== undefined);
    t.ok(retried > 0, `${retried} of ${records.length} frames needed more than one attempt`);
    t.same(failed, [], 'transient faults cost no inference: no error record');
    t.ok(
      records.every((r) => typeof r.result === 'object'),
      "every record carries the endpoint's answer",
    );
    t.ok(
      c.stack.model.stats.faults.hang > 0,
      `${c.stack.model.stats.faults.hang} hung calls timed out and were retried`,
    );
  },
);

t.test(
  '(d) Kinesis rejects part of each PutRecords batch: the failed records are retried until every frame is in',
  async (t) => {
    // Prepare
    const c = await cluster(t, { stack: { kinesisPutRecordsFailureRate: 0.3 } });

    // Act
    const { duplicates } = await runOneWorker(t, c, 'partial PutRecords failures', 30_000);

    // Assess
    t.equal(duplicates.size, 0, 'only the rejected records are sent again');
    t.ok(
      c.stack.kinesis.injectedPutRecordFailures > 0,
      `${c.stack.kinesis.injectedPutRecordFailures} records were rejected by the emulator and retried`,
    );
    t.ok(
      c.lines.some((l) => l.event === 'publish-retry'),
      'the worker logged the partial failures',
    );
  },
);

t.test(
  '(e) a corrupt fragment in one stream is counted and skipped; that stream goes on and the others are untouched',
  async (t) => {
    // Prepare: stream "broken" is fed by the test from the same clip, with its 6th fragment's blocks overwritten.
    const c = await cluster(t, { fedStreams: ['broken'] });
    const { FileSource } = await import('../../src/local/kvs/index.js');
    const source = await FileSource.open(c.file);
    const log = c.stack.kvs.streamLog('broken');
    const start = Date.now();
    let corrupt = '';

    // Act
    c.spawn('w1');
    for (let i = 0; i < source.fragments.length; i++) {
      const input = source.input(i, 0, start);
      if (i === 5) {
        const blocks = Buffer.from(input.blocks);
        blocks.fill(0, 0, 8);
        corrupt = log.append({ ...input, blocks }).fragmentNumber;
      } else {
        log.append(input);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await replayed(c, c.streams, FRAGMENTS);
    const healthy = c.streams.filter((s) => s !== 'broken');
    const expected = [
      ...(await expectedOf(t, c, healthy)),
      ...(await expectedFrames(t, c, 'broken', INTERVAL, new Set([corrupt]))),
    ];
    const records = await recordsCovering(c, expected, 30_000);

    // Assess
    assertCovered(t, records, expected, 'with a corrupt fragment');
    const reported = c.lines.filter((l) => l.event === 'corrupt-fragment');
    t.same(
      reported.map((l) => [l.stream, l.fragmentNumber, l.code]),
      [['broken', corrupt, 'MKV_INVALID']],
      'the corrupt fragment is logged once, with its stream, fragment number and code',
    );
    const fragments = served(c, 'broken').map((f) => f.fragmentNumber);
    await until(
      'broken checkpointed past the corrupt fragment',
      () =>
        c.lines.some(
          (l) => l.event === 'checkpoint' && l.stream === 'broken' && BigInt(l.fragmentNumber!) > BigInt(corrupt),
        ),
      10_000,
    );
    t.ok(fragments.indexOf(corrupt) < fragments.length - 2, 'the checkpoint moved past the corrupt fragment');
  },
);
