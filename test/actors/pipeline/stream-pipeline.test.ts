// One stream's pipeline on real parts (the frame pool, the model server through the SDK, the Kinesis
// emulator), fed GetMedia bytes rendered by the local KVS server's renderer: what a reconnect, a corrupt
// fragment, a lost fragment, an abort, a full endpoint queue, a failing endpoint, a stalled publisher and
// oversized error answers do to what is published and completed; and the latency of each stage of a frame.

import { CreateStreamCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import t, { type Test } from 'tap';
import { systemClock } from '../../../src/actors/clock.js';
import { type DispatcherOptions, InferenceDispatcher } from '../../../src/actors/pipeline/inference-dispatcher.js';
import { type InferenceRecord, MAX_ERROR_MESSAGE_BYTES } from '../../../src/actors/pipeline/inference-record.js';
import { type PublisherOptions, ResultPublisher } from '../../../src/actors/pipeline/result-publisher.js';
import { Slots } from '../../../src/actors/pipeline/slots.js';
import {
  type CompletedFragment,
  type PipelineServices,
  StreamPipeline,
} from '../../../src/actors/pipeline/stream-pipeline.js';
import { kinesisClient, sageMakerRuntimeClient } from '../../../src/aws/clients.js';
import { smallClip } from '../../../src/local/fixtures/index.js';
import { Emulator, LOCAL_CREDENTIALS, LOCAL_REGION, parseRecords, readAllRecords } from '../../../src/local/index.js';
import { FileSource, FragmentLog, renderGetMediaFragment, type StoredFragment } from '../../../src/local/kvs/index.js';
import {
  type Backend,
  BackendError,
  FixedBackend,
  ModelServer,
  type ModelServerOptions,
} from '../../../src/local/model/index.js';
import { type MkvEvent, readMkv } from '../../../src/media/index.js';
import {
  emfDocuments,
  type HistogramName,
  type LatencySummary,
  METRICS,
  MetricsRegistry,
  PIPELINE_STAGES,
  prometheusText,
  type StreamCounters,
  streamCounters,
} from '../../../src/metrics/index.js';
import { FramePool } from '../../../src/native/index.js';
import { blackhole, FaultProxy, pass } from '../../chaos/fault-proxy.js';
import { emfErrors } from '../../metrics/emf-validator.js';

const STREAM = 'cam';
const INTERVAL = 2;
const client = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };

/** The stream's counters as the metrics registry has them: the one place the pipeline counts. */
function counters(r: Rig): StreamCounters {
  return streamCounters(r.services.metrics, STREAM);
}

interface Rig {
  fragments: StoredFragment[];
  pipeline: StreamPipeline;
  completed: CompletedFragment[];
  events: string[];
  services: PipelineServices;
  model: ModelServer;
  dispatcher: InferenceDispatcher;
  publisher: ResultPublisher;
  slots: Slots;
  /** In front of Kinesis for the publisher's client, when asked for. */
  proxy: FaultProxy | null;
  records(): Promise<InferenceRecord[]>;
}

interface RigOptions {
  model?: Partial<ModelServerOptions>;
  slots?: number;
  queueSize?: number;
  concurrency?: number;
  dispatcher?: Partial<DispatcherOptions>;
  publisher?: Partial<PublisherOptions>;
  /** The publisher reaches Kinesis through a fault proxy (`rig.proxy`). */
  kinesisProxy?: boolean;
}

/** 20 fragments of a 4 s clip with a keyframe every 200 ms, a pipeline over real services, and what it reports. */
async function rig(t: Test, options: RigOptions = {}): Promise<Rig> {
  const file = await smallClip();
  const source = await FileSource.open(file);
  const log = new FragmentLog();
  const fragments = source.fragments.map((_, i) => log.append(source.input(i, 0, 1_700_000_000_000)));
  const [pool, model, kinesisEmulator] = await Promise.all([
    FramePool.create({ size: 1 }),
    ModelServer.create({ backend: 'fixed', seed: 1, ...options.model }),
    Emulator.start('kinesis'),
  ]);
  const kinesis = kinesisClient({ ...client, endpoint: kinesisEmulator.url });
  const proxy = options.kinesisProxy ? await FaultProxy.start(kinesisEmulator.url) : null;
  const publishing = proxy ? kinesisClient({ ...client, endpoint: proxy.url }) : kinesis;
  const sageMaker = sageMakerRuntimeClient({ ...client, endpoint: model.url });
  await kinesis.send(new CreateStreamCommand({ StreamName: 'results', ShardCount: 1 }));
  await waitUntilStreamExists(
    { client: kinesis, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
    { StreamName: 'results' },
  );
  const dispatcher = new InferenceDispatcher({
    client: sageMaker,
    endpointName: 'ep',
    concurrency: options.concurrency ?? 4,
    queueSize: options.queueSize ?? 50,
    timeoutMs: 5000,
    policy: 'backpressure',
    ...options.dispatcher,
  });
  const publisher = new ResultPublisher({
    client: publishing,
    streamName: 'results',
    lingerMs: 10,
    ...options.publisher,
  });
  const slots = new Slots(options.slots ?? 5, 1024 * 1024);
  const services: PipelineServices = {
    pool,
    slots,
    dispatcher,
    publisher,
    metrics: new MetricsRegistry({ appName: 'pipeline-test', workerId: 'w' }),
    image: { contentType: 'image/jpeg' },
    endpoint: 'ep',
    workerId: 'w',
    inferenceInterval: INTERVAL,
    publishFailedFrames: true,
    clock: systemClock,
  };
  const completed: CompletedFragment[] = [];
  const events: string[] = [];
  const pipeline = new StreamPipeline({
    streamName: STREAM,
    services,
    keyframesSeen: 0,
    onComplete: (f) => completed.push(f),
    onEvent: (event) => events.push(event),
  });
  t.teardown(async () => {
    pipeline.abort();
    dispatcher.close();
    proxy?.set(pass());
    await publisher.close();
    await pool.destroy();
    kinesis.destroy();
    publishing.destroy();
    sageMaker.destroy();
    await Promise.all([model.close(), kinesisEmulator.close(), proxy?.close()]);
  });
  const records = async () => parseRecords<InferenceRecord>(await readAllRecords(kinesis, 'results'));
  return { fragments, pipeline, completed, events, services, model, dispatcher, publisher, slots, proxy, records };
}

/** Waits (a bounded, generous time) until `condition` holds. */
async function until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A SimpleBlock too short to hold a block header: MKV_INVALID, and the parser goes on with the next block. */
const TOO_SHORT_BLOCK = Buffer.from([0xa3, 0x82, 0x81, 0x00]);

/** A model that rejects every image as undecodable, with a 2 MiB explanation (a ModelError 400 through SageMaker). */
async function verboseRejecter(): Promise<Backend> {
  const fixed = await FixedBackend.create();
  return {
    name: 'verbose',
    contentTypes: fixed.contentTypes,
    responseContentType: fixed.responseContentType,
    invoke: async () => {
      throw new BackendError('UNDECODABLE_INPUT', `cannot decode: ${'é'.repeat(1024 * 1024)}`);
    },
  };
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
  all.flatMap((f, i) =>
    !skip.has(i) && [...all.keys()].filter((j) => j < i && !skip.has(j)).length % INTERVAL === 0
      ? [`${STREAM}/${f.fragmentNumber}/${f.clusterTimecode}`]
      : [],
  );

t.test(
  'a reconnect that reads part of a fragment again, from an older fragment, neither repeats nor loses a frame',
  async (t) => {
    // Prepare
    const r = await rig(t);
    const f = r.fragments.slice(0, 10);

    // Act: the first connection breaks inside fragment 6 (index 6 is sampled); the second starts again at fragment 4
    const first = await connection(r.pipeline, getMedia(f.slice(0, 7), 40));
    await connection(r.pipeline, getMedia(f.slice(4)));
    await r.pipeline.whenIdle();
    const records = await r.records();

    // Assess
    t.ok(
      first.some((e) => e.type === 'error' && e.error.code === 'MKV_TRUNCATED'),
      'the first connection ended inside a fragment',
    );
    t.same(
      records.map((x) => x.idempotencyKey).sort(),
      sampledKeys(f).sort(),
      'each sampled I-frame published exactly once',
    );
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      f.map((x) => x.fragmentNumber),
      'every fragment completed once, in order',
    );
    t.same(
      r.completed.map((c) => c.keyframesSeen),
      f.map((_, i) => i + 1),
      "each completion carries the sampler's count after it",
    );
    t.ok(counters(r).skippedRepeats > 0, `${counters(r).skippedRepeats} frames read again were skipped`);
    t.equal(counters(r).sampled, 5, 'five frames sampled, none twice');
  },
);

t.test(
  'a fragment completes only once every sampled frame of it and of every earlier fragment is published',
  async (t) => {
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
        publishedAt.push(counters(r).published);
      },
      onEvent: () => undefined,
    });
    t.teardown(() => pipeline.abort());

    // Act
    await connection(pipeline, getMedia(f));
    await pipeline.whenIdle();

    // Assess
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      f.map((x) => x.fragmentNumber),
      'completions in fragment order',
    );
    // Fragments 0..i hold floor(i / INTERVAL) + 1 sampled frames.
    const early = publishedAt.flatMap((count, i) =>
      count < Math.floor(i / INTERVAL) + 1 ? [`fragment ${i} with ${count} published`] : [],
    );
    t.same(early, [], 'no fragment completed before the frames of it and of those before it were published');
    t.equal(publishedAt.at(-1), 6, 'all 6 sampled frames published by the last completion');
  },
);

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
  t.equal(counters(r).corruptFragments, 1, 'one corrupt fragment counted');
  t.same(
    r.events.filter((e) => e === 'corrupt-fragment'),
    ['corrupt-fragment'],
    'and reported once',
  );
  t.same(
    records.map((x) => x.idempotencyKey).sort(),
    sampledKeys(f, new Set([3])).sort(),
    'the I-frames of the other fragments sampled and published',
  );
  t.same(
    r.completed.map((c) => c.fragmentNumber),
    f.map((x) => x.fragmentNumber),
    'the corrupt fragment completes too, so checkpoints move past it',
  );
  t.notOk(
    r.events.includes('fragment-incomplete'),
    'a fragment the parser dropped as corrupt is not also reported incomplete',
  );
});

t.test(
  "a bad block inside a fragment (the parser goes on past it) does not skip the fragment's later frames",
  async (t) => {
    // Prepare: fragment 2 (sampled) starts with a block too short to read, before its keyframe
    const r = await rig(t);
    const f = r.fragments.slice(0, 6);
    const damaged = f.map((x, i) => (i === 2 ? { ...x, blocks: Buffer.concat([TOO_SHORT_BLOCK, x.blocks]) } : x));

    // Act
    const seen = await connection(r.pipeline, getMedia(damaged));
    await r.pipeline.whenIdle();
    const records = await r.records();

    // Assess
    t.ok(
      seen.some((e) => e.type === 'error' && e.error.code === 'MKV_INVALID'),
      'the parser reported the bad block',
    );
    t.equal(counters(r).corruptFragments, 1, 'counted once');
    t.same(
      records.map((x) => x.idempotencyKey).sort(),
      sampledKeys(f).sort(),
      'the keyframe after the bad block was sampled and published',
    );
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      f.map((x) => x.fragmentNumber),
      'every fragment completes, in order',
    );
    t.equal(counters(r).skippedRepeats, 0, 'none of its frames skipped');
  },
);

t.test(
  'a fragment the parser dropped at the end of a connection stays open until the parser has left it',
  async (t) => {
    // Prepare: fragment 3, the last one of the first connection, is corrupt, and so is every read of it
    const r = await rig(t);
    const f = r.fragments.slice(0, 6).map((x, i) => (i === 3 ? { ...x, blocks: Buffer.alloc(x.blocks.length) } : x));

    // Act: the next connection resumes after fragment 2 (the last whose end was read) and reads fragment 3 again
    await connection(r.pipeline, getMedia(f.slice(0, 4)));
    await r.pipeline.whenIdle();
    const afterFirst = r.completed.map((c) => c.fragmentNumber);
    await connection(r.pipeline, getMedia(f.slice(3)));
    await r.pipeline.whenIdle();

    // Assess
    t.same(
      afterFirst,
      f.slice(0, 3).map((x) => x.fragmentNumber),
      'fragment 3 was not completed while the parser could still be inside it',
    );
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      f.map((x) => x.fragmentNumber),
      'it completes once the next fragment starts',
    );
    t.equal(counters(r).corruptFragments, 1, 'read corrupt twice, counted once');
    t.equal(counters(r).incompleteFragments, 0);
  },
);

t.test(
  'a fragment whose rest never comes back (expired while reconnecting) is given up instead of blocking checkpoints',
  async (t) => {
    // Prepare
    const r = await rig(t);
    const f = r.fragments.slice(0, 10);

    // Act: the connection breaks inside fragment 4; the next starts at fragment 6
    await connection(r.pipeline, getMedia(f.slice(0, 5), 40));
    await connection(r.pipeline, getMedia(f.slice(6)));
    await r.pipeline.whenIdle();

    // Assess
    t.equal(counters(r).incompleteFragments, 1, 'fragment 4 given up, counted');
    t.ok(r.events.includes('fragment-incomplete'), 'and reported');
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      [...f.slice(0, 5), ...f.slice(6)].map((x) => x.fragmentNumber),
      'every fragment read completes, in order',
    );
  },
);

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
  t.ok(counters(r).backpressureMs >= 700, `${Math.round(counters(r).backpressureMs)} ms of backpressure counted`);
  t.equal(counters(r).published, 5, 'and every frame was published in the end');
});

t.test(
  'each stage of a frame is measured where it starts and ends, the stages add up to the whole, ' +
    'and both exporters carry them',
  async (t) => {
    // Prepare: one slot, one call at a time of 200 ms and one queue place, so frames wait for a slot and for the
    // endpoint
    const r = await rig(t, { model: { fixedLatencyMs: 200 }, slots: 1, queueSize: 1, concurrency: 1 });
    const f = r.fragments.slice(0, 10);

    // Act
    const pushStarted = Date.now();
    await connection(r.pipeline, getMedia(f));
    const pushEnded = Date.now();
    await r.pipeline.whenIdle();
    const latency = (name: HistogramName): LatencySummary => {
      const summary = r.services.metrics.summary(name, { stream: STREAM });
      if (summary === null) throw new Error(`no ${name} was recorded`);
      return summary;
    };
    const ingest = latency('IngestToProcessLatency');
    const decoded = latency('ReceivedToDecodedLatency');
    const invoked = latency('DecodedToInvokedLatency');
    const inferred = latency('InvokedToInferredLatency');
    const published = latency('InferredToPublishedLatency');
    const endToEnd = latency('EndToEndLatency');

    // Assess: every published frame went through every stage once
    t.equal(counters(r).published, 5, 'five frames published');
    t.same(
      [ingest, decoded, invoked, inferred, published, endToEnd].map((x) => x.count),
      [5, 5, 5, 5, 5, 5],
      'five samples in every stage and in the whole',
    );
    // KIT's IngestToProcessLatency ends where the worker receives the frame, during the pushes, not at the endpoint
    const ingested = f.map((x) => x.serverTimestamp);
    t.ok(
      ingest.min >= pushStarted - Math.max(...ingested),
      `ingest → received ${ingest.min} ms, at least from the latest ingest to the first push`,
    );
    t.ok(
      ingest.max <= pushEnded - Math.min(...ingested),
      `ingest → received ${ingest.max} ms, at most from the earliest ingest to the last push`,
    );
    // Each stage holds the wait the rig made for it
    t.ok(decoded.max >= 150, `received → decoded holds the wait for the one slot: up to ${Math.round(decoded.max)} ms`);
    t.ok(
      invoked.max >= 150,
      `decoded → endpoint called holds the wait for the one call: up to ${Math.round(invoked.max)} ms`,
    );
    t.ok(
      inferred.min >= 195,
      `endpoint called → inferred holds the 200 ms call: at least ${Math.round(inferred.min)} ms`,
    );
    t.ok(
      inferred.sum >= latency('InferenceLatency').sum - 5,
      'and is never shorter than the call itself (InferenceLatency)',
    );
    t.ok(
      published.min >= 5 && published.max < 10_000,
      'inferred → published holds the linger and PutRecords: ' +
        `${Math.round(published.min)} to ${Math.round(published.max)} ms`,
    );
    // A frame's stages follow one another with neither gap nor overlap: they add up to its EndToEndLatency (each
    // stage is recorded as at least 1 ms and two are on the wall clock: a few ms per frame either way)
    const stages = [ingest, decoded, invoked, inferred, published].reduce((sum, x) => sum + x.sum, 0);
    t.ok(
      Math.abs(stages - endToEnd.sum) <= 5 * 8,
      `the stages add up to ${Math.round(stages)} ms, the whole to ${Math.round(endToEnd.sum)} ms`,
    );
    t.ok(
      endToEnd.min >= ingest.min + inferred.min - 2,
      'no frame took less end to end than its shortest ingest and inference together',
    );

    // Act, Assess: both exporters carry every stage of the stream
    const text = prometheusText(r.services.metrics);
    const streamDocuments = emfDocuments(r.services.metrics, { namespace: 'KvsInfer', timestamp: Date.now() }).filter(
      (d) => d.StreamName === STREAM,
    );
    t.same(
      streamDocuments.flatMap((d) => emfErrors(JSON.stringify(d))),
      [],
      'valid EMF',
    );
    for (const { metric } of PIPELINE_STAGES) {
      const prometheus = METRICS.find((m) => m.name === metric)!.prometheus;
      t.match(
        text,
        new RegExp(`^${prometheus}_count\\{[^}]*stream="${STREAM}"[^}]*\\} 5$`, 'm'),
        `Prometheus: ${prometheus} of 5 frames`,
      );
      t.match(streamDocuments.find((d) => metric in d)?.[metric], { Count: 5 }, `EMF: ${metric} of 5 frames`);
    }
  },
);

t.test(
  'an endpoint failing every call for 2 s: every frame is published with a result, none as an error record',
  async (t) => {
    // Prepare
    const r = await rig(t, { model: { faults: { '500': 1 } }, dispatcher: { backoff: { baseMs: 20, maxMs: 200 } } });
    const f = r.fragments.slice(0, 10);

    // Act
    await connection(r.pipeline, getMedia(f));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const failuresDuringFault = r.model.stats.faults['500'];
    r.model.setFaults({});
    await r.pipeline.whenIdle();
    const records = await r.records();

    // Assess
    t.ok(failuresDuringFault >= 5, `${failuresDuringFault} calls failed while the endpoint did`);
    t.same(records.map((x) => x.idempotencyKey).sort(), sampledKeys(f).sort(), 'every sampled frame published');
    t.same(
      records.filter((x) => x.error !== undefined),
      [],
      'no error record',
    );
    t.match(counters(r), { inferred: 5, failed: 0, published: 5 });
    const retries = r.services.metrics.snapshot().series.find((x) => x.definition.name === 'InferenceRetries');
    t.match(
      retries,
      { kind: 'counter', labels: { stream: STREAM }, value: r.model.stats.faults['500'] },
      'every fault absorbed counted as a retry',
    );
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      f.map((x) => x.fragmentNumber),
    );
  },
);

t.test(
  'a stalled publisher pauses inference, decode and reading; in flight stays within the bound; all lands once it heals',
  async (t) => {
    // Prepare: Kinesis black-holed; 1 slot, 1 call + 1 queue place, 1 record buffered:
    // at most 1 + 2 + 1 frames in flight
    const publisher = { maxBufferedRecords: 1, timeoutMs: 500, backoff: { baseMs: 50, maxMs: 200 } };
    const r = await rig(t, { slots: 1, queueSize: 1, concurrency: 1, kinesisProxy: true, publisher });
    const f = r.fragments.slice(0, 12);
    r.proxy!.set(blackhole());
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, r.pipeline.outstanding)), 2);
    t.teardown(() => clearInterval(sampler));

    // Act
    const reading = connection(r.pipeline, getMedia(f));
    await until(
      'the reader to wait for a slot',
      () => r.slots.waiting === 1 && r.dispatcher.stats.awaitingRelease === 2,
    );
    const invocations = r.model.stats.invocations;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stalled = {
      dispatcher: r.dispatcher.stats,
      publisher: r.publisher.stats,
      slots: r.slots.used,
      waiting: r.slots.waiting,
    };
    const outstanding = r.pipeline.outstanding;
    const invocationsLater = r.model.stats.invocations;
    r.proxy!.set(pass());
    await reading;
    await r.pipeline.whenIdle();
    clearInterval(sampler);
    const records = await r.records();

    // Assess
    t.match(stalled.publisher, { buffered: 1, published: 0 }, 'the publisher holds its one record, unpublished');
    t.ok(stalled.publisher.callsInFlight <= 1, 'in a hung call, or backing off between two');
    t.ok(stalled.publisher.timeouts >= 1, `its calls were cut by the deadline: ${stalled.publisher.timeouts}`);
    t.match(
      stalled.dispatcher,
      { held: 2, awaitingRelease: 2, inFlight: 0 },
      'the dispatcher holds two answers it cannot hand on',
    );
    t.equal(invocationsLater, invocations, 'no call to the endpoint while its answers could not be taken');
    t.same(
      { slots: stalled.slots, waiting: stalled.waiting },
      { slots: 1, waiting: 1 },
      'a decoded frame holds the slot, the reader waits',
    );
    t.equal(outstanding, 4, 'in flight: 1 slot + 2 dispatcher places + 1 publisher place');
    t.ok(peak <= 4, `never more than 4 in flight: ${peak}`);
    t.same(
      records.map((x) => x.idempotencyKey).sort(),
      sampledKeys(f).sort(),
      'every sampled frame published once Kinesis came back',
    );
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      f.map((x) => x.fragmentNumber),
    );
  },
);

t.test('an error answer of 2 MiB becomes an error record cut to fit, and the fragment completes', async (t) => {
  // Prepare
  const r = await rig(t, { model: { backend: await verboseRejecter() } });
  const f = r.fragments.slice(0, 4);

  // Act
  await connection(r.pipeline, getMedia(f));
  await r.pipeline.whenIdle();
  const records = await r.records();

  // Assess
  t.equal(records.length, 2);
  for (const record of records) {
    t.match(record.error, {
      stage: 'inference',
      code: 'ENDPOINT_REJECTED',
      message: /ModelError: Received client error \(400\).* \.\.\. \(\d+ bytes, cut\)$/,
    });
    t.ok(
      Buffer.byteLength(record.error!.message) <= MAX_ERROR_MESSAGE_BYTES,
      `message of ${Buffer.byteLength(record.error!.message)} bytes`,
    );
  }
  t.match(counters(r), { failed: 2, published: 2 });
  t.same(
    r.completed.map((c) => c.fragmentNumber),
    f.map((x) => x.fragmentNumber),
    'the fragments complete: checkpoints go on',
  );
});

t.test(
  'an error record that still does not fit the publisher is accounted without a record, and the fragment completes',
  async (t) => {
    // Prepare: a publisher whose records may not pass 2000 bytes
    const r = await rig(t, { model: { backend: await verboseRejecter() }, publisher: { maxBatchBytes: 2000 } });
    const f = r.fragments.slice(0, 2);

    // Act
    await connection(r.pipeline, getMedia(f));
    await r.pipeline.whenIdle();

    // Assess
    t.same(await r.records(), []);
    t.same(
      r.events.filter((e) => e === 'failed-frame-unrecorded'),
      ['failed-frame-unrecorded'],
      'reported',
    );
    t.match(counters(r), { failed: 1, published: 0 });
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      f.map((x) => x.fragmentNumber),
    );
  },
);

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
  t.ok(
    r.pipeline.outstanding > 0,
    `${r.pipeline.outstanding} frames left unaccounted for, so no checkpoint can cover them`,
  );
});

/** A model whose first answer is `first` (as JSON); every later one is the fixed model's. */
async function firstAnswer(first: string): Promise<Backend> {
  const fixed = await FixedBackend.create();
  let calls = 0;
  return {
    name: 'first-answer',
    contentTypes: fixed.contentTypes,
    responseContentType: fixed.responseContentType,
    invoke: async (request) =>
      calls++ === 0 ? { body: first, contentType: fixed.responseContentType } : fixed.invoke(request),
  };
}

t.test(
  'an answer that parses as JSON but cannot be written back becomes an error record naming the frame; ' +
    'its fragment completes and the later frames are published',
  async (t) => {
    // Prepare: the first frame's answer nested 100 000 deep (200 KB), one call at a time so it is the first frame's
    const depth = 100_000;
    const deep = '['.repeat(depth) + ']'.repeat(depth);
    t.throws(() => JSON.stringify(JSON.parse(deep)), RangeError, 'JSON.parse takes it, JSON.stringify cannot');
    const r = await rig(t, { model: { backend: await firstAnswer(deep) }, concurrency: 1, queueSize: 1 });
    const f = r.fragments.slice(0, 10);
    const events: Record<string, unknown>[] = [];
    const pipeline = new StreamPipeline({
      streamName: STREAM,
      services: r.services,
      keyframesSeen: 0,
      onComplete: (c) => r.completed.push(c),
      onEvent: (event, fields) => events.push({ event, ...fields }),
    });
    t.teardown(() => pipeline.abort());

    // Act
    await connection(pipeline, getMedia(f));
    await until('every sampled frame to be accounted for', () => pipeline.outstanding === 0, 10_000);
    const records = await r.records();

    // Assess
    const [deepKey, ...laterKeys] = sampledKeys(f);
    const failed = records.filter((x) => x.error !== undefined);
    t.match(
      failed,
      [
        {
          idempotencyKey: deepKey,
          streamName: STREAM,
          fragmentNumber: f[0]!.fragmentNumber,
          error: {
            stage: 'publish',
            code: 'RECORD_UNSERIALIZABLE',
            message: new RegExp(
              `^the record of stream ${STREAM} fragment ${f[0]!.fragmentNumber} timecode \\d+ cannot be written as ` +
                'JSON \\(an answer of 200000 bytes\\): RangeError: Maximum call stack size exceeded$',
            ),
          },
        },
      ],
      'the first frame published as an error record naming stream, fragment and frame',
    );
    t.notOk(failed[0] && 'result' in failed[0], 'without the answer');
    t.match(
      events.filter((e) => e.event === 'frame-failed'),
      [{ level: 'warn', fragmentNumber: f[0]!.fragmentNumber, stage: 'publish', code: 'RECORD_UNSERIALIZABLE' }],
      'and logged',
    );
    t.same(
      records
        .filter((x) => x.result !== undefined)
        .map((x) => x.idempotencyKey)
        .sort(),
      laterKeys.sort(),
      'the later frames published with their results',
    );
    t.match(counters(r), { inferred: 5, failed: 1, published: 5 });
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      f.map((x) => x.fragmentNumber),
      'every fragment completes, the first included: checkpoints go on',
    );
  },
);

t.test(
  'one long connection keeps frame counts only for fragments not yet read to their end, and reads as before',
  async (t) => {
    // Prepare: 100 fragments (the clip 5 times over) on one connection
    const r = await rig(t);
    const source = await FileSource.open(await smallClip());
    const log = new FragmentLog();
    const f = [0, 1, 2, 3, 4].flatMap((loop) =>
      source.fragments.map((_, i) => log.append(source.input(i, loop, 1_700_000_000_000))),
    );

    // Act
    r.pipeline.beginRead();
    let most = 0;
    for await (const event of readMkv(body(getMedia(f)))) {
      await r.pipeline.push(event);
      most = Math.max(most, r.pipeline.fragmentsCountedThisRead);
    }
    await r.pipeline.whenIdle();

    // Assess
    t.equal(f.length, 100);
    t.equal(most, 1, 'never more than the fragment being read');
    t.equal(r.pipeline.fragmentsCountedThisRead, 0, 'none once the last is read to its end');
    t.same(
      r.completed.map((c) => c.fragmentNumber),
      f.map((x) => x.fragmentNumber),
      'every fragment completes, in order',
    );
    t.equal(counters(r).published, 50, 'every sampled frame published');
    t.equal(counters(r).skippedRepeats, 0, 'none skipped');
  },
);
