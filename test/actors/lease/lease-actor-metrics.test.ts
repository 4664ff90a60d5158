// A lease actor's metrics once its lease has ended: a frame still decoding then (its pipeline abandoned) records
// nothing that brings the stream's series back, while a later lease of the stream on the same worker records again.
// A real lease actor, pipeline and registry reading from the local KVS server; the pool, the endpoint and the
// publisher are stand-ins, so that the test holds the frame at decoding until the lease has ended.

import { setImmediate as immediate } from 'node:timers/promises';
import { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import t, { type Test } from 'tap';
import { systemClock } from '../../../src/actors/clock.js';
import { LeaseActor } from '../../../src/actors/lease/lease-actor.js';
import type { Lease } from '../../../src/actors/lease/lease-types.js';
import { Slots } from '../../../src/actors/pipeline/slots.js';
import type { PipelineServices } from '../../../src/actors/pipeline/stream-pipeline.js';
import { DataEndpoints } from '../../../src/aws/data-endpoints.js';
import { KvsServer } from '../../../src/local/kvs/index.js';
import { emfDocuments, MetricsRegistry, prometheusText } from '../../../src/metrics/index.js';
import type { EncodedImage } from '../../../src/native/index.js';
import { fragment } from '../worker-fixtures.js';

const STREAM = 'cam';
const config = (endpoint: string) => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  maxAttempts: 1,
});

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function setup(t: Test) {
  const server = await KvsServer.create();
  t.teardown(() => server.close());
  server.createStream(STREAM);
  const log = server.streamLog(STREAM);
  for (let i = 0; i < 3; i++) log.append(fragment(i));
  const endpoints = new DataEndpoints({ control: new KinesisVideoClient(config(server.url)), apiName: 'GET_MEDIA' });
  const metrics = new MetricsRegistry({ appName: 'app', workerId: 'w' });
  t.teardown(() => metrics.destroy());
  // Decoding waits until the test lets it finish: a frame in flight as long as wanted.
  const decoding: ((image: EncodedImage) => void)[] = [];
  const image: EncodedImage = {
    data: Uint8Array.of(1),
    contentType: 'image/jpeg',
    width: 1,
    height: 1,
    decodeMs: 0,
    encodeMs: 0,
  };
  const services: PipelineServices = {
    pool: { process: () => new Promise<EncodedImage>((resolve) => decoding.push(resolve)) },
    slots: new Slots(5, 1024 * 1024),
    dispatcher: {
      submit: (_frame, signal) => {
        const outcome = signal?.aborted
          ? Promise.reject(signal.reason)
          : Promise.resolve({
              status: 'ok' as const,
              body: Uint8Array.of(1),
              contentType: null,
              attempts: 1,
              latencyMs: 1,
              queuedMs: 0,
            });
        outcome.catch(() => {});
        return { queued: outcome.then(() => undefined), outcome, release: () => undefined };
      },
    },
    publisher: { publish: () => ({ taken: Promise.resolve(), receipt: Promise.resolve({}) as never }) },
    metrics,
    image: { contentType: 'image/jpeg' },
    endpoint: 'ep',
    workerId: 'w',
    inferenceInterval: 1,
    publishFailedFrames: false,
    clock: systemClock,
  };
  const held: Lease = { leaseKey: STREAM, leaseOwner: 'w', leaseCounter: 1, ownerSwitchesSinceCheckpoint: 0 };
  const lease = () =>
    new LeaseActor({
      lease: held,
      coordinator: {
        workerId: 'w',
        checkpoint: async () => held,
        release: async () => {},
        carryCheckpoints: () => () => {},
      },
      endpoints,
      mediaClient: (endpoint) => new KinesisVideoMediaClient(config(endpoint)),
      log: () => {},
      services,
      startWhenNew: 'EARLIEST',
    });
  return { metrics, decoding, image, lease };
}

t.test(
  'a frame in flight when its lease ends brings none of the stream series back; the lease taken again records',
  async (t) => {
    // Prepare: a lease whose first sampled frame is decoding.
    const { metrics, decoding, image, lease } = await setup(t);
    const first = lease();
    t.teardown(() => first.lost('taken'));
    await until('a sampled frame is decoding', () => decoding.length > 0);
    const readBefore = metrics.count('FramesRead', { stream: STREAM });
    first.lost('taken');
    await first.done;
    const streamsAtEnd = metrics.streams();
    // The ended lease's last interval goes out now; what follows would be a new series.
    emfDocuments(metrics, { namespace: 'N', timestamp: 1 });
    const decodedBefore = metrics.countAll('FramesDecoded');

    // Act: the frames decoding finish, as they do after their pipeline was abandoned.
    const late = decoding.length;
    for (const resolve of decoding.splice(0)) resolve(image);
    for (let i = 0; i < 10; i++) await immediate();

    // Assess
    t.ok(readBefore > 0 && late > 0, 'the lease read frames, and some were decoding as it ended');
    t.same(streamsAtEnd, [], 'the series go with the lease');
    t.equal(metrics.countAll('FramesDecoded') - decodedBefore, late, 'the late frames count in the worker totals');
    t.same(metrics.streams(), [], 'and brings no series of the stream back');
    t.notOk(
      metrics.snapshot().series.some((s) => s.labels.stream === STREAM),
      'none in the snapshot (the debug page)',
    );
    t.notMatch(prometheusText(metrics), /stream="cam"/, 'none in a scrape');
    t.same(
      emfDocuments(metrics, { namespace: 'N', timestamp: 2 }).filter((d) => d.StreamName === STREAM),
      [],
      'none in EMF',
    );

    // Act: this worker takes the stream's lease again.
    const second = lease();
    t.teardown(() => second.lost('taken'));
    await until('the new lease reads', () => metrics.count('FramesRead', { stream: STREAM }) > 0);
    for (const resolve of decoding.splice(0)) resolve(image);
    await until('the new lease publishes', () => metrics.count('FramesPublished', { stream: STREAM }) > 0);

    // Assess
    t.same(metrics.streams(), [STREAM], 'the new lease makes the stream series again');
    t.ok(
      emfDocuments(metrics, { namespace: 'N', timestamp: 3 }).some((d) => d.StreamName === STREAM),
      'exported again',
    );
    second.lost('taken');
    await second.done;
    t.same(metrics.streams(), [], 'and they go with it');
  },
);
