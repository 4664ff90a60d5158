// What callers hand the frame pool (one access unit plus the image they want) and what they get back.

/** Content types an endpoint may accept; `application/x-image` (SageMaker's generic image type) is written as JPEG. */
export const IMAGE_CONTENT_TYPES = [
  'image/jpeg',
  'application/x-image',
  'image/png',
  'image/bmp',
  'image/gif',
] as const;

export type ImageContentType = (typeof IMAGE_CONTENT_TYPES)[number];

/** For config and CLI validation: is `value` a content type the pool can write? */
export function isImageContentType(value: unknown): value is ImageContentType {
  return (IMAGE_CONTENT_TYPES as readonly unknown[]).includes(value);
}

export interface ImageRequest {
  contentType: ImageContentType;
  /** Output size in pixels. With only one of the two, the other keeps the picture's aspect ratio. */
  width?: number;
  height?: number;
  /** JPEG quality, 1 to 100; default 80. */
  quality?: number;
}

export interface FrameTask {
  /** Matroska CodecID of the track, e.g. `V_MPEG4/ISO/AVC`. */
  codecId: string;
  /** The track's CodecPrivate (avcC, hvcC, ...), or null where the codec has none. */
  codecPrivate: Uint8Array | null;
  /** One access unit exactly as stored in the Matroska block; may be a view into a larger buffer. */
  data: Uint8Array;
  output: ImageRequest;
}

export interface EncodedImage {
  data: Uint8Array;
  contentType: ImageContentType;
  width: number;
  height: number;
  /** Time spent decoding the access unit, in the worker. */
  decodeMs: number;
  /** Time spent converting to RGB (and resizing) and encoding the image, in the worker. */
  encodeMs: number;
}
