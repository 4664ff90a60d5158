// The ceilings: the clip's I-frames decoded by real node-av decoders on worker threads for a set time, then made into
// images by the worker's own pool, each rate and CPU per frame reported, the count of distinct I-frames right, the
// images of the size and type asked for, and a clip without video refused.

import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { measureCeiling } from '../../bench/ceiling.js';
import { smallClip } from '../../src/local/fixtures/index.js';

const jpeg = { contentType: 'image/jpeg' } as const;

t.test("two threads decode the clip's I-frames for the time set, and say how fast", async (t) => {
  // Prepare: 4 s at a 200 ms GOP: 20 I-frames.
  const file = await smallClip();

  // Act
  const ceiling = await measureCeiling({ files: [file], seconds: 0.5, threads: 2, output: jpeg });

  // Assess
  t.equal(ceiling.distinctFrames, 20, 'every I-frame of the clip, and no other frame');
  t.equal(ceiling.threads, 2);
  t.equal(ceiling.seconds, 0.5);
  t.ok(ceiling.framesPerSecond > 20, `${ceiling.framesPerSecond.toFixed(0)} tiny I-frames a second`);
  t.ok(ceiling.cpuMsPerFrame > 0 && ceiling.cpuMsPerFrame < 50, `${ceiling.cpuMsPerFrame.toFixed(3)} ms CPU each`);
});

t.test("a pool of two makes the clip's I-frames into the images asked for, and says how fast", async (t) => {
  // Prepare: the 64x48 clip, made into 32 px wide PNGs (the other side follows the aspect ratio).
  const file = await smallClip();

  // Act
  const { images, framesPerSecond } = await measureCeiling({
    files: [file],
    seconds: 0.5,
    threads: 2,
    output: { contentType: 'image/png', width: 32 },
  });

  // Assess
  t.match(images, { width: 32, height: 24, contentType: 'image/png' }, 'the images asked for');
  t.ok(images.framesPerSecond > 20, `${images.framesPerSecond.toFixed(0)} tiny images a second`);
  t.ok(
    images.framesPerSecond < framesPerSecond,
    `fewer than decoded alone (${images.framesPerSecond.toFixed(0)} < ${framesPerSecond.toFixed(0)})`,
  );
  t.ok(images.cpuMsPerFrame > 0 && images.cpuMsPerFrame < 50, `${images.cpuMsPerFrame.toFixed(3)} ms CPU each`);
});

t.test('a file with no video I-frame is refused, naming it', async (t) => {
  // Prepare: a Matroska header and nothing else is no video.
  const file = join(tmpdir(), `kvs-infer-ceiling-${process.pid}.mkv`);
  await writeFile(file, Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x80]));
  t.teardown(() => rm(file, { force: true }));

  // Act & Assess
  await t.rejects(measureCeiling({ files: [file], seconds: 0.2, threads: 1, output: jpeg }), new RegExp(file));
});
