// Everything that touches native bindings: a worker-thread pool that decodes single access units
// with libavcodec (node-av) and encodes them as images (sharp; BMP through libavcodec), and
// extractImages, which feeds it the sampled I-frames of an MKV stream.

export { ffmpegCodecId, MATROSKA_VIDEO_CODECS } from './codecs.js';
export { FrameError, type FrameErrorCode } from './errors.js';
export { type ExtractedImage, type ExtractOptions, extractImages } from './extract-images.js';
export { FramePool, type FramePoolOptions } from './frame-pool.js';
export { MAX_IMAGE_DIMENSION, outputSize, validateImageRequest } from './image-request.js';
export {
  type EncodedImage,
  type FrameTask,
  IMAGE_CONTENT_TYPES,
  type ImageContentType,
  type ImageRequest,
  isImageContentType,
} from './types.js';
