// The demo clip `kvs-infer local` serves when no stream is given: a slow pan along the strip of
// portraits at the top of a real photo of people (shipped in the @vladmandic/human package), so
// the detector has something to find. It is encoded once and cached.

import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { encodeClip } from './clip-encoder.js';

const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 30;
const SECONDS = 12;
/**
 * The strip of portraits at the top of samples.jpg. The CenterNet detector scores people there at
 * 0.5 to 0.75 through most of the pan; the crowded group photo below, under its drawn-on
 * annotations, scores under 0.5.
 */
const REGION = { left: 0, top: 0, width: 1280, height: 165 };
/** 16:9, the strip's full height. */
const WINDOW = { width: 293, height: 165 };
/** Bump when the clip's recipe changes, so caches are renewed. */
const VERSION = 2;

export function demoPhotoPath(): string {
  const human = createRequire(import.meta.url).resolve('@vladmandic/human');
  return join(dirname(human), '..', 'assets', 'samples.jpg');
}

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kvs-infer');
}

/** The path of the demo clip, encoding it first (after calling `onEncode`) if the cache does not hold it yet. */
export async function demoClip(cacheDir = defaultCacheDir(), onEncode?: () => void): Promise<string> {
  const path = join(cacheDir, `demo-people-v${VERSION}.mkv`);
  if (existsSync(path)) return path;
  onEncode?.();
  await mkdir(cacheDir, { recursive: true });
  const photo = await sharp(demoPhotoPath()).extract(REGION).removeAlpha().raw().toBuffer();
  // Written aside and renamed, so a crash or a concurrent start never leaves half a clip in the cache.
  const partial = `${path}.${process.pid}.partial`;
  try {
    await encodeClip({
      path: partial,
      codec: 'h264',
      width: WIDTH,
      height: HEIGHT,
      fps: FPS,
      gopSeconds: 1,
      durationSeconds: SECONDS,
      bitrate: '3M',
      picture: (i) => panFrame(photo, i),
    });
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  return path;
}

/** Frame `i` of the pan, as packed yuv420p. */
async function panFrame(photo: Buffer, i: number): Promise<Buffer> {
  // Along the strip and back, eased, so the motion is smooth at the turns.
  const t = (1 - Math.cos((2 * Math.PI * i) / (FPS * SECONDS))) / 2;
  const left = Math.round(t * (REGION.width - WINDOW.width));
  const top = Math.round(t * (REGION.height - WINDOW.height));
  const rgb = await sharp(photo, { raw: { width: REGION.width, height: REGION.height, channels: 3 } })
    .extract({ left, top, ...WINDOW })
    .resize(WIDTH, HEIGHT)
    .raw()
    .toBuffer();
  return yuv420p(rgb, WIDTH, HEIGHT);
}

/** BT.601 limited range, what decoders assume for video that does not say. */
function yuv420p(rgb: Buffer, width: number, height: number): Buffer {
  const out = Buffer.alloc((width * height * 3) / 2);
  const uOffset = width * height;
  const vOffset = uOffset + (width * height) / 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const r = rgb[i]!;
      const g = rgb[i + 1]!;
      const b = rgb[i + 2]!;
      out[y * width + x] = 16 + ((66 * r + 129 * g + 25 * b + 128) >> 8);
      if ((x & 1) === 0 && (y & 1) === 0) {
        const c = (y / 2) * (width / 2) + x / 2;
        out[uOffset + c] = 128 + ((-38 * r - 74 * g + 112 * b + 128) >> 8);
        out[vOffset + c] = 128 + ((112 * r - 94 * g - 18 * b + 128) >> 8);
      }
    }
  }
  return out;
}
