// Checks an ImageRequest before it costs a worker anything, and works out the output size for a picture.

import { FrameError } from './errors.js';
import { IMAGE_CONTENT_TYPES, type ImageRequest, isImageContentType } from './types.js';

/** Larger than any camera frame; bounds what a bad config can make a worker allocate. */
export const MAX_IMAGE_DIMENSION = 16_384;

/** Throws BAD_IMAGE_REQUEST naming the first thing wrong with `request`. */
export function validateImageRequest(request: ImageRequest): void {
  if (!isImageContentType(request.contentType)) {
    throw new FrameError(
      'BAD_IMAGE_REQUEST',
      `unsupported content type "${String(request.contentType)}": use one of ${IMAGE_CONTENT_TYPES.join(', ')}`,
    );
  }
  for (const key of ['width', 'height'] as const) {
    const value = request[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1 && value <= MAX_IMAGE_DIMENSION)) {
      throw new FrameError(
        'BAD_IMAGE_REQUEST',
        `${key} must be an integer from 1 to ${MAX_IMAGE_DIMENSION}, got ${value}`,
      );
    }
  }
  const { quality } = request;
  if (quality !== undefined && !(Number.isInteger(quality) && quality >= 1 && quality <= 100)) {
    throw new FrameError('BAD_IMAGE_REQUEST', `quality must be an integer from 1 to 100, got ${quality}`);
  }
}

/** The requested size; a missing side follows the picture's aspect ratio, both missing keep the picture's size. */
export function outputSize(
  pictureWidth: number,
  pictureHeight: number,
  request: ImageRequest,
): { width: number; height: number } {
  const { width, height } = request;
  if (width !== undefined && height !== undefined) return { width, height };
  if (width !== undefined) return { width, height: Math.max(1, Math.round((width * pictureHeight) / pictureWidth)) };
  if (height !== undefined) return { width: Math.max(1, Math.round((height * pictureWidth) / pictureHeight)), height };
  return { width: pictureWidth, height: pictureHeight };
}
