// One stream's pipeline on real parts (the frame pool, the model server through the SDK, the Kinesis
// emulator), fed GetMedia bytes rendered by the local KVS server's renderer: what a reconnect, a corrupt
// fragment, a lost fragment, an abort and a full endpoint queue do to what is published and completed.

import t, { type Test } from 'tap';
import { CreateStreamCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { InferenceDispatcher } from '../../src/actors/inference-dispatcher.js';
import type { InferenceRecord } from '../../src/actors/inference-record.js';
import { ResultPublisher } from '../../src/actors/result-publisher.js';
import { Slots } from '../../src/actors/slots.js';
import { StreamPipeline, type CompletedFragment, type PipelineServices } from '../../src/actors/stream-pipeline.js';
import { kinesisClient, sageMakerRuntimeClient } from '../../src/aws/clients.js';
import { Emulator, LOCAL_CREDENTIALS, LOCAL_REGION, parseRecords, readAllRecords } from '../../src/local/index.js';
import { FileSource, FragmentLog, renderGetMediaFragment, type StoredFragment } from '../../src/local/kvs/index.js';
import { ModelServer, type ModelServerOptions } from '../../src/local/model/index.js';
import { readMkv, type MkvEvent } from '../../src/media/index.js';
import { MetricsRegistry } from '../../src/metrics/index.js';
import { FramePool } from '../../src/native/index.js';
import { cachedFixture } from '../../bench/fixtures/index.js';

const STREAM = 'cam';
const INTERVAL = 2;
const client = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };

interface Rig {
  fragments: StoredFragment[];
  pipeline: StreamPipeline;
  completed: CompletedFragment[];
  events: string[];
  services: PipelineServices;
  records(): Promise<InferenceRecord[]>;
}

/** 20 fragments of a 4 s clip with a keyframe every 200 ms, a pipeline over real services, and what it reports. */
async function rig(t: Test, options: { model?: Partial<ModelServerOptions>; slots?: number; queueSize?: number; concurrency?: number } = {}): Promise<Rig> {
  const file = await cachedFixture('64x48-gop200ms-4s.mkv', { width: 64, height: 48, fps: 30, gopSeconds: 0.2, durationSeconds: 4, bitrate: '100k', seed: 3 });
  const source = await FileSource.open(file);
  const log = new FragmentLog();
  const fragments = source.fragments.map((_, i) => log.append(source.input(i, 0, 1_700_000_000_000)));
  const [pool, model, kinesisEmulator] = await Promise.all([FramePool.create({ size: 1 }), ModelServer.create({ backend: 'fixed', seed: 1, ...options.model }), Emulator.start('kinesis')]);
  const kinesis = kinesisClient({ ...client, endpoint: kinesisEmulator.url });
  const sageMaker = sageMakerRuntimeClient({ ...client, endpoint: model.url });
  await kinesis.send(new CreateStreamCommand({ StreamName: 'results', ShardCount: 1 }));
  await waitUntilStreamExists({ client: kinesis, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: 'results' });
  const dispatcher = new InferenceDispatcher({ client: sageMaker, endpointName: 'ep', concurrency: options.concurrency ?? 4, queueSize: options.queueSize ?? 50, timeoutMs: 5000, policy: 'backpressure' });
  const publisher = new ResultPublisher({ client: kinesis, streamName: 'results', lingerMs: 10 });
  const services: PipelineServices = {
    pool,
    slots: new Slots(options.slots ?? 5),
    dispatcher,
    publisher,
    metrics: new MetricsRegistry({ appName: 'pipeline-test', workerId: 'w' }),
    image: { contentType: 'image/jpeg' },
    endpoint: 'ep',
    workerId: 'w',
    inferenceInterval: INTERVAL,
    publishFailedFrames: true,
  };
  const completed: CompletedFragment[] = [];
  const events: string[] = [];
  const pipeline = new StreamPipeline({ streamName: STREAM, services, keyframesSeen: 0, onComplete: (f) => completed.push(f), onEvent: (event) => events.push(event) });
  t.teardown(async () => {
    pipeline.abort();
    dispatcher.close();
    await publisher.close();
    await pool.destroy();
    kinesis.destroy();
    sageMaker.destroy();
    await Promise.all([model.close(), kinesisEmulator.close()]);
  });
  const records = async () => parseRecords<InferenceRecord>(await readAllRecords(kinesis, 'results'));
  return { fragments, pipeline, completed, events, services, records };
}

/** GetMedia's bytes for `fragments`, optionally cut `cut` bytes before the end (inside the last cluster). */
function getMedia(fragments: StoredFragment[], cut = 0): Buffer {
  const bytes = Buffer.concat(fragments.flatMap((f) => renderGetMediaFragment(f, 0)));
  return bytes.subarray(0, bytes.length - cut);
}

/** The bytes as a GetMedia body delivering them in one chunk. */
async function* body(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** Pushes one connection's worth of parsed events. */
async function connection(pipeline: StreamPipeline, bytes: Buffer): Promise<MkvEvent[]> {
  pipeline.beginRead();
  const seen: MkvEvent[] = [];
  for await (const event of readMkv(body(bytes))) {
    seen.push(event);
    await pipeline.push(event);
  }
  return seen;
}

/** Keys of the sampled I-frames of `fragments` (one keyframe each), counting from the stream's first. */
const sampledKeys = (all: StoredFragment[], skip: Set<number> = new Set()) =>
  all.flatMap((f, i) => (!skip.has(i) && [...all.keys()].filter((j) => j < i && !skip.has(j)).length % INTERVAL === 0 ? [`${STREAM}/${f.fragmentNumber}/${f.clusterTimecode}`] : []));

t.test('a reconnect that reads part of a fragment again, from an older fragment, neither repeats nor loses a frame', async (t) => {
  // Prepare
  const r = await rig(t);
  const f = r.fragments.slice(0, 10);

  // Act: the first connection breaks inside fragment 6 (index 6 is sampled); the second starts again at fragment 4
  const first = await connection(r.pipeline, getMedia(f.slice(0, 7), 40));
  await connection(r.pipeline, getMedia(f.slice(4)));
  await r.pipeline.whenIdle();
  const records = await r.records();

  // Assess
  t.ok(first.some((e) => e.type === 'error' && e.error.code === 'MKV_TRUNCATED'), 'the first connection ended inside a fragment');
  t.same(records.map((x) => x.idempotencyKey).sort(), sampledKeys(f).sort(), 'each sampled I-frame published exactly once');
  t.same(r.completed.map((c) => c.fragmentNumber), f.map((x) => x.fragmentNumber), 'every fragment completed once, in order');
  t.same(r.completed.map((c) => c.keyframesSeen), f.map((_, i) => i + 1), 'each completion carries the sampler\'s count after it');
  t.ok(r.pipeline.counters.skippedRepeats > 0, `${r.pipeline.counters.skippedRepeats} frames read again were skipped`);
  t.equal(r.pipeline.counters.sampled, 5, 'five frames sampled, none twice');
});

t.test('a fragment completes only once every sampled frame of it and of every earlier fragment is published', async (t) => {
  // Prepare: half the calls take 300 ms longer, so later frames often finish before earlier ones
  const r = await rig(t, { model: { faults: { latency: 0.5, latencyMs: 300 } } });
  const f = r.fragments.slice(0, 12);
  const publishedAt: number[] = [];
  const pipeline = new StreamPipeline({
    streamName: STREAM,
    services: r.services,
    keyframesSeen: 0,
    onComplete: (c) => {
      r.completed.push(c);
      publishedAt.push(pipeline.counters.published);
    },
    onEvent: () => undefined,
  });
  t.teardown(() => pipeline.abort());

  // Act
  await connection(pipeline, getMedia(f));
  await pipeline.whenIdle();

  // Assess
  t.same(r.completed.map((c) => c.fragmentNumber), f.map((x) => x.fragmentNumber), 'completions in fragment order');
  // Fragments 0..i hold floor(i / INTERVAL) + 1 sampled frames.
  const early = publishedAt.flatMap((count, i) => (count < Math.floor(i / INTERVAL) + 1 ? [`fragment ${i} with ${count} published`] : []));
  t.same(early, [], 'no fragment completed before the frames of it and of those before it were published');
  t.equal(publishedAt.at(-1), 6, 'all 6 sampled frames published by the last completion');
});

t.test('a corrupt fragment is counted and skipped; the fragments after it go on and complete', async (t) => {
  // Prepare: fragment 3's media overwritten at its start
  const r = await rig(t);
  const f = r.fragments.slice(0, 8);
  const damaged = f.map((x, i) => (i === 3 ? { ...x, blocks: Buffer.alloc(x.blocks.length) } : x));

  // Act
  await connection(r.pipeline, getMedia(damaged));
  await r.pipeline.whenIdle();
  const records = await r.records();

  // Assess
  t.equal(r.pipeline.counters.corruptFragments, 1, 'one corrupt fragment counted');
  t.same(r.events.filter((e) => e === 'corrupt-fragment'), ['corrupt-fragment'], 'and reported once');
  t.same(records.map((x) => x.idempotencyKey).sort(), sampledKeys(f, new Set([3])).sort(), 'the I-frames of the other fragments sampled and published');
  t.same(r.completed.map((c) => c.fragmentNumber), f.map((x) => x.fragmentNumber), 'the corrupt fragment completes too, so checkpoints move past it');
});

t.test('a fragment whose rest never comes back (expired while reconnecting) is given up instead of blocking checkpoints', async (t) => {
  // Prepare
  const r = await rig(t);
  const f = r.fragments.slice(0, 10);

  // Act: the connection breaks inside fragment 4; the next starts at fragment 6
  await connection(r.pipeline, getMedia(f.slice(0, 5), 40));
  await connection(r.pipeline, getMedia(f.slice(6)));
  await r.pipeline.whenIdle();

  // Assess
  t.equal(r.pipeline.counters.incompleteFragments, 1, 'fragment 4 given up, counted');
  t.ok(r.events.includes('fragment-incomplete'), 'and reported');
  t.same(r.completed.map((c) => c.fragmentNumber), [...f.slice(0, 5), ...f.slice(6)].map((x) => x.fragmentNumber), 'every fragment read completes, in order');
});

t.test('a full endpoint queue pauses the reader: push waits for a place', async (t) => {
  // Prepare: one call at a time, 500 ms each, one frame waiting, one place between reader and queue
  const r = await rig(t, { model: { fixedLatencyMs: 500 }, slots: 1, queueSize: 1, concurrency: 1 });
  const events: MkvEvent[] = [];
  for await (const event of readMkv(body(getMedia(r.fragments.slice(0, 10))))) events.push(event);
  r.pipeline.beginRead();

  // Act
  const started = performance.now();
  for (const event of events) await r.pipeline.push(event);
  const pushed = performance.now() - started;
  await r.pipeline.whenIdle();

  // Assess: 5 sampled frames, one in the call, one queued, one holding the place: the last two pushes waited
  t.ok(pushed >= 700, `pushing took ${Math.round(pushed)} ms: the reader waited for the endpoint`);
  t.ok(r.pipeline.counters.backpressureMs >= 700, `${Math.round(r.pipeline.counters.backpressureMs)} ms of backpressure counted`);
  t.equal(r.pipeline.counters.published, 5, 'and every frame was published in the end');
});

t.test('abort abandons what is in flight: nothing completes after it', async (t) => {
  // Prepare
  const r = await rig(t, { model: { fixedLatencyMs: 300 } });

  // Act
  await connection(r.pipeline, getMedia(r.fragments.slice(0, 6)));
  const before = r.completed.length;
  r.pipeline.abort();
  await new Promise((resolve) => setTimeout(resolve, 800));

  // Assess
  t.equal(before, 0, 'nothing had completed yet (the first frame was still at the endpoint)');
  t.equal(r.completed.length, 0, 'nothing completed after the abort');
  t.ok(r.pipeline.outstanding > 0, `${r.pipeline.outstanding} frames left unaccounted for, so no checkpoint can cover them`);
});
