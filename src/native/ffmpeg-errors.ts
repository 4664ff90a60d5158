// FFmpeg's negative return codes turned into FrameErrors carrying FFmpeg's own message.

import { FFmpegError } from 'node-av/lib';
import { FrameError, type FrameErrorCode } from './errors.js';

export function ffmpegFailure(code: FrameErrorCode, what: string, ret: number): FrameError {
  return new FrameError(code, `${what}: ${FFmpegError.strerror(ret)}`, { cause: FFmpegError.fromCode(ret) });
}

/** Throws `ffmpegFailure` when `ret` is an FFmpeg error. */
export function checkFFmpeg(ret: number, code: FrameErrorCode, what: string): void {
  if (ret < 0) throw ffmpegFailure(code, what, ret);
}
