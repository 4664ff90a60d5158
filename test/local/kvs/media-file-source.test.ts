// FileSource: generated H.264 / H.265 Matroska and MP4 files cut into keyframe fragments, and replayed.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AV_LOG_QUIET, AVMEDIA_TYPE_VIDEO } from 'node-av/constants';
import { FormatContext, Log, Packet } from 'node-av/lib';
import t from 'tap';
import { type FixtureInfo, generateFixture } from '../../../src/local/fixtures/generate.js';
import { FileSource } from '../../../src/local/kvs/file-source.js';
import { FragmentLog } from '../../../src/local/kvs/fragment-log.js';
import { renderGetMediaFragment } from '../../../src/local/kvs/fragment-renderer.js';
import { errorsOf, fragmentsOf, framesOf, parseChunks } from '../../helpers/parse.js';

Log.setLevel(AV_LOG_QUIET);

/** Copies every stream into an MP4 (avcC/hvcC, length-prefixed samples), as a camera's recording would be. */
async function remuxToMp4(from: string, to: string): Promise<void> {
  const input = new FormatContext();
  const output = new FormatContext();
  const packet = new Packet();
  packet.alloc();
  try {
    if ((await input.openInput(from)) < 0) throw new Error(`cannot open ${from}`);
    await input.findStreamInfo();
    if (output.allocOutputContext2(null, 'mp4', to) < 0) throw new Error('no mp4 muxer');
    const streams = input.streams.map((s) => {
      const out = output.newStream(null);
      s.codecpar.copy(out.codecpar);
      out.codecpar.codecTag = 0;
      out.timeBase = s.timeBase;
      return out;
    });
    if (output.openOutputSync() < 0 || output.writeHeaderSync() < 0) throw new Error('cannot write mp4 header');
    while ((await input.readFrame(packet)) >= 0) {
      const i = packet.streamIndex;
      packet.rescaleTs(input.streams[i]!.timeBase, streams[i]!.timeBase);
      packet.pos = -1n;
      if (output.interleavedWriteFrameSync(packet) < 0) throw new Error('cannot write an mp4 packet');
      packet.unref();
    }
    output.writeTrailerSync();
  } finally {
    packet.free();
    if (output.pb) output.closeOutputSync();
    output.freeContext();
    await input.closeInput();
  }
}

/** Video packet digests in decode order, as libavformat reads them: the reference for what the blocks must carry. */
async function packetDigests(path: string): Promise<string[]> {
  const ctx = new FormatContext();
  const packet = new Packet();
  packet.alloc();
  const digests: string[] = [];
  try {
    await ctx.openInput(path);
    await ctx.findStreamInfo();
    const video = ctx.streams.find((s) => s.codecpar.codecType === AVMEDIA_TYPE_VIDEO)!;
    while ((await ctx.readFrame(packet)) >= 0) {
      if (packet.streamIndex === video.index) digests.push(createHash('sha1').update(packet.data!).digest('hex'));
      packet.unref();
    }
  } finally {
    packet.free();
    await ctx.closeInput();
  }
  return digests;
}

const cases = [
  { name: 'H.264 Matroska with audio', codec: 'h264', container: 'mkv', audio: true },
  { name: 'H.265 Matroska', codec: 'hevc', container: 'mkv', audio: false },
  { name: 'H.264 MP4 with audio', codec: 'h264', container: 'mp4', audio: true },
  { name: 'H.265 MP4', codec: 'hevc', container: 'mp4', audio: false },
] as const;

for (const c of cases) {
  t.test(`${c.name}: one fragment per keyframe, every video frame in decode order, audio skipped`, async (t) => {
    // Prepare
    const dir = t.testdir();
    const mkv = join(dir, 'clip.mkv');
    const info: FixtureInfo = await generateFixture({
      path: mkv,
      codec: c.codec,
      width: 320,
      height: 240,
      fps: 30,
      gopSeconds: 1,
      durationSeconds: 3.5,
      audio: c.audio,
    });
    const path = c.container === 'mp4' ? join(dir, 'clip.mp4') : mkv;
    if (c.container === 'mp4') {
      await remuxToMp4(mkv, path);
      t.equal((await readFile(path)).subarray(4, 8).toString(), 'ftyp', 'a real MP4');
    }

    // Act
    const source = await FileSource.open(path);

    // Assess
    t.equal(info.keyframes, 4, 'the generator wrote 4 keyframes');
    t.equal(source.fragments.length, info.keyframes, 'one fragment per keyframe');
    t.equal(source.frames, info.frames, 'every frame');
    t.equal(source.keyframes, info.keyframes);
    t.same(
      source.fragments.map((f) => [f.offsetMs, f.durationMs, f.frames, f.keyframes]),
      [
        [0, 1000, 30, 1],
        [1000, 1000, 30, 1],
        [2000, 1000, 30, 1],
        [3000, 500, 15, 1],
      ],
    );
    t.equal(source.durationMs, 3500);
    t.same(
      source.tracks.map((tr) => ({
        number: tr.number,
        type: tr.type,
        codecId: tr.codecId,
        width: tr.width,
        height: tr.height,
      })),
      [{ number: 1, type: 1, codecId: info.codecId, width: 320, height: 240 }],
    );
    t.equal(source.tracks[0]!.codecPrivate![0], 1, 'avcC / hvcC decoder configuration');

    // The blocks, rendered as GetMedia would, parse back to the very packets libavformat reads, in order.
    const log = new FragmentLog({ clock: () => 1_700_000_000_000 });
    const stored = source.fragments.map((_, i) => log.append(source.input(i, 0, 1_700_000_000_000)));
    const events = parseChunks(Buffer.concat(stored.flatMap((f) => renderGetMediaFragment(f, 0))));
    const frames = framesOf(events);
    t.same(errorsOf(events), []);
    t.same(
      frames.map((f) => createHash('sha1').update(f.data).digest('hex')),
      await packetDigests(path),
      'frame bytes, decode order',
    );
    t.same(
      fragmentsOf(events).map((f) => [f.frames, f.keyframes]),
      source.fragments.map((f) => [f.frames, f.keyframes]),
    );
    t.ok(
      frames.every((f, i) => f.keyframe === (i % 30 === 0)),
      'keyframes exactly at each fragment start',
    );
    const keyTimes = frames.filter((f) => f.keyframe).map((f) => f.timecodeMs);
    t.same(keyTimes, [0, 1000, 2000, 3000], 'keyframe timecodes: cluster timecode = media offset');
    t.ok(
      frames.every((f) => Number.isInteger(f.timecodeMs) && f.timecodeMs >= 0 && f.timecodeMs < 3500),
      'integer millisecond timecodes within the clip',
    );
  });
}

t.test('files FileSource cannot serve are refused with a code naming the file', async (t) => {
  // Prepare
  const dir = t.testdir({ 'garbage.mkv': 'this is not a video file at all', 'empty.mp4': '' });
  const audioOnly = join(dir, 'audio.mkv');
  await generateFixture({ path: audioOnly, width: 0, height: 0, durationSeconds: 0.5, videoless: true });
  const missing = join(dir, 'missing.mkv');

  // Act / Assess
  await t.rejects(FileSource.open(join(dir, 'garbage.mkv')), {
    code: 'FILE_SOURCE_UNREADABLE',
    message: /garbage\.mkv/,
  });
  await t.rejects(FileSource.open(join(dir, 'empty.mp4')), { code: 'FILE_SOURCE_UNREADABLE', message: /empty\.mp4/ });
  await t.rejects(FileSource.open(missing), { code: 'FILE_SOURCE_UNREADABLE', path: missing });
  await t.rejects(FileSource.open(audioOnly), {
    code: 'FILE_SOURCE_UNSUPPORTED',
    message: /audio\.mkv: has no video track/,
  });
});

t.test(
  'replay at rate max appends every fragment in order, with producer timestamps and cluster timecodes from the media ' +
    'offsets',
  async (t) => {
    // Prepare
    const path = join(t.testdir(), 'clip.mkv');
    await generateFixture({ path, width: 160, height: 120, fps: 10, gopSeconds: 0.5, durationSeconds: 2 });
    const source = await FileSource.open(path);
    const log = new FragmentLog({ clock: () => 5_000 });

    // Act
    await source.replay(log, { rate: 'max', startProducerTimestamp: 1_000_000 });

    // Assess
    const stored = log.list({ type: 'SERVER_TIMESTAMP', start: 0, end: Infinity });
    t.equal(stored.length, 4);
    t.same(
      stored.map((f) => f.producerTimestamp),
      [1_000_000, 1_000_500, 1_001_000, 1_001_500],
    );
    t.same(
      stored.map((f) => f.clusterTimecode),
      [0, 500, 1000, 1500],
    );
    t.ok(
      stored.every((f, i) => f.blocks === source.fragments[i]!.blocks),
      'media shared, not copied',
    );
  },
);

t.test(
  'replay at rate 4 with a fake clock appends each fragment when its media time has elapsed, and keeps looping until ' +
    'aborted',
  async (t) => {
    // Prepare
    const path = join(t.testdir(), 'clip.mkv');
    await generateFixture({ path, width: 160, height: 120, fps: 10, gopSeconds: 1, durationSeconds: 3 });
    const source = await FileSource.open(path);
    let now = 10_000;
    const clock = (): number => now;
    const log = new FragmentLog({ clock });
    const controller = new AbortController();
    const appendedAt: number[] = [];
    const sleep = async (ms: number): Promise<void> => {
      now += ms;
      // Seven fragments: two loops and a bit.
      if (log.count >= 7) controller.abort();
    };
    const originalAppend = log.append.bind(log);
    log.append = (input) => {
      appendedAt.push(now);
      return originalAppend(input);
    };

    // Act
    await source.replay(log, { rate: 4, loop: true, clock, sleep, signal: controller.signal });

    // Assess
    t.same(appendedAt, [10_000, 10_250, 10_500, 10_750, 11_000, 11_250, 11_500], 'every 1000 media ms / 4');
    const stored = log.list({ type: 'PRODUCER_TIMESTAMP', start: 0, end: Infinity });
    t.same(
      stored.map((f) => f.producerTimestamp - 10_000),
      [0, 1000, 2000, 3000, 4000, 5000, 6000],
      'timestamps keep increasing across loops',
    );
    t.same(
      stored.map((f) => f.clusterTimecode),
      [0, 1000, 2000, 3000, 4000, 5000, 6000],
    );
    t.equal(stored[3]!.blocks, stored[0]!.blocks, 'a loop reuses the same blocks');
  },
);

t.test('replay at a high rate on the real clock finishes on time and stops when the log is closed', async (t) => {
  // Prepare
  const path = join(t.testdir(), 'clip.mkv');
  await generateFixture({ path, width: 160, height: 120, fps: 10, gopSeconds: 1, durationSeconds: 3 });
  const source = await FileSource.open(path);
  const log = new FragmentLog();
  const loopLog = new FragmentLog();

  // Act
  const started = performance.now();
  await source.replay(log, { rate: 50 });
  const elapsed = performance.now() - started;
  const looping = source.replay(loopLog, { rate: 100, loop: true });
  await new Promise((resolve) => setTimeout(resolve, 50));
  loopLog.close();
  await looping;

  // Assess
  t.equal(log.count, 3);
  t.ok(elapsed >= 39 && elapsed < 1000, `3 fragments at 50x: the last due at 40 ms, took ${elapsed.toFixed(1)} ms`);
  t.ok(loopLog.closed, 'a looping replay ends when its stream is deleted');
});
