// Request bodies to model input: any image sharp reads (JPEG, PNG, GIF's first frame, ...) or a BMP,
// upright per its EXIF orientation, stretched to the model's square as @vladmandic/human feeds CenterNet
// (stretching rather than letterboxing keeps box coordinates relative to the whole picture).

import sharp, { type Sharp } from 'sharp';
import { BackendError } from '../errors.js';
import { decodeBmp, isBmp } from './bmp.js';

/** RGB values 0..255 of the picture stretched to `size` x `size`, row-major, 3 a pixel. */
export async function imageToModelInput(body: Buffer, size: number): Promise<Float32Array> {
  try {
    let image: Sharp;
    if (isBmp(body)) {
      const picture = decodeBmp(body);
      image = sharp(picture.data, { raw: { width: picture.width, height: picture.height, channels: 3 } });
    } else {
      image = sharp(body, { failOn: 'error' }).rotate();
    }
    const { data, info } = await image
      .removeAlpha()
      .toColourspace('srgb')
      .resize(size, size, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return Float32Array.from(data);
  } catch (error) {
    throw new BackendError('UNDECODABLE_INPUT', `cannot decode the image: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
