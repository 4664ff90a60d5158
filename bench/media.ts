// `npm run bench:media`: parser throughput on one core, and I-frames per second through
// parse + decode + JPEG encode with one pool thread and with the full pool, beside the ffmpeg
// command line doing the same job when an `ffmpeg` binary is on the PATH.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { progress } from '../src/cli/progress.js';
import { MkvParser } from '../src/media/index.js';
import { extractImages, FramePool } from '../src/native/index.js';
import { cachedFixture } from './fixtures/index.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '60' },
    json: { type: 'string', default: 'bench/results/media.json' },
    fixture: { type: 'string', default: join(tmpdir(), 'kvs-infer-bench') },
  },
});
const runs = Number(values.runs);

interface Figure {
  median: number;
  min: number;
  max: number;
}

function figure(samples: number[]): Figure {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
}

const show = (f: Figure, unit: string) => `${f.median.toFixed(1)} ${unit} (min ${f.min.toFixed(1)}, max ${f.max.toFixed(1)})`;

function describe(bytes: Buffer) {
  const parser = new MkvParser();
  const events = [...parser.push(bytes), ...parser.end()];
  const frames = events.flatMap((e) => (e.type === 'frame' ? [e.frame] : []));
  const track = frames[0]?.track;
  return { bytes: bytes.length, width: track?.width, height: track?.height, codecId: track?.codecId, frames: frames.length, keyframes: frames.filter((f) => f.keyframe).length };
}

/** Parser alone, one core: every event produced, nothing decoded. */
function parserMegabytesPerSecond(bytes: Buffer): number {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 65536) chunks.push(bytes.subarray(at, at + 65536));
  const repeat = Math.max(1, Math.ceil((200 * 1024 * 1024) / bytes.length));
  let frames = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < repeat; i++) {
    const parser = new MkvParser();
    for (const chunk of chunks) frames += parser.push(chunk).length;
    frames += parser.end().length;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (frames === 0) throw new Error('the parser produced no events');
  return (bytes.length * repeat) / seconds / 1e6;
}

async function* fileChunks(bytes: Buffer): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 256 * 1024) yield bytes.subarray(at, at + 256 * 1024);
}

/** Every I-frame of the file through the pool as JPEG (quality 80, full size). */
async function poolFramesPerSecond(pool: FramePool, bytes: Buffer): Promise<number> {
  let images = 0;
  const start = process.hrtime.bigint();
  for await (const result of extractImages(fileChunks(bytes), { pool, inferenceInterval: 1, output: { contentType: 'image/jpeg', quality: 80 } })) {
    if (result.error) throw result.error;
    images++;
  }
  return images / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** The same job by the ffmpeg command line with its default threading; null when there is no ffmpeg. */
async function ffmpegFramesPerSecond(path: string): Promise<number | null> {
  if (spawnSync('ffmpeg', ['-version']).status !== 0) return null;
  const out = await mkdtemp(join(tmpdir(), 'kvs-infer-ffmpeg-'));
  try {
    const start = process.hrtime.bigint();
    const result = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-skip_frame', 'nokey', '-i', path, '-an', '-fps_mode', 'passthrough', '-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2', join(out, '%06d.jpg')]);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (result.status !== 0) throw new Error(`ffmpeg failed: ${result.stderr.toString()}`);
    return (await readdir(out)).length / seconds;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function measure(label: string, run: () => Promise<number> | number, unit: string): Promise<Figure> {
  const bar = progress(label);
  bar.update(0, runs, 'warm-up');
  await run(); // warm-up, excluded
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    samples.push(await run());
    bar.update(i + 1, runs, 'runs');
  }
  bar.stop();
  const result = figure(samples);
  console.log(`${label}: ${show(result, unit)}`);
  return result;
}

// A 1080p 4 Mbps H.264 clip with an I-frame every second.
const path = await cachedFixture(`1080p-4M-gop1-${values.seconds}s.mkv`, { codec: 'h264', width: 1920, height: 1080, fps: 30, gopSeconds: 1, durationSeconds: Number(values.seconds), bitrate: '4M', seed: 42 }, values.fixture);
const bytes = await readFile(path);
const info = { path, ...describe(bytes) };
console.log(`fixture: ${path}, ${info.width}x${info.height} ${info.codecId}, ${info.frames} frames, ${info.keyframes} I-frames, ${(info.bytes / 1e6).toFixed(1)} MB`);
console.log(`machine: ${cpus()[0]?.model ?? 'unknown cpu'}, ${availableParallelism()} cores, Node ${process.version}\n`);

const parser = await measure('parser, one core', () => parserMegabytesPerSecond(bytes), 'MB/s');
// Smaller frames mean more elements per megabyte: the real 640x360 GetMedia capture, when present.
const capturePath = fileURLToPath(new URL('../../../shared/fixtures/kvs-getmedia/output_get_media.mkv', import.meta.url));
const capture = existsSync(capturePath) ? await readFile(capturePath) : null;
const parserOnCapture = capture && (await measure('parser, one core, output_get_media.mkv', () => parserMegabytesPerSecond(capture), 'MB/s'));
const pools: Record<string, Figure> = {};
for (const size of [...new Set([1, availableParallelism()])]) {
  const pool = await FramePool.create({ size });
  try {
    pools[size] = await measure(`parse + decode + JPEG, pool of ${size}`, () => poolFramesPerSecond(pool, bytes), 'I-frames/s');
  } finally {
    await pool.destroy();
  }
}
const ffmpeg = (await ffmpegFramesPerSecond(path)) === null ? null : await measure('ffmpeg -skip_frame nokey -c:v mjpeg', async () => (await ffmpegFramesPerSecond(path))!, 'I-frames/s');

const full = pools[availableParallelism()]!;
const scaling = full.median / pools[1]!.median;
console.log(`\nscaling from 1 to ${availableParallelism()} pool threads: ${scaling.toFixed(2)}x`);
if (ffmpeg) console.log(`full pool vs ffmpeg: ${(full.median / ffmpeg.median).toFixed(2)}x`);

await mkdir(join(values.json, '..'), { recursive: true });
await writeFile(
  values.json,
  `${JSON.stringify({ machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version }, fixture: info, runs, parserMBps: parser, parserMBpsOnCapture: parserOnCapture, framesPerSecond: pools, ffmpegFramesPerSecond: ffmpeg, scaling }, null, 2)}\n`,
);
console.log(`results: ${values.json}`);
