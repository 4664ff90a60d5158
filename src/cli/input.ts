// Opens a command's input: a file path, or `-` for standard input.

import { createReadStream } from 'node:fs';
import { KvsInferError } from '../errors.js';

export function openInput(path: string | undefined): AsyncIterable<Uint8Array> {
  if (path === undefined) throw new KvsInferError('USAGE', 'missing input: a file path, or - for standard input');
  // 256 KiB reads: few enough chunk boundaries that most blocks are handed out without a copy.
  return path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 256 * 1024 });
}
