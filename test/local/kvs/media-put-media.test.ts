// PutMedia ingest: a producer's MKV in, fragments in the log and KVS acknowledgements out; bad MKV gives an ERROR ack.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { generateFixture } from '../../../src/local/fixtures/generate.js';
import { FragmentLog } from '../../../src/local/kvs/fragment-log.js';
import { renderGetMediaFragment } from '../../../src/local/kvs/fragment-renderer.js';
import { ingestPutMedia, type PutMediaAck } from '../../../src/local/kvs/put-media.js';
import { errorsOf, framesOf, parseChunks } from '../../helpers/parse.js';
import { producerMkv } from './api-helpers.js';

async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function collect(acks: AsyncIterable<PutMediaAck>): Promise<PutMediaAck[]> {
  const out: PutMediaAck[] = [];
  for await (const ack of acks) out.push(ack);
  return out;
}

const digest = (data: Uint8Array) => createHash('sha1').update(data).digest('hex');

let clip: Buffer;
t.before(async () => {
  const path = join(t.testdirName, 'clip.mkv');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(t.testdirName, { recursive: true });
  await generateFixture({
    path,
    codec: 'h264',
    width: 320,
    height: 240,
    fps: 30,
    gopSeconds: 1,
    durationSeconds: 3.5,
    audio: true,
  });
  clip = await readFile(path);
});

t.test(
  'a producer MKV (RELATIVE timecodes) becomes one fragment per keyframe cluster, acked BUFFERING, RECEIVED, ' +
    'PERSISTED in order',
  async (t) => {
    // Prepare
    const log = new FragmentLog({ clock: () => 1_700_000_009_000 });

    // Act
    const acks = await collect(
      ingestPutMedia(chunks(clip, 4096), log, { timecodeType: 'RELATIVE', producerStartTimestamp: 1_700_000_000_000 }),
    );

    // Assess
    const stored = log.list({ type: 'SERVER_TIMESTAMP', start: 0, end: Infinity });
    t.same(
      stored.map((f) => [f.frames, f.keyframes]),
      [
        [30, 1],
        [30, 1],
        [30, 1],
        [15, 1],
      ],
    );
    t.same(
      stored.map((f) => f.producerTimestamp),
      [1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_000, 1_700_000_003_000],
    );
    t.same(
      stored.map((f) => f.clusterTimecode),
      [0, 1000, 2000, 3000],
      "the producer's own timecodes kept for GetMedia",
    );
    t.same(
      stored.map((f) => f.durationMs),
      [1000, 1000, 1000, 500],
      'the last one: its frames and one more interval',
    );
    t.same(
      stored[0]!.tracks.map((tr) => [tr.number, tr.codecId, tr.width, tr.height]),
      [[1, 'V_MPEG4/ISO/AVC', 320, 240]],
      'video only',
    );
    const expected = stored.flatMap((f, i) => [
      { EventType: 'BUFFERING', FragmentTimecode: i * 1000 },
      { EventType: 'RECEIVED', FragmentTimecode: i * 1000, FragmentNumber: f.fragmentNumber },
      { EventType: 'PERSISTED', FragmentTimecode: i * 1000, FragmentNumber: f.fragmentNumber },
    ]);
    // BUFFERING of the next fragment comes once it starts, i.e. before the previous one is complete.
    t.same(
      acks.map((a) => a.EventType),
      ['BUFFERING', ...Array(3).fill(['RECEIVED', 'PERSISTED', 'BUFFERING']).flat(), 'RECEIVED', 'PERSISTED'],
    );
    t.same(
      [...acks].sort((a, b) => a.FragmentTimecode - b.FragmentTimecode || a.EventType.localeCompare(b.EventType)),
      [...expected].sort((a, b) => a.FragmentTimecode - b.FragmentTimecode || a.EventType.localeCompare(b.EventType)),
    );

    // What GetMedia serves is exactly the video the producer sent.
    const original = framesOf(parseChunks(clip));
    const served = framesOf(parseChunks(Buffer.concat(stored.flatMap((f) => renderGetMediaFragment(f, 0)))));
    t.same(
      served.map((f) => [f.timecodeMs, f.keyframe, digest(f.data)]),
      original.map((f) => [f.timecodeMs, f.keyframe, digest(f.data)]),
    );
  },
);

t.test('ABSOLUTE timecodes are the producer timestamps; five bytes at a time works too', async (t) => {
  // Prepare
  const log = new FragmentLog({ clock: () => 5 });

  // Act
  const acks = await collect(ingestPutMedia(chunks(clip, 5), log, { timecodeType: 'ABSOLUTE' }));

  // Assess
  t.equal(acks.filter((a) => a.EventType === 'PERSISTED').length, 4);
  t.same(
    log.list({ type: 'PRODUCER_TIMESTAMP', start: 0, end: Infinity }).map((f) => f.producerTimestamp),
    [0, 1000, 2000, 3000],
  );
});

t.test('garbage is answered with one ERROR ack, ErrorId 4006, and nothing reaches the log', async (t) => {
  // Prepare
  const log = new FragmentLog();
  const garbage = Buffer.from('GET / HTTP/1.1 this is not Matroska at all'.repeat(100));

  // Act
  const acks = await collect(ingestPutMedia(chunks(garbage, 512), log, { timecodeType: 'RELATIVE' }));

  // Assess
  t.same(acks, [{ EventType: 'ERROR', FragmentTimecode: 0, ErrorCode: 'INVALID_MKV_DATA', ErrorId: 4006 }]);
  t.equal(log.count, 0);
});

t.test('a stream cut inside a fragment keeps the complete fragments and ends with ERROR 4006', async (t) => {
  // Prepare
  const log = new FragmentLog();
  const cut = clip.subarray(0, Math.floor(clip.length * 0.6) + 3);

  // Act
  const acks = await collect(
    ingestPutMedia(chunks(cut, 10_000), log, { timecodeType: 'RELATIVE', producerStartTimestamp: 0 }),
  );

  // Assess
  const persisted = acks.filter((a) => a.EventType === 'PERSISTED');
  t.ok(persisted.length >= 1 && persisted.length < 4, `${persisted.length} fragments complete before the cut`);
  t.equal(log.count, persisted.length);
  const fragmentTimecode = persisted.length * 1000;
  t.same(acks.at(-1), {
    EventType: 'ERROR',
    FragmentTimecode: fragmentTimecode,
    ErrorCode: 'INVALID_MKV_DATA',
    ErrorId: 4006,
  });
  t.same(
    errorsOf(
      parseChunks(
        Buffer.concat(
          log.list({ type: 'SERVER_TIMESTAMP', start: 0, end: Infinity }).flatMap((f) => renderGetMediaFragment(f, 0)),
        ),
      ),
    ),
    [],
  );
});

t.test('timecodes that go back (the same clip sent twice) are refused with ERROR 4004', async (t) => {
  // Prepare
  const log = new FragmentLog();

  // Act
  const acks = await collect(
    ingestPutMedia(chunks(Buffer.concat([clip, clip]), 65_536), log, {
      timecodeType: 'RELATIVE',
      producerStartTimestamp: 0,
    }),
  );

  // Assess
  t.same(acks.at(-1), {
    EventType: 'ERROR',
    FragmentTimecode: 0,
    ErrorCode: 'FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS',
    ErrorId: 4004,
  });
  t.equal(log.count, 4, 'the first pass is kept');
});

t.test('a deleted stream ends ingest with ERROR 4008', async (t) => {
  // Prepare
  const log = new FragmentLog();
  log.close();

  // Act
  const acks = await collect(
    ingestPutMedia(chunks(clip, 65_536), log, { timecodeType: 'RELATIVE', producerStartTimestamp: 0 }),
  );

  // Assess
  t.same(acks.at(-1), { EventType: 'ERROR', FragmentTimecode: 0, ErrorCode: 'STREAM_NOT_ACTIVE', ErrorId: 4008 });
});

t.test('a body that fails mid-way ends with ERROR 4000 after the acks of what was complete', async (t) => {
  // Prepare
  const log = new FragmentLog();
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield clip.subarray(0, Math.floor(clip.length * 0.7));
    throw new Error('socket hang up');
  }

  // Act
  const acks = await collect(ingestPutMedia(broken(), log, { timecodeType: 'RELATIVE', producerStartTimestamp: 0 }));

  // Assess
  t.match(acks.at(-1), { EventType: 'ERROR', ErrorCode: 'STREAM_READ_ERROR', ErrorId: 4000 });
  t.equal(acks.filter((a) => a.EventType === 'PERSISTED').length, log.count);
  t.ok(log.count >= 2);
});

t.test(
  'a fragment whose frames span more than 10 s is refused with ERROR 4002; one spanning exactly 10 s is kept',
  async (t) => {
    // Prepare: the first fragment's frames span 10 s, the second's 10.001 s.
    const log = new FragmentLog();
    const mkv = producerMkv(1, [
      { timecode: 0, offsets: [0, 5000, 10_000] },
      { timecode: 11_000, offsets: [0, 5000, 10_001] },
    ]);

    // Act
    const acks = await collect(
      ingestPutMedia(chunks(mkv, 4096), log, { timecodeType: 'RELATIVE', producerStartTimestamp: 0 }),
    );

    // Assess
    t.same(
      acks.map((a) => [a.EventType, a.FragmentTimecode]),
      [
        ['BUFFERING', 0],
        ['RECEIVED', 0],
        ['PERSISTED', 0],
        ['BUFFERING', 11_000],
        ['ERROR', 11_000],
      ],
    );
    t.same(acks.at(-1), {
      EventType: 'ERROR',
      FragmentTimecode: 11_000,
      ErrorCode: 'MAX_FRAGMENT_DURATION_REACHED',
      ErrorId: 4002,
    });
    t.same(
      log.list({ type: 'SERVER_TIMESTAMP', start: 0, end: Infinity }).map((f) => f.frames),
      [3],
      'only the first fragment is kept',
    );
  },
);

t.test('more than 3 tracks is refused with ERROR 4012 before any fragment', async (t) => {
  // Prepare
  const log = new FragmentLog();

  // Act
  const acks = await collect(
    ingestPutMedia(chunks(producerMkv(4, [{ timecode: 0, offsets: [0, 40] }]), 4096), log, {
      timecodeType: 'RELATIVE',
    }),
  );

  // Assess
  t.same(acks, [
    { EventType: 'ERROR', FragmentTimecode: 0, ErrorCode: 'MORE_THAN_ALLOWED_TRACKS_FOUND', ErrorId: 4012 },
  ]);
  t.equal(log.count, 0);
});

t.test('a stream that archives nothing gets RECEIVED but no PERSISTED acks', async (t) => {
  // Prepare
  const log = new FragmentLog();

  // Act
  const acks = await collect(
    ingestPutMedia(chunks(clip, 65_536), log, {
      timecodeType: 'RELATIVE',
      producerStartTimestamp: 0,
      persisted: false,
    }),
  );

  // Assess
  t.same(
    acks.map((a) => a.EventType),
    ['BUFFERING', ...Array(3).fill(['RECEIVED', 'BUFFERING']).flat(), 'RECEIVED'],
  );
  t.equal(log.count, 4, 'the fragments are in the log all the same, for GetMedia');
});
