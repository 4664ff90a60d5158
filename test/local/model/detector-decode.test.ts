// The detector's pure parts: CenterNet output decoding with NMS, the COCO labels, the BMP reader.

import sharp from 'sharp';
import t from 'tap';
import { COCO_LABELS, decodeBmp, decodeCenterNet, type Prediction } from '../../../src/local/model/index.js';

const options = { inputSize: 512, minScore: 0.2, iouThreshold: 0.4, maxDetections: 100 };

t.test('decodeCenterNet normalises boxes, drops low scores, and suppresses overlaps across classes', async (t) => {
  // Prepare: rows of x1, y1, x2, y2, score, class in 512-pixel input space.
  const raw = [
    [0, 0, 256, 256, 0.9, 0], // kept
    // IoU with the first > 0.4: dropped though another class (human's NMS is class-agnostic)
    [10, 10, 260, 250, 0.8, 15],
    [256, 256, 512, 600, 0.7, 2], // kept, clamped to 1
    [300, 0, 400, 100, 0.2, 1], // at the threshold: dropped
    [300, 0, 400, 100, 0.5, Number.NaN], // no class: dropped
  ].flat();

  // Act
  const predictions = decodeCenterNet(raw, options);

  // Assess
  t.same(predictions, [
    [0, 0.9, 0, 0, 0.5, 0.5],
    [2, 0.7, 0.5, 0.5, 1, 1],
  ] satisfies Prediction[]);
  t.same(decodeCenterNet(raw, { ...options, maxDetections: 1 }).length, 1);
  t.same(
    decodeCenterNet(raw, { ...options, iouThreshold: 0.99 }).map((p) => p[0]),
    [0, 15, 2],
    'a looser IoU keeps the overlap',
  );
});

t.test('COCO_LABELS has the 80 classes in CenterNet order', async (t) => {
  t.equal(COCO_LABELS.length, 80);
  t.equal(COCO_LABELS[0], 'person');
  t.equal(COCO_LABELS[2], 'car');
  t.equal(COCO_LABELS[79], 'toothbrush');
});

t.test('decodeBmp reads 24-bit bottom-up and 32-bit top-down files', async (t) => {
  // Prepare: a 3x2 picture; row 0 red green blue, row 1 white black grey.
  const pixels = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 255],
    [0, 0, 0],
    [128, 128, 128],
  ];
  const bmp = (bits: 24 | 32, topDown: boolean) => {
    const bytes = bits / 8;
    const stride = Math.ceil((3 * bytes) / 4) * 4;
    const file = Buffer.alloc(54 + stride * 2);
    file.write('BM');
    file.writeUInt32LE(file.length, 2);
    file.writeUInt32LE(54, 10);
    file.writeUInt32LE(40, 14);
    file.writeInt32LE(3, 18);
    file.writeInt32LE(topDown ? -2 : 2, 22);
    file.writeUInt16LE(1, 26);
    file.writeUInt16LE(bits, 28);
    for (let y = 0; y < 2; y++) {
      const row = 54 + (topDown ? y : 1 - y) * stride;
      for (let x = 0; x < 3; x++) {
        const [r, g, b] = pixels[y * 3 + x]!;
        file[row + x * bytes] = b!;
        file[row + x * bytes + 1] = g!;
        file[row + x * bytes + 2] = r!;
      }
    }
    return file;
  };

  // Act
  const bottomUp = decodeBmp(bmp(24, false));
  const topDown = decodeBmp(bmp(32, true));

  // Assess
  for (const picture of [bottomUp, topDown]) {
    t.match(picture, { width: 3, height: 2 });
    t.same([...picture.data], pixels.flat());
  }
  t.throws(() => decodeBmp(bmp(24, false).subarray(0, 60)), /truncated/);
  t.throws(
    () => decodeBmp(Buffer.from('not a bmp at all, definitely not, no no no no no no no no no no')),
    /not a BMP/,
  );
  // sharp cannot read BMP, which is why the reader exists.
  await t.rejects(sharp(bmp(24, false)).raw().toBuffer(), /unsupported image format/);
});
