// GetMedia through the real @aws-sdk/client-kinesis-video-media client: every StartSelector type,
// live fragments, the connection limit, DeleteStream ending a reader, backpressure, and errors.

import { DeleteStreamCommand } from '@aws-sdk/client-kinesis-video';
import { GetMediaCommand, type GetMediaCommandOutput, type StartSelector } from '@aws-sdk/client-kinesis-video-media';
import t, { type Test } from 'tap';
import type { StoredFragment } from '../../../src/local/kvs/types.js';
import { simpleBlock } from '../../helpers/ebml-builder.js';
import {
  controlClient,
  eventually,
  ManualClock,
  mediaClient,
  type ReadResult,
  readBody,
  startServer,
  syntheticFragment,
  T0,
} from './api-helpers.js';

type Body = AsyncIterable<Uint8Array> & { destroy(): void; pause(): void };

const body = (output: GetMediaCommandOutput): Body => output.Payload as unknown as Body;

/** A server with stream `cam` holding `count` fragments appended 1 s apart (server and producer time). */
async function setup(t: Test, count: number, options: { maxGetMediaConnections?: number } = {}) {
  const clock = new ManualClock();
  const server = await startServer(t, { clock, ...options });
  const control = controlClient(t, server);
  server.createStream('cam');
  const log = server.streamLog('cam');
  const stored = [];
  for (let i = 0; i < count; i++) {
    stored.push(log.append(syntheticFragment(i, T0 - 60_000 + i * 1000)));
    clock.advance(1000);
  }
  const media = await mediaClient(t, control, 'cam');
  const getMedia = (StartSelector: StartSelector, StreamName = 'cam') =>
    media.send(new GetMediaCommand({ StreamName, StartSelector }));
  return { clock, server, control, log, stored, media, getMedia };
}

t.test('EARLIEST sends every retained fragment in order, with KVS tags and each frame', async (t) => {
  // Prepare
  const { getMedia, stored, clock } = await setup(t, 4);

  // Act
  const output = await getMedia({ StartSelectorType: 'EARLIEST' });
  const read = await readBody(body(output), (r) => r.frames.length === 12);

  // Assess
  t.equal(output.ContentType, 'video/webm');
  t.same(
    read.fragmentNumbers,
    stored.map((f) => f.fragmentNumber),
  );
  t.same(read.payloads, [
    'f0-0',
    'f0-1',
    'f0-2',
    'f1-0',
    'f1-1',
    'f1-2',
    'f2-0',
    'f2-1',
    'f2-2',
    'f3-0',
    'f3-1',
    'f3-2',
  ]);
  t.same(
    read.frames.map((f) => f.keyframe),
    [true, false, false, true, false, false, true, false, false, true, false, false],
  );
  t.same(
    read.tracks[0]?.map((track) => track.codecId),
    ['V_MPEG4/ISO/AVC'],
  );
  // Three fragments are complete (the 4th finishes when a 5th begins): their tags are all there.
  t.same(
    read.fragments.map((f) => [
      f.fragmentNumber,
      f.serverTimestamp,
      f.producerTimestamp,
      f.millisBehindNow,
      f.continuationToken,
    ]),
    stored
      .slice(0, 3)
      .map((f) => [
        f.fragmentNumber,
        f.serverTimestamp,
        f.producerTimestamp,
        clock.now() - f.serverTimestamp,
        f.fragmentNumber,
      ]),
  );
});

t.test('FRAGMENT_NUMBER starts after the fragment named, CONTINUATION_TOKEN after the one it came with', async (t) => {
  // Prepare
  const { getMedia, stored } = await setup(t, 5);

  // Act
  const afterSecond = await readBody(
    body(await getMedia({ StartSelectorType: 'FRAGMENT_NUMBER', AfterFragmentNumber: stored[1]!.fragmentNumber })),
    (r) => r.fragmentNumbers.length === 3 && r.frames.length === 9,
  );
  const first = await readBody(
    body(await getMedia({ StartSelectorType: 'EARLIEST' })),
    (r) => r.fragmentNumbers.length === 3,
  );
  const token = first.fragments[1]!.continuationToken!;
  const resumed = await readBody(
    body(await getMedia({ StartSelectorType: 'CONTINUATION_TOKEN', ContinuationToken: token })),
    (r) => r.frames.length === 9,
  );

  // Assess
  t.same(
    afterSecond.fragmentNumbers,
    stored.slice(2).map((f) => f.fragmentNumber),
  );
  t.equal(token, stored[1]!.fragmentNumber);
  t.same(
    resumed.fragmentNumbers,
    stored.slice(2).map((f) => f.fragmentNumber),
  );
});

t.test('SERVER_TIMESTAMP and PRODUCER_TIMESTAMP start at the fragment holding that instant', async (t) => {
  // Prepare: server timestamps T0, T0+1s, ...; producer timestamps T0-60s, T0-59s, ... (each 120 ms long)
  const { getMedia, stored } = await setup(t, 5);

  // Act
  const byServer = await readBody(
    body(await getMedia({ StartSelectorType: 'SERVER_TIMESTAMP', StartTimestamp: new Date(T0 + 2000) })),
    (r) => r.frames.length === 9,
  );
  // 50 ms into fragment 3's 120 ms: that fragment is sent whole.
  const byProducer = await readBody(
    body(await getMedia({ StartSelectorType: 'PRODUCER_TIMESTAMP', StartTimestamp: new Date(T0 - 60_000 + 3050) })),
    (r) => r.frames.length === 6,
  );
  // Between fragments (after 3's end, before 4): the next one.
  const between = await readBody(
    body(await getMedia({ StartSelectorType: 'PRODUCER_TIMESTAMP', StartTimestamp: new Date(T0 - 60_000 + 3500) })),
    (r) => r.frames.length === 3,
  );

  // Assess
  t.same(
    byServer.fragmentNumbers,
    stored.slice(2).map((f) => f.fragmentNumber),
  );
  t.same(
    byProducer.fragmentNumbers,
    stored.slice(3).map((f) => f.fragmentNumber),
  );
  t.same(between.fragmentNumbers, [stored[4]!.fragmentNumber]);
});

t.test('NOW sends only what arrives after the call; a live reader gets fragments appended later', async (t) => {
  // Prepare
  const { getMedia, log, clock } = await setup(t, 2);

  // Act
  const now = await getMedia({ StartSelectorType: 'NOW' });
  const earliest = await getMedia({ StartSelectorType: 'EARLIEST' });
  const nowRead = readBody(body(now), (r) => r.frames.length === 6);
  const earliestRead = readBody(body(earliest), (r) => r.frames.length === 12);
  // No wait needed: NOW was fixed when the server took the request, before the SDK saw the response headers.
  const late = [log.append(syntheticFragment('late-a', T0)), log.append(syntheticFragment('late-b', T0 + 120))];
  clock.advance(250);

  // Assess
  const fromNow = await nowRead;
  const fromEarliest = await earliestRead;
  t.same(
    fromNow.fragmentNumbers,
    late.map((f) => f.fragmentNumber),
  );
  t.same(fromNow.payloads, ['flate-a-0', 'flate-a-1', 'flate-a-2', 'flate-b-0', 'flate-b-1', 'flate-b-2']);
  t.same(fromEarliest.payloads.slice(6), fromNow.payloads);
});

t.test(
  'a 4th concurrent GetMedia on a stream is ConnectionLimitExceededException, until a reader leaves',
  async (t) => {
    // Prepare: three readers hold the stream; another stream is unaffected.
    const { getMedia, server } = await setup(t, 1);
    server.createStream('other');
    const open = await Promise.all([0, 1, 2].map(() => getMedia({ StartSelectorType: 'NOW' })));

    // Act
    const refused = await getMedia({ StartSelectorType: 'NOW' }).catch((e: unknown) => e);
    const elsewhere = await getMedia({ StartSelectorType: 'NOW' }, 'other');
    body(open[0]!).destroy();
    await eventually(() => server.registry.get('cam')!.readers.size === 2);
    const afterLeave = await getMedia({ StartSelectorType: 'EARLIEST' });

    // Assess
    t.match(refused, { name: 'ConnectionLimitExceededException', $metadata: { httpStatusCode: 400 } });
    t.equal(elsewhere.ContentType, 'video/webm');
    const read = await readBody(body(afterLeave), (r) => r.frames.length === 3);
    t.equal(read.frames.length, 3);
    for (const output of [...open.slice(1), elsewhere]) body(output).destroy();
  },
);

t.test('DeleteStream ends a live reader: its body ends after what it had been sent', async (t) => {
  // Prepare
  const { getMedia, control, server, stored } = await setup(t, 2);
  const output = await getMedia({ StartSelectorType: 'EARLIEST' });
  const reading = readBody(body(output));
  await eventually(() => server.registry.get('cam')!.readers.size === 1);

  // Act
  await control.send(new DeleteStreamCommand({ StreamARN: server.registry.get('cam')!.arn }));

  // Assess: the loop ends without a `done` condition, so the body really ended.
  const read = await reading;
  t.same(
    read.fragmentNumbers,
    stored.map((f) => f.fragmentNumber),
  );
  t.equal(read.frames.length, 6);
  await t.rejects(getMedia({ StartSelectorType: 'NOW' }), { name: 'ResourceNotFoundException' });
});

t.test(
  'FRAGMENT_NUMBER after a fragment no longer retained: a 200 whose body is in-band error 4000, then its end',
  async (t) => {
    // Prepare: the first two fragments age out.
    const { getMedia, log, stored } = await setup(t, 4);
    log.dropOldest(2);

    // Act: no `done` condition, so the body must end by itself.
    const expired = await readBody(
      body(await getMedia({ StartSelectorType: 'FRAGMENT_NUMBER', AfterFragmentNumber: stored[0]!.fragmentNumber })),
    );
    const token = await readBody(
      body(await getMedia({ StartSelectorType: 'CONTINUATION_TOKEN', ContinuationToken: stored[1]!.fragmentNumber })),
    );

    // Assess
    for (const read of [expired, token]) {
      t.same(read.frames, [], 'no media');
      t.match(read.fragments, [
        { fragmentNumber: null, errorId: '4000', errorCode: 'Requested fragment is not found' },
      ]);
    }
  },
);

t.test('stopGetMedia ends live readers with the in-band error tags after the fragment being sent', async (t) => {
  // Prepare
  const { getMedia, log, server, stored } = await setup(t, 2);
  server.createStream('other');
  const elsewhere = body(await getMedia({ StartSelectorType: 'NOW' }, 'other'));
  const output = await getMedia({ StartSelectorType: 'EARLIEST' });

  // Act: once every retained frame has arrived, stop the readers, then append one more fragment.
  let stopped = 0;
  const read = await readBody(body(output), (r) => {
    if (r.frames.length === 6) {
      stopped = server.stopGetMedia('cam', 4501);
      log.append(syntheticFragment('after', T0));
    }
    // Never done: the loop ends only when the body does.
    return false;
  });

  // Assess
  t.equal(stopped, 1);
  t.same(
    read.fragmentNumbers,
    stored.map((f) => f.fragmentNumber),
    'what was sent before, nothing after',
  );
  t.match(read.fragments.at(-1), { fragmentNumber: null, errorId: '4501', errorCode: "Stream's KMS key is disabled" });
  t.equal(server.registry.get('other')!.readers.size, 1, 'the other stream is untouched');
  elsewhere.destroy();
});

t.test(
  'stopGetMedia injects any in-band error: a listed id with its reference description, another with the one given',
  async (t) => {
    // Prepare: two live readers of `cam`.
    const { getMedia, server } = await setup(t, 1);
    const outputs = await Promise.all([0, 1].map(() => getMedia({ StartSelectorType: 'EARLIEST' })));
    const reads = outputs.map((output) => readBody(body(output)));
    await eventually(() => server.registry.get('cam')!.readers.size === 2);

    // Act
    const internal = server.stopGetMedia('cam', 5000);
    const [first] = await Promise.all(reads);
    const again = await getMedia({ StartSelectorType: 'EARLIEST' });
    const reading = readBody(body(again));
    await eventually(() => server.registry.get('cam')!.readers.size === 1);
    const custom = server.stopGetMedia('cam', 3999, 'Throttled by the test');
    const second = await reading;

    // Assess
    t.equal(internal, 2);
    t.match(first.fragments.at(-1), { fragmentNumber: null, errorId: '5000', errorCode: 'Internal error' });
    t.equal(custom, 1);
    t.match(second.fragments.at(-1), { errorId: '3999', errorCode: 'Throttled by the test' });
    t.throws(() => server.stopGetMedia('cam', 3999), {
      message: /3999 is not one the GetMedia reference lists: give its description/,
    });
    t.throws(() => server.stopGetMedia('cam', 4000.5), { message: /non-negative integer, got 4000.5/ });
  },
);

t.test(
  'a stream with DataRetentionInHours 0 serves GetMedia from the host buffer: 5 minutes, then in-band 4000 for what ' +
    'left it',
  async (t) => {
    // Prepare: the same fragments, 4 and then 1 more minute apart, into a 0-retention stream and a 1-hour one.
    const clock = new ManualClock();
    const server = await startServer(t, { clock });
    const control = controlClient(t, server);
    server.createStream('live');
    server.createStream('kept', { retentionHours: 1 });
    const stored: Record<string, StoredFragment[]> = { live: [], kept: [] };
    for (const [i, pause] of [240_000, 61_000, 0].entries()) {
      for (const name of ['live', 'kept'])
        stored[name]!.push(server.streamLog(name).append(syntheticFragment(i, T0 + i * 1000)));
      clock.advance(pause);
    }
    const media = await mediaClient(t, control, 'live');
    const read = (StreamName: string, StartSelector: StartSelector, done?: (r: ReadResult) => boolean) =>
      media.send(new GetMediaCommand({ StreamName, StartSelector })).then((output) => readBody(body(output), done));

    // Act: 5 min 1 s after the first fragment arrived.
    const live = await read('live', { StartSelectorType: 'EARLIEST' }, (r) => r.frames.length === 6);
    const kept = await read('kept', { StartSelectorType: 'EARLIEST' }, (r) => r.frames.length === 9);
    const afterFirst = {
      StartSelectorType: 'FRAGMENT_NUMBER',
      AfterFragmentNumber: stored.live![0]!.fragmentNumber,
    } as const;
    const gone = await read('live', afterFirst);

    // Assess
    t.same(
      live.fragmentNumbers,
      stored.live!.slice(1).map((f) => f.fragmentNumber),
      'the first fragment left the 5-minute buffer',
    );
    t.same(
      kept.fragmentNumbers,
      stored.kept!.map((f) => f.fragmentNumber),
      'a retained stream still has it',
    );
    t.match(gone.fragments, [{ fragmentNumber: null, errorId: '4000', errorCode: 'Requested fragment is not found' }]);
  },
);

t.test(
  'the host buffer of a stream with DataRetentionInHours 0 holds 200 MB: the oldest fragments leave it first',
  async (t) => {
    // Prepare: 201 fragments sharing one 1 MiB buffer (so 1 MiB of memory), each counted whole, as KVS buffers it.
    const clock = new ManualClock();
    const server = await startServer(t, { clock });
    const control = controlClient(t, server);
    const blocks = simpleBlock(1, 0, true, Buffer.alloc(1024 * 1024, 7));
    const stored: Record<string, StoredFragment[]> = { live: [], kept: [] };
    server.createStream('live');
    server.createStream('kept', { retentionHours: 1 });
    for (let i = 0; i < 201; i++) {
      for (const name of ['live', 'kept'])
        stored[name]!.push(server.streamLog(name).append({ ...syntheticFragment(i, T0 + i * 1000, 1), blocks }));
    }
    const media = await mediaClient(t, control, 'live');
    const first = (StreamName: string) =>
      media
        .send(new GetMediaCommand({ StreamName, StartSelector: { StartSelectorType: 'EARLIEST' } }))
        .then((output) => readBody(body(output), (r) => r.frames.length === 1));

    // Act
    const live = await first('live');
    const kept = await first('kept');

    // Assess
    const held = Math.floor((200 * 1024 * 1024) / blocks.length);
    t.equal(held, 199, 'a fragment is 1 MiB and a few bytes');
    t.same(live.fragmentNumbers, [stored.live![201 - held]!.fragmentNumber]);
    t.same(kept.fragmentNumbers, [stored.kept![0]!.fragmentNumber]);
  },
);

t.test('bad requests answer KVS errors before any media', async (t) => {
  // Prepare
  const { getMedia, media } = await setup(t, 1);

  // Act + Assess
  await t.rejects(getMedia({ StartSelectorType: 'NOW' }, 'ghost'), {
    name: 'ResourceNotFoundException',
    $metadata: { httpStatusCode: 404 },
  });
  await t.rejects(getMedia({ StartSelectorType: 'FRAGMENT_NUMBER' }), {
    name: 'InvalidArgumentException',
    message: /AfterFragmentNumber/,
  });
  await t.rejects(getMedia({ StartSelectorType: 'FRAGMENT_NUMBER', AfterFragmentNumber: 'abc' }), {
    name: 'InvalidArgumentException',
  });
  await t.rejects(getMedia({ StartSelectorType: 'SERVER_TIMESTAMP' }), {
    name: 'InvalidArgumentException',
    message: /StartTimestamp/,
  });
  await t.rejects(getMedia({ StartSelectorType: 'PRODUCER_TIMESTAMP' }), {
    name: 'InvalidArgumentException',
    message: /StartTimestamp/,
  });
  await t.rejects(getMedia({ StartSelectorType: 'CONTINUATION_TOKEN' }), {
    name: 'InvalidArgumentException',
    message: /ContinuationToken/,
  });
  await t.rejects(getMedia({ StartSelectorType: 'SOMETIME' as 'NOW' }), {
    name: 'InvalidArgumentException',
    message: /SOMETIME/,
  });
  await t.rejects(media.send(new GetMediaCommand({ StreamName: 'cam' } as never)), {
    name: 'InvalidArgumentException',
    message: /StartSelector/,
  });
});

t.test('a client that stops reading holds the server to about what the socket buffers', async (t) => {
  // Prepare: 48 fragments of 512 KiB (24 MiB), all received at T0 and retained for a day.
  const clock = new ManualClock();
  const server = await startServer(t, { clock, retentionMs: 86_400_000 });
  const control = controlClient(t, server);
  server.createStream('big');
  const log = server.streamLog('big');
  const blocks = simpleBlock(1, 0, true, Buffer.alloc(512 * 1024, 7));
  for (let i = 0; i < 48; i++) log.append({ ...syntheticFragment(i, T0 + i * 1000, 1), blocks });
  const media = await mediaClient(t, control, 'big');

  // Act: start the response, read nothing for a while, then move time on and read everything.
  const output = await media.send(
    new GetMediaCommand({ StreamName: 'big', StartSelector: { StartSelectorType: 'EARLIEST' } }),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  clock.advance(3_600_000);
  const read = await readBody(body(output), (r) => r.frames.length === 48);

  // Assess: fragments rendered before the clock moved say 0 ms behind; the rest were rendered as the client read.
  const early = read.fragments.filter((f) => f.millisBehindNow !== null && f.millisBehindNow < 3_600_000).length;
  t.equal(read.frames.length, 48);
  t.ok(early < 24, `at most half the stream (${early} fragments) was written before the client read`);
  t.ok(
    read.fragments.some((f) => (f.millisBehindNow ?? 0) >= 3_600_000),
    'later fragments were rendered after the pause',
  );
});
