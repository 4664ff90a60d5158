// Which frames of a stream are inferred on: the one interface of the two samplers (KIT's 1 in N I-frames, and one
// I-frame per interval of producer time), what a checkpoint keeps of them, and the choice between them by the config.

import { namePhase } from '../name-phase.js';
import { IFrameSampler } from './iframe-sampler.js';
import { TimeSampler } from './time-sampler.js';
import type { Fragment, Frame } from './types.js';

/** What a sampler looks at: an I-frame, and when it was taken. */
export type SampleableFrame = Pick<Frame, 'keyframe' | 'timecodeMs' | 'clusterTimecodeMs'> & {
  fragment: Pick<Fragment, 'producerTimestamp' | 'serverTimestamp'>;
};

/** Where a sampler goes on from: stored with each checkpoint, so that a new owner samples what the old one would. */
export interface SamplerState {
  /** I-frames of the stream counted so far (every sampler counts them: a record's `keyframeIndex`). */
  keyframesSeen: number;
  /**
   * The time sampler's next tick, epoch ms of producer time: the first I-frame at or after it is sampled. Absent
   * before its first sample (and for the I-frame sampler): the next I-frame is sampled.
   */
  nextSampleAt?: number;
}

export interface FrameSampler {
  /** The state to resume from after the frames sampled so far. */
  readonly state: SamplerState;
  /** Whether `sample` would pick this frame, without counting it. */
  wouldSample(frame: SampleableFrame): boolean;
  /** Counts the frame; returns its keyframe index when it is to be inferred on, otherwise null. */
  sample(frame: SampleableFrame): number | null;
}

export interface SamplingOptions {
  /** 1 in this many I-frames, KIT's way. */
  inferenceInterval: number;
  /** When set, one I-frame per this many ms of producer time instead. */
  samplingIntervalMillis?: number | undefined;
}

/**
 * The sampler the options ask for, resuming from `state` (a checkpoint's) when given. By time, the stream's name
 * places its grid (namePhase); without one (a file), the grid is the multiples of the interval.
 */
export function createSampler(
  options: SamplingOptions,
  state: SamplerState = { keyframesSeen: 0 },
  streamName?: string,
): FrameSampler {
  const interval = options.samplingIntervalMillis;
  if (interval === undefined) return new IFrameSampler(options.inferenceInterval, state.keyframesSeen);
  return new TimeSampler(interval, state, streamName === undefined ? 0 : namePhase(streamName, interval));
}
