// The media layer: Matroska / KVS GetMedia parsing, fragment metadata, and I-frame sampling.

export { MkvParser, type MkvEvent, type MkvParserOptions } from './mkv-parser.js';
export { readMkv, sampleFrames, type SampledFrame, type SampleOptions } from './read-mkv.js';
export { IFrameSampler } from './sampler.js';
export { KVS_TAG } from './kvs-tags.js';
export * as mkvWriter from './mkv-writer.js';
export { MkvWriteError, type BlockSpec, type MkvWriteErrorCode } from './mkv-writer.js';
export { MediaError, type MediaErrorCode } from './errors.js';
export { TRACK_TYPE_VIDEO, type Fragment, type Frame, type TrackInfo } from './types.js';
