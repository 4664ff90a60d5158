// Errors of the decode/encode pool. Those raised in a worker thread reach the caller with the same code.

import { KvsInferError } from '../errors.js';

export type FrameErrorCode =
  /** No mapping from the Matroska CodecID, or no decoder for it in this FFmpeg build. */
  | 'UNSUPPORTED_CODEC'
  /** The decoder could not be opened with the CodecPrivate, or the access unit gave no picture. */
  | 'DECODE_FAILED'
  /** Colour conversion, resizing or image encoding failed. */
  | 'ENCODE_FAILED'
  | 'BAD_IMAGE_REQUEST'
  /** FramePool.create was given a size or maxQueue that is not a usable integer. */
  | 'BAD_POOL_OPTIONS'
  /** The pool already holds `size + maxQueue` tasks; await some before submitting more. */
  | 'POOL_QUEUE_FULL'
  | 'POOL_CLOSED'
  /** The caller's AbortSignal fired. */
  | 'ABORTED'
  /** A worker thread failed in a way the task itself did not report (a bug, or a worker that would not start). */
  | 'WORKER_FAILED';

export class FrameError extends KvsInferError<FrameErrorCode> {}
