// Sampling by time: one I-frame per interval of producer time on a grid anchored at the epoch, with GOPs shorter
// and longer than the interval, resumed from a checkpoint's state, on synthetic frames and on real clips as the
// local KVS server serves them.

import t from 'tap';
import { cachedFixture } from '../../src/local/fixtures/index.js';
import { FileSource, FragmentLog, renderGetMediaFragment } from '../../src/local/kvs/index.js';
import {
  createSampler,
  type Frame,
  frameTime,
  IFrameSampler,
  readMkv,
  type SampleableFrame,
  type SamplerState,
  TimeSampler,
} from '../../src/media/index.js';
import { namePhase } from '../../src/name-phase.js';
import { kvsFragment, simpleBlock } from '../helpers/ebml-builder.js';

/** On the grid of every interval below (a multiple of 150 s), so that expected times read as offsets from it. */
const T0 = 11_333_334 * 150_000;
/** The first I-frame's offset from T0: off the grid, as a camera's clock is. */
const FIRST = 300;

interface Case {
  gopMs: number;
  /** The clip's length: I-frames at FIRST, FIRST + gopMs, ... before it. */
  spanMs: number;
  intervals: Record<number, number[]>;
}

/** Per GOP and interval, the producer times (ms after T0) of the I-frames sampled. */
const CASES: Case[] = [
  {
    gopMs: 500,
    spanMs: 6000,
    intervals: {
      // Shorter than the GOP: every I-frame.
      250: [300, 800, 1300, 1800, 2300, 2800, 3300, 3800, 4300, 4800, 5300, 5800],
      1000: [300, 1300, 2300, 3300, 4300, 5300],
      // Not a multiple of the GOP: the first I-frame at or after 1.5, 3.0, 4.5 s.
      1500: [300, 1800, 3300, 4800],
    },
  },
  {
    gopMs: 2000,
    spanMs: 20_000,
    intervals: {
      // Each I-frame covers two ticks and is sampled once.
      1000: [300, 2300, 4300, 6300, 8300, 10_300, 12_300, 14_300, 16_300, 18_300],
      // Ticks at 3, 6, 9, 12, 15, 18 s: one sample each, 2 or 4 s apart as the I-frames fall.
      3000: [300, 4300, 6300, 10_300, 12_300, 16_300, 18_300],
      5000: [300, 6300, 10_300, 16_300],
    },
  },
  {
    gopMs: 10_000,
    spanMs: 70_000,
    intervals: {
      1000: [300, 10_300, 20_300, 30_300, 40_300, 50_300, 60_300],
      25000: [300, 30_300, 50_300],
      30000: [300, 30_300, 60_300],
    },
  },
];

/**
 * A stream cut as KVS producers cut it, one fragment per GOP: an I-frame at the fragment's start and a P-frame half
 * way, the cluster timecodes relative to the stream's start and the producer timestamps absolute.
 */
function synthetic(gopMs: number, spanMs: number): SampleableFrame[] {
  const frames: SampleableFrame[] = [];
  for (let media = 0; FIRST + media < spanMs; media += gopMs) {
    const fragment = { producerTimestamp: T0 + FIRST + media, serverTimestamp: T0 + FIRST + media + 700 };
    frames.push({ fragment, keyframe: true, timecodeMs: media, clusterTimecodeMs: media });
    frames.push({ fragment, keyframe: false, timecodeMs: media + gopMs / 2, clusterTimecodeMs: media });
  }
  return frames;
}

/** The bytes as a GetMedia body delivering them in one chunk. */
async function* once(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** The producer times (ms after T0) and keyframe indexes of the frames `sampler` samples. */
function run(sampler: { sample(frame: SampleableFrame): number | null }, frames: SampleableFrame[]) {
  const times: number[] = [];
  const indexes: number[] = [];
  for (const frame of frames) {
    const index = sampler.sample(frame);
    if (index === null) continue;
    times.push(frameTime(frame) - T0);
    indexes.push(index);
  }
  return { times, indexes };
}

for (const { gopMs, spanMs, intervals } of CASES) {
  t.test(`GOP ${gopMs} ms: one I-frame per tick, the first at or after it`, async (t) => {
    for (const [interval, expected] of Object.entries(intervals)) {
      // Prepare
      const sampler = new TimeSampler(Number(interval));
      const frames = synthetic(gopMs, spanMs);

      // Act
      const { times, indexes } = run(sampler, frames);

      // Assess
      t.same(times, expected, `interval ${interval} ms`);
      t.same(
        indexes,
        expected.map((at) => (at - FIRST) / gopMs),
        `interval ${interval} ms: each sample's index among the I-frames`,
      );
      t.equal(sampler.state.keyframesSeen, frames.length / 2, `interval ${interval} ms: every I-frame counted`);
    }
  });

  t.test(`GOP ${gopMs} ms: resumed from the state after any fragment, the same samples as in one run`, async (t) => {
    for (const interval of Object.keys(intervals).map(Number)) {
      // Prepare
      const frames = synthetic(gopMs, spanMs);
      const whole = run(new TimeSampler(interval), frames);

      for (let cut = 0; cut <= frames.length; cut += 2) {
        // Act: the first owner's run up to a fragment's end, its state through a checkpoint's JSON, the next owner's.
        const first = createSampler({ inferenceInterval: 6, samplingIntervalMillis: interval });
        const before = run(first, frames.slice(0, cut));
        const stored = JSON.parse(JSON.stringify(first.state)) as SamplerState;
        const next = createSampler({ inferenceInterval: 6, samplingIntervalMillis: interval }, stored);
        const after = run(next, frames.slice(cut));

        // Assess
        t.same(
          { times: [...before.times, ...after.times], indexes: [...before.indexes, ...after.indexes] },
          whole,
          `interval ${interval} ms, failover after ${cut / 2} fragment(s)`,
        );
      }
    }
  });
}

t.test(
  'GOPs of 0.5, 2 and 10 s as real clips served by the local KVS server, parsed from GetMedia bytes',
  async (t) => {
    for (const { gopMs, spanMs, intervals } of CASES) {
      // Prepare: the clip's fragments stored with producer timestamps from T0 + FIRST, and GetMedia's bytes of them.
      const file = await cachedFixture(`64x48-gop${gopMs}ms-${spanMs / 1000}s-10fps.mkv`, {
        width: 64,
        height: 48,
        fps: 10,
        gopSeconds: gopMs / 1000,
        durationSeconds: spanMs / 1000,
        bitrate: '50k',
        seed: 5,
      });
      const source = await FileSource.open(file);
      const log = new FragmentLog();
      const stored = source.fragments.map((_, i) => log.append(source.input(i, 0, T0 + FIRST)));
      const bytes = Buffer.concat(stored.flatMap((f) => renderGetMediaFragment(f, 0)));
      const frames: Frame[] = [];
      for await (const event of readMkv(once(bytes))) if (event.type === 'frame') frames.push(event.frame);

      for (const [interval, expected] of Object.entries(intervals)) {
        // Act
        const { times } = run(new TimeSampler(Number(interval)), frames);

        // Assess
        t.same(times, expected, `GOP ${gopMs} ms, interval ${interval} ms`);
      }
    }
  },
);

t.test('a frame is dated from its fragment start: I-frames inside a fragment, no producer timestamp', async (t) => {
  // Prepare: fragments of two GOPs each (I-frames at +0 and +1000 ms into a cluster at media time 4000 ms).
  const producer = (at: number) => ((T0 + at) / 1000).toFixed(3);
  const blocks = [simpleBlock(1, 0, true, Buffer.from([1])), simpleBlock(1, 1000, true, Buffer.from([2]))];
  const withProducer = kvsFragment({
    fragmentNumber: '1',
    producerTimestamp: producer(4000),
    serverTimestamp: producer(9000),
    clusterTimecode: 4000,
    blocks,
  });
  const serverOnly = kvsFragment({
    fragmentNumber: '2',
    serverTimestamp: producer(9000),
    clusterTimecode: 4000,
    blocks,
  });
  const plain = kvsFragment({ fragmentNumber: '3', clusterTimecode: 4000, blocks });
  const framesOf = async (bytes: Buffer) => {
    const frames: Frame[] = [];
    for await (const event of readMkv(once(bytes))) if (event.type === 'frame') frames.push(event.frame);
    return frames;
  };

  // Act
  const [a, b, c] = await Promise.all([withProducer, serverOnly, plain].map(framesOf));

  // Assess
  t.same(
    a!.map((f) => frameTime(f) - T0),
    [4000, 5000],
    'producer timestamp + offset into the fragment',
  );
  t.same(
    b!.map((f) => frameTime(f) - T0),
    [9000, 10_000],
    'no producer timestamp: the server timestamp + offset',
  );
  t.same(
    c!.map((f) => frameTime(f)),
    [4000, 5000],
    'neither (a plain Matroska file): the frame timecode',
  );
  const sampler = new TimeSampler(1000);
  t.same(
    a!.map((f) => sampler.sample(f)),
    [0, 1],
    'the second I-frame of a fragment is on the next tick, and sampled',
  );
});

t.test('a gap in the stream gives one sample, not a burst; a clock that goes back starts over', async (t) => {
  // Prepare: I-frames every 500 ms, then nothing for a minute, then a camera whose clock was reset an hour back.
  const at = (ms: number): SampleableFrame => ({
    fragment: { producerTimestamp: T0 + ms, serverTimestamp: null },
    keyframe: true,
    timecodeMs: 0,
    clusterTimecodeMs: 0,
  });
  const times = [300, 800, 1300, 61_100, 61_600, 62_100, 62_400, 62_900, 63_000, -3_600_000, -3_599_500, -3_599_000];
  const sampler = new TimeSampler(1000);

  // Act
  const sampled = run(sampler, times.map(at)).times;

  // Assess
  t.same(sampled, [300, 1300, 61_100, 62_100, 63_000, -3_600_000, -3_599_000]);
  t.same(sampler.state, { keyframesSeen: times.length, nextSampleAt: T0 - 3_598_000 });
});

t.test('wouldSample answers as sample will, without counting; non-I-frames are never sampled', async (t) => {
  // Prepare
  const sampler = new TimeSampler(1000, { keyframesSeen: 41, nextSampleAt: T0 + 1000 });
  const frame = (ms: number, keyframe = true): SampleableFrame => ({
    fragment: { producerTimestamp: T0 + ms, serverTimestamp: null },
    keyframe,
    timecodeMs: 0,
    clusterTimecodeMs: 0,
  });

  // Act / Assess
  t.equal(sampler.wouldSample(frame(999)), false);
  t.equal(sampler.sample(frame(999)), null);
  t.equal(sampler.wouldSample(frame(1200, false)), false);
  t.equal(sampler.sample(frame(1200, false)), null);
  t.equal(sampler.wouldSample(frame(1500)), true);
  t.equal(sampler.wouldSample(frame(1500)), true, 'asking again changes nothing');
  t.equal(sampler.sample(frame(1500)), 42, 'the resumed count goes on');
  t.same(sampler.state, { keyframesSeen: 43, nextSampleAt: T0 + 2000 });
});

t.test('createSampler: by I-frame count unless samplingIntervalMillis is set; bad intervals refused', async (t) => {
  // Act
  const counting = createSampler({ inferenceInterval: 2 }, { keyframesSeen: 3, nextSampleAt: T0 });
  const timed = createSampler({ inferenceInterval: 2, samplingIntervalMillis: 500 });

  // Assess
  t.ok(counting instanceof IFrameSampler);
  t.same(counting.state, { keyframesSeen: 3 }, 'a time tick left by an earlier configuration is dropped');
  t.ok(timed instanceof TimeSampler);
  t.same(timed.state, { keyframesSeen: 0 }, 'no tick before the first sample');
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => new TimeSampler(bad), {
      code: 'BAD_CONFIG',
      message: `samplingIntervalMillis must be a positive integer, got ${bad}`,
    });
  }
});

t.test(
  "a stream's grid is shifted by a hash of its name: every owner agrees, and streams do not tick together",
  async (t) => {
    // Prepare: 30 streams of a 500 ms GOP, sampled every 6 s.
    const names = Array.from({ length: 30 }, (_, i) => `camera-${i}`);
    const frames = synthetic(500, 60_000);

    // Act
    const phases = names.map((name) => namePhase(name, 6000));
    const samples = names.map(
      (name) =>
        run(createSampler({ inferenceInterval: 6, samplingIntervalMillis: 6000 }, undefined, name), frames).times,
    );
    const first = createSampler({ inferenceInterval: 6, samplingIntervalMillis: 6000 }, undefined, 'camera-7');
    run(first, frames.slice(0, 40));
    const resumed = createSampler({ inferenceInterval: 6, samplingIntervalMillis: 6000 }, first.state, 'camera-7');

    // Assess: from its second sample on (the first I-frame is taken at once), each stream's samples lie on its own
    // grid, 6 s apart; the phases spread over the interval.
    for (const [i, times] of samples.entries()) {
      const gaps = times.slice(2).map((at, j) => at - times[j + 1]!);
      t.ok(
        gaps.every((gap) => gap === 6000),
        `${names[i]}: samples 6 s apart (${gaps.join(', ')})`,
      );
      const onGrid = times.slice(1).every((at) => {
        const sinceTick = (((T0 + at - phases[i]!) % 6000) + 6000) % 6000;
        return sinceTick < 500;
      });
      t.ok(onGrid, `${names[i]}: each sample is the first I-frame at or after a tick of its grid`);
    }
    t.ok(new Set(phases).size >= 25, `${new Set(phases).size} distinct phases of 30`);
    t.equal(namePhase('camera-7', 6000), phases[7], 'the same phase for the same name');
    t.same(
      run(resumed, frames.slice(40)).times,
      samples[7]!.filter((at) => at >= frameTime(frames[40]!) - T0),
      'resumed from a checkpoint, the same samples',
    );
  },
);
