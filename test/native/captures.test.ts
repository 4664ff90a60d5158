// Keyframes of real Kinesis Video Streams captures through the pool, against the reference decode,
// and once end to end from the MKV parser's zero-copy frames.

import { createReadStream } from 'node:fs';
import t from 'tap';
import { extractImages } from '../../src/native/index.js';
import { capture, capturesSkip } from '../helpers/fixtures.js';
import { poolFor } from './helpers/pool.js';
import { decodeImage, psnr, referenceKeyframes } from './helpers/reference-decode.js';

t.test('real captures', { skip: capturesSkip }, async (t) => {
  const pool = await poolFor(t);

  const captures = [
    ['bezos_vogels.mkv', 'H.264 High, people on screen', 1280, 720],
    ['vogels_480.mkv', 'H.264 beside an AAC track', 640, 480],
    ['output_get_media.mkv', 'GetMedia output, H.264 Main', 640, 360],
  ] as const;
  for (const [name, what, width, height] of captures) {
    t.test(`${name} (${what}): a keyframe decodes to a ${width}x${height} image matching the reference`, async (t) => {
      // Prepare
      const { codecPrivate, keyframes } = await referenceKeyframes(capture(name), 1);
      const task = { codecId: 'V_MPEG4/ISO/AVC', codecPrivate, data: keyframes[0]!.data };

      // Act
      const [jpeg, png] = await Promise.all([
        pool.process({ ...task, output: { contentType: 'image/jpeg' } }),
        pool.process({ ...task, output: { contentType: 'image/png' } }),
      ]);

      // Assess
      t.match(jpeg, { contentType: 'image/jpeg', width, height });
      const jpegPsnr = psnr(await decodeImage(jpeg.data), keyframes[0]!.reference);
      const pngPsnr = psnr(await decodeImage(png.data), keyframes[0]!.reference);
      t.ok(jpegPsnr >= 30, `JPEG PSNR ${jpegPsnr.toFixed(1)} dB >= 30 dB`);
      t.ok(pngPsnr >= 40, `PNG PSNR ${pngPsnr.toFixed(1)} dB >= 40 dB`);
    });
  }

  t.test('bezos_vogels.mkv from the MKV parser: every keyframe becomes a 1280x720 JPEG', async (t) => {
    // Prepare: small reads, so that some frames span chunks and others are views into one.
    const source = createReadStream(capture('bezos_vogels.mkv'), { highWaterMark: 64 * 1024 });

    // Act
    const results = [];
    for await (const result of extractImages(source, {
      pool,
      inferenceInterval: 1,
      output: { contentType: 'image/jpeg' },
    })) {
      results.push(result);
    }

    // Assess
    t.same(
      results.map((r) => r.error?.message ?? null),
      [null, null, null],
      'three keyframes, no errors',
    );
    t.same(
      results.map((r) => [r.image?.width, r.image?.height]),
      Array(3).fill([1280, 720]),
    );
  });
});
