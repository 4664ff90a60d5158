// One live run: the local stack in this process replaying N looping real-time streams, ONE `kvs-infer
// run` worker as a child process (its CPU and RSS its own), measured after a warm-up from the worker's own
// EMF lines (latency, frames, bytes) and from /proc (CPU seconds, RSS). The scenarios are built on it.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import hdr from 'hdr-histogram-js';
import { WORKER_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { CONFIG_DEFAULTS } from '../../src/config/schema.js';
import { cachedFixture } from '../../src/local/fixtures/index.js';
import { LocalStack } from '../../src/local/index.js';
import { FileSource } from '../../src/local/kvs/index.js';
import { type EmfDistribution, getMediaCost, type MediaCost, mediaCost } from '../../src/metrics/index.js';
import { repoRoot } from '../output.js';
import { clkTck, cpuSecondsOf } from '../proc.js';
import type { LiveFigures, Resolution } from '../report.js';

/** How to start the worker: the built CLI (default) or the TypeScript source under the caller's loader. */
export interface WorkerCommand {
  /** Entry point of the CLI. */
  main: string;
  /** Node flags before it. */
  execArgv: string[];
}

export interface LiveRunOptions {
  /** Streams replayed, all read by the one worker. */
  streams: number;
  /** The measured window, seconds (after the warm-up). */
  durationSeconds: number;
  /** Excluded from the figures, seconds after every lease is held; default 10. */
  warmupSeconds?: number;
  /** 1 of every N I-frames is inferred on; default 6 (KIT's). */
  inferenceInterval?: number;
  /** The worker's samplingIntervalMillis: one I-frame per interval of producer time; replaces inferenceInterval. */
  samplingIntervalMillis?: number;
  /** The worker's imageWidth / imageHeight; default full size. */
  imageWidth?: number;
  imageHeight?: number;
  /** GetMedia's price, US dollars per GB; default the worker's getMediaPricePerGB default. */
  pricePerGB?: number;
  /** Of the generated fixture; default 1080p. */
  resolution?: Resolution;
  /** Of the generated fixture, ffmpeg style; default '4M'. */
  bitrate?: string;
  /** Seconds between I-frames of the generated fixture; default 1. */
  gopSeconds?: number;
  /** Length of the generated fixture, seconds (it loops); default 20. */
  fixtureSeconds?: number;
  /** Your own MKV/MP4 files instead of the generated fixture; stream i plays files[i % files.length]. */
  files?: string[];
  /** The worker's `decodeThreadPoolSize`; default the machine's cores. */
  decodeThreadPoolSize?: number;
  /** The worker's `sageMakerTaskThreadPoolSize` (InvokeEndpoint calls at a time); default 20 (KIT's). */
  inferenceConcurrency?: number;
  /** The worker's `sageMakerTaskQueueSize`; default 5000 (KIT's). */
  queueSize?: number;
  /** Delay of every answer of the `fixed` model backend, ms; default 0. */
  endpointLatencyMs?: number;
  /** The worker's failoverTimeMillis (a lease renewal every third of it); default the worker's. */
  failoverTimeMillis?: number;
  /** The worker's checkpointIntervalMillis; default the worker's. */
  checkpointIntervalMillis?: number;
  /** The worker's EMF interval, ms; default 1000. */
  metricsIntervalMillis?: number;
  /**
   * Start stream i's replay (i / N) of a sampling period (I-frame spacing x inferenceInterval) after the
   * worker holds every lease, so the sampled frames of N independent cameras arrive evenly spread rather
   * than all in the same second every period; default true. `false`: every replay starts with the stack.
   */
  staggerStreams?: boolean;
  /** How to start the worker; default the built CLI (`dist/src/cli/main.js`, no Node flags). */
  worker?: WorkerCommand;
  /** Worker configuration keys laid over the harness's. */
  config?: Record<string, unknown>;
  /** Write the worker's V8 CPU profile (`--cpu-prof`) into this directory. */
  cpuProfileDir?: string;
  /** Time allowed for the worker to take every lease, ms; default 60 000 + 200 per stream. */
  acquireTimeoutMs?: number;
}

/** What `liveRun` measures beyond LiveFigures. */
export interface LiveRunExtras {
  /** Sampled frames the fixture offers per second: streams x I-frames per second / inferenceInterval. */
  expectedSampledPerSecond: number;
  sampledPerSecond: number;
  /** Published at 95% or more of the expected sampled rate. */
  keptUp: boolean;
  framesPublished: number;
  framesSampled: number;
  framesDropped: number;
  framesFailed: number;
  /** What the media read in the window cost at `pricePerGB`, and per 1,000 frames inferred. */
  cost: MediaCost & {
    pricePerGB: number;
    /** One stream's GetMedia charge for 30 days at the bitrate read in the window. */
    dollarsPerStreamPer30Days: number;
  };
  /** Samples behind the latency percentiles. */
  latencySamples: number;
  /** EndToEndLatency (to the record handed to the publisher) over the same window, ms. */
  endToEndMs: { p50: number; p90: number; p99: number; max: number };
  /** Worker CPU over the window: seconds per second (1 = one core busy). */
  cpuCores: number;
  /**
   * The worker's CPU time per frame sampled in the window, ms, from /proc/PID/task/TID/stat: its main thread (the
   * event loop), every other thread (the decode pool's, which also encode JPEG; libuv's; V8's), and both.
   */
  cpu: { mainThreadMsPerFrame: number; poolMsPerFrame: number; totalMsPerFrame: number; mainThreadCores: number };
  /** This process's CPU over the window (the local stack: KVS server, model server, emulators), cores. */
  harnessCpuCores: number;
  /**
   * Everything else the machine ran over the window, cores: well above 0, the figures were measured on a shared
   * machine.
   */
  otherCpuCores: number;
  millisBehindNowMax: number;
  /** Worker gauges, max over the window. */
  readersPausedMax: number;
  decodeQueueDepthMax: number;
  inferenceQueueDepthMax: number;
  /** PoolUtilization at the end of the window, percent (since worker start). */
  poolUtilizationPercent: number;
  /** RSS max over the whole run, warm-up included. */
  rssMaxBytesWholeRun: number;
  /** Error-level log lines of the worker (first few). */
  errors: string[];
  settings: {
    streams: number;
    warmupSeconds: number;
    inferenceInterval: number;
    samplingIntervalMillis: number | undefined;
    imageWidth: number | undefined;
    imageHeight: number | undefined;
    fixture: string;
    iFramesPerSecondPerStream: number;
    decodeThreadPoolSize: number;
    inferenceConcurrency: number;
    queueSize: number;
    endpointLatencyMs: number;
    metricsIntervalMillis: number;
    staggerStreams: boolean;
    worker: string;
    /** The sampling, image and price settings as the worker read them (its `config` log line). */
    workerConfig: Record<string, unknown>;
  };
}

export type LiveRunResult = LiveFigures & LiveRunExtras;

const RESULTS_STREAM = 'bench-results';
const ENDPOINT = 'bench';
const KEEP_UP = 0.95;
/** The worker's settings a run records as the worker read them. */
const WORKER_SETTINGS = [
  'inferenceInterval',
  'samplingIntervalMillis',
  'imageWidth',
  'imageHeight',
  'endPointAcceptContentType',
  'jpegQuality',
  'getMediaPricePerGB',
  'failoverTimeMillis',
  'checkpointIntervalMillis',
] as const;

/** The built CLI, as users run it (after `npm run build`). */
export function builtWorker(): WorkerCommand {
  return { main: join(repoRoot(), 'dist/src/cli/main.js'), execArgv: [] };
}

/** The TypeScript source under this process's own loader (tests: no dependence on a stale dist/). */
export function sourceWorker(): WorkerCommand {
  return { main: join(repoRoot(), 'src/cli/main.ts'), execArgv: process.execArgv };
}

/** The generated fixture for a resolution, bitrate and GOP (fixed seed), cached across runs. */
export async function liveFixture(
  resolution: Resolution = '1080p',
  bitrate = '4M',
  gopSeconds = 1,
  durationSeconds = 20,
): Promise<string> {
  const [width, height] = resolution === '1080p' ? [1920, 1080] : [1280, 720];
  return cachedFixture(`${resolution}-${bitrate}-gop${gopSeconds}-${durationSeconds}s.mkv`, {
    width,
    height,
    fps: 30,
    gopSeconds,
    durationSeconds,
    bitrate,
    seed: 7,
  });
}

/** Busy CPU seconds of the whole machine (every core), from /proc/stat. */
async function machineBusySeconds(): Promise<number> {
  const [user, nice, system, , , irq, softirq, steal] = (await readFile('/proc/stat', 'utf8'))
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / clkTck();
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

interface EmfLine {
  Timestamp: number;
  StreamName?: string;
  [metric: string]: unknown;
}

/** EMF lines between two flushes, read into the figures. */
class Window {
  readonly #ingest = newHistogram();
  readonly #endToEnd = newHistogram();
  ingestMax = 0;
  endToEndMax = 0;
  counters = new Map<string, number>();
  gaugeMax = new Map<string, number>();
  gaugeLast = new Map<string, number>();

  add(line: EmfLine): void {
    if (line.StreamName !== undefined) {
      for (const name of [
        'FramesPublished',
        'FramesSampled',
        'FramesInferred',
        'FramesDropped',
        'FramesFailed',
        'BytesRead',
      ]) {
        const value = line[name];
        if (typeof value === 'number') this.counters.set(name, (this.counters.get(name) ?? 0) + value);
      }
      this.ingestMax = Math.max(this.ingestMax, merge(this.#ingest, line.IngestToProcessLatency));
      this.endToEndMax = Math.max(this.endToEndMax, merge(this.#endToEnd, line.EndToEndLatency));
      if (typeof line.MillisBehindNow === 'number')
        this.gaugeMax.set('MillisBehindNow', Math.max(this.gaugeMax.get('MillisBehindNow') ?? 0, line.MillisBehindNow));
      return;
    }
    for (const name of ['ReadersPaused', 'DecodeQueueDepth', 'InferenceQueueDepth', 'PoolUtilization']) {
      const value = line[name];
      if (typeof value !== 'number') continue;
      this.gaugeMax.set(name, Math.max(this.gaugeMax.get(name) ?? 0, value));
      this.gaugeLast.set(name, value);
    }
  }

  ingest(): { p50: number; p90: number; p99: number; max: number; count: number } {
    return percentiles(this.#ingest, this.ingestMax);
  }

  endToEnd(): { p50: number; p90: number; p99: number; max: number; count: number } {
    return percentiles(this.#endToEnd, this.endToEndMax);
  }

  destroy(): void {
    this.#ingest.destroy();
    this.#endToEnd.destroy();
  }
}

function newHistogram() {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Adds an EMF distribution's Values/Counts (each value the mean of its group) and returns its Max (0 when absent). */
function merge(histogram: ReturnType<typeof newHistogram>, value: unknown): number {
  const d = value as EmfDistribution | undefined;
  if (d === undefined || !Array.isArray(d.Values)) return 0;
  d.Values.forEach((v, i) => {
    histogram.recordValueWithCount(Math.min(Math.max(Math.round(v), 1), 3_600_000), d.Counts[i] ?? 1);
  });
  return d.Max;
}

function percentiles(histogram: ReturnType<typeof newHistogram>, max: number) {
  const count = histogram.totalCount;
  if (count === 0) return { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN, count };
  // Grouped values can read a little past the exact Max; keep the percentiles inside it.
  const at = (p: number) => Math.min(histogram.getValueAtPercentile(p), max);
  return { p50: at(50), p90: at(90), p99: at(99), max, count };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One live run, warm-up excluded. Always stops the worker (SIGTERM, then SIGKILL after 15 s) and closes
 * the stack, also on error.
 */
export async function liveRun(
  options: LiveRunOptions,
  onProgress: (text: string) => void = () => undefined,
): Promise<LiveRunResult> {
  const streams = options.streams;
  if (!(Number.isInteger(streams) && streams >= 1))
    throw new RangeError(`streams must be a positive integer, got ${streams}`);
  if (!(options.durationSeconds > 0))
    throw new RangeError(`durationSeconds must be positive, got ${options.durationSeconds}`);
  const warmupSeconds = options.warmupSeconds ?? 10;
  const inferenceInterval = options.inferenceInterval ?? 6;
  const { samplingIntervalMillis, imageWidth, imageHeight } = options;
  const pricePerGB = options.pricePerGB ?? CONFIG_DEFAULTS.getMediaPricePerGB;
  const decodeThreadPoolSize = options.decodeThreadPoolSize ?? availableParallelism();
  const inferenceConcurrency = options.inferenceConcurrency ?? 20;
  const queueSize = options.queueSize ?? 5000;
  const endpointLatencyMs = options.endpointLatencyMs ?? 0;
  const metricsIntervalMillis = options.metricsIntervalMillis ?? 1000;
  const stagger = options.staggerStreams ?? true;
  const command = options.worker ?? builtWorker();
  if (!existsSync(command.main))
    throw new Error(`${command.main} does not exist (run \`npm run build\` first, or pass worker: sourceWorker())`);

  onProgress('preparing the fixture');
  const files = options.files?.length
    ? options.files
    : [await liveFixture(options.resolution, options.bitrate, options.gopSeconds, options.fixtureSeconds)];
  const sources = await Promise.all(files.map((f) => FileSource.open(f)));
  // I-frames per second of each stream (the streams cycle through the files).
  const iFramesPerSecond = (s: FileSource) => s.fragments.reduce((n, f) => n + f.keyframes, 0) / (s.durationMs / 1000);
  const streamRates = Array.from({ length: streams }, (_, i) => iFramesPerSecond(sources[i % sources.length]!));
  // By time: one I-frame per interval, or every I-frame when they are further apart than the interval.
  const sampledRate = (rate: number) =>
    samplingIntervalMillis === undefined ? rate / inferenceInterval : Math.min(rate, 1000 / samplingIntervalMillis);
  const expectedSampledPerSecond = streamRates.reduce((a, rate) => a + sampledRate(rate), 0);
  const meanIFrameRate = streamRates.reduce((a, b) => a + b, 0) / streams;
  const names = Array.from({ length: streams }, (_, i) => `live-${i}`);

  const cleanup: (() => Promise<unknown>)[] = [];
  let exited: Promise<number | null> = Promise.resolve(null);
  const windowOf = new Window();
  try {
    onProgress(`starting the local stack (${streams} streams)`);
    // The first stream goes through LocalStack.start (no streams would mean the demo clip); the rest are created
    // empty and replayed below, when the worker reads them, unless not staggered.
    const stack = await LocalStack.start({
      streams: stagger
        ? [{ name: names[0]!, file: files[0]! }]
        : names.map((name, i) => ({ name, file: files[i % files.length]! })),
      loop: true,
      rate: 1,
      model: 'fixed',
      fixedLatencyMs: endpointLatencyMs,
      dataStreams: [RESULTS_STREAM],
    });
    cleanup.push(() => stack.close());
    if (stagger) for (const name of names.slice(1)) stack.kvs.createStream(name);

    const dir = await mkdtemp(join(tmpdir(), 'kvs-infer-live-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const configFile = join(dir, 'config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        streamNames: names,
        sageMakerEndpoint: ENDPOINT,
        kdsStreamName: RESULTS_STREAM,
        appName: `bench-live-${process.pid}-${Date.now()}`,
        // Undefined keys are left out of the JSON: the worker's defaults (1 in N I-frames, full size) apply.
        ...(samplingIntervalMillis === undefined ? { inferenceInterval } : { samplingIntervalMillis }),
        imageWidth,
        imageHeight,
        getMediaPricePerGB: pricePerGB,
        startSelectorType: 'NOW',
        decodeThreadPoolSize,
        sageMakerTaskThreadPoolSize: inferenceConcurrency,
        sageMakerTaskQueueSize: queueSize,
        queuePolicy: 'backpressure',
        checkpointIntervalMillis: options.checkpointIntervalMillis,
        metricsIntervalMillis,
        statsIntervalMillis: 0,
        logLevel: 'info',
        failoverTimeMillis: options.failoverTimeMillis,
        shutdownTimeoutMillis: 10_000,
        ...options.config,
      }),
    );

    const nodeArgs = [
      ...WORKER_NODE_FLAGS,
      ...command.execArgv,
      ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
    ];
    const spawned = spawn(
      process.execPath,
      [...nodeArgs, command.main, 'run', '--config', configFile, '--worker-id', 'bench'],
      {
        cwd: repoRoot(),
        env: { ...process.env, ...stack.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    exited = new Promise((resolve) => spawned.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    let exitedEarly = false;
    void exited.then(() => (exitedEarly = true));
    cleanup.push(async () => {
      if (spawned.exitCode !== null || spawned.signalCode !== null) return;
      onProgress('stopping the worker');
      spawned.kill('SIGTERM');
      const killer = setTimeout(() => spawned.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    });
    const stderrTail: string[] = [];
    createInterface({ input: spawned.stderr! }).on('line', (text) => {
      stderrTail.push(text);
      if (stderrTail.length > 20) stderrTail.shift();
    });

    // Every EMF line is kept by its flush time; the window is chosen from them once it has passed.
    const flushes = new Map<number, EmfLine[]>();
    const acquired = new Set<string>();
    let workerConfig: Record<string, unknown> = {};
    const errors: string[] = [];
    createInterface({ input: spawned.stdout! }).on('line', (text) => {
      if (!text.startsWith('{')) return;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      const aws = line._aws as { Timestamp?: number } | undefined;
      if (aws && typeof aws.Timestamp === 'number') {
        const at = aws.Timestamp;
        let list = flushes.get(at);
        if (list === undefined) {
          list = [];
          flushes.set(at, list);
        }
        list.push({ ...line, Timestamp: at } as EmfLine);
        return;
      }
      if (line.event === 'acquired' && typeof line.stream === 'string') acquired.add(line.stream);
      if (line.event === 'config' && typeof line.config === 'object' && line.config !== null)
        workerConfig = line.config as Record<string, unknown>;
      if (line.level === 'error' && errors.length < 10)
        errors.push(`${String(line.event)}: ${String(line.code ?? '')} ${String(line.message ?? '')}`.trim());
    });
    const alive = () => {
      if (exitedEarly)
        throw new Error(
          `the worker exited early (code ${spawned.exitCode}); its stderr ended with:\n${stderrTail.join('\n')}` +
            `\nerrors: ${errors.join('; ')}`,
        );
    };

    let rssMaxWhole = 0;
    let rssMaxWindow = 0;
    let inWindow = false;
    const rssTimer = setInterval(() => {
      rssOf(spawned.pid!)
        .then((rss) => {
          rssMaxWhole = Math.max(rssMaxWhole, rss);
          if (inWindow) rssMaxWindow = Math.max(rssMaxWindow, rss);
        })
        .catch(() => undefined);
    }, 1000);
    cleanup.push(async () => clearInterval(rssTimer));

    // Every lease held before anything counts.
    const acquireDeadline = Date.now() + (options.acquireTimeoutMs ?? 60_000 + 200 * streams);
    while (acquired.size < streams) {
      alive();
      if (Date.now() > acquireDeadline)
        throw new Error(
          `the worker held ${acquired.size} of ${streams} leases ` +
            `after ${options.acquireTimeoutMs ?? 60_000 + 200 * streams} ms`,
        );
      onProgress(`worker taking leases: ${acquired.size}/${streams}`);
      await sleep(200);
    }
    if (stagger) {
      // The readers' GetMedia (NOW) calls open just after the leases; each stream's first fragment, hence its
      // sampler's phase, then comes from its own replay start.
      await sleep(500);
      const periodMs = 1000 / sampledRate(meanIFrameRate);
      names.slice(1).forEach((name, k) => {
        const i = k + 1;
        const timer = setTimeout(
          () =>
            void stack.kvs
              .replayFile(name, sources[i % sources.length]!, { rate: 1, loop: true })
              .catch(() => undefined),
          (i / streams) * periodMs,
        );
        cleanup.push(async () => clearTimeout(timer));
      });
    }

    const warmupEnd = Date.now() + warmupSeconds * 1000;
    while (Date.now() < warmupEnd) {
      alive();
      onProgress(`warm-up ${Math.round(warmupSeconds - (warmupEnd - Date.now()) / 1000)}/${warmupSeconds} s`);
      await sleep(Math.min(1000, Math.max(0, warmupEnd - Date.now())));
    }
    const startedAt = Date.now();
    const cpuStart = cpuSecondsOf(spawned.pid!);
    // The main thread's id is the process's.
    const mainStart = cpuSecondsOf(spawned.pid!, spawned.pid!);
    const harnessStart = process.cpuUsage();
    const machineStart = await machineBusySeconds();
    const wallStart = performance.now();
    inWindow = true;
    const windowEnd = startedAt + options.durationSeconds * 1000;
    while (Date.now() < windowEnd) {
      alive();
      onProgress(
        `measuring ${Math.round(options.durationSeconds - (windowEnd - Date.now()) / 1000)}/` +
          `${options.durationSeconds} s`,
      );
      await sleep(Math.min(1000, Math.max(0, windowEnd - Date.now())));
    }
    const cpuEnd = cpuSecondsOf(spawned.pid!);
    const mainEnd = cpuSecondsOf(spawned.pid!, spawned.pid!);
    const harnessUsage = process.cpuUsage(harnessStart);
    const machineEnd = await machineBusySeconds();
    const wallSeconds = (performance.now() - wallStart) / 1000;
    rssMaxWindow = Math.max(rssMaxWindow, await rssOf(spawned.pid!));
    inWindow = false;
    // The flush closing the window (an interval ends at its flush) may still be on its way.
    const flushDeadline = Date.now() + metricsIntervalMillis + 5000;
    while (![...flushes.keys()].some((t) => t >= windowEnd) && Date.now() < flushDeadline) {
      alive();
      await sleep(100);
    }
    const times = [...flushes.keys()].sort((a, b) => a - b);
    const before = times.filter((t) => t <= startedAt).at(-1);
    const last = times.find((t) => t >= windowEnd) ?? times.at(-1);
    const included = times.filter((t) => t > (before ?? startedAt) && last !== undefined && t <= last);
    if (included.length === 0 || last === undefined)
      throw new Error(`the worker wrote no EMF lines in the window (flushes at ${times.join(', ')})`);
    // The intervals span from the flush before the first included one to the last included one.
    const spanStart = before ?? included[0]! - metricsIntervalMillis;
    const seconds = (last - spanStart) / 1000;
    for (const t of included) for (const line of flushes.get(t)!) windowOf.add(line);

    const count = (name: string) => windowOf.counters.get(name) ?? 0;
    const published = count('FramesPublished');
    const framesPerSecond = published / seconds;
    const cpuCores = (cpuEnd - cpuStart) / wallSeconds;
    const ingest = windowOf.ingest();
    const endToEnd = windowOf.endToEnd();
    const round = (n: number) => Math.round(n * 10) / 10;
    const sampled = count('FramesSampled');
    const msPerSampled = (cpuSeconds: number) => (sampled > 0 ? (cpuSeconds * 1000) / sampled : Number.NaN);
    const cost = mediaCost({ bytesRead: count('BytesRead'), inferred: count('FramesInferred') }, pricePerGB);
    const streamBytesPer30Days = (count('BytesRead') / seconds / streams) * 30 * 86_400;
    return {
      scenario: 'live',
      streams,
      durationSeconds: round(seconds),
      framesPerSecond,
      ingestToProcessMs: { p50: ingest.p50, p90: ingest.p90, p99: ingest.p99, max: ingest.max },
      dropped: count('FramesDropped') + count('FramesFailed'),
      cpuSecondsPerFrame: framesPerSecond > 0 ? cpuCores / framesPerSecond : Number.NaN,
      rssMaxBytes: rssMaxWindow,
      bytesPerSecond: count('BytesRead') / seconds,
      expectedSampledPerSecond,
      sampledPerSecond: count('FramesSampled') / seconds,
      keptUp: framesPerSecond >= KEEP_UP * expectedSampledPerSecond,
      framesPublished: published,
      framesSampled: count('FramesSampled'),
      cost: { ...cost, pricePerGB, dollarsPerStreamPer30Days: getMediaCost(streamBytesPer30Days, pricePerGB) },
      framesDropped: count('FramesDropped'),
      framesFailed: count('FramesFailed'),
      latencySamples: ingest.count,
      endToEndMs: { p50: endToEnd.p50, p90: endToEnd.p90, p99: endToEnd.p99, max: endToEnd.max },
      cpuCores,
      cpu: {
        mainThreadMsPerFrame: msPerSampled(mainEnd - mainStart),
        poolMsPerFrame: msPerSampled(cpuEnd - cpuStart - (mainEnd - mainStart)),
        totalMsPerFrame: msPerSampled(cpuEnd - cpuStart),
        // Per second, not per frame: what follows the streams shows with nothing sampled, and a main thread near one
        // core is the worker's bottleneck whatever the others do.
        mainThreadCores: (mainEnd - mainStart) / wallSeconds,
      },
      harnessCpuCores: (harnessUsage.user + harnessUsage.system) / 1e6 / wallSeconds,
      otherCpuCores: Math.max(
        0,
        (machineEnd - machineStart) / wallSeconds -
          cpuCores -
          (harnessUsage.user + harnessUsage.system) / 1e6 / wallSeconds,
      ),
      millisBehindNowMax: windowOf.gaugeMax.get('MillisBehindNow') ?? 0,
      readersPausedMax: windowOf.gaugeMax.get('ReadersPaused') ?? 0,
      decodeQueueDepthMax: windowOf.gaugeMax.get('DecodeQueueDepth') ?? 0,
      inferenceQueueDepthMax: windowOf.gaugeMax.get('InferenceQueueDepth') ?? 0,
      poolUtilizationPercent: windowOf.gaugeLast.get('PoolUtilization') ?? Number.NaN,
      rssMaxBytesWholeRun: Math.max(rssMaxWhole, rssMaxWindow),
      errors,
      settings: {
        streams,
        warmupSeconds,
        inferenceInterval,
        samplingIntervalMillis,
        imageWidth,
        imageHeight,
        fixture: files.join(', '),
        iFramesPerSecondPerStream: meanIFrameRate,
        decodeThreadPoolSize,
        inferenceConcurrency,
        queueSize,
        endpointLatencyMs,
        metricsIntervalMillis,
        staggerStreams: stagger,
        worker: [...command.execArgv, command.main].join(' '),
        workerConfig: Object.fromEntries(WORKER_SETTINGS.map((key) => [key, workerConfig[key]])),
      },
    };
  } finally {
    windowOf.destroy();
    // Worker first (it drains against the stack), then timers, then the stack and the temp directory.
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  }
}

/** Whether a run held: p99 under `boundMs`, nothing dropped or failed, and publishing kept up with sampling. */
export function held(
  run: Pick<LiveRunResult, 'dropped' | 'framesPerSecond' | 'expectedSampledPerSecond'> & {
    ingestToProcessMs: { p99: number };
  },
  boundMs: number,
): { ok: boolean; why: string } {
  const reasons: string[] = [];
  if (!(run.ingestToProcessMs.p99 < boundMs))
    reasons.push(`p99 ${Math.round(run.ingestToProcessMs.p99)} ms >= ${boundMs} ms`);
  if (run.dropped > 0) reasons.push(`${run.dropped} frames dropped or failed`);
  if (!(run.framesPerSecond >= KEEP_UP * run.expectedSampledPerSecond))
    reasons.push(
      `published ${run.framesPerSecond.toFixed(1)}/s < 95% of ${run.expectedSampledPerSecond.toFixed(1)}/s sampled`,
    );
  return { ok: reasons.length === 0, why: reasons.length === 0 ? 'held' : reasons.join('; ') };
}
