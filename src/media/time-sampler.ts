// Sampling by time: one I-frame per interval of producer time, per stream, whatever the camera's GOP. The ticks lie
// on a grid fixed by the interval and the stream's name (multiples of the interval from the epoch, shifted by a hash
// of the name), so every owner of a stream agrees on them, and a fleet's streams, whose cameras' clocks agree, do not
// all sample at the same instant; the first I-frame at or after a tick is sampled, and the next tick is the first
// grid point after it.

import { KvsInferError } from '../errors.js';
import type { FrameSampler, SampleableFrame, SamplerState } from './sampler.js';

export class TimeSampler implements FrameSampler {
  readonly intervalMs: number;
  /** The grid's offset from the multiples of the interval (namePhase of the stream's name). */
  readonly phaseMs: number;
  #keyframesSeen: number;
  #nextSampleAt: number | undefined;

  /**
   * `state` restores a checkpoint's: the count of I-frames and the next tick (absent: the next I-frame is taken).
   * `phaseMs` shifts the grid (namePhase of the stream's name); 0: multiples of the interval.
   */
  constructor(intervalMs: number, state: SamplerState = { keyframesSeen: 0 }, phaseMs = 0) {
    if (!Number.isInteger(intervalMs) || intervalMs < 1) {
      throw new KvsInferError('BAD_CONFIG', `samplingIntervalMillis must be a positive integer, got ${intervalMs}`);
    }
    this.intervalMs = intervalMs;
    this.phaseMs = phaseMs;
    this.#keyframesSeen = state.keyframesSeen;
    this.#nextSampleAt = state.nextSampleAt;
  }

  get state(): SamplerState {
    const keyframesSeen = this.#keyframesSeen;
    return this.#nextSampleAt === undefined ? { keyframesSeen } : { keyframesSeen, nextSampleAt: this.#nextSampleAt };
  }

  wouldSample(frame: SampleableFrame): boolean {
    return frame.keyframe && this.#due(frameTime(frame));
  }

  sample(frame: SampleableFrame): number | null {
    if (!frame.keyframe) return null;
    const index = this.#keyframesSeen++;
    const at = frameTime(frame);
    if (!this.#due(at)) return null;
    // The first grid point after the frame, not the tick it answered: an I-frame that covers several ticks (a GOP
    // longer than the interval, a gap in the stream) is sampled once, with no burst after it.
    this.#nextSampleAt = this.phaseMs + (Math.floor((at - this.phaseMs) / this.intervalMs) + 1) * this.intervalMs;
    return index;
  }

  #due(at: number): boolean {
    const next = this.#nextSampleAt;
    // More than an interval before the next tick is before the last sample: the producer's clock went back (a camera
    // reset). Sampling starts over at once rather than waiting, perhaps for hours, for the clock to catch up.
    return next === undefined || at >= next || at < next - this.intervalMs;
  }
}

/**
 * When a frame was taken, epoch ms: its fragment's producer timestamp plus its offset into the fragment. A fragment
 * without a producer timestamp is dated by its server timestamp (when KVS received it, the same for every reader of
 * the stream); a frame of a plain Matroska file, which has neither, by its timecode.
 */
export function frameTime(frame: SampleableFrame): number {
  const start = frame.fragment.producerTimestamp ?? frame.fragment.serverTimestamp;
  return start === null ? frame.timecodeMs : start + frame.timecodeMs - frame.clusterTimecodeMs;
}
