// The media layer: Matroska / KVS GetMedia parsing, fragment metadata, I-frame sampling, and the
// positions in a stream that reading resumes from (fragment numbers, checkpoints).

export { type Checkpoint, compareCheckpoints, isAfter, laterCheckpoint, type ResumePoint } from './checkpoint.js';
export { MediaError, type MediaErrorCode } from './errors.js';
export { compareFragmentNumbers } from './fragment-number.js';
export { KVS_TAG } from './kvs-tags.js';
export { type MkvEvent, MkvParser, type MkvParserOptions } from './mkv-parser.js';
export { readMkv, type SampledFrame, type SampleOptions, sampleFrames } from './read-mkv.js';
export { IFrameSampler } from './sampler.js';
export { type Fragment, type Frame, TRACK_TYPE_VIDEO, type TrackInfo } from './types.js';
