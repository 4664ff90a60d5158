// FramePool output checked pixel by pixel against an independent decode of the same keyframes.

import t, { type Test } from 'tap';
import { type FixtureInfo, type FixtureOptions, generateFixture } from '../../src/local/fixtures/index.js';
import type { ImageRequest } from '../../src/native/index.js';
import { poolFor } from './helpers/pool.js';
import {
  decodeImage,
  psnr,
  type ReferenceKeyframe,
  type RgbImage,
  referenceKeyframes,
} from './helpers/reference-decode.js';

interface Clip {
  info: FixtureInfo;
  codecPrivate: Buffer | null;
  keyframes: ReferenceKeyframe[];
}

/** Asserts a PSNR floor, printing the measured value. */
async function assertPsnr(
  t: Test,
  image: Uint8Array,
  reference: RgbImage,
  floor: number,
  what = 'PSNR',
): Promise<number> {
  const value = psnr(await decodeImage(image), reference);
  t.ok(value >= floor, `${what} ${value.toFixed(1)} dB >= ${floor} dB`);
  return value;
}

t.test('FramePool images', async (t) => {
  const pool = await poolFor(t);
  const dir = t.testdir();
  const clip = async (name: string, options: Partial<FixtureOptions> = {}): Promise<Clip> => {
    const info = await generateFixture({
      path: `${dir}/${name}.mkv`,
      width: 320,
      height: 240,
      durationSeconds: 2,
      ...options,
    });
    return { info, ...(await referenceKeyframes(info.path, info.keyframes)) };
  };
  const h264 = await clip('h264');
  const hevc = await clip('hevc', { codec: 'hevc' });
  const bt709 = await clip('bt709', { colorspace: 'bt709' });
  const encode = (from: Clip, keyframe: ReferenceKeyframe, output: ImageRequest) =>
    pool.process({ codecId: from.info.codecId!, codecPrivate: from.codecPrivate, data: keyframe.data, output });

  for (const [name, from] of [
    ['H.264', h264],
    ['H.265', hevc],
  ] as const) {
    t.test(`PNG of every ${name} keyframe matches the reference decode (PSNR >= 40 dB)`, async (t) => {
      // Prepare
      t.equal(from.keyframes.length, 2, 'two keyframes in a 2 s clip with 1 s GOPs');

      for (const keyframe of from.keyframes) {
        // Act
        const image = await encode(from, keyframe, { contentType: 'image/png' });

        // Assess
        t.match(image, { contentType: 'image/png', width: 320, height: 240 });
        t.ok(image.decodeMs > 0 && image.encodeMs > 0, 'worker timings reported');
        await assertPsnr(t, image.data, keyframe.reference, 40);
      }
    });
  }

  t.test('JPEG at the default quality (80) stays within 30 dB of the reference', async (t) => {
    for (const from of [h264, hevc]) {
      // Act
      const image = await encode(from, from.keyframes[0]!, { contentType: 'image/jpeg' });

      // Assess
      t.same([...image.data.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG SOI marker');
      await assertPsnr(t, image.data, from.keyframes[0]!.reference, 30, `${from.info.codec}: PSNR`);
    }
  });

  t.test('a lower JPEG quality gives a smaller file', async (t) => {
    // Act
    const [q80, q30] = await Promise.all(
      [80, 30].map((quality) => encode(h264, h264.keyframes[0]!, { contentType: 'image/jpeg', quality })),
    );

    // Assess
    t.ok(q30!.data.byteLength < q80!.data.byteLength, `${q30!.data.byteLength} < ${q80!.data.byteLength} bytes`);
  });

  t.test('application/x-image is written as JPEG', async (t) => {
    // Act
    const image = await encode(h264, h264.keyframes[0]!, { contentType: 'application/x-image' });

    // Assess
    t.equal(image.contentType, 'application/x-image');
    t.same([...image.data.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG SOI marker');
  });

  t.test('BMP is a 24-bit bitmap as faithful as PNG (PSNR >= 40 dB)', async (t) => {
    // Act
    const image = await encode(hevc, hevc.keyframes[1]!, { contentType: 'image/bmp' });

    // Assess
    const bytes = Buffer.from(image.data);
    t.equal(bytes.toString('latin1', 0, 2), 'BM', 'BMP signature');
    t.equal(bytes.readUInt32LE(2), bytes.length, 'file size field');
    t.equal(bytes.readUInt16LE(28), 24, 'bits per pixel');
    await assertPsnr(t, image.data, hevc.keyframes[1]!.reference, 40);
  });

  t.test('GIF is palettised yet close: PSNR >= 28 dB (about 31.5 dB measured on these clips)', async (t) => {
    // Act
    const image = await encode(h264, h264.keyframes[1]!, { contentType: 'image/gif' });

    // Assess
    t.equal(Buffer.from(image.data).toString('latin1', 0, 6), 'GIF89a');
    await assertPsnr(t, image.data, h264.keyframes[1]!.reference, 28);
  });

  t.test('a BT.709-tagged stream is converted with the BT.709 matrix', async (t) => {
    // Act
    const image = await encode(bt709, bt709.keyframes[0]!, { contentType: 'image/png' });

    // Assess
    await assertPsnr(t, image.data, bt709.keyframes[0]!.reference, 40, 'against the BT.709 conversion:');
    const against601 = psnr(await decodeImage(image.data), bt709.keyframes[0]!.bt601);
    t.ok(against601 < 35, `against a BT.601 conversion: ${against601.toFixed(1)} dB, far off`);
  });

  t.test('resizing: one side keeps the aspect ratio, both sides are taken as given', async (t) => {
    const cases: [ImageRequest, number, number][] = [
      [{ contentType: 'image/png', width: 160 }, 160, 120],
      [{ contentType: 'image/png', height: 60 }, 80, 60],
      [{ contentType: 'image/jpeg', width: 100, height: 100 }, 100, 100],
      [{ contentType: 'image/bmp', width: 641 }, 641, 481],
    ];
    for (const [output, width, height] of cases) {
      // Act
      const image = await encode(h264, h264.keyframes[0]!, output);

      // Assess
      t.match(image, { width, height }, `${JSON.stringify(output)} reports ${width}x${height}`);
      t.match(await decodeImage(image.data), { width, height }, 'and the image is that size');
    }
  });

  t.test('a downscaled picture is the reference downscaled (PSNR >= 33 dB against a 2x2 box average)', async (t) => {
    // Prepare
    const { reference } = h264.keyframes[0]!;
    const half = new Uint8Array(160 * 120 * 3);
    for (let y = 0; y < 120; y++) {
      for (let x = 0; x < 160; x++) {
        for (let c = 0; c < 3; c++) {
          const at = (row: number, col: number) => reference.rgb[(row * 320 + col) * 3 + c]!;
          half[(y * 160 + x) * 3 + c] = Math.round(
            (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4,
          );
        }
      }
    }

    // Act
    const image = await encode(h264, h264.keyframes[0]!, { contentType: 'image/png', width: 160 });

    // Assess
    await assertPsnr(t, image.data, { width: 160, height: 120, rgb: half }, 33);
  });

  t.test('the access unit may be a view into a larger buffer, which is left as it was', async (t) => {
    // Prepare
    const keyframe = h264.keyframes[0]!;
    const chunk = Buffer.concat([Buffer.alloc(100, 7), keyframe.data, Buffer.alloc(100, 9)]);
    const before = Buffer.from(chunk);

    // Act
    const image = await pool.process({
      codecId: 'V_MPEG4/ISO/AVC',
      codecPrivate: h264.codecPrivate,
      data: chunk.subarray(100, 100 + keyframe.data.length),
      output: { contentType: 'image/png' },
    });

    // Assess
    t.equal(chunk.buffer.byteLength > 0, true, 'the chunk was not transferred away');
    t.same(chunk, before, 'nor changed');
    await assertPsnr(t, image.data, keyframe.reference, 40);
  });

  t.test('more stream configurations than a thread keeps decoders for, in turn, all decode right', async (t) => {
    // Prepare: five CodecPrivates (sizes and codecs differ) on one thread, which caches four decoders.
    const single = await poolFor(t, { size: 1 });
    const clips = await Promise.all(
      (
        [
          [160, 120, 'h264'],
          [176, 144, 'h264'],
          [192, 108, 'h264'],
          [160, 120, 'hevc'],
          [208, 160, 'hevc'],
        ] as const
      ).map(([width, height, codec]) => clip(`${codec}-${width}`, { codec, width, height, durationSeconds: 0.5 })),
    );

    for (let round = 0; round < 2; round++) {
      for (const from of clips) {
        // Act
        const image = await single.process({
          codecId: from.info.codecId!,
          codecPrivate: from.codecPrivate,
          data: from.keyframes[0]!.data,
          output: { contentType: 'image/png' },
        });

        // Assess
        t.match(image, { width: from.info.width, height: from.info.height });
        await assertPsnr(
          t,
          image.data,
          from.keyframes[0]!.reference,
          40,
          `round ${round}, ${from.info.codec} ${from.info.width}x${from.info.height}:`,
        );
      }
    }
  });

  t.test('the image comes back in an ArrayBuffer of its own', async (t) => {
    // Act
    const image = await encode(h264, h264.keyframes[0]!, { contentType: 'image/jpeg' });

    // Assess
    t.equal(image.data.byteOffset, 0, 'starts the buffer');
    t.equal(image.data.buffer.byteLength, image.data.byteLength, 'and fills it');
  });
});
