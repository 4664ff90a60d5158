// A command's files: its input opened up front, and any file it cannot read or write turned into one
// line naming the file and saying why (INPUT_UNREADABLE, OUTPUT_UNWRITABLE: exit 2, see main.ts)
// rather than a stream's unhandled 'error' event or a bare errno.

import { accessSync, constants, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { KvsInferError } from '../errors.js';

/** An opened input: its bytes, and its size when it is a regular file (null for standard input or a pipe). */
export interface Input {
  chunks: AsyncIterable<Uint8Array>;
  bytes: number | null;
}

// What the errno means for a path named on the command line; any other error keeps its own message.
const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory, not a file',
  EEXIST: 'exists and is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return (code !== undefined && REASONS[code]) || (error as Error).message;
}

/** `given`: the file as the command line gave it, e.g. `in.mkv` or `--stream front-door=in.mkv`. */
function unreadable(given: string, why: string, cause?: unknown): KvsInferError {
  return new KvsInferError('INPUT_UNREADABLE', `${given}: ${why}`, { cause });
}

/**
 * Opens a command's input: a file path, or `-` for standard input. A file that cannot be read throws INPUT_UNREADABLE.
 */
export async function openInput(path: string | undefined): Promise<Input> {
  if (path === undefined) throw new KvsInferError('USAGE', 'missing input: a file path, or - for standard input');
  if (path === '-') return { chunks: process.stdin, bytes: null };
  let handle: FileHandle;
  try {
    handle = await open(path);
  } catch (error) {
    throw unreadable(path, reason(error), error);
  }
  // Opening a directory succeeds on Linux; only the first read would fail.
  const stats = await handle.stat();
  if (stats.isDirectory()) {
    await handle.close();
    throw unreadable(path, REASONS.EISDIR!);
  }
  // 256 KiB reads: few enough chunk boundaries that most blocks are handed out without a copy.
  return { chunks: handle.createReadStream({ highWaterMark: 256 * 1024 }), bytes: stats.isFile() ? stats.size : null };
}

/**
 * Checks that a file which another part of the program opens later can be read, so that the command fails
 * before it starts anything. `given`: as the command line gave it, for the message.
 */
export function checkReadable(path: string, given: string): void {
  let directory: boolean;
  try {
    directory = statSync(path).isDirectory();
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw unreadable(given, reason(error), error);
  }
  if (directory) throw unreadable(given, REASONS.EISDIR!);
}

/**
 * OUTPUT_UNWRITABLE for a failed write (or mkdir); `given`: the file as the command line gave it, e.g. `--out
 * lease.svg`.
 */
export function unwritable(given: string, error: unknown): KvsInferError {
  return new KvsInferError('OUTPUT_UNWRITABLE', `${given}: ${reason(error)}`, { cause: error });
}
