// Bounded memory under a slow endpoint: 20 live streams feeding 100 I-frames/s into a worker whose
// endpoint answers in 1 s with 4 calls at a time (4 frames/s). For 2 minutes the worker's RSS stays
// under a stated bound and flat, and its stats show why: the endpoint queue is full and readers wait
// (GetMedia paused), every stage stays within its bound, nothing is dropped and nothing fails.

import { readFile } from 'node:fs/promises';
import t from 'tap';
import { type LogLine, until, WorkerCluster } from '../../src/local/worker-cluster.js';

const STREAMS = 20;
const RUN_MS = 120_000;
const QUEUE = 100;
const CONCURRENCY = 4;
/** decodeThreadPoolSize 1 (the cluster's): one thread and a pool queue of 4. */
const SLOTS = 5;
/** The publisher's buffer. */
const PUBLISH_BUFFER = 500;
/** The bound this test states for a worker with 20 readers, a 100-frame endpoint queue and one decode thread. */
const RSS_BOUND = 300 * 1024 * 1024;

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

t.test('a slow endpoint pauses reading instead of growing memory', async (t) => {
  // Prepare
  const cluster = await WorkerCluster.start({
    streams: STREAMS,
    failoverTimeMillis: 10_000,
    // The built worker, as users run it (npm test builds first): the TypeScript loader alone adds ~250 MB.
    execArgv: [],
    main: 'dist/src/cli/main.js',
    stack: { fixedLatencyMs: 1000 },
    config: {
      inferenceInterval: 1,
      sageMakerTaskQueueSize: QUEUE,
      sageMakerTaskThreadPoolSize: CONCURRENCY,
      statsIntervalMillis: 5000,
      checkpointIntervalMillis: 5000,
    },
  });
  t.teardown(() => cluster.close());
  const worker = cluster.spawn('w1');
  await until('all streams held', () => cluster.counts(['w1'])[0] === STREAMS, 30_000);

  // Act: sample the worker's RSS every 2 s for two minutes
  const samples: { at: number; rss: number }[] = [];
  const started = Date.now();
  while (Date.now() - started < RUN_MS) {
    samples.push({ at: Date.now() - started, rss: await rssOf(worker.process.pid!) });
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }

  // Assess
  const stats = cluster.lines.filter((l) => l.event === 'stats' && l.worker === 'w1') as (LogLine & StatsLine)[];
  const last = stats.at(-1)!;
  const max = Math.max(...samples.map((s) => s.rss));
  const firstMinute = Math.max(...samples.filter((s) => s.at < RUN_MS / 2).map((s) => s.rss));
  const secondMinute = Math.max(...samples.filter((s) => s.at >= RUN_MS / 2).map((s) => s.rss));
  t.comment(`RSS every 2 s, MB: ${samples.map((s) => Math.round(s.rss / 1024 / 1024)).join(' ')}`);
  t.comment(
    `RSS: max ${mb(max)} (first minute ${mb(firstMinute)}, second ${mb(secondMinute)}); published ` +
      `${last.totals.published}, sampled ${last.totals.sampled}, reading paused ` +
      `${Math.round(last.totals.backpressureMs / 1000)} s over ${STREAMS} readers`,
  );
  t.ok(max < RSS_BOUND, `worker RSS stays under ${mb(RSS_BOUND)}: max ${mb(max)}`);
  t.ok(
    secondMinute < firstMinute * 1.15,
    `no growth: second-minute max ${mb(secondMinute)} within 15% of the first minute's ${mb(firstMinute)}`,
  );
  const late = stats.filter((s) => s.at - stats[0]!.at > 30_000);
  t.ok(late.length >= 10, `${late.length} stats lines after the first 30 s`);
  t.ok(
    late.every((s) => s.dispatcher.waiting === QUEUE),
    `the endpoint queue stays full at ${QUEUE} (backpressure, not growth)`,
  );
  t.ok(
    late.every((s) => s.waitingForSlot > 0),
    `readers wait for a place in every late stats line (reading paused): ` +
      `${late.map((s) => s.waitingForSlot).join(',')}`,
  );
  t.ok(
    late.every((s) => s.dispatcher.inFlight <= CONCURRENCY),
    'never more than sageMakerTaskThreadPoolSize calls in flight',
  );
  t.ok(
    stats.every((s) => s.dispatcher.held <= QUEUE + CONCURRENCY && s.dispatcher.heldBytes <= 256 * 1024 * 1024),
    `the dispatcher never holds more than queue + concurrency frames: ` +
      `${Math.max(...stats.map((s) => s.dispatcher.held))}`,
  );
  t.ok(
    stats.every((s) => s.publisher.buffered <= PUBLISH_BUFFER),
    'the publisher never holds more than its buffer',
  );
  t.ok(
    stats.every((s) => s.inFlight <= QUEUE + CONCURRENCY + SLOTS + PUBLISH_BUFFER),
    `frames in flight within queue + concurrency + slots + ${PUBLISH_BUFFER}: max ` +
      `${Math.max(...stats.map((s) => s.inFlight))}`,
  );
  const rate =
    (last.totals.published - late[0]!.totals.published) /
    ((Date.parse(String(last.time)) - Date.parse(String(late[0]!.time))) / 1000);
  t.ok(
    rate > CONCURRENCY * 0.7 && rate <= CONCURRENCY * 1.05,
    `published at the endpoint's pace: ${rate.toFixed(2)} frames/s for ${CONCURRENCY} calls of 1 s`,
  );
  t.equal(last.totals.dropped + last.totals.failed, 0, 'nothing dropped or failed');
});

interface StatsLine {
  totals: { published: number; sampled: number; dropped: number; failed: number; backpressureMs: number };
  inFlight: number;
  dispatcher: { waiting: number; inFlight: number; held: number; heldBytes: number };
  publisher: { buffered: number };
  waitingForSlot: number;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
