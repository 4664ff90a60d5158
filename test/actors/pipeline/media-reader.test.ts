// The lease actor's reader against the local KVS server: resumes after a checkpoint (or a
// continuation token), starts at NOW without one, names the stream when it is missing, and stops when aborted;
// finds a way forward from a checkpoint KVS no longer has, reports in-band errors, and drops a silent body;
// with maxMillisBehindNow, jumps from a backlog to the live edge.

import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoMediaClient } from '@aws-sdk/client-kinesis-video-media';
import t, { type Test } from 'tap';
import type { LiveEdgeSkip } from '../../../src/actors/pipeline/live-edge.js';
import {
  idleGuarded,
  type MediaReaderOptions,
  type ReaderNotice,
  readStreamMedia,
} from '../../../src/actors/pipeline/media-reader.js';
import { kinesisVideoClient, kinesisVideoMediaClient } from '../../../src/aws/clients.js';
import { DataEndpoints } from '../../../src/aws/data-endpoints.js';
import { KvsServer, type KvsServerOptions } from '../../../src/local/kvs/index.js';
import type { FragmentInput, StoredFragment } from '../../../src/local/kvs/types.js';
import type { ResumePoint } from '../../../src/media/checkpoint.js';
import { simpleBlock } from '../../helpers/ebml-builder.js';
import { blackHole, httpServer, timed, urlOf } from '../../helpers/network.js';
import { fragment } from '../worker-fixtures.js';

const config = (endpoint: string) => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  maxAttempts: 1,
});

async function setup(t: Test, options: KvsServerOptions = {}) {
  const server = await KvsServer.create(options);
  t.teardown(() => server.close());
  server.createStream('cam');
  const log = server.streamLog('cam');
  const control = new KinesisVideoClient(config(server.url));
  const endpoints = new DataEndpoints({ control, apiName: 'GET_MEDIA' });
  const notices: ReaderNotice[] = [];
  const batches = (options: Partial<MediaReaderOptions>) =>
    readStreamMedia({
      endpoints,
      mediaClient: (endpoint) => new KinesisVideoMediaClient(config(endpoint)),
      streamName: 'cam',
      resumeFrom: null,
      onNotice: (notice) => notices.push(notice),
      ...options,
    });
  const read = (options: Partial<MediaReaderOptions>) => flat(batches(options));
  const reader = (resumeAfter: string | null, signal?: AbortSignal, continuationToken?: string) =>
    read({ resumeFrom: resumeAfter === null ? null : after(resumeAfter), signal, continuationToken });
  return { server, log, reader, read, batches, notices };
}

/** The events of the batches, one by one. */
async function* flat<T>(batches: AsyncIterable<T[]>): AsyncGenerator<T> {
  for await (const batch of batches) yield* batch;
}

/** A checkpoint of a completed fragment: reading resumes after it. */
const after = (fragmentNumber: string): ResumePoint => ({ fragmentNumber, serverTimestamp: 0 });
/** An inclusive checkpoint: reading resumes at the fragment. */
const at = (fragment: StoredFragment): ResumePoint => ({
  fragmentNumber: fragment.fragmentNumber,
  serverTimestamp: fragment.serverTimestamp,
  inclusive: true,
});

/** Reads to the end (or the error), keeping every frame's payload. */
async function drain(
  events: AsyncIterable<{ type: string; frame?: { data: Uint8Array } }>,
): Promise<{ frames: string[]; error: unknown }> {
  const seen: string[] = [];
  try {
    for await (const event of events) if (event.type === 'frame') seen.push(Buffer.from(event.frame!.data).toString());
    return { frames: seen, error: null };
  } catch (error) {
    return { frames: seen, error };
  }
}

/** Payloads of the frames read, until `count` have come. */
async function frames(
  events: AsyncIterable<{ type: string; frame?: { data: Uint8Array } }>,
  count: number,
): Promise<string[]> {
  const seen: string[] = [];
  for await (const event of events) {
    if (event.type === 'frame') seen.push(Buffer.from(event.frame!.data).toString());
    if (seen.length === count) break;
  }
  return seen;
}

t.test('resumes just after the checkpointed fragment', async (t) => {
  // Prepare
  const { log, reader } = await setup(t);
  const stored = [0, 1, 2].map((i) => log.append(fragment(i)));

  // Act
  const read = await frames(reader(stored[0]!.fragmentNumber), 4);

  // Assess
  t.same(read, ['f1-0', 'f1-1', 'f2-0', 'f2-1']);
});

t.test('hands over the events of each read together, not one by one', async (t) => {
  // Prepare: each stored fragment leaves the server in one write of a few hundred bytes.
  const { log, batches } = await setup(t);
  const stored = [0, 1, 2].map((i) => log.append(fragment(i)));

  // Act
  const read: { type: string; frame?: { data: Uint8Array } }[][] = [];
  let frames = 0;
  for await (const batch of batches({ resumeFrom: after(stored[0]!.fragmentNumber) })) {
    read.push(batch);
    frames += batch.filter((event) => event.type === 'frame').length;
    if (frames === 4) break;
  }

  // Assess: the two fragments' writes reach the reader in one read or two, never an event at a time.
  const events = read.flat().map((event) => (event.frame ? Buffer.from(event.frame.data).toString() : event.type));
  t.same(events.slice(0, 7), ['tracks', 'f1-0', 'f1-1', 'fragment', 'tracks', 'f2-0', 'f2-1']);
  t.ok(read.length <= 2, `${read.length} batches`);
  t.ok(
    read.every((batch) => batch.length >= 3),
    'each holds a whole write',
  );
});

t.test('the idle guard keeps no chunk it has handed over', async (t) => {
  // Prepare: 300 chunks of 1 MiB, each dropped by the consumer as soon as it has it.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const size = 1 << 20;
  async function* body(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 300; i++) yield new Uint8Array(size);
  }

  // Act
  let chunks = 0;
  let peak = 0;
  for await (const step of idleGuarded(body(), 10_000, () => new Error('idle'))) {
    for (const _chunk of step) {
      if (++chunks % 50 > 0) continue;
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
  }

  // Assess: a guard that raced every read against one long-lived promise would hold all 300 MiB.
  t.equal(chunks, 300);
  t.ok(peak < 40 * size, `${(peak / size).toFixed(1)} MiB of array buffers at most`);
});

t.test('the idle guard reads at most 16 chunks or 256 KiB ahead of its consumer, then pauses the body', async (t) => {
  for (const [size, most] of [
    [1024, 16],
    [64 * 1024, 4],
  ] as const) {
    // Prepare: a body that never ends and makes a chunk whenever it is read.
    let made = 0;
    const body = new Readable({
      read() {
        made++;
        this.push(Buffer.alloc(size));
      },
    });
    const steps = idleGuarded(body, 10_000, () => new Error('idle'));

    // Act: two steps taken, then the consumer holds the second and asks for nothing.
    await steps.next();
    const second = (await steps.next()).value as Uint8Array[];
    const madeThen = made;
    await delay(100);

    // Assess
    t.equal(second.length, most, `${size}-byte chunks: a step holds what came before the body was paused`);
    t.ok(made - madeThen <= 16, `${size}-byte chunks: ${made - madeThen} made while the consumer held a step`);
    await steps.return(undefined);
    t.ok(body.destroyed, 'given up, the body is destroyed');
  }
});

t.test('an inclusive checkpoint resumes at its fragment: it is read again, and nothing before it', async (t) => {
  // Prepare: appended at once, each fragment's second of media overlaps the next one's arrival.
  const { log, read, notices } = await setup(t);
  const stored = [0, 1, 2].map((i) => log.append(fragment(i)));

  // Act
  const again = await frames(read({ resumeFrom: at(stored[1]!) }), 4);

  // Assess
  t.ok(
    stored[0]!.serverTimestamp + stored[0]!.durationMs > stored[1]!.serverTimestamp,
    'KVS starts that time with fragment 0, which contains it',
  );
  t.same(again, ['f1-0', 'f1-1', 'f2-0', 'f2-1'], 'from the checkpointed fragment itself');
  t.same(notices, []);
});

t.test(
  'an inclusive checkpoint aged out of retention: reading goes on from the oldest retained fragment, ' +
    'and the range given up is reported',
  async (t) => {
    // Prepare
    const { log, read, notices } = await setup(t);
    const stored = [0, 1, 2, 3].map((i) => log.append(fragment(i)));
    log.dropOldest(2);

    // Act
    const resumed = await frames(read({ resumeFrom: at(stored[1]!) }), 2);

    // Assess
    t.same(resumed, ['f2-0', 'f2-1']);
    t.match(notices, [
      {
        type: 'checkpoint-unresumable',
        checkpoint: stored[1]!.fragmentNumber,
        reason: /no longer retained/,
        firstFragmentNumber: stored[2]!.fragmentNumber,
        firstServerTimestamp: stored[2]!.serverTimestamp,
      },
    ]);
    t.equal(notices.length, 1);
  },
);

t.test(
  'on a reconnect, the continuation token wins over the checkpoint; a token KVS refuses falls back to it',
  async (t) => {
    // Prepare
    const { log, reader } = await setup(t);
    const stored = [0, 1, 2, 3].map((i) => log.append(fragment(i)));

    // Act
    const byToken = await frames(reader(stored[0]!.fragmentNumber, undefined, stored[1]!.fragmentNumber), 2);
    const refused = await frames(reader(stored[0]!.fragmentNumber, undefined, 'not-a-token'), 2);

    // Assess
    t.same(byToken, ['f2-0', 'f2-1'], 'after the fragment the token names');
    t.same(refused, ['f1-0', 'f1-1'], 'after the checkpoint');
  },
);

t.test('without a checkpoint, starts with the next fragment to arrive', async (t) => {
  const { log, reader } = await setup(t);
  log.append(fragment(0));
  const reading = frames(reader(null), 2);
  // The request is in flight once the server holds a reader; only then is a fragment "new".
  setTimeout(() => log.append(fragment(1)), 200);
  t.same(await reading, ['f1-0', 'f1-1']);
});

t.test('a missing stream is STREAM_NOT_FOUND naming it', async (t) => {
  const { server, reader } = await setup(t);
  server.deleteStream('cam');
  await t.rejects(frames(reader(null), 1), { code: 'STREAM_NOT_FOUND', message: /stream cam/ });
});

t.test('aborting ends the read without an error', async (t) => {
  const { log, reader } = await setup(t);
  log.append(fragment(0));
  const controller = new AbortController();
  const events = reader(null, controller.signal);
  setTimeout(() => controller.abort(), 100);
  const read = await frames(events, 1);
  t.same(read, [], 'nothing read, no exception');
});

t.test(
  'a checkpoint aged out of retention: in-band 4000, then the oldest retained fragment; the range given up is reported',
  async (t) => {
    // Prepare: fragments 0-2 age out; the checkpoint is fragment 0.
    const { log, reader, notices } = await setup(t);
    const stored = [0, 1, 2, 3, 4].map((i) => log.append(fragment(i)));
    log.dropOldest(3);

    // Act
    const read = await frames(reader(stored[0]!.fragmentNumber), 4);

    // Assess
    t.same(read, ['f3-0', 'f3-1', 'f4-0', 'f4-1'], 'the stream moves on from the oldest retained fragment');
    t.match(notices, [
      {
        type: 'get-media-error',
        errorId: 4000,
        errorCode: 'Requested fragment is not found',
        startSelectorType: 'FRAGMENT_NUMBER',
      },
      {
        type: 'checkpoint-unresumable',
        checkpoint: stored[0]!.fragmentNumber,
        reason: /in-band error 4000/,
        firstFragmentNumber: stored[3]!.fragmentNumber,
        firstServerTimestamp: stored[3]!.serverTimestamp,
      },
    ]);
    t.equal(notices.length, 2);
  },
);

t.test(
  'an expired continuation token and an expired checkpoint: both give way, down to the oldest retained fragment',
  async (t) => {
    const { log, reader, notices } = await setup(t);
    const stored = [0, 1, 2, 3].map((i) => log.append(fragment(i)));
    log.dropOldest(2);
    const read = await frames(reader(stored[0]!.fragmentNumber, undefined, stored[1]!.fragmentNumber), 2);
    t.same(read, ['f2-0', 'f2-1']);
    t.same(
      notices.map((n) =>
        n.type === 'get-media-error' ? [n.type, n.startSelectorType] : [n.type, n.firstFragmentNumber],
      ),
      [
        ['get-media-error', 'CONTINUATION_TOKEN'],
        ['get-media-error', 'FRAGMENT_NUMBER'],
        ['checkpoint-unresumable', stored[2]!.fragmentNumber],
      ],
    );
  },
);

t.test(
  'a stream recreated under the same name: the old checkpoint gives way to the new stream from its start',
  async (t) => {
    // Prepare
    const { server, log, reader, notices } = await setup(t);
    const old = log.append(fragment(0));
    server.deleteStream('cam');
    // Fragment numbers begin with the creation time in ms: a stream recreated within the same ms would reuse them.
    await new Promise((resolve) => setTimeout(resolve, 2));
    server.createStream('cam');
    const renewed = server.streamLog('cam').append(fragment(7));

    // Act
    const read = await frames(reader(old.fragmentNumber), 2);

    // Assess
    t.same(read, ['f7-0', 'f7-1']);
    t.match(notices.at(-1), {
      type: 'checkpoint-unresumable',
      checkpoint: old.fragmentNumber,
      firstFragmentNumber: renewed.fragmentNumber,
    });
  },
);

t.test(
  'a checkpoint KVS refuses outright (ResourceNotFoundException) gives way too; ' +
    'a stream that is gone stays STREAM_NOT_FOUND',
  async (t) => {
    // Prepare
    const { server, log, reader, read: readStream, notices } = await setup(t);
    log.append(fragment(0));
    const beyond = '9'.repeat(60);

    // A data plane where the stream is gone (deleted between GetDataEndpoint and GetMedia): every start is refused.
    const elsewhere = await KvsServer.create();
    t.teardown(() => elsewhere.close());

    // Act
    const read = await frames(reader(beyond), 2);
    const vanished = await drain(
      readStream({ resumeFrom: after(beyond), mediaClient: () => new KinesisVideoMediaClient(config(elsewhere.url)) }),
    );
    server.deleteStream('cam');
    const gone = await drain(reader(beyond));

    // Assess
    t.same(read, ['f0-0', 'f0-1']);
    t.match(notices, [{ type: 'checkpoint-unresumable', checkpoint: beyond, reason: /ResourceNotFoundException/ }]);
    t.equal(notices.length, 1, 'a stream that is gone gives up no checkpoint');
    t.match(vanished.error, { code: 'STREAM_NOT_FOUND', message: /stream cam/ });
    t.match(gone.error, { code: 'STREAM_NOT_FOUND', message: /stream cam/ });
  },
);

t.test('a fallback with nothing read after it is still reported when the read ends', async (t) => {
  const { log, read, notices } = await setup(t);
  const stored = [0, 1].map((i) => log.append(fragment(i)));
  log.dropOldest(2);
  const result = await drain(read({ resumeFrom: after(stored[1]!.fragmentNumber), idleTimeoutMs: 300 }));
  t.match(result.error, { code: 'GET_MEDIA_IDLE' });
  t.match(notices.at(-1), {
    type: 'checkpoint-unresumable',
    checkpoint: stored[1]!.fragmentNumber,
    firstFragmentNumber: null,
  });
});

t.test(
  'an in-band error mid-read (a KMS key disabled) is reported with its id and code, ' +
    'and fails the read naming the stream',
  async (t) => {
    // Prepare
    const { server, log, reader, notices } = await setup(t);
    const stored = [0, 1].map((i) => log.append(fragment(i)));
    const seen: string[] = [];

    // Act: once the retained frames are in, KVS stops the body.
    const result = await drain(
      (async function* () {
        for await (const event of reader(stored[0]!.fragmentNumber)) {
          if (event.type === 'frame') seen.push(Buffer.from(event.frame.data).toString());
          if (seen.length === 2 && event.type === 'frame') server.stopGetMedia('cam', 4501);
          yield event;
        }
      })(),
    );

    // Assess
    t.same(result.frames, ['f1-0', 'f1-1']);
    t.match(result.error, {
      code: 'GET_MEDIA_ERROR',
      message: /stream cam from FRAGMENT_NUMBER stopped with error 4501 \(Stream's KMS key is disabled\)/,
    });
    t.match(notices, [
      { type: 'get-media-error', errorId: 4501, errorCode: "Stream's KMS key is disabled", fragmentNumber: null },
    ]);
  },
);

t.test('a body silent for idleTimeoutMs is dropped with GET_MEDIA_IDLE naming the stream', async (t) => {
  // Prepare: nothing arrives after NOW.
  const { log, read } = await setup(t);
  log.append(fragment(0));

  // Act
  const started = performance.now();
  const result = await drain(read({ idleTimeoutMs: 400 }));
  const ms = performance.now() - started;

  // Assess
  t.match(result.error, { code: 'GET_MEDIA_IDLE', message: /GetMedia of stream cam sent no byte for 400 ms/ });
  t.ok(ms >= 350 && ms < 10_000, `dropped after ${ms.toFixed(0)} ms`);
});

t.test('reads reuse the cached GetMedia endpoint; one that failed without an answer asks for it again', async (t) => {
  // Prepare
  const { server, log, reader, read } = await setup(t);
  const stored = [0, 1, 2].map((i) => log.append(fragment(i)));
  const asked = () => server.apiCalls().GetDataEndpoint?.admitted ?? 0;

  // Act: two reads, then one dropped as idle (no HTTP error answer: the endpoint may be wrong), then one more.
  await frames(reader(stored[0]!.fragmentNumber), 2);
  await frames(reader(stored[1]!.fragmentNumber), 2);
  const afterTwo = asked();
  const idle = await drain(read({ idleTimeoutMs: 300 }));
  await frames(reader(stored[0]!.fragmentNumber), 2);

  // Assess
  t.equal(afterTwo, 1, 'one GetDataEndpoint for two reads');
  t.match(idle.error, { code: 'GET_MEDIA_IDLE' });
  t.equal(asked(), 2, 'asked again after the failed read');
});

t.test('a consumer slower than the idle timeout (backpressure) is not idleness', async (t) => {
  // Prepare
  const { log, read } = await setup(t);
  const stored = [0, 1, 2].map((i) => log.append(fragment(i)));

  // Act: 300 ms per event, against an idle timeout of 150 ms.
  const seen: string[] = [];
  for await (const event of read({ resumeFrom: after(stored[0]!.fragmentNumber), idleTimeoutMs: 150 })) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (event.type === 'frame') seen.push(Buffer.from(event.frame.data).toString());
    if (seen.length === 4) break;
  }

  // Assess
  t.same(seen, ['f1-0', 'f1-1', 'f2-0', 'f2-1']);
});

t.test('a black-holed control plane fails GetDataEndpoint at the client deadline, as GET_MEDIA_FAILED', async (t) => {
  // Prepare: accepts connections, never answers.
  const control = kinesisVideoClient({ ...config(await blackHole(t)), requestTimeoutMs: 300 });
  t.teardown(() => control.destroy());

  // Act
  const started = performance.now();
  const result = await drain(
    flat(
      readStreamMedia({
        endpoints: new DataEndpoints({ control, apiName: 'GET_MEDIA' }),
        mediaClient: () => t.fail('no GetMedia') as never,
        streamName: 'cam',
        resumeFrom: null,
      }),
    ),
  );

  // Assess
  t.match(result.error, { code: 'GET_MEDIA_FAILED', message: /stream cam failed: TimeoutError/ });
  t.ok(performance.now() - started < 10_000);
});

/** Fragment `i` of a continuous live stream of 200 ms fragments: four frames, 50 ms apart. */
function live(i: number): FragmentInput {
  const blocks = Buffer.concat([0, 1, 2, 3].map((k) => simpleBlock(1, k * 50, k === 0, Buffer.from(`f${i}-${k}`))));
  return { ...fragment(i), producerTimestamp: 1_700_000_000_000 + i * 200, durationMs: 200, blocks, frames: 4 };
}

/**
 * A stream 2 s behind: ten fragments stamped as if they had arrived over the last 2 s (the server's clock set back
 * for each), then a live one every 200 ms.
 */
async function backlogged(t: Test) {
  let offset = 0;
  const stack = await setup(t, { clock: { now: () => Date.now() + offset } });
  /** Fragment i is the i-th appended. */
  const appended: StoredFragment[] = [];
  for (let i = 0; i < 10; i++) {
    offset = (i - 10) * 200;
    appended.push(stack.log.append(live(i)));
  }
  offset = 0;
  const feed = setInterval(() => appended.push(stack.log.append(live(appended.length))), 200);
  t.teardown(() => clearInterval(feed));
  return { ...stack, appended };
}

t.test(
  'a fragment further behind than maxMillisBehindNow: the reader jumps to NOW after it, and reports the range skipped',
  async (t) => {
    // Prepare
    const { appended, read, notices } = await backlogged(t);

    // Act
    const seen = await frames(read({ startWhenNew: 'EARLIEST', maxMillisBehindNow: 1000 }), 12);

    // Assess
    const first = Number(/^f(\d+)-0$/.exec(seen[4]!)?.[1]);
    t.same(seen.slice(0, 4), ['f0-0', 'f0-1', 'f0-2', 'f0-3'], 'the oldest fragment, read whole');
    t.same(
      seen.slice(4),
      [first, first + 1].flatMap((i) => [0, 1, 2, 3].map((k) => `f${i}-${k}`)),
      'then live fragments, one after the other',
    );
    t.ok(first >= 10, `fragment ${first} is a live one: the backlog (1 to 9) is skipped`);
    const [last, after] = [appended[0]!, appended[first]!];
    t.match(notices, [
      {
        type: 'live-edge-skip',
        lastFragmentNumber: last.fragmentNumber,
        lastServerTimestamp: last.serverTimestamp,
        maxMillisBehindNow: 1000,
        firstFragmentNumber: after.fragmentNumber,
        firstServerTimestamp: after.serverTimestamp,
        // From fragment 0's last frame, 150 ms into it.
        skippedMillis: after.serverTimestamp - last.serverTimestamp - 150,
        skippedProducerMillis: first * 200 - 150,
      },
    ]);
    t.equal(notices.length, 1);
    const skip = notices[0] as LiveEdgeSkip;
    t.ok(skip.millisBehindNow > 1000, `the trigger: ${skip.millisBehindNow} ms behind`);
    t.ok(
      Math.abs(skip.fragmentsSkipped! - (first - 1)) <= 1,
      `${skip.fragmentsSkipped} fragments estimated skipped, ${first - 1} were`,
    );
  },
);

t.test('without maxMillisBehindNow the same backlog is read through, fragment after fragment', async (t) => {
  // Prepare
  const { read, notices } = await backlogged(t);

  // Act
  const seen = await frames(read({ startWhenNew: 'EARLIEST' }), 8);

  // Assess
  t.same(seen, ['f0-0', 'f0-1', 'f0-2', 'f0-3', 'f1-0', 'f1-1', 'f1-2', 'f1-3']);
  t.same(notices, []);
});

t.test(
  'an error answer whose body stalls after its headers is cut after idleTimeoutMs, as GET_MEDIA_FAILED',
  async (t) => {
    // Prepare: GetMedia answers 500 and half an error body, then nothing.
    const { read } = await setup(t);
    const stalls = await httpServer(t, (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'ClientLimitExceededException' });
      res.write('{"message":');
    });
    const media = kinesisVideoMediaClient(config(urlOf(stalls)));
    t.teardown(() => media.destroy());

    // Act
    const reading = drain(read({ mediaClient: () => media, idleTimeoutMs: 400 }));
    const { error, ms } = await timed(
      reading.then((result) => Promise.reject(result.error)),
      10_000,
    );

    // Assess
    t.match(error, {
      code: 'GET_MEDIA_FAILED',
      message: /GetMedia of stream cam failed: TimeoutError: no complete answer in 400 ms/,
    });
    t.ok(ms >= 350 && ms < 5000, `cut after ${ms.toFixed(0)} ms`);
  },
);
