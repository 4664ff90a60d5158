// Everything that touches native bindings: a worker-thread pool that decodes single access units
// with libavcodec (node-av) and encodes them as images (sharp; BMP through libavcodec), and
// extractImages, which feeds it the sampled I-frames of an MKV stream.

export { FramePool, type FramePoolOptions } from './frame-pool.js';
export { extractImages, type ExtractedImage, type ExtractOptions } from './extract-images.js';
export { FrameError, type FrameErrorCode } from './errors.js';
export { MATROSKA_VIDEO_CODECS, ffmpegCodecId } from './codecs.js';
export { MAX_IMAGE_DIMENSION, outputSize, validateImageRequest } from './image-request.js';
export {
  IMAGE_CONTENT_TYPES,
  isImageContentType,
  type EncodedImage,
  type FrameTask,
  type ImageContentType,
  type ImageRequest,
} from './types.js';
