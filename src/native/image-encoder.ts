// Turns a decoded picture into the requested image: one swscale pass to packed RGB (colour matrix
// and range from the frame, resize included), then sharp for JPEG/PNG/GIF or libavcodec for BMP.

import { AV_PIX_FMT_BGR24, AV_PIX_FMT_RGB24, type AVPixelFormat } from 'node-av/constants';
import { Frame, SoftwareScaleContext } from 'node-av/lib';
import sharp from 'sharp';
import { encodeBmp } from './encode-bmp.js';
import { FrameError } from './errors.js';
import { checkFFmpeg } from './ffmpeg-errors.js';
import { outputSize } from './image-request.js';
import type { ImageRequest } from './types.js';

const DEFAULT_JPEG_QUALITY = 80;
/**
 * Chroma interpolated (not replicated) and accurate rounding: exact to the level, but it forgoes
 * swscale's SIMD path (~9 ms per 1080p frame instead of ~0.8 ms). JPEG takes the SIMD path: its
 * error (~39 dB PSNR) hides under JPEG's own (32.4 dB becomes 32.2 dB at quality 80), while
 * GIF's palette search would magnify it (31.5 dB becomes 29.6 dB).
 */
const EXACT_SWS_FLAGS = 'bilinear+full_chroma_int+accurate_rnd';
const FAST_SWS_FLAGS = 'bilinear';

export interface Image {
  /** Exactly the image bytes, in an ArrayBuffer that can be transferred. */
  data: ArrayBuffer;
  width: number;
  height: number;
}

/**
 * Lives as long as its worker thread, keeping scalers that re-configure themselves as frames
 * change, and the RGB picture they write into: a fresh 6 MB picture per 1080p frame costs ~2 ms
 * of page faults and zeroing, and contends with the other threads for the process's memory map.
 */
export class ImageEncoder {
  readonly #exact = scaler(EXACT_SWS_FLAGS);
  readonly #fast = scaler(FAST_SWS_FLAGS);
  #picture: Frame | null = null;

  async encode(frame: Frame, request: ImageRequest): Promise<Image> {
    const { width, height } = outputSize(frame.width, frame.height, request);
    const bmp = request.contentType === 'image/bmp';
    const jpeg = request.contentType === 'image/jpeg' || request.contentType === 'application/x-image';
    const picture = this.#pictureOf(width, height, bmp ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_RGB24);
    checkFFmpeg(
      (jpeg ? this.#fast : this.#exact).scaleFrameSync(picture, frame),
      'ENCODE_FAILED',
      `converting ${frame.width}x${frame.height} to RGB ${width}x${height}`,
    );
    // `data` is a view of the picture, not a copy: safe, since a pool thread runs one task at a time and the next
    // frame's conversion starts only once sharp has finished with this one.
    const bytes = bmp ? encodeBmp(picture) : await encodeWithSharp(picture.data![0]!, width, height, request);
    // A fresh ArrayBuffer: sharp's output lives in libvips memory, which Node cannot transfer (it would copy it
    // anyway).
    return { data: new Uint8Array(bytes).buffer, width, height };
  }

  #pictureOf(width: number, height: number, format: AVPixelFormat): Frame {
    const kept = this.#picture;
    if (kept && kept.width === width && kept.height === height && kept.format === format) return kept;
    kept?.free();
    this.#picture = null;
    const picture = new Frame();
    picture.alloc();
    picture.width = width;
    picture.height = height;
    picture.format = format;
    // Alignment 1 packs the rows (stride = width * 3), the layout sharp's raw input expects.
    const allocated = picture.getBuffer(1);
    if (allocated < 0) picture.free();
    checkFFmpeg(allocated, 'ENCODE_FAILED', 'allocating the RGB picture');
    this.#picture = picture;
    return picture;
  }
}

function scaler(flags: string): SoftwareScaleContext {
  const context = new SoftwareScaleContext();
  // Left uninitialised on purpose: sws_scale_frame then sets itself up from each frame's size, format,
  // colour matrix and range, and sets up again only when those change.
  context.allocContext();
  // 'bilinear' widens its triangle to the shrink ratio, so shrinking does not alias (image-encoder-antialias.test.ts);
  // 'fast_bilinear' keeps two taps at any ratio and does. 'area' leaves more moire at 1080p -> 512 px, and 'bicubic',
  // a little less, costs ~1 ms more a frame.
  checkFFmpeg(context.setOption('sws_flags', flags), 'ENCODE_FAILED', 'configuring the scaler');
  return context;
}

async function encodeWithSharp(pixels: Buffer, width: number, height: number, request: ImageRequest): Promise<Buffer> {
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  try {
    switch (request.contentType) {
      case 'image/png':
        return await image.png().toBuffer();
      case 'image/gif':
        // libimagequant at its defaults takes ~2 s for a 1080p frame; least effort without dithering takes
        // ~0.4 s and scores higher PSNR (dither noise is error, and no help to a model).
        return await image.gif({ effort: 1, dither: 0 }).toBuffer();
      default:
        // Standard Huffman tables: optimised ones cost a second pass (27 ms instead of 10 ms for a
        // 1080p frame) to save ~6% of the bytes, a poor trade for an image that lives one request.
        return await image.jpeg({ quality: request.quality ?? DEFAULT_JPEG_QUALITY, optimiseCoding: false }).toBuffer();
    }
  } catch (error) {
    throw new FrameError('ENCODE_FAILED', `encoding ${request.contentType}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
