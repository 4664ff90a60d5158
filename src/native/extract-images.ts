// Sampled I-frames of an MKV source turned into images through the pool, several in flight,
// handed out in stream order. Reading pauses while `concurrency` frames are in flight.

import { type MediaError, type SampledFrame, sampleFrames } from '../media/index.js';
import type { FramePool } from './frame-pool.js';
import type { EncodedImage, ImageRequest } from './types.js';

export interface ExtractOptions {
  pool: FramePool;
  inferenceInterval: number;
  /** When set, one I-frame per this many ms of producer time (of timecode, in a plain file) instead. */
  samplingIntervalMillis?: number | undefined;
  output: ImageRequest;
  /** Frames in flight at once; default twice the pool size. */
  concurrency?: number;
  /** Non-fatal media problems (a corrupt fragment skipped, a bad tag). */
  onMediaError?: (error: MediaError) => void;
}

export type ExtractedImage =
  | { frame: SampledFrame; image: EncodedImage; error?: never }
  | { frame: SampledFrame; error: Error; image?: never };

/**
 * Yields one result per sampled frame: its image, or the error that frame met (the others go on).
 * Media errors that end the input (MKV_TRUNCATED, NO_VIDEO_TRACK, ...) are thrown after every
 * frame read before them has been yielded.
 */
export async function* extractImages(
  source: AsyncIterable<Uint8Array>,
  options: ExtractOptions,
): AsyncGenerator<ExtractedImage> {
  const concurrency = options.concurrency ?? options.pool.size * 2;
  const inFlight: Promise<ExtractedImage>[] = [];
  const start = (frame: SampledFrame): Promise<ExtractedImage> =>
    options.pool
      .process({
        codecId: frame.track.codecId ?? '',
        codecPrivate: frame.track.codecPrivate,
        data: frame.data,
        output: options.output,
      })
      .then(
        (image) => ({ frame, image }),
        (error: Error) => ({ frame, error }),
      );
  let failure: unknown = null;
  try {
    for await (const frame of sampleFrames(source, {
      inferenceInterval: options.inferenceInterval,
      samplingIntervalMillis: options.samplingIntervalMillis,
      onError: options.onMediaError,
    })) {
      inFlight.push(start(frame));
      if (inFlight.length >= concurrency) yield await inFlight.shift()!;
    }
  } catch (error) {
    failure = error;
  }
  while (inFlight.length > 0) yield await inFlight.shift()!;
  if (failure !== null) throw failure;
}
