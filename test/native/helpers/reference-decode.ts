// An independent decode to compare the pool against: node-av's high-level Demuxer and Decoder,
// and a plain-arithmetic YUV to RGB conversion (no swscale), plus image comparison helpers.

import { Decoder, Demuxer } from 'node-av/api';
import {
  AV_PIX_FMT_YUV420P,
  AV_PIX_FMT_YUVJ420P,
  AVCHROMA_LOC_CENTER,
  AVCHROMA_LOC_TOPLEFT,
  AVCOL_RANGE_JPEG,
  AVCOL_SPC_BT709,
} from 'node-av/constants';
import type { Frame } from 'node-av/lib';
import sharp from 'sharp';

export interface RgbImage {
  width: number;
  height: number;
  /** Packed RGB, 3 bytes a pixel. */
  rgb: Uint8Array;
}

export interface ReferenceKeyframe {
  /** The access unit as the Matroska block holds it. */
  data: Buffer;
  /** The decoded picture, converted to RGB with the colour matrix and range the stream signals. */
  reference: RgbImage;
  /** The same picture converted with the BT.601 matrix whatever the stream says. */
  bt601: RgbImage;
}

/**
 * The video track's CodecPrivate and its first `count` keyframes with their reference pictures.
 * Uses packetsSync(): Demuxer.packets() needs Promise.withResolvers, which Node 20 lacks.
 */
export async function referenceKeyframes(
  path: string,
  count: number,
): Promise<{ codecPrivate: Buffer | null; keyframes: ReferenceKeyframe[] }> {
  const demuxer = await Demuxer.open(path);
  try {
    const stream = demuxer.video();
    if (!stream) throw new Error(`${path} has no video`);
    using decoder = await Decoder.create(stream);
    const units = new Map<bigint, Buffer>();
    const keyframes: ReferenceKeyframe[] = [];
    const take = (frame: Frame) => {
      const data = units.get(frame.pts);
      if (data) keyframes.push({ data, reference: toRgb(frame), bt601: toRgb(frame, false) });
    };
    for (const packet of demuxer.packetsSync(stream.index)) {
      if (!packet || keyframes.length >= count) break;
      if (packet.isKeyframe && units.size < count) units.set(packet.pts, packet.data!);
      for (const frame of decoder.framesSync(packet)) {
        if (!frame) break;
        take(frame);
        frame.free();
      }
      packet.free();
    }
    for (const frame of decoder.framesSync(null)) {
      if (!frame) break;
      take(frame);
      frame.free();
    }
    return { codecPrivate: stream.codecpar.extradata, keyframes: keyframes.slice(0, count) };
  } finally {
    await demuxer.close();
  }
}

/**
 * 8-bit 4:2:0 to RGB by the book: BT.709 or BT.601 matrix (unspecified means BT.601, as in FFmpeg),
 * limited or full range, chroma upsampled bilinearly from where the stream sites it.
 */
export function toRgb(frame: Frame, honourColorspace = true): RgbImage {
  if (frame.format !== AV_PIX_FMT_YUV420P && frame.format !== AV_PIX_FMT_YUVJ420P)
    throw new Error(`unexpected pixel format ${frame.format}`);
  const { width, height } = frame;
  const [y, u, v] = frame.data!;
  const [ys, us, vs] = frame.linesize;
  const full = frame.colorRange === AVCOL_RANGE_JPEG || frame.format === AV_PIX_FMT_YUVJ420P;
  const [kr, kb] = honourColorspace && frame.colorSpace === AVCOL_SPC_BT709 ? [0.2126, 0.0722] : [0.299, 0.114];
  const kg = 1 - kr - kb;
  const cw = width / 2;
  const ch = height / 2;
  // Where chroma samples sit relative to luma: H.264/HEVC default (and unspecified) is left, vertically centred.
  const dx = frame.chromaLocation === AVCHROMA_LOC_CENTER ? 0.5 : 0;
  const dy = frame.chromaLocation === AVCHROMA_LOC_TOPLEFT ? 0 : 0.5;
  const chroma = (plane: Buffer, stride: number, x: number, yy: number) => {
    const fx = Math.min(Math.max((x - dx) / 2, 0), cw - 1);
    const fy = Math.min(Math.max((yy - dy) / 2, 0), ch - 1);
    const x0 = Math.floor(fx);
    const y0 = Math.floor(fy);
    const x1 = Math.min(x0 + 1, cw - 1);
    const y1 = Math.min(y0 + 1, ch - 1);
    const ax = fx - x0;
    const ay = fy - y0;
    const top = plane[y0 * stride + x0]! * (1 - ax) + plane[y0 * stride + x1]! * ax;
    const bottom = plane[y1 * stride + x0]! * (1 - ax) + plane[y1 * stride + x1]! * ax;
    return top * (1 - ay) + bottom * ay;
  };
  const rgb = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const luma = full ? y![row * ys! + col]! / 255 : (y![row * ys! + col]! - 16) / 219;
      const cb = (chroma(u!, us!, col, row) - 128) / (full ? 255 : 224);
      const cr = (chroma(v!, vs!, col, row) - 128) / (full ? 255 : 224);
      const r = luma + 2 * (1 - kr) * cr;
      const b = luma + 2 * (1 - kb) * cb;
      const g = (luma - kr * r - kb * b) / kg;
      const at = (row * width + col) * 3;
      rgb[at] = Math.round(Math.min(Math.max(r, 0), 1) * 255);
      rgb[at + 1] = Math.round(Math.min(Math.max(g, 0), 1) * 255);
      rgb[at + 2] = Math.round(Math.min(Math.max(b, 0), 1) * 255);
    }
  }
  return { width, height, rgb };
}

/** Raw RGB of a JPEG, PNG or GIF through sharp, or of a 24-bit BMP read by hand (sharp cannot read BMP). */
export async function decodeImage(bytes: Uint8Array): Promise<RgbImage> {
  if (bytes[0] === 0x42 && bytes[1] === 0x4d) return readBmp(Buffer.from(bytes));
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgb: data };
}

function readBmp(file: Buffer): RgbImage {
  const offset = file.readUInt32LE(10);
  const width = file.readInt32LE(18);
  const rawHeight = file.readInt32LE(22);
  if (file.readUInt16LE(28) !== 24) throw new Error('not a 24-bit BMP');
  const height = Math.abs(rawHeight);
  const stride = Math.ceil((width * 3) / 4) * 4;
  const rgb = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    // Positive height: rows stored bottom-up.
    const from = offset + (rawHeight > 0 ? height - 1 - row : row) * stride;
    for (let col = 0; col < width; col++) {
      const at = (row * width + col) * 3;
      rgb[at] = file[from + col * 3 + 2]!;
      rgb[at + 1] = file[from + col * 3 + 1]!;
      rgb[at + 2] = file[from + col * 3]!;
    }
  }
  return { width, height, rgb };
}

/** Peak signal-to-noise ratio of two same-sized 8-bit images, in dB (Infinity when identical). */
export function psnr(a: RgbImage, b: RgbImage): number {
  if (a.width !== b.width || a.height !== b.height)
    throw new Error(`size ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  let sum = 0;
  for (let i = 0; i < a.rgb.length; i++) {
    const d = a.rgb[i]! - b.rgb[i]!;
    sum += d * d;
  }
  return sum === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.rgb.length) / sum);
}
