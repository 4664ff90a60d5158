// Turns a decoded picture into the requested image: one swscale pass to packed RGB (colour matrix
// and range from the frame, resize included), then libjpeg-turbo for JPEG, sharp for PNG/GIF or libavcodec for BMP.

import jpegTurbo from '@julusian/jpeg-turbo';
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
  /** libjpeg-turbo's output buffer, grown to the worst case of the largest picture so far. */
  #jpeg: Buffer = Buffer.alloc(0);

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
    // frame's conversion starts only once this one's image is written.
    const pixels = picture.data![0]!;
    const { contentType } = request;
    const bytes =
      contentType === 'image/bmp'
        ? encodeBmp(picture)
        : contentType === 'image/png' || contentType === 'image/gif'
          ? await encodeWithSharp(pixels, width, height, contentType)
          : this.#encodeJpeg(pixels, width, height, request.quality ?? DEFAULT_JPEG_QUALITY);
    // A fresh ArrayBuffer of exactly the image: the JPEG is a view of the reused output buffer, and sharp's output
    // lives in libvips memory, which Node cannot transfer (it would copy it anyway).
    return { data: new Uint8Array(bytes).buffer, width, height };
  }

  /**
   * Baseline JPEG, 4:2:0 at every quality and standard Huffman tables, as sharp wrote it before: optimised tables
   * cost a second pass (27 ms instead of 10 ms for a 1080p frame in sharp) to save ~6% of the bytes, a poor trade for
   * an image that lives one request. libjpeg-turbo on this thread, not sharp: sharp's libvips pipeline and its hop
   * to a libuv thread cost ~2.3 ms more CPU a 1080p frame for the same bytes (README, "Where the time goes").
   */
  #encodeJpeg(pixels: Buffer, width: number, height: number, quality: number): Buffer {
    const size = { width, height, subsampling: jpegTurbo.SAMP_420 };
    const needed = jpegTurbo.bufferSize(size);
    // Kept: a fresh worst-case buffer (larger than the RGB picture) per frame would cost its page faults every time.
    if (this.#jpeg.length < needed) this.#jpeg = Buffer.allocUnsafe(needed);
    try {
      return jpegTurbo.compressSync(pixels, this.#jpeg, { ...size, format: jpegTurbo.FORMAT_RGB, quality });
    } catch (error) {
      throw new FrameError('ENCODE_FAILED', `encoding image/jpeg: ${(error as Error).message}`, { cause: error });
    }
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
    // Alignment 1 packs the rows (stride = width * 3), the layout sharp's raw input and libjpeg-turbo expect.
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

async function encodeWithSharp(
  pixels: Buffer,
  width: number,
  height: number,
  contentType: 'image/png' | 'image/gif',
): Promise<Buffer> {
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  try {
    // libimagequant at its defaults takes ~2 s for a 1080p frame; least effort without dithering takes ~0.4 s and
    // scores higher PSNR (dither noise is error, and no help to a model).
    return await (contentType === 'image/png' ? image.png() : image.gif({ effort: 1, dither: 0 })).toBuffer();
  } catch (error) {
    throw new FrameError('ENCODE_FAILED', `encoding ${contentType}: ${(error as Error).message}`, { cause: error });
  }
}
