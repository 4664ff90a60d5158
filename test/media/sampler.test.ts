// The I-frame sampler: the first I-frame, then every N-th, counted across fragments.

import t from 'tap';
import { IFrameSampler, sampleFrames } from '../../src/media/index.js';
import { clusterTimecode, ebmlHeader, kvsFragment, simpleBlock, tracks, unknown } from '../helpers/ebml-builder.js';

t.test('samples the first I-frame and every inferenceInterval-th after it, ignoring other frames', async (t) => {
  const sampler = new IFrameSampler(3);
  const pattern = [true, false, false, true, true, false, true, true, true, false, true];
  const picked = pattern.map((keyframe) => sampler.sample({ keyframe }));
  t.same(picked, [0, null, null, null, null, null, 3, null, null, null, 6]);
  t.same(sampler.state, { keyframesSeen: 7 });
});

t.test('interval 1 samples every I-frame; a restored count carries on where it stopped', async (t) => {
  const every = new IFrameSampler(1);
  t.same(
    [true, false, true].map((keyframe) => every.sample({ keyframe })),
    [0, null, 1],
  );
  const resumed = new IFrameSampler(6, 10);
  t.same(
    [true, true, true].map((keyframe) => resumed.sample({ keyframe })),
    [null, null, 12],
  );
});

t.test('a bad interval is refused with BAD_CONFIG', async (t) => {
  for (const bad of [0, -1, 1.5, Number.NaN]) t.throws(() => new IFrameSampler(bad), { code: 'BAD_CONFIG' });
});

t.test('sampleFrames counts I-frames across fragment boundaries', async (t) => {
  // Prepare: 4 fragments of 2 I-frames each; every 3rd I-frame is 0, 3, 6.
  const fragments = [0, 1, 2, 3].map((i) =>
    kvsFragment({
      fragmentNumber: String(i),
      clusterTimecode: i * 1000,
      blocks: [
        simpleBlock(1, 0, true, Buffer.from([i, 0])),
        simpleBlock(1, 10, false, Buffer.alloc(2)),
        simpleBlock(1, 500, true, Buffer.from([i, 1])),
      ],
    }),
  );
  async function* source() {
    for (const f of fragments) yield f;
  }

  // Act
  const sampled = [];
  for await (const frame of sampleFrames(source(), { inferenceInterval: 3 })) sampled.push(frame);

  // Assess
  t.same(
    sampled.map((f) => [f.keyframeIndex, f.fragment.fragmentNumber, f.timecodeMs]),
    [
      [0, '0', 0],
      [3, '1', 1500],
      [6, '3', 3000],
    ],
  );
});

t.test('sampleFrames: NO_VIDEO_TRACK for a stream without video, MKV_TRUNCATED after the good frames', async (t) => {
  async function* of(...chunks: Buffer[]) {
    yield* chunks;
  }
  const audioOnly = Buffer.concat([
    ebmlHeader(),
    unknown(
      0x18538067,
      tracks({ number: 1, type: 2, codecId: 'A_OPUS' }),
      unknown(0x1f43b675, clusterTimecode(0), simpleBlock(1, 0, true, Buffer.alloc(10))),
    ),
  ]);
  await t.rejects(
    async () => {
      for await (const _ of sampleFrames(of(audioOnly), { inferenceInterval: 1 }));
    },
    { code: 'NO_VIDEO_TRACK' },
  );

  const whole = kvsFragment({
    fragmentNumber: '1',
    clusterTimecode: 0,
    blocks: [simpleBlock(1, 0, true, Buffer.alloc(100, 1)), simpleBlock(1, 40, true, Buffer.alloc(100, 2))],
  });
  const cut = whole.subarray(0, whole.indexOf(Buffer.alloc(100, 2)) + 50);
  const seen: number[] = [];
  await t.rejects(
    async () => {
      for await (const frame of sampleFrames(of(cut), { inferenceInterval: 1 })) seen.push(frame.keyframeIndex);
    },
    { code: 'MKV_TRUNCATED' },
  );
  t.same(seen, [0], 'the complete frame came out before the error');
});
