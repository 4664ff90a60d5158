// Shrinking does not alias. Patterns finer than a 512x288 picture can show (a zone plate, a 1-pixel checkerboard in
// luma, one in chroma) must come out of a 1920x1080 -> 512x288 resize as flat grey, on both of ImageEncoder's scaler
// paths (JPEG's SIMD 'bilinear', and the exact one of PNG, BMP and GIF). swscale's 'bilinear' widens its triangle to
// the shrink ratio (initFilter: 1 + 2 * srcW / dstW taps). Controls: 'neighbor' (point sampling) and 'fast_bilinear'
// (two taps whatever the ratio) turn the same patterns into moire, so the flatness check can fail.

import { AV_PIX_FMT_RGB24, AV_PIX_FMT_YUV420P } from 'node-av/constants';
import { Frame, SoftwareScaleContext } from 'node-av/lib';
import t from 'tap';
import { ImageEncoder } from '../../src/native/image-encoder.js';
import type { ImageRequest } from '../../src/native/index.js';
import { decodeImage, type RgbImage } from './helpers/reference-decode.js';

const WIDTH = 1920;
const HEIGHT = 1080;
const OUT_WIDTH = 512;
const OUT_HEIGHT = 288;
/** Standard deviation, in 8-bit levels, under which a region is flat grey (bilinear measures 0.1 to 2.1). */
const FLAT = 5;
/** Over which it is moire (the controls measure 40 to 127). */
const ALIASED = 30;
/** The RGB level every pattern averages to (luma 126 is RGB 128; 16 and 235 are 0 and 255). */
const GREY = 128;

interface Pattern {
  name: string;
  luma(x: number, y: number): number;
  /** Both chroma planes; default neutral (128). */
  chroma?(x: number, y: number): number;
  /** The output pixels to check; default all. */
  region?(x: number, y: number): boolean;
}

// A zone plate: cos(k r^2) has the local frequency k r / pi cycles per pixel, here reaching the source's Nyquist limit
// (0.5) at the corners. A 3.75x bilinear shrink passes frequencies up to its first zero, 1 / 3.75 = 0.27 cycles per
// pixel, partly (a triangle's transition band); beyond that radius the output must be flat.
const ZONE_K = (Math.PI * 0.5) / Math.hypot(WIDTH / 2, HEIGHT / 2);
const ZONE_FLAT_RADIUS = (1 / 3.75 / 0.5) * Math.hypot(WIDTH / 2, HEIGHT / 2) + 10;

const PATTERNS: Pattern[] = [
  {
    name: 'zone plate, beyond the radius where its rings pass 0.27 cycles per pixel',
    luma: (x, y) =>
      Math.round(126 + 109 * Math.cos(ZONE_K * ((x - WIDTH / 2 + 0.5) ** 2 + (y - HEIGHT / 2 + 0.5) ** 2))),
    region: (x, y) =>
      Math.hypot(((x + 0.5) * WIDTH) / OUT_WIDTH - WIDTH / 2, ((y + 0.5) * HEIGHT) / OUT_HEIGHT - HEIGHT / 2) >
      ZONE_FLAT_RADIUS,
  },
  { name: '1-pixel luma checkerboard', luma: (x, y) => ((x + y) & 1 ? 235 : 16) },
  { name: '1-pixel chroma checkerboard', luma: () => 126, chroma: (x, y) => ((x + y) & 1 ? 240 : 16) },
];

/** Frame.fromVideoBuffer wraps its buffer rather than copying it (node-av 6.1.1): the frames' buffers, kept alive. */
const frameBuffers: Buffer[] = [];

/** A 1920x1080 4:2:0 frame of `pattern`. */
function patternFrame(pattern: Pattern): Frame {
  const buffer = Buffer.alloc((WIDTH * HEIGHT * 3) / 2);
  for (let y = 0; y < HEIGHT; y++) for (let x = 0; x < WIDTH; x++) buffer[y * WIDTH + x] = pattern.luma(x, y);
  const chroma = pattern.chroma ?? (() => 128);
  const planeSize = (WIDTH / 2) * (HEIGHT / 2);
  for (let y = 0; y < HEIGHT / 2; y++) {
    for (let x = 0; x < WIDTH / 2; x++) {
      buffer[WIDTH * HEIGHT + y * (WIDTH / 2) + x] = chroma(x, y);
      buffer[WIDTH * HEIGHT + planeSize + y * (WIDTH / 2) + x] = chroma(x, y);
    }
  }
  frameBuffers.push(buffer);
  return Frame.fromVideoBuffer(buffer, { width: WIDTH, height: HEIGHT, format: AV_PIX_FMT_YUV420P });
}

/** Mean and standard deviation of every channel of the pixels of `image` in `region`, in 8-bit levels. */
function levels(image: RgbImage, region: Pattern['region'] = () => true): { mean: number; deviation: number } {
  let sum = 0;
  let squares = 0;
  let count = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (!region(x, y)) continue;
      for (let c = 0; c < 3; c++) {
        const value = image.rgb[(y * image.width + x) * 3 + c]!;
        sum += value;
        squares += value * value;
        count++;
      }
    }
  }
  const mean = sum / count;
  return { mean, deviation: Math.sqrt(squares / count - mean * mean) };
}

/** `frame` scaled to 512x288 RGB by a bare swscale context with `flags`: the controls. */
function scaleWith(frame: Frame, flags: string): RgbImage {
  const context = new SoftwareScaleContext();
  const picture = new Frame();
  try {
    context.allocContext();
    if (context.setOption('sws_flags', flags) < 0) throw new Error(`sws_flags ${flags} refused`);
    picture.alloc();
    picture.width = OUT_WIDTH;
    picture.height = OUT_HEIGHT;
    picture.format = AV_PIX_FMT_RGB24;
    if (picture.getBuffer(1) < 0) throw new Error('allocating the picture');
    if (context.scaleFrameSync(picture, frame) < 0) throw new Error(`scaling with ${flags}`);
    return { width: OUT_WIDTH, height: OUT_HEIGHT, rgb: Buffer.from(picture.data![0]!) };
  } finally {
    picture.free();
    context.freeContext();
  }
}

t.test('a 1920x1080 -> 512x288 shrink turns detail it cannot show into flat grey, not moire', async (t) => {
  // Prepare
  const encoder = new ImageEncoder();
  const requests: ImageRequest[] = [
    { contentType: 'image/jpeg', width: OUT_WIDTH, quality: 95 },
    { contentType: 'image/png', width: OUT_WIDTH },
  ];

  for (const pattern of PATTERNS) {
    const frame = patternFrame(pattern);
    try {
      for (const request of requests) {
        // Act
        const image = await encoder.encode(frame, request);

        // Assess
        t.match(image, { width: OUT_WIDTH, height: OUT_HEIGHT });
        const { mean, deviation } = levels(await decodeImage(new Uint8Array(image.data)), pattern.region);
        const what = `${pattern.name}, ${request.contentType}`;
        t.ok(deviation < FLAT, `${what}: deviation ${deviation.toFixed(2)} < ${FLAT}`);
        t.ok(Math.abs(mean - GREY) < 4, `${what}: mean ${mean.toFixed(1)}, the pattern's average (${GREY})`);
      }
      for (const flags of ['neighbor', 'fast_bilinear']) {
        // Act
        const { deviation } = levels(scaleWith(frame, flags), pattern.region);

        // Assess
        t.ok(deviation > ALIASED, `control, ${pattern.name}, ${flags}: deviation ${deviation.toFixed(2)} > ${ALIASED}`);
      }
    } finally {
      frame.free();
    }
  }
});
