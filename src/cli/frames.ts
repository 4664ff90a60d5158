// `kvs-infer frames <file|->`: writes the sampled I-frames of an input as images, one JSON line each.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KvsInferError } from '../errors.js';
import type { MediaError } from '../media/index.js';
import { extractImages, FramePool, type ImageContentType, validateImageRequest } from '../native/index.js';
import { openInput, unwritable } from './files.js';
import { positiveInteger } from './options.js';
import { progress } from './progress.js';

const EXTENSIONS: Record<ImageContentType, string> = {
  'image/jpeg': 'jpg',
  'application/x-image': 'jpg',
  'image/png': 'png',
  'image/bmp': 'bmp',
  'image/gif': 'gif',
};

export async function frames(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string' },
      every: { type: 'string' },
      'sampling-interval': { type: 'string' },
      type: { type: 'string', default: 'image/jpeg' },
      width: { type: 'string' },
      height: { type: 'string' },
      quality: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  if (values.out === undefined) throw new KvsInferError('USAGE', '--out DIR is required');
  const contentType = values.type as ImageContentType;
  const output = {
    contentType,
    width: positiveInteger('width', values.width),
    height: positiveInteger('height', values.height),
    quality: positiveInteger('quality', values.quality),
  };
  validateImageRequest(output);
  const inferenceInterval = positiveInteger('every', values.every, 6)!;
  const samplingIntervalMillis = positiveInteger('sampling-interval', values['sampling-interval']);
  if (samplingIntervalMillis !== undefined && values.every !== undefined)
    throw new KvsInferError('USAGE', '--every and --sampling-interval exclude each other: give one');
  const input = await openInput(positionals[0]);
  await mkdir(values.out, { recursive: true }).catch((error: unknown) => {
    throw unwritable(`--out ${values.out}`, error);
  });

  await using pool = await FramePool.create({ size: positiveInteger('threads', values.threads) });
  // Through the file by the byte offset of each frame written; from standard input or a pipe only the count is known.
  const fileMb = input.bytes === null ? null : Math.round(input.bytes / 1e5) / 10;
  const bar = progress(fileMb === null ? 'images' : 'MB read');
  let images = 0;
  let failed = false;
  const complain = (code: string | undefined, message: string) => {
    failed = true;
    process.stderr.write(`${code ?? 'ERROR'}: ${message}\n`);
  };
  try {
    const onMediaError = (error: MediaError) => complain(error.code, error.message);
    for await (const { frame, image, error } of extractImages(input.chunks, {
      pool,
      inferenceInterval,
      samplingIntervalMillis,
      output,
      onMediaError,
    })) {
      const fragment = frame.fragment;
      if (error) {
        const where =
          `fragment ${fragment.fragmentNumber ?? `#${fragment.index}`}, I-frame ${frame.keyframeIndex} ` +
          `at ${frame.timecodeMs} ms`;
        complain((error as { code?: string }).code, `${where}: ${error.message}`);
        continue;
      }
      const file = join(values.out, `frame-${String(frame.keyframeIndex).padStart(6, '0')}.${EXTENSIONS[contentType]}`);
      await writeFile(file, image.data);
      const line = {
        fragmentNumber: fragment.fragmentNumber,
        producerTimestamp: fragment.producerTimestamp,
        serverTimestamp: fragment.serverTimestamp,
        timecodeMs: frame.timecodeMs,
        keyframeIndex: frame.keyframeIndex,
        file,
        width: image.width,
        height: image.height,
        bytes: image.data.byteLength,
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      images++;
      if (fileMb === null) bar.update(images, images);
      else bar.update(Math.min(fileMb, Math.round(frame.offset / 1e5) / 10), fileMb, `${images} images`);
    }
  } catch (error) {
    complain((error as { code?: string }).code, (error as Error).message);
  } finally {
    bar.stop();
  }
  return failed ? 2 : 0;
}
