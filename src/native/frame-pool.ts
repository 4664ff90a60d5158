// A bounded pool of worker threads that decode access units and encode them as images.
// Callers apply backpressure by awaiting: a full pool rejects with POOL_QUEUE_FULL instead of growing.

import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ffmpegCodecId } from './codecs.js';
import { FrameError } from './errors.js';
import { validateImageRequest } from './image-request.js';
import type { EncodedImage, FrameTask } from './types.js';
import type { WorkerReply, WorkerTask } from './worker-protocol.js';

export interface FramePoolOptions {
  /** Worker threads; default os.availableParallelism(). */
  size?: number;
  /** Tasks that may wait beyond the `size` running ones; default size * 4. */
  maxQueue?: number;
}

// Next to this module with its extension: .js in dist/, .ts when the sources run under a TypeScript loader
// (worker threads inherit the loader through execArgv).
const WORKER = new URL(`./frame-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;

export class FramePool implements AsyncDisposable {
  readonly size: number;
  readonly maxQueue: number;
  readonly #piscina: Piscina;
  /** Submitted and not yet settled: running plus waiting. */
  #pending = 0;
  #closed = false;
  readonly #started = performance.now();
  /** Thread time spent on tasks, as the workers measured it. */
  #busyMs = 0;

  private constructor(piscina: Piscina, size: number, maxQueue: number) {
    this.#piscina = piscina;
    this.size = size;
    this.maxQueue = maxQueue;
  }

  /** Starts `size` threads and resolves once they have loaded the worker module and its native bindings. */
  static async create(options: FramePoolOptions = {}): Promise<FramePool> {
    const size = options.size ?? availableParallelism();
    const maxQueue = options.maxQueue ?? size * 4;
    if (!(Number.isInteger(size) && size >= 1) || !(Number.isInteger(maxQueue) && maxQueue >= 0)) {
      throw new FrameError(
        'BAD_POOL_OPTIONS',
        `FramePool needs an integer size >= 1 and maxQueue >= 0, got ${size} and ${maxQueue}`,
      );
    }
    const piscina = new Piscina({
      filename: WORKER,
      name: 'processFrame',
      // A fixed set of threads: each keeps its opened decoders, so none should idle out.
      minThreads: size,
      maxThreads: size,
    });
    try {
      await Promise.all(Array.from({ length: size }, () => piscina.run(null, { name: 'ready' })));
    } catch (error) {
      await piscina.destroy();
      throw new FrameError('WORKER_FAILED', `frame workers failed to start: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return new FramePool(piscina, size, maxQueue);
  }

  /** Tasks waiting for a thread. */
  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  /**
   * Share of the threads' time spent on tasks since the pool started, 0 to 1. Kept here because
   * piscina 5.3's own `utilization` comes out 1000 times too small (it mixes up its histogram's units).
   */
  get utilization(): number {
    return Math.min(1, this.#busyMs / ((performance.now() - this.#started) * this.size));
  }

  async process(task: FrameTask, signal?: AbortSignal): Promise<EncodedImage> {
    if (this.#closed) throw new FrameError('POOL_CLOSED', 'the frame pool has been destroyed');
    validateImageRequest(task.output);
    const avCodecId = ffmpegCodecId(task.codecId);
    // Counted here rather than through piscina's maxQueue: piscina reports a full queue by message only,
    // and counts threads that are still starting as capacity.
    if (this.#pending >= this.size + this.maxQueue) {
      throw new FrameError(
        'POOL_QUEUE_FULL',
        `the frame pool is full: ${this.#pending} tasks (${this.size} threads + ${this.maxQueue} queued)`,
      );
    }
    // The parser's access unit is a view into a larger chunk; copy just the unit so only it crosses threads.
    // (new Uint8Array, not slice(): Buffer's slice() returns a view, and transferring it would detach the chunk.)
    const data = new Uint8Array(task.data).buffer;
    const workerTask: WorkerTask = {
      codecId: task.codecId,
      avCodecId,
      codecPrivate: task.codecPrivate && new Uint8Array(task.codecPrivate),
      data,
      output: task.output,
    };
    this.#pending++;
    let reply: WorkerReply;
    try {
      reply = await this.#piscina.run(workerTask, { transferList: [data], signal });
    } catch (error) {
      throw this.#runFailure(error);
    } finally {
      this.#pending--;
    }
    this.#busyMs += reply.busyMs;
    if (!reply.ok) throw new FrameError(reply.code, reply.message);
    const { data: image, contentType, width, height, decodeMs, encodeMs } = reply;
    return { data: new Uint8Array(image), contentType, width, height, decodeMs, encodeMs };
  }

  /** Stops the threads; tasks still queued or running reject with POOL_CLOSED. */
  async destroy(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#piscina.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  #runFailure(error: unknown): FrameError {
    if (error instanceof Error && error.name === 'AbortError') {
      return new FrameError('ABORTED', 'the frame task was aborted', { cause: error });
    }
    if (this.#closed)
      return new FrameError('POOL_CLOSED', 'the frame pool was destroyed before the task finished', { cause: error });
    return new FrameError('WORKER_FAILED', `the frame worker failed: ${(error as Error).message}`, { cause: error });
  }
}
