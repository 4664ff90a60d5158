// The decode ceiling: the clip's I-frames decoded by real node-av decoders on worker threads for a set time, the
// rate and CPU per frame reported, the count of distinct I-frames right, and a clip without video refused.

import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { measureCeiling } from '../../bench/ceiling.js';
import { smallClip } from '../../src/local/fixtures/index.js';

t.test("two threads decode the clip's I-frames for the time set, and say how fast", async (t) => {
  // Prepare: 4 s at a 200 ms GOP: 20 I-frames.
  const file = await smallClip();

  // Act
  const ceiling = await measureCeiling({ files: [file], seconds: 0.5, threads: 2 });

  // Assess
  t.equal(ceiling.distinctFrames, 20, 'every I-frame of the clip, and no other frame');
  t.equal(ceiling.threads, 2);
  t.equal(ceiling.seconds, 0.5);
  t.ok(ceiling.framesPerSecond > 20, `${ceiling.framesPerSecond.toFixed(0)} tiny I-frames a second`);
  t.ok(ceiling.cpuMsPerFrame > 0 && ceiling.cpuMsPerFrame < 50, `${ceiling.cpuMsPerFrame.toFixed(3)} ms CPU each`);
});

t.test('a file with no video I-frame is refused, naming it', async (t) => {
  // Prepare: a Matroska header and nothing else is no video.
  const file = join(tmpdir(), `kvs-infer-ceiling-${process.pid}.mkv`);
  await writeFile(file, Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x80]));
  t.teardown(() => rm(file, { force: true }));

  // Act & Assess
  await t.rejects(measureCeiling({ files: [file], seconds: 0.2, threads: 1 }), new RegExp(file));
});
