// Pull-based adapters over MkvParser: the consumer's pace sets the reading pace (backpressure).

import { MediaError } from './errors.js';
import { type MkvEvent, MkvParser, type MkvParserOptions } from './mkv-parser.js';
import { createSampler, type SamplingOptions } from './sampler.js';
import type { Frame } from './types.js';

/** Parses a byte source (a file stream, a GetMedia body) into parser events. */
export async function* readMkv(
  source: AsyncIterable<Uint8Array>,
  options?: MkvParserOptions,
): AsyncGenerator<MkvEvent> {
  const parser = new MkvParser(options);
  for await (const chunk of source) yield* parser.push(chunk);
  yield* parser.end();
}

export interface SampledFrame extends Frame {
  keyframeIndex: number;
}

/** Keep 1 of every `inferenceInterval` I-frames (KIT's default is 6), or one per `samplingIntervalMillis` when set. */
export interface SampleOptions extends MkvParserOptions, SamplingOptions {
  /** Called for each non-fatal problem (a bad tag, a corrupt fragment skipped). */
  onError?: (error: MediaError) => void;
}

/**
 * Yields the I-frames to infer on. Throws NO_VIDEO_TRACK when the input has no video track,
 * and MKV_TRUNCATED / MKV_EMPTY / MKV_INVALID when the input ends badly (after every good frame).
 */
export async function* sampleFrames(
  source: AsyncIterable<Uint8Array>,
  options: SampleOptions,
): AsyncGenerator<SampledFrame> {
  const sampler = createSampler(options);
  let sawVideo = false;
  let fatal: MediaError | null = null;
  for await (const event of readMkv(source, options)) {
    switch (event.type) {
      case 'tracks':
        if (event.video === null) throw new MediaError('NO_VIDEO_TRACK', 'the input has no video track');
        sawVideo = true;
        break;
      case 'frame': {
        const keyframeIndex = sampler.sample(event.frame);
        if (keyframeIndex !== null) yield { ...event.frame, keyframeIndex };
        break;
      }
      case 'error':
        if (event.error.code === 'MKV_INVALID' && sawVideo) options.onError?.(event.error);
        else fatal ??= event.error;
        break;
    }
  }
  if (fatal !== null) throw fatal;
  if (!sawVideo) throw new MediaError('NO_VIDEO_TRACK', 'the input has no video track');
}
