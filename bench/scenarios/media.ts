// `kvs-infer bench --scenario media`: parser throughput on one core, and I-frames per second through
// parse + decode + JPEG encode for every pool size from 1 to the cores, beside the ffmpeg command line
// doing the same job when an `ffmpeg` binary is on the PATH. Each figure is the median, min and max of
// several runs after a warm-up; clips are synthetic with a fixed seed, encoded once and cached.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { cachedFixture } from '../../src/local/fixtures/index.js';
import { MkvParser } from '../../src/media/index.js';
import { extractImages, FramePool, type ImageRequest } from '../../src/native/index.js';
import { repoRoot } from '../output.js';
import { type BenchReport, type Figure, figure, type Resolution } from '../report.js';

export interface MediaOptions {
  /** A 3 s 720p clip measured once: checks the scenario runs, measures nothing worth keeping. */
  smoke?: boolean;
  /** Of the generated clip; default 1080p (720p with `smoke`). */
  resolution?: Resolution;
  /** Of the generated clip; default `4M` (`1M` with `smoke`). */
  bitrate?: string;
  /** Seconds between I-frames of the generated clip; default 1. */
  gopSeconds?: number;
  /** Length of the generated clip; default 60 s (3 s with `smoke`). */
  durationSeconds?: number;
  /** Matroska files to measure instead of a generated clip. */
  files?: string[];
  /** Measured runs per figure after the warm-up; default 5 (1 with `smoke`). */
  runs?: number;
  /** The JPEGs' size; one side keeps the aspect ratio; default the clip's. */
  imageWidth?: number;
  imageHeight?: number;
  /** Default every size from 1 to os.availableParallelism() (a geometric subset beyond 8). */
  poolSizes?: number[];
  /** Where generated clips are kept; default `<tmpdir>/kvs-infer-bench`. */
  fixtureDir?: string;
}

/**
 * `label`'s progress: `done` of `total` steps (runs, here), with a detail such as `warm-up`. Called with the
 * label alone, it is a line of news (what a scenario without countable steps reports).
 */
export type OnProgress = (label: string, done?: number, total?: number, detail?: string) => void;

const SIZES: Record<Resolution, { width: number; height: number }> = {
  '1080p': { width: 1920, height: 1080 },
  '720p': { width: 1280, height: 720 },
};
const SEED = 42;

interface FileInfo {
  path: string;
  bytes: number;
  width: number | null;
  height: number | null;
  codecId: string | null;
  frames: number;
  keyframes: number;
}

function describe(path: string, bytes: Buffer): FileInfo {
  const parser = new MkvParser();
  const events = [...parser.push(bytes), ...parser.end()];
  const frames = events.flatMap((e) => (e.type === 'frame' ? [e.frame] : []));
  const track = frames[0]?.track;
  return {
    path,
    bytes: bytes.length,
    width: track?.width ?? null,
    height: track?.height ?? null,
    codecId: track?.codecId ?? null,
    frames: frames.length,
    keyframes: frames.filter((f) => f.keyframe).length,
  };
}

/** Parser alone, one core: every event produced, nothing decoded; repeated over `targetBytes` at least. */
function parserMegabytesPerSecond(bytes: Buffer, targetBytes: number): number {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 65536) chunks.push(bytes.subarray(at, at + 65536));
  const repeat = Math.max(1, Math.ceil(targetBytes / bytes.length));
  let events = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < repeat; i++) {
    const parser = new MkvParser();
    for (const chunk of chunks) events += parser.push(chunk).length;
    events += parser.end().length;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (events === 0) throw new Error('the parser produced no events');
  return (bytes.length * repeat) / seconds / 1e6;
}

async function* fileChunks(bytes: Buffer): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 256 * 1024) yield bytes.subarray(at, at + 256 * 1024);
}

/** What the pool's threads reported for each image, summed over runs. */
interface ImageTally {
  images: number;
  bytes: number;
  decodeMs: number;
  encodeMs: number;
  /** The process's CPU time, every thread: unlike the times above, hardly lengthened by other processes' load. */
  cpuMs: number;
  width: number;
  height: number;
}

/** Every I-frame of every file through the pool as `output`, each image added to `tally`. */
async function poolFramesPerSecond(
  pool: FramePool,
  files: Buffer[],
  output: ImageRequest,
  tally: ImageTally,
): Promise<number> {
  let images = 0;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (const bytes of files) {
    for await (const result of extractImages(fileChunks(bytes), { pool, inferenceInterval: 1, output })) {
      if (result.error) throw result.error;
      images++;
      tally.images++;
      tally.bytes += result.image.data.byteLength;
      tally.decodeMs += result.image.decodeMs;
      tally.encodeMs += result.image.encodeMs;
      tally.width = result.image.width;
      tally.height = result.image.height;
    }
  }
  const used = process.cpuUsage(cpu);
  tally.cpuMs += (used.user + used.system) / 1000;
  return images / (Number(process.hrtime.bigint() - start) / 1e9);
}

function hasFfmpeg(): boolean {
  return spawnSync('ffmpeg', ['-version']).status === 0;
}

/** The same job by the ffmpeg command line with its default threading, file after file. */
async function ffmpegFramesPerSecond(paths: string[], width?: number, height?: number): Promise<number> {
  // -1 keeps the aspect ratio, as a missing imageWidth or imageHeight does.
  const scale = width === undefined && height === undefined ? [] : ['-vf', `scale=${width ?? -1}:${height ?? -1}`];
  let images = 0;
  let seconds = 0;
  for (const path of paths) {
    const out = await mkdtemp(join(tmpdir(), 'kvs-infer-ffmpeg-'));
    try {
      const start = process.hrtime.bigint();
      const result = spawnSync('ffmpeg', [
        '-hide_banner',
        '-loglevel',
        'error',
        '-skip_frame',
        'nokey',
        '-i',
        path,
        '-an',
        ...scale,
        '-fps_mode',
        'passthrough',
        '-c:v',
        'mjpeg',
        '-q:v',
        '3',
        '-f',
        'image2',
        join(out, '%06d.jpg'),
      ]);
      seconds += Number(process.hrtime.bigint() - start) / 1e9;
      if (result.status !== 0) throw new Error(`ffmpeg failed on ${path}: ${result.stderr.toString()}`);
      images += (await readdir(out)).length;
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }
  return images / seconds;
}

/** 1..cores, or beyond 8 cores 1, 2, 3, 4, 6, 8, 12, 16, ... and the cores. */
export function defaultPoolSizes(cores = availableParallelism()): number[] {
  if (cores <= 8) return Array.from({ length: cores }, (_, i) => i + 1);
  const sizes = [1, 2, 3, 4, 6];
  for (let size = 8; size < cores; size *= 2) sizes.push(size, size * 1.5);
  return [...new Set([...sizes.filter((s) => s < cores), cores])].sort((a, b) => a - b);
}

const fixed = (value: number, digits = 1) => {
  const text = value.toFixed(value >= 1000 ? 0 : digits);
  return text.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
};

export async function mediaScenario(
  options: MediaOptions = {},
  onProgress: OnProgress = () => {},
): Promise<BenchReport> {
  const smoke = options.smoke ?? false;
  const runs = options.runs ?? (smoke ? 1 : 5);
  const resolution = options.resolution ?? (smoke ? '720p' : '1080p');
  const bitrate = options.bitrate ?? (smoke ? '1M' : '4M');
  const gopSeconds = options.gopSeconds ?? 1;
  const durationSeconds = options.durationSeconds ?? (smoke ? 3 : 60);
  const poolSizes = options.poolSizes ?? defaultPoolSizes();
  const parserTargetBytes = (smoke ? 20 : 200) * 1024 * 1024;
  const { imageWidth, imageHeight } = options;
  const output: ImageRequest = {
    contentType: 'image/jpeg',
    quality: 80,
    ...(imageWidth === undefined ? {} : { width: imageWidth }),
    ...(imageHeight === undefined ? {} : { height: imageHeight }),
  };

  const measure = async (label: string, run: () => Promise<number> | number, unit: string): Promise<Figure> => {
    onProgress(label, 0, runs, 'warm-up');
    await run(); // warm-up, excluded
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      samples.push(await run());
      onProgress(label, i + 1, runs, i + 1 === runs ? `median ${fixed(figure(samples).median)} ${unit}` : 'runs');
    }
    return figure(samples);
  };

  let paths: string[];
  if (options.files && options.files.length > 0) {
    paths = options.files;
  } else {
    const { width, height } = SIZES[resolution];
    const name = `${resolution}-${bitrate}-gop${gopSeconds}-${durationSeconds}s.mkv`;
    onProgress(`clip ${name}`, 0, 1, 'encoding when not cached');
    paths = [
      await cachedFixture(
        name,
        { codec: 'h264', width, height, fps: 30, gopSeconds, durationSeconds, bitrate, seed: SEED },
        options.fixtureDir,
      ),
    ];
    onProgress(`clip ${name}`, 1, 1);
  }
  const contents = await Promise.all(paths.map((path) => readFile(path)));
  const infos = contents.map((bytes, i) => describe(paths[i]!, bytes));
  if (infos.every((info) => info.keyframes === 0)) throw new Error(`no I-frames in ${paths.join(', ')}`);

  const parserByFile: Figure[] = [];
  for (const [i, bytes] of contents.entries()) {
    parserByFile.push(
      await measure(
        `parser, one core, ${basename(paths[i]!)}`,
        () => parserMegabytesPerSecond(bytes, parserTargetBytes),
        'MB/s',
      ),
    );
  }
  // Smaller frames mean more elements per megabyte: the real 640x360 GetMedia capture, when present.
  const capturePath = join(repoRoot(), '..', 'shared', 'fixtures', 'kvs-getmedia', 'output_get_media.mkv');
  const capture = options.files === undefined && existsSync(capturePath) ? await readFile(capturePath) : null;
  const parserOnCapture =
    capture &&
    (await measure(
      'parser, one core, output_get_media.mkv',
      () => parserMegabytesPerSecond(capture, parserTargetBytes),
      'MB/s',
    ));

  const framesPerSecond: Record<string, Figure> = {};
  const tallies: Record<string, ImageTally> = {};
  for (const size of poolSizes) {
    const pool = await FramePool.create({ size });
    const tally: ImageTally = { images: 0, bytes: 0, decodeMs: 0, encodeMs: 0, cpuMs: 0, width: 0, height: 0 };
    tallies[size] = tally;
    try {
      framesPerSecond[size] = await measure(
        `parse + decode + JPEG, pool of ${size}`,
        () => poolFramesPerSecond(pool, contents, output, tally),
        'I-frames/s',
      );
    } finally {
      await pool.destroy();
    }
  }
  const ffmpeg = hasFfmpeg()
    ? await measure(
        'ffmpeg -skip_frame nokey -c:v mjpeg',
        () => ffmpegFramesPerSecond(paths, imageWidth, imageHeight),
        'I-frames/s',
      )
    : null;

  const smallest = Math.min(...poolSizes);
  const largest = Math.max(...poolSizes);
  const one = framesPerSecond[smallest]!;
  const full = framesPerSecond[largest]!;
  const scaling = full.median / one.median;
  const fullPoolVsFfmpeg = ffmpeg ? full.median / ffmpeg.median : null;
  const iFrames = infos.reduce((sum, info) => sum + info.keyframes, 0);
  // Per image, as the threads of the smallest pool timed it (the least contention for memory bandwidth).
  const perImage = tallies[smallest]!;
  const image = {
    width: perImage.width,
    height: perImage.height,
    bytesMean: perImage.bytes / perImage.images,
    decodeMsMean: perImage.decodeMs / perImage.images,
    encodeMsMean: perImage.encodeMs / perImage.images,
    cpuMsMean: perImage.cpuMs / perImage.images,
    poolSize: smallest,
  };
  const resized = imageWidth !== undefined || imageHeight !== undefined;

  const describeFile = (info: FileInfo) =>
    `${basename(info.path)} (${info.width}x${info.height}, ${(info.bytes / 1e6).toFixed(1)} MB)`;
  const row = (label: string, f: Figure) => [label, fixed(f.median), fixed(f.min), fixed(f.max)];
  const rows: (string | number)[][] = [
    ...infos.map((info, i) => row(`parser, one core, ${describeFile(info)}, MB/s`, parserByFile[i]!)),
    ...(parserOnCapture
      ? [row('parser, one core, output_get_media.mkv (640x360 capture), MB/s', parserOnCapture)]
      : []),
    ...poolSizes.map((size) => row(`parse + decode + JPEG, pool of ${size}, I-frames/s`, framesPerSecond[size]!)),
    [`JPEG ${image.width}x${image.height} at quality 80, bytes per I-frame (mean)`, fixed(image.bytesMean, 0), '', ''],
    [`decode, ms per I-frame in a pool of ${smallest} (mean)`, fixed(image.decodeMsMean, 2), '', ''],
    [
      `convert${resized ? ' + resize' : ''} + JPEG, ms per I-frame in a pool of ${smallest} (mean)`,
      fixed(image.encodeMsMean, 2),
      '',
      '',
    ],
    [`CPU ms per I-frame in a pool of ${smallest}, every thread (mean)`, fixed(image.cpuMsMean, 2), '', ''],
    ...(ffmpeg ? [row('ffmpeg -skip_frame nokey -c:v mjpeg, I-frames/s', ffmpeg)] : []),
    [`scaling from ${smallest} to ${largest} pool threads`, `${scaling.toFixed(2)}x`, '', ''],
    ...(fullPoolVsFfmpeg === null ? [] : [['full pool against ffmpeg', `${fullPoolVsFfmpeg.toFixed(2)}x`, '', '']]),
  ];

  const conclusions = [
    `The parser reads ${fixed(parserByFile[0]!.median, 0)} MB/s on one core, on ${describeFile(infos[0]!)}.`,
    `A pool of ${largest} turns ${fixed(full.median)} I-frames/s into JPEG, ${scaling.toFixed(2)}x a pool of ` +
      `${smallest} (${fixed(one.median)} I-frames/s).`,
    `Each ${image.width}x${image.height} JPEG averages ${fixed(image.bytesMean / 1000)} kB; a thread spends ` +
      `${fixed(image.decodeMsMean)} ms decoding its I-frame and ${fixed(image.encodeMsMean)} ms converting` +
      `${resized ? ', resizing' : ''} and encoding it.`,
    ...(ffmpeg && fullPoolVsFfmpeg !== null
      ? [
          `That is ${fullPoolVsFfmpeg.toFixed(2)}x the ffmpeg command line doing the same job ` +
            `(${fixed(ffmpeg.median)} I-frames/s).`,
        ]
      : ['ffmpeg is not on the PATH: no comparison with its command line.']),
    ...(smoke ? ['Smoke run: a tiny clip measured once; these figures only show that the scenario runs.'] : []),
  ];

  const oneFile = infos.length === 1 ? basename(infos[0]!.path) : `${infos.length} files`;
  const source = options.files ? oneFile : `${resolution} ${bitrate}`;
  return {
    scenario: 'media',
    settings: {
      smoke,
      runs,
      ...(options.files ? { files: paths } : { resolution, bitrate, gopSeconds, durationSeconds, seed: SEED }),
      poolSizes,
      iFramesPerRun: iFrames,
      output,
    },
    figures: {
      fixture: infos[0],
      ...(infos.length > 1 ? { files: infos.map((info, i) => ({ ...info, parserMBps: parserByFile[i] })) } : {}),
      runs,
      parserMBps: parserByFile[0],
      parserMBpsOnCapture: parserOnCapture,
      framesPerSecond,
      image,
      ffmpegFramesPerSecond: ffmpeg,
      scaling,
      fullPoolVsFfmpeg,
    },
    table: { columns: ['figure', 'median', 'min', 'max'], rows },
    conclusions,
    plots: [
      {
        id: 'media-pool',
        title: `Parse + decode + JPEG by pool size, ${source}`,
        xLabel: 'pool threads',
        yLabel: 'I-frames per second',
        series: [
          {
            name: 'kvs-infer pool, median',
            points: poolSizes.map((size) => ({ x: size, y: framesPerSecond[size]!.median })),
          },
          ...(poolSizes.length > 1
            ? [
                {
                  name: `linear scaling from ${smallest}`,
                  points: poolSizes.map((size) => ({ x: size, y: (one.median * size) / smallest })),
                },
              ]
            : []),
        ],
        ...(ffmpeg ? { threshold: { y: ffmpeg.median, label: `ffmpeg CLI, ${fixed(ffmpeg.median)} I-frames/s` } } : {}),
      },
    ],
  };
}
