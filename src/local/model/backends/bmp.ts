// A minimal BMP reader: sharp (libvips) cannot read BMP, and image/bmp is one of the content types
// kvs-infer sends (24-bit, from libavcodec). Uncompressed 24- and 32-bit files, either row order.

export interface RgbPicture {
  /** Packed RGB, 3 bytes a pixel, top row first. */
  data: Buffer;
  width: number;
  height: number;
}

/** Is this a BMP file (by its `BM` signature)? */
export const isBmp = (data: Uint8Array): boolean => data.length >= 2 && data[0] === 0x42 && data[1] === 0x4d;

/** Throws a plain Error naming what is wrong; the caller turns it into its own error. */
export function decodeBmp(file: Buffer): RgbPicture {
  if (file.length < 54 || !isBmp(file)) throw new Error('not a BMP file');
  const pixelOffset = file.readUInt32LE(10);
  const headerSize = file.readUInt32LE(14);
  if (headerSize < 40) throw new Error(`BMP header of ${headerSize} bytes (OS/2 bitmaps) is not supported`);
  const width = file.readInt32LE(18);
  const signedHeight = file.readInt32LE(22);
  const bitsPerPixel = file.readUInt16LE(28);
  const compression = file.readUInt32LE(30);
  // BI_BITFIELDS (3) with 32 bits is the usual BGRA layout; other masks would be unusual.
  if (!(compression === 0 || (compression === 3 && bitsPerPixel === 32)))
    throw new Error(`BMP compression ${compression} is not supported`);
  if (bitsPerPixel !== 24 && bitsPerPixel !== 32) throw new Error(`${bitsPerPixel}-bit BMP is not supported`);
  const height = Math.abs(signedHeight);
  if (width <= 0 || height === 0) throw new Error(`BMP of ${width}x${signedHeight} pixels`);
  const bytesPerPixel = bitsPerPixel / 8;
  const stride = Math.ceil((width * bytesPerPixel) / 4) * 4;
  if (pixelOffset + stride * height > file.length) throw new Error('BMP pixel data is truncated');
  const data = Buffer.alloc(width * height * 3);
  const bottomUp = signedHeight > 0;
  for (let y = 0; y < height; y++) {
    const row = pixelOffset + (bottomUp ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      const from = row + x * bytesPerPixel;
      const to = (y * width + x) * 3;
      data[to] = file[from + 2]!;
      data[to + 1] = file[from + 1]!;
      data[to + 2] = file[from]!;
    }
  }
  return { data, width, height };
}
