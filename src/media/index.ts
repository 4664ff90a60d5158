// The media layer: Matroska / KVS GetMedia parsing, fragment metadata, sampling (by I-frame count or by time), and the
// positions in a stream that reading resumes from (fragment numbers, checkpoints).

export { type Checkpoint, compareCheckpoints, isAfter, laterCheckpoint, type ResumePoint } from './checkpoint.js';
export { MediaError, type MediaErrorCode } from './errors.js';
export { compareFragmentNumbers } from './fragment-number.js';
export { IFrameSampler } from './iframe-sampler.js';
export { KVS_TAG } from './kvs-tags.js';
export { type MkvEvent, MkvParser, type MkvParserOptions } from './mkv-parser.js';
export { readMkv, type SampledFrame, type SampleOptions, sampleFrames } from './read-mkv.js';
export {
  createSampler,
  type FrameSampler,
  type SampleableFrame,
  type SamplerState,
  type SamplingOptions,
} from './sampler.js';
export { frameTime, TimeSampler } from './time-sampler.js';
export { type Fragment, type Frame, TRACK_TYPE_VIDEO, type TrackInfo } from './types.js';
