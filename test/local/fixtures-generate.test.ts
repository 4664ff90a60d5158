// The synthetic clip generator (src/local/fixtures): exact frame and keyframe counts, the usual Matroska layout,
// B-frames, audio, speed.

import { createHash } from 'node:crypto';
import { Demuxer } from 'node-av/api';
import { AV_CODEC_ID_AAC } from 'node-av/constants';
import t from 'tap';
import { KvsInferError } from '../../src/errors.js';
import { type FixtureCodec, generateFixture, SyntheticVideo } from '../../src/local/fixtures/index.js';
import { libavCounts } from '../helpers/reference-reader.js';

interface VideoPacket {
  pts: bigint;
  key: boolean;
  data: Buffer;
}

async function readVideo(
  path: string,
): Promise<{ codecPrivate: Buffer | null; packets: VideoPacket[]; audio: boolean }> {
  const demuxer = await Demuxer.open(path);
  try {
    const video = demuxer.video()!;
    const packets: VideoPacket[] = [];
    for (const packet of demuxer.packetsSync(video.index)) {
      if (!packet) break;
      packets.push({ pts: packet.pts, key: packet.isKeyframe, data: packet.data! });
      packet.free();
    }
    return {
      codecPrivate: video.codecpar.extradata,
      packets,
      audio: demuxer.audio()?.codecpar.codecId === AV_CODEC_ID_AAC,
    };
  } finally {
    await demuxer.close();
  }
}

/** NAL unit types of a block, walking its 4-byte big-endian length prefixes; null if they do not add up. */
function nalTypes(data: Buffer, codec: FixtureCodec): number[] | null {
  const types: number[] = [];
  let at = 0;
  while (at + 4 <= data.length) {
    const length = data.readUInt32BE(at);
    types.push(codec === 'h264' ? data[at + 4]! & 0x1f : (data[at + 4]! >> 1) & 0x3f);
    at += 4 + length;
  }
  return at === data.length ? types : null;
}

for (const [codec, idr] of [
  ['h264', [5]],
  ['hevc', [19, 20]],
] as const) {
  t.test(`${codec}: keyframes exactly every fps * gopSeconds frames, in the usual Matroska layout`, async (t) => {
    // Act
    const info = await generateFixture({
      path: `${t.testdir()}/clip.mkv`,
      codec,
      width: 320,
      height: 240,
      fps: 30,
      gopSeconds: 0.5,
      durationSeconds: 2,
    });

    // Assess
    t.match(info, { codec, width: 320, height: 240, fps: 30, frames: 60, keyframes: 4 }, '60 frames, 4 keyframes');
    t.same(await libavCounts(info.path), { frames: 60, keyframes: 4 }, 'libavformat counts the same');
    const { codecPrivate, packets } = await readVideo(info.path);
    t.equal(
      codecPrivate?.[0],
      1,
      `CodecPrivate is an ${codec === 'h264' ? 'avcC' : 'hvcC'} record (version 1), not Annex B`,
    );
    t.same(
      packets.flatMap((p, i) => (p.key ? [i] : [])),
      [0, 15, 30, 45],
      'keyframes at 0, 15, 30, 45 in decode order',
    );
    t.ok(
      packets.every((p) => nalTypes(p.data, codec) !== null),
      'every block is length-prefixed NAL units, exactly',
    );
    t.ok(
      packets
        .filter((p) => p.key)
        .every((p) => nalTypes(p.data, codec)!.some((type) => (idr as readonly number[]).includes(type))),
      'keyframes are IDR',
    );
    const pts = packets.map((p) => p.pts);
    t.ok(
      pts.some((value, i) => i > 0 && value < pts[i - 1]!),
      'timestamps go backwards in decode order: B-frames',
    );
  });
}

t.test('audio: true adds an AAC track beside the video; videoless: true writes audio alone', async (t) => {
  // Prepare
  const dir = t.testdir();

  // Act
  const both = await generateFixture({
    path: `${dir}/both.mkv`,
    width: 160,
    height: 120,
    durationSeconds: 1,
    audio: true,
  });
  const audioOnly = await generateFixture({
    path: `${dir}/audio.mkv`,
    width: 160,
    height: 120,
    durationSeconds: 1,
    videoless: true,
  });

  // Assess
  t.match(both, { frames: 30, keyframes: 1 }, '30 frames, 1 keyframe');
  t.equal((await readVideo(both.path)).audio, true, 'an AAC track');
  t.same(
    audioOnly,
    { path: audioOnly.path, codec: null, codecId: null, width: 0, height: 0, frames: 0, keyframes: 0, fps: 30 },
    'no video reported',
  );
  const demuxer = await Demuxer.open(audioOnly.path);
  t.equal(demuxer.video(), undefined, 'no video track');
  t.equal(demuxer.audio()?.codecpar.codecId, AV_CODEC_ID_AAC, 'an AAC track');
  await demuxer.close();
});

t.test('the synthetic picture is the same for a seed, and changes with the frame and the seed', async (t) => {
  // Act
  const a = new SyntheticVideo(64, 48, 7);
  const b = new SyntheticVideo(64, 48, 7);
  const c = new SyntheticVideo(64, 48, 8);
  const a0 = Buffer.from(a.picture(0));
  const a1 = Buffer.from(a.picture(1));

  // Assess
  t.same(Buffer.from(b.picture(0)), a0, 'same seed, same frame');
  t.notSame(a1, a0, 'next frame differs');
  t.notSame(Buffer.from(c.picture(0)), a0, 'other seed differs');
  t.equal(a0.length, (64 * 48 * 3) / 2, 'one yuv420p picture');
});

t.test('the same options give the same bitstream', async (t) => {
  // Prepare
  const dir = t.testdir();
  const digest = async (name: string) => {
    const info = await generateFixture({
      path: `${dir}/${name}.mkv`,
      width: 320,
      height: 240,
      durationSeconds: 1,
      audio: true,
    });
    const hash = createHash('sha1');
    for (const packet of (await readVideo(info.path)).packets) hash.update(packet.data);
    return hash.digest('hex');
  };

  // Act
  const [first, second] = [await digest('first'), await digest('second')];

  // Assess
  t.equal(second, first, 'identical video packets');
});

t.test('bad options are CLIP_INVALID_OPTIONS', async (t) => {
  const dir = t.testdir();
  for (const options of [
    { width: 321, height: 240, durationSeconds: 1 },
    { width: 320, height: 0, durationSeconds: 1 },
    { width: 320, height: 240, durationSeconds: 0 },
    { width: 320, height: 240, durationSeconds: 1, bitrate: 'fast' },
  ]) {
    const error = await generateFixture({ path: `${dir}/bad.mkv`, ...options }).catch((e: unknown) => e);
    t.ok(error instanceof KvsInferError && error.code === 'CLIP_INVALID_OPTIONS', JSON.stringify(options));
  }
});

t.test('a 2-second 320x240 clip is generated well within a second', async (t) => {
  // Act
  const started = performance.now();
  await generateFixture({ path: `${t.testdir()}/quick.mkv`, width: 320, height: 240, durationSeconds: 2 });
  const ms = performance.now() - started;

  // Assess
  t.ok(ms < 1000, `${ms.toFixed(0)} ms`);
});
