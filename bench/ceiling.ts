// The machine's own ceiling for a live run: how many of the clip's I-frames libavcodec (through node-av and the
// worker's FrameDecoder) decodes per second with one thread per core and nothing else to do. Divided by what one
// stream samples, it is how many streams the machine could serve if decoding were all a worker did. Beside it, the
// same I-frames made into the run's images by the worker's own pool: the ceiling of a worker that must also encode.

import { on } from 'node:events';
import { createReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readMkv, TRACK_TYPE_VIDEO } from '../src/media/index.js';
import { ffmpegCodecId } from '../src/native/codecs.js';
import { FramePool, type ImageRequest } from '../src/native/index.js';
import type { CeilingGo, CeilingThreadData, CeilingThreadMessage } from './ceiling-thread.js';

const THREAD = new URL(`./ceiling-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export interface Ceiling {
  /** I-frames decoded per second over every thread. */
  framesPerSecond: number;
  /** Threads decoding at once (one per core by default). */
  threads: number;
  /** CPU time of the process per I-frame decoded, ms (every thread). */
  cpuMsPerFrame: number;
  /** Distinct I-frames of the clips, decoded round after round. */
  distinctFrames: number;
  seconds: number;
  /**
   * The same I-frames made into the run's images by the worker's own pool (decode, convert and encode, any thread
   * the encoder uses included), a thread per core, nothing else running: what a worker that must send images could do.
   */
  images: ImageCeiling;
}

export interface ImageCeiling {
  /** Images made per second by the whole pool. */
  framesPerSecond: number;
  /** CPU time of the process per image, ms (every thread: the pool's, and any the encoder uses). */
  cpuMsPerFrame: number;
  /** The images' size and type, as the run's worker makes them. */
  width: number;
  height: number;
  contentType: string;
}

export interface CeilingOptions {
  /** The clips the run replays (their I-frames are decoded). */
  files: string[];
  /** Default 5 s, after every thread has opened its decoder. */
  seconds?: number;
  /** Default one per core. */
  threads?: number;
  /** The image the run's worker makes of a sampled frame. */
  output: ImageRequest;
}

/** The clips' I-frames, as the pool's threads get them. */
async function keyframes(files: string[]): Promise<CeilingThreadData['frames']> {
  const frames: CeilingThreadData['frames'] = [];
  for (const file of files) await addKeyframes(file, frames);
  if (frames.length === 0) throw new Error(`${files.join(', ')}: no video I-frame to decode`);
  return frames;
}

async function addKeyframes(file: string, frames: CeilingThreadData['frames']): Promise<void> {
  for await (const event of readMkv(createReadStream(file))) {
    if (event.type !== 'frame' || !event.frame.keyframe || event.frame.track.type !== TRACK_TYPE_VIDEO) continue;
    const { codecId, codecPrivate } = event.frame.track;
    frames.push({
      codecId: codecId ?? '',
      avCodecId: ffmpegCodecId(codecId ?? ''),
      codecPrivate: codecPrivate && new Uint8Array(codecPrivate),
      data: new Uint8Array(event.frame.data).buffer,
    });
  }
}

/**
 * Measures the ceiling: `threads` threads, their decoders open, decode the clips' I-frames for `seconds`; then a pool
 * of `threads` makes them into images for as long.
 */
export async function measureCeiling(options: CeilingOptions): Promise<Ceiling> {
  const threads = options.threads ?? availableParallelism();
  const frames = await keyframes(options.files);
  const ms = (options.seconds ?? 5) * 1000;
  const workers = Array.from({ length: threads }, () => new Worker(THREAD, { workerData: { frames } }));
  try {
    const replies = workers.map((worker) => messages(worker));
    await Promise.all(replies.map((reply) => reply.next()));
    const cpu = process.cpuUsage();
    const until = Date.now() + ms;
    for (const worker of workers) worker.postMessage({ until } satisfies CeilingGo);
    const counts = await Promise.all(replies.map(async (reply) => (await reply.next()).value as { decoded: number }));
    const used = process.cpuUsage(cpu);
    const decoded = counts.reduce((sum, c) => sum + c.decoded, 0);
    await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
    return {
      framesPerSecond: decoded / (ms / 1000),
      threads,
      cpuMsPerFrame: decoded > 0 ? (used.user + used.system) / 1000 / decoded : Number.NaN,
      distinctFrames: frames.length,
      seconds: ms / 1000,
      images: await imagesPerSecond(frames, options.output, threads, ms),
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** The pool's rate: two frames a thread in flight, as the worker's decode stage keeps it, for `ms` after a warm-up. */
async function imagesPerSecond(
  frames: CeilingThreadData['frames'],
  output: ImageRequest,
  threads: number,
  ms: number,
): Promise<ImageCeiling> {
  const pool = await FramePool.create({ size: threads });
  try {
    let next = 0;
    const image = () => {
      const frame = frames[next++ % frames.length]!;
      return pool.process({
        codecId: frame.codecId,
        codecPrivate: frame.codecPrivate,
        data: new Uint8Array(frame.data),
        output,
      });
    };
    // Every thread's decoder opened and its encoder loaded.
    let last = (await Promise.all(Array.from({ length: threads }, image))).at(-1)!;
    const cpu = process.cpuUsage();
    const start = performance.now();
    let made = 0;
    const lane = async () => {
      while (performance.now() - start < ms) {
        last = await image();
        made++;
      }
    };
    await Promise.all(Array.from({ length: threads * 2 }, lane));
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    return {
      framesPerSecond: made / seconds,
      cpuMsPerFrame: made > 0 ? (used.user + used.system) / 1000 / made : Number.NaN,
      width: last.width,
      height: last.height,
      contentType: last.contentType,
    };
  } finally {
    await pool.destroy();
  }
}

/** A thread's messages in order; a thread error rejects the next one. */
async function* messages(worker: Worker): AsyncGenerator<CeilingThreadMessage> {
  for await (const [message] of on(worker, 'message')) yield message as CeilingThreadMessage;
}
