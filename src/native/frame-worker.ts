// The piscina task that runs on each pool thread: decode one access unit, encode the image, move
// the bytes back. Task failures return as values (see worker-protocol.ts) so their codes survive.

import { move, transferableSymbol, valueSymbol } from 'piscina';
import sharp from 'sharp';
import { FrameError } from './errors.js';
import { FrameDecoder } from './frame-decoder.js';
import { ImageEncoder } from './image-encoder.js';
import type { WorkerReply, WorkerTask } from './worker-protocol.js';

// The pool's threads are the parallelism; libvips threads would compete with them, and its
// operation cache only holds memory for images that never repeat.
sharp.concurrency(1);
sharp.cache(false);

// One of each per thread, for the thread's lifetime: the cached decoders are the point.
const decoder = new FrameDecoder();
const encoder = new ImageEncoder();

/** Resolves once this module (node-av, libjpeg-turbo, sharp) has loaded; FramePool.create waits on it. */
export function ready(): boolean {
  return true;
}

export async function processFrame(task: WorkerTask): Promise<WorkerReply | ReturnType<typeof move>> {
  const started = performance.now();
  try {
    using frame = decoder.decode(task);
    const decoded = performance.now();
    const image = await encoder.encode(frame, task.output);
    const reply: WorkerReply = {
      ok: true,
      data: image.data,
      contentType: task.output.contentType,
      width: image.width,
      height: image.height,
      decodeMs: decoded - started,
      encodeMs: performance.now() - decoded,
      busyMs: performance.now() - started,
    };
    // piscina posts `valueSymbol` with `transferableSymbol` in the transfer list.
    return move({ [transferableSymbol]: [image.data], [valueSymbol]: reply });
  } catch (error) {
    if (error instanceof FrameError)
      return { ok: false, code: error.code, message: error.message, busyMs: performance.now() - started };
    throw error;
  }
}
