// The media layer: Matroska / KVS GetMedia parsing, fragment metadata, I-frame sampling, and the
// positions in a stream that reading resumes from (fragment numbers, checkpoints).

export { MkvParser, type MkvEvent, type MkvParserOptions } from './mkv-parser.js';
export { readMkv, sampleFrames, type SampledFrame, type SampleOptions } from './read-mkv.js';
export { IFrameSampler } from './sampler.js';
export { KVS_TAG } from './kvs-tags.js';
export { compareFragmentNumbers } from './fragment-number.js';
export { compareCheckpoints, isAfter, laterCheckpoint, type Checkpoint, type ResumePoint } from './checkpoint.js';
export { MediaError, type MediaErrorCode } from './errors.js';
export { TRACK_TYPE_VIDEO, type Fragment, type Frame, type TrackInfo } from './types.js';
