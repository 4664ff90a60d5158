// KIT's frame selection: per stream, the first I-frame and then every `inferenceInterval`-th
// I-frame after it, counted across fragment (and GetMedia reconnect) boundaries.

import { KvsInferError } from '../errors.js';
import type { FrameSampler, SamplerState } from './sampler.js';

export class IFrameSampler implements FrameSampler {
  readonly interval: number;
  private keyframesSeen: number;

  /** `keyframesSeen` restores the count of a stream whose earlier I-frames were already counted. */
  constructor(interval: number, keyframesSeen = 0) {
    if (!Number.isInteger(interval) || interval < 1) {
      throw new KvsInferError('BAD_CONFIG', `inferenceInterval must be a positive integer, got ${interval}`);
    }
    this.interval = interval;
    this.keyframesSeen = keyframesSeen;
  }

  /** The I-frames counted so far. */
  get state(): SamplerState {
    return { keyframesSeen: this.keyframesSeen };
  }

  /** Whether `sample` would pick this frame, without counting it. */
  wouldSample(frame: { keyframe: boolean }): boolean {
    return frame.keyframe && this.keyframesSeen % this.interval === 0;
  }

  /** Returns the frame's keyframe index when it is to be inferred on, otherwise null. */
  sample(frame: { keyframe: boolean }): number | null {
    if (!frame.keyframe) return null;
    const index = this.keyframesSeen++;
    return index % this.interval === 0 ? index : null;
  }
}
