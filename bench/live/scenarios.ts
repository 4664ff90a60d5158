// The live scenarios of `kvs-infer bench`: `live` (one setting, repeated), `capacity` (streams per worker
// until a bound breaks) and `sweep` (decode pool x inference concurrency x endpoint latency), each a
// BenchReport built from `liveRun`s.

import { availableParallelism } from 'node:os';
import { imageRequest } from '../../src/actors/pipeline/stream-pipeline.js';
import { CONFIG_DEFAULTS } from '../../src/config/schema.js';
import { BYTES_PER_GB } from '../../src/metrics/index.js';
import { type Ceiling, measureCeiling } from '../ceiling.js';
import {
  type BenchReport,
  type Figure,
  figure,
  type PlotSpec,
  type Resolution,
  type ScenarioOptions,
} from '../report.js';
import { held, type LiveRunOptions, type LiveRunResult, liveFixture, liveRun, type WorkerCommand } from './run.js';

/** Options common to the three scenarios; every one has a default (a human run, or a CI-sized one with `smoke`). */
export interface LiveScenarioOptions extends ScenarioOptions {
  decodeThreadPoolSize?: number;
  inferenceConcurrency?: number;
  endpointLatencyMs?: number;
  /** Seconds, not minutes: 2 streams of 720p, 1 I-frame in 1, 3 s window, 2 s warm-up, 1 run. */
  smoke?: boolean;
  /** How to start the worker; default the built CLI. */
  worker?: WorkerCommand;
  config?: Record<string, unknown>;
}

export interface CapacityOptions extends LiveScenarioOptions {
  /** Stream counts tried in order until one breaks; default 25, 50, 100, 150, 200, 300, 400. */
  steps?: number[];
  /** Bisections between the last count that held and the first that broke; default 2. */
  bisections?: number;
}

export interface SweepOptions extends LiveScenarioOptions {
  /** Default 1..cores. */
  poolSizes?: number[];
  /** Default 1, 4, 16. */
  concurrencies?: number[];
  /** Default 20 and 200 ms. */
  endpointLatenciesMs?: number[];
}

type Progress = (text: string) => void;

interface Resolved {
  streams: number;
  durationSeconds: number;
  warmupSeconds: number;
  inferenceInterval: number;
  samplingIntervalMillis: number | undefined;
  imageWidth: number | undefined;
  imageHeight: number | undefined;
  pricePerGB: number;
  resolution: Resolution;
  bitrate: string;
  gopSeconds: number;
  files: string[] | undefined;
  runs: number;
  boundMs: number;
  decodeThreadPoolSize: number;
  inferenceConcurrency: number;
  endpointLatencyMs: number;
  failoverTimeMillis: number;
  checkpointIntervalMillis: number;
  smoke: boolean;
}

/** Options whose absence means the worker's default; listed so that `resolve` takes them when given. */
const UNSET = {
  samplingIntervalMillis: undefined,
  imageWidth: undefined,
  imageHeight: undefined,
  pricePerGB: CONFIG_DEFAULTS.getMediaPricePerGB,
  failoverTimeMillis: CONFIG_DEFAULTS.failoverTimeMillis,
  checkpointIntervalMillis: CONFIG_DEFAULTS.checkpointIntervalMillis,
};

function resolve(options: LiveScenarioOptions, human: Partial<Resolved>): Resolved {
  const smoke = options.smoke ?? false;
  const base: Resolved = smoke
    ? {
        streams: 2,
        durationSeconds: 3,
        warmupSeconds: 2,
        inferenceInterval: 1,
        ...UNSET,
        resolution: '720p',
        bitrate: '4M',
        gopSeconds: 1,
        files: undefined,
        runs: 1,
        boundMs: 500,
        decodeThreadPoolSize: availableParallelism(),
        inferenceConcurrency: 20,
        endpointLatencyMs: 0,
        smoke,
      }
    : {
        streams: 50,
        durationSeconds: 20,
        warmupSeconds: 10,
        inferenceInterval: 6,
        ...UNSET,
        resolution: '1080p',
        bitrate: '4M',
        gopSeconds: 1,
        files: undefined,
        runs: 1,
        boundMs: 500,
        decodeThreadPoolSize: availableParallelism(),
        inferenceConcurrency: 20,
        endpointLatencyMs: 0,
        smoke,
        ...human,
      };
  const given = Object.fromEntries(
    Object.entries(options).filter(([key, value]) => value !== undefined && key in base),
  );
  return { ...base, ...given } as Resolved;
}

function runOptions(
  r: Resolved,
  options: LiveScenarioOptions,
  overrides: Partial<LiveRunOptions> = {},
): LiveRunOptions {
  return {
    streams: r.streams,
    durationSeconds: r.durationSeconds,
    warmupSeconds: r.warmupSeconds,
    inferenceInterval: r.inferenceInterval,
    samplingIntervalMillis: r.samplingIntervalMillis,
    imageWidth: r.imageWidth,
    imageHeight: r.imageHeight,
    pricePerGB: r.pricePerGB,
    resolution: r.resolution,
    bitrate: r.bitrate,
    gopSeconds: r.gopSeconds,
    files: r.files,
    decodeThreadPoolSize: r.decodeThreadPoolSize,
    inferenceConcurrency: r.inferenceConcurrency,
    endpointLatencyMs: r.endpointLatencyMs,
    failoverTimeMillis: r.failoverTimeMillis,
    checkpointIntervalMillis: r.checkpointIntervalMillis,
    worker: options.worker,
    staggerStreams: options.staggerStreams,
    config: options.config,
    cpuProfileDir: options.cpuProfileDir,
    ...overrides,
  };
}

/** What a setting measured over its runs: each figure's median, min and max. */
export interface Measured {
  framesPerSecond: Figure;
  expectedSampledPerSecond: number;
  p50: Figure;
  p90: Figure;
  p99: Figure;
  max: Figure;
  dropped: Figure;
  cpuSecondsPerFrame: Figure;
  cpuCores: Figure;
  /** CPU the rest of the machine used meanwhile (not the worker, not the local stack), cores. */
  otherCpuCores: Figure;
  /** CPU the local stack (KVS server, model server, emulators: the bench's own process) used meanwhile, cores. */
  stackCpuCores: Figure;
  rssMaxBytes: Figure;
  bytesPerSecond: Figure;
  millisBehindNowMax: Figure;
  durationSeconds: Figure;
  /** GetMedia's charge over the window (see LiveRunResult's `cost`). */
  gbRead: Figure;
  dollars: Figure;
  framesInferred: Figure;
  /** NaN where nothing was inferred. */
  dollarsPer1000Inferences: Figure;
  dollarsPerStreamPer30Days: Figure;
  /** The worker's CPU per sampled frame, ms: its main thread, every other thread, and both (LiveRunResult's `cpu`). */
  mainThreadMsPerFrame: Figure;
  /** The worker's main thread, cores (its CPU per second of the window). */
  mainThreadCores: Figure;
  poolMsPerFrame: Figure;
  totalMsPerFrame: Figure;
  /** The runs' medians held (see `held`): one slow run of three does not decide, nor one lucky one. */
  held: boolean;
  why: string;
  runs: LiveRunResult[];
}

async function measure(
  runs: number,
  options: LiveRunOptions,
  boundMs: number,
  onProgress: Progress,
  label: string,
): Promise<Measured> {
  const results: LiveRunResult[] = [];
  for (let i = 0; i < runs; i++) {
    const prefix = runs > 1 ? `${label} run ${i + 1}/${runs}` : label;
    results.push(await liveRun(options, (text) => onProgress(`${prefix}: ${text}`)));
  }
  const f = (pick: (r: LiveRunResult) => number) => figure(results.map(pick));
  const expectedSampledPerSecond = results[0]!.expectedSampledPerSecond;
  const framesPerSecond = f((r) => r.framesPerSecond);
  const verdict = held(
    {
      ingestToProcessMs: { p99: f((r) => r.ingestToProcessMs.p99).median },
      dropped: f((r) => r.dropped).median,
      framesPerSecond: framesPerSecond.median,
      expectedSampledPerSecond,
    },
    boundMs,
  );
  return {
    framesPerSecond,
    expectedSampledPerSecond,
    p50: f((r) => r.ingestToProcessMs.p50),
    p90: f((r) => r.ingestToProcessMs.p90),
    p99: f((r) => r.ingestToProcessMs.p99),
    max: f((r) => r.ingestToProcessMs.max),
    dropped: f((r) => r.dropped),
    cpuSecondsPerFrame: f((r) => r.cpuSecondsPerFrame),
    cpuCores: f((r) => r.cpuCores),
    otherCpuCores: f((r) => r.otherCpuCores),
    stackCpuCores: f((r) => r.harnessCpuCores),
    rssMaxBytes: f((r) => r.rssMaxBytes),
    bytesPerSecond: f((r) => r.bytesPerSecond),
    millisBehindNowMax: f((r) => r.millisBehindNowMax),
    durationSeconds: f((r) => r.durationSeconds),
    gbRead: f((r) => r.cost.bytesRead / BYTES_PER_GB),
    dollars: f((r) => r.cost.dollars),
    framesInferred: f((r) => r.cost.framesInferred),
    dollarsPer1000Inferences: f((r) => r.cost.dollarsPer1000Inferences ?? Number.NaN),
    dollarsPerStreamPer30Days: f((r) => r.cost.dollarsPerStreamPer30Days),
    mainThreadMsPerFrame: f((r) => r.cpu.mainThreadMsPerFrame),
    mainThreadCores: f((r) => r.cpu.mainThreadCores),
    poolMsPerFrame: f((r) => r.cpu.poolMsPerFrame),
    totalMsPerFrame: f((r) => r.cpu.totalMsPerFrame),
    held: verdict.ok,
    why: verdict.why,
    runs: results,
  };
}

/** This machine's ceilings for the run's clips and images (see ceiling.ts), measured before the runs. */
async function ceilingOf(r: Resolved, options: LiveScenarioOptions, onProgress: Progress): Promise<Ceiling> {
  onProgress('measuring the ceilings (I-frames decoded, then made into images, per second, one thread per core)');
  const files = r.files?.length ? r.files : [await liveFixture(r.resolution, r.bitrate, r.gopSeconds)];
  // The image the run's worker makes: its defaults, the run's size, and any key the caller set.
  const config = { ...CONFIG_DEFAULTS, imageWidth: r.imageWidth, imageHeight: r.imageHeight, ...options.config };
  return measureCeiling({ files, seconds: r.smoke ? 1 : 5, output: imageRequest(config) });
}

/** Streams of the run's clips a rate of I-frames allows: the rate over what one stream samples. */
const streamsAt = (framesPerSecond: number, m: Measured, streams: number) =>
  Math.floor(framesPerSecond / (m.expectedSampledPerSecond / streams));

/** The ceilings for the JSON: their rates, and in streams at the sampling of `m`, a run of `streams`. */
const ceilingFigures = (c: Ceiling, m: Measured, streams: number) => ({
  framesPerSecond: c.framesPerSecond,
  streams: streamsAt(c.framesPerSecond, m, streams),
  threads: c.threads,
  cpuMsPerFrame: c.cpuMsPerFrame,
  images: { ...c.images, streams: streamsAt(c.images.framesPerSecond, m, streams) },
});

/** What the image ceiling made: "1920x1080 image/jpeg". */
const imagesMade = (c: Ceiling) => `${c.images.width}x${c.images.height} ${c.images.contentType}`;

/** The worker's CPU per sampled frame, and its main thread's per second, medians, for the JSON. */
const cpuFigures = (m: Measured) => ({
  mainThreadMsPerFrame: m.mainThreadMsPerFrame.median,
  poolMsPerFrame: m.poolMsPerFrame.median,
  totalMsPerFrame: m.totalMsPerFrame.median,
  mainThreadCores: m.mainThreadCores.median,
});

const r1 = (n: number) => (Number.isFinite(n) ? Math.round(n * 10) / 10 : n);
const r0 = (n: number) => (Number.isFinite(n) ? Math.round(n) : n);
const mb = (bytes: number) => r0(bytes / 1048576);
const show = (f: Figure, digits = 1, scale = 1) => {
  const v = (n: number) => (n / scale).toFixed(digits);
  return f.runs > 1 ? `${v(f.median)} (${v(f.min)}..${v(f.max)})` : v(f.median);
};
const what = (r: Resolved) => {
  const source = r.files?.length ? r.files.join(', ') : `${r.resolution} ${r.bitrate}bps ${r.gopSeconds} s GOP`;
  if (r.imageWidth === undefined && r.imageHeight === undefined) return source;
  if (r.imageHeight === undefined) return `${source}, images ${r.imageWidth} px wide`;
  if (r.imageWidth === undefined) return `${source}, images ${r.imageHeight} px high`;
  return `${source}, images ${r.imageWidth}x${r.imageHeight}`;
};
const sampling = (r: Resolved) =>
  r.samplingIntervalMillis === undefined
    ? `1 in ${r.inferenceInterval} I-frames`
    : `one I-frame per ${r.samplingIntervalMillis} ms`;
/** Where the worker's CPU per sampled frame went. */
const cpuLine = (m: Measured) =>
  `worker CPU per sampled frame: main thread ${m.mainThreadMsPerFrame.median.toFixed(1)} ms, other threads ` +
  `${m.poolMsPerFrame.median.toFixed(1)} ms, all ${m.totalMsPerFrame.median.toFixed(1)} ms`;
/** The cost figures' one-line summary. */
const costLine = (r: Resolved, m: Measured) =>
  `GetMedia at $${r.pricePerGB}/GB: ${m.gbRead.median.toFixed(3)} GB read in the window, ` +
  `$${m.dollars.median.toFixed(4)}; $${m.dollarsPer1000Inferences.median.toFixed(4)} per 1,000 of the ` +
  `${m.framesInferred.median} frames inferred; $${m.dollarsPerStreamPer30Days.median.toFixed(2)} per stream per 30 ` +
  'days';

function settingsOf(
  r: Resolved,
  options: LiveScenarioOptions,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const worker = options.worker;
  const { inferenceInterval, ...rest } = r;
  return {
    ...rest,
    // One of the two sampling settings applies; the other would only mislead.
    ...(r.samplingIntervalMillis === undefined ? { inferenceInterval } : {}),
    ...extra,
    staggerStreams: options.staggerStreams ?? true,
    worker: worker ? [...worker.execArgv, worker.main].join(' ') : 'dist/src/cli/main.js',
    cores: availableParallelism(),
  };
}

/** `live`: one setting, `runs` times (default 3; smoke 1); figures are medians with min and max. */
export async function liveScenario(
  options: LiveScenarioOptions = {},
  onProgress: Progress = () => undefined,
): Promise<BenchReport> {
  const r = resolve(options, { runs: 3, durationSeconds: 30 });
  const ceiling = await ceilingOf(r, options, onProgress);
  const m = await measure(r.runs, runOptions(r, options), r.boundMs, onProgress, `live ${r.streams} streams`);
  const ceilings = ceilingFigures(ceiling, m, r.streams);
  const figures = {
    scenario: 'live' as const,
    streams: r.streams,
    durationSeconds: m.durationSeconds.median,
    framesPerSecond: m.framesPerSecond.median,
    ingestToProcessMs: { p50: m.p50.median, p90: m.p90.median, p99: m.p99.median, max: m.max.median },
    dropped: m.dropped.median,
    cpuSecondsPerFrame: m.cpuSecondsPerFrame.median,
    rssMaxBytes: m.rssMaxBytes.median,
    bytesPerSecond: m.bytesPerSecond.median,
    expectedSampledPerSecond: m.expectedSampledPerSecond,
    held: m.held,
    cpu: cpuFigures(m),
    ceiling: ceilings,
    spread: {
      framesPerSecond: m.framesPerSecond,
      p50: m.p50,
      p90: m.p90,
      p99: m.p99,
      max: m.max,
      dropped: m.dropped,
      cpuSecondsPerFrame: m.cpuSecondsPerFrame,
      cpuCores: m.cpuCores,
      otherCpuCores: m.otherCpuCores,
      stackCpuCores: m.stackCpuCores,
      rssMaxBytes: m.rssMaxBytes,
      bytesPerSecond: m.bytesPerSecond,
      millisBehindNowMax: m.millisBehindNowMax,
      dollarsPer1000Inferences: m.dollarsPer1000Inferences,
      mainThreadMsPerFrame: m.mainThreadMsPerFrame,
      mainThreadCores: m.mainThreadCores,
      poolMsPerFrame: m.poolMsPerFrame,
      totalMsPerFrame: m.totalMsPerFrame,
    },
    cost: costOf(r, m),
    runs: m.runs,
  };
  const runsNote = r.runs > 1 ? `median (min..max) of ${r.runs} runs` : '1 run';
  return {
    scenario: 'live',
    settings: settingsOf(r, options),
    figures,
    table: {
      columns: ['figure', `value, ${runsNote}`],
      rows: [
        ['streams', r.streams],
        [
          'frames published per second',
          `${show(m.framesPerSecond)} (sampled by the fixture: ${m.expectedSampledPerSecond.toFixed(1)})`,
        ],
        ['IngestToProcessLatency p50, ms', show(m.p50, 0)],
        ['IngestToProcessLatency p90, ms', show(m.p90, 0)],
        ['IngestToProcessLatency p99, ms', show(m.p99, 0)],
        ['IngestToProcessLatency max, ms', show(m.max, 0)],
        ['frames dropped or failed', show(m.dropped, 0)],
        ['worker CPU, cores', show(m.cpuCores, 2)],
        ['worker main thread, cores', show(m.mainThreadCores, 2)],
        ['worker CPU seconds per frame', show(m.cpuSecondsPerFrame, 4)],
        ['worker CPU ms per sampled frame: main thread', show(m.mainThreadMsPerFrame, 1)],
        ['worker CPU ms per sampled frame: other threads (pool, JPEG, GC)', show(m.poolMsPerFrame, 1)],
        ['worker CPU ms per sampled frame: all threads', show(m.totalMsPerFrame, 1)],
        [
          `decode ceiling: I-frames/s on ${ceiling.threads} threads (streams at this sampling)`,
          `${ceiling.framesPerSecond.toFixed(1)} (${ceilings.streams})`,
        ],
        [
          `image ceiling: ${imagesMade(ceiling)} per second by a pool of ${ceiling.threads} (streams at this sampling)`,
          `${ceiling.images.framesPerSecond.toFixed(1)} (${ceilings.images.streams})`,
        ],
        ['worker RSS max, MB', show(m.rssMaxBytes, 0, 1048576)],
        ['media read, Mbit/s', show(m.bytesPerSecond, 1, 125000)],
        ['MillisBehindNow max, ms', show(m.millisBehindNowMax, 0)],
        ['local stack (KVS server, model, emulators), cores', show(m.stackCpuCores, 2)],
        ['other processes on the machine, cores', show(m.otherCpuCores, 2)],
        ['GetMedia read in the window, GB', show(m.gbRead, 3)],
        [`GetMedia cost of the window, $ at $${r.pricePerGB}/GB`, show(m.dollars, 4)],
        ['frames inferred in the window', show(m.framesInferred, 0)],
        ['GetMedia $ per 1,000 inferences', show(m.dollarsPer1000Inferences, 4)],
        ['GetMedia $ per stream per 30 days', show(m.dollarsPerStreamPer30Days, 2)],
      ],
    },
    conclusions: [
      `${r.streams} live streams of ${what(r)} at ${sampling(r)}: ` +
        `${m.framesPerSecond.median.toFixed(1)} frames/s published of ${m.expectedSampledPerSecond.toFixed(1)} ` +
        `sampled, p99 IngestToProcessLatency ${r0(m.p99.median)} ms, ${m.dropped.median} dropped or failed ` +
        `(${runsNote})`,
      `worker: ${m.cpuCores.median.toFixed(2)} cores, ${(m.cpuSecondsPerFrame.median * 1000).toFixed(1)} ms CPU per ` +
        `frame, RSS max ${mb(m.rssMaxBytes.median)} MB`,
      cpuLine(m),
      `decode ceiling: ${ceiling.framesPerSecond.toFixed(1)} I-frames/s on ${ceiling.threads} threads, ` +
        `${ceilings.streams} streams at this sampling; ${r.streams} streams are ` +
        `${((100 * r.streams) / ceilings.streams).toFixed(0)}% of it`,
      `image ceiling: ${ceiling.images.framesPerSecond.toFixed(1)} ${imagesMade(ceiling)}/s by a pool of ` +
        `${ceiling.threads}, ${ceilings.images.streams} streams at this sampling; ${r.streams} streams are ` +
        `${((100 * r.streams) / ceilings.images.streams).toFixed(0)}% of it`,
      m.held ? `held the ${r.boundMs} ms bound with nothing dropped` : `did not hold: ${m.why}`,
      costLine(r, m),
    ],
    plots: [],
  };
}

/** `capacity`: more streams until p99 passes the bound, a frame drops or fails, or publishing falls behind sampling. */
export async function capacityScenario(
  options: CapacityOptions = {},
  onProgress: Progress = () => undefined,
): Promise<BenchReport> {
  // Each step is decided on the median of 3 runs: single runs on a shared machine swing by 2x.
  const r = resolve(options, { runs: 3 });
  const ceiling = await ceilingOf(r, options, onProgress);
  const ladder = options.steps ?? (r.smoke ? [1, 2] : [25, 50, 100, 150, 200, 300, 400]);
  const bisections = options.bisections ?? (r.smoke ? 0 : 2);
  const maxSteps = ladder.length + bisections;
  const steps: { streams: number; m: Measured }[] = [];
  const step = async (streams: number) => {
    const m = await measure(
      r.runs,
      runOptions(r, options, { streams }),
      r.boundMs,
      onProgress,
      `capacity step ${steps.length + 1}/${maxSteps} (${streams} streams)`,
    );
    steps.push({ streams, m });
    return m.held;
  };
  let good = 0;
  let bad: number | undefined;
  for (const n of ladder) {
    if (await step(n)) good = n;
    else {
      bad = n;
      break;
    }
  }
  for (let i = 0; i < bisections && bad !== undefined && bad - good > 1; i++) {
    const mid = Math.round((good + bad) / 2);
    if (await step(mid)) good = mid;
    else bad = mid;
  }
  steps.sort((a, b) => a.streams - b.streams);
  const largest = good;
  const ceilings = ceilingFigures(ceiling, steps[0]!.m, steps[0]!.streams);
  const fraction = largest / ceilings.streams;
  const fractionOfImages = largest / ceilings.images.streams;
  const conclusions = [
    largest > 0
      ? `largest N that held: ${largest} streams of ${what(r)} at ${sampling(r)} (p99 ` +
        `IngestToProcessLatency < ${r.boundMs} ms, nothing dropped or failed, published >= 95% of sampled)`
      : `no step held, not even ${ladder[0]} streams`,
    bad === undefined
      ? `every step held up to ${largest} streams: the limit is higher (not measured)`
      : `${bad} streams broke it: ${steps.find((s) => s.streams === bad)!.m.why}`,
  ];
  const atLargest = steps.find((s) => s.streams === largest)?.m;
  if (atLargest)
    conclusions.push(
      `at ${largest} streams: ${atLargest.framesPerSecond.median.toFixed(1)} frames/s, p99 ` +
        `${r0(atLargest.p99.median)} ms, worker ${atLargest.cpuCores.median.toFixed(2)} cores, ` +
        `${(atLargest.cpuSecondsPerFrame.median * 1000).toFixed(1)} ms CPU per frame, RSS ` +
        `${mb(atLargest.rssMaxBytes.median)} MB`,
      `at ${largest} streams, ${cpuLine(atLargest)}`,
      `at ${largest} streams, ${costLine(r, atLargest)}`,
    );
  conclusions.push(
    `decode ceiling: ${ceiling.framesPerSecond.toFixed(1)} I-frames/s on ${ceiling.threads} threads ` +
      `(${ceiling.cpuMsPerFrame.toFixed(1)} ms CPU each), ${ceilings.streams} streams at this sampling: capacity is ` +
      `${(100 * fraction).toFixed(0)}% of it`,
    `image ceiling: ${ceiling.images.framesPerSecond.toFixed(1)} ${imagesMade(ceiling)}/s by a pool of ` +
      `${ceiling.threads} (${ceiling.images.cpuMsPerFrame.toFixed(1)} ms CPU each), ${ceilings.images.streams} ` +
      `streams at this sampling: capacity is ${(100 * fractionOfImages).toFixed(0)}% of it`,
    r.runs > 1
      ? `each step decided on the median of ${r.runs} runs; the table shows medians, p99 with its min..max`
      : 'each step decided on 1 run',
  );
  const plots: PlotSpec[] = [
    {
      id: 'capacity-throughput',
      title: `Frames published per second against live streams (${what(r)}, ${sampling(r)})`,
      xLabel: 'streams',
      yLabel: 'frames/s',
      series: [
        { name: 'published', points: steps.map((s) => ({ x: s.streams, y: r1(s.m.framesPerSecond.median) })) },
        {
          name: 'sampled by the fixture',
          points: steps.map((s) => ({ x: s.streams, y: r1(s.m.expectedSampledPerSecond) })),
        },
      ],
    },
    {
      id: 'capacity-p99',
      title: `p99 IngestToProcessLatency against live streams (${what(r)})`,
      xLabel: 'streams',
      yLabel: 'ms',
      series: [
        { name: 'p99', points: steps.map((s) => ({ x: s.streams, y: r0(s.m.p99.median) })) },
        { name: 'p50', points: steps.map((s) => ({ x: s.streams, y: r0(s.m.p50.median) })) },
      ],
      threshold: { y: r.boundMs, label: `bound ${r.boundMs} ms` },
    },
  ];
  return {
    scenario: 'capacity',
    settings: settingsOf(r, options, { steps: ladder, bisections }),
    figures: {
      largestHeld: largest,
      firstBrokenStreams: bad ?? null,
      ceiling: ceilings,
      fractionOfCeiling: fraction,
      fractionOfImageCeiling: fractionOfImages,
      runsPerStep: r.runs,
      boundMs: r.boundMs,
      steps: steps.map(({ streams, m }) => ({
        streams,
        held: m.held,
        why: m.why,
        ...summary(r, m),
        cpu: cpuFigures(m),
        spread: { p99: m.p99, framesPerSecond: m.framesPerSecond, totalMsPerFrame: m.totalMsPerFrame },
      })),
    },
    table: {
      columns: [
        'streams',
        'sampled/s',
        'published/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'dropped+failed',
        'CPU cores',
        'CPU ms/frame',
        'main thread ms/frame',
        'RSS MB',
        'Mbit/s read',
        'GetMedia $/1k inferences',
        'local stack CPU cores',
        'other CPU cores',
        'held',
      ],
      rows: steps.map(({ streams, m }) => [
        streams,
        r1(m.expectedSampledPerSecond),
        r1(m.framesPerSecond.median),
        r0(m.p50.median),
        r0(m.p90.median),
        show(m.p99, 0),
        r0(m.max.median),
        m.dropped.median,
        Math.round(m.cpuCores.median * 100) / 100,
        r1(m.cpuSecondsPerFrame.median * 1000),
        r1(m.mainThreadMsPerFrame.median),
        mb(m.rssMaxBytes.median),
        r1(m.bytesPerSecond.median / 125000),
        Math.round(m.dollarsPer1000Inferences.median * 10_000) / 10_000,
        Math.round(m.stackCpuCores.median * 100) / 100,
        Math.round(m.otherCpuCores.median * 100) / 100,
        m.held ? 'yes' : `no: ${m.why}`,
      ]),
    },
    conclusions,
    plots,
  };
}

/** The cost figures' medians, for JSON. */
function costOf(r: Resolved, m: Measured) {
  return {
    pricePerGB: r.pricePerGB,
    gbRead: m.gbRead.median,
    dollars: m.dollars.median,
    framesInferred: m.framesInferred.median,
    dollarsPer1000Inferences: m.dollarsPer1000Inferences.median,
    dollarsPerStreamPer30Days: m.dollarsPerStreamPer30Days.median,
  };
}

/** The medians of a setting, flat, for JSON. */
function summary(r: Resolved, m: Measured) {
  return {
    expectedSampledPerSecond: m.expectedSampledPerSecond,
    framesPerSecond: m.framesPerSecond.median,
    ingestToProcessMs: { p50: m.p50.median, p90: m.p90.median, p99: m.p99.median, max: m.max.median },
    dropped: m.dropped.median,
    cpuCores: m.cpuCores.median,
    otherCpuCores: m.otherCpuCores.median,
    stackCpuCores: m.stackCpuCores.median,
    cpuSecondsPerFrame: m.cpuSecondsPerFrame.median,
    rssMaxBytes: m.rssMaxBytes.median,
    bytesPerSecond: m.bytesPerSecond.median,
    millisBehindNowMax: m.millisBehindNowMax.median,
    cost: costOf(r, m),
    spread: { framesPerSecond: m.framesPerSecond, p99: m.p99 },
  };
}

interface Cell {
  pool: number;
  concurrency: number;
  latencyMs: number;
  m: Measured;
}

/** The recommendation for one endpoint latency: the smallest pool, then concurrency, that is as good as the best. */
function recommend(cells: Cell[], latencyMs: number, boundMs: number) {
  const mine = cells.filter((c) => c.latencyMs === latencyMs);
  const expected = mine[0]?.m.expectedSampledPerSecond ?? 0;
  // Little's law: calls in flight = arrival rate x time per call.
  const littleLaw = (expected * latencyMs) / 1000;
  const best = Math.max(...mine.map((c) => c.m.framesPerSecond.median));
  const good = mine.filter((c) => c.m.held && c.m.framesPerSecond.median >= 0.98 * best);
  if (good.length === 0)
    return {
      endpointLatencyMs: latencyMs,
      decodeThreadPoolSize: null,
      sageMakerTaskThreadPoolSize: null,
      littleLaw,
      bestFramesPerSecond: best,
      why: `no setting held at ${latencyMs} ms`,
    };
  // Among those as fast as the best, stay near the best p99 too: a smaller pool that doubles latency is no saving.
  const bestP99 = Math.min(...good.map((c) => c.m.p99.median));
  const near = good.filter((c) => c.m.p99.median <= Math.max(bestP99 * 1.25, bestP99 + 50));
  near.sort((a, b) => a.pool - b.pool || a.concurrency - b.concurrency);
  const pick = near[0]!;
  return {
    endpointLatencyMs: latencyMs,
    decodeThreadPoolSize: pick.pool,
    sageMakerTaskThreadPoolSize: pick.concurrency,
    littleLaw,
    bestFramesPerSecond: best,
    framesPerSecond: pick.m.framesPerSecond.median,
    p99: pick.m.p99.median,
    bestP99,
    why:
      `smallest setting within 2% of the best throughput (${best.toFixed(1)}/s), holding the bound (${boundMs} ` +
      `ms) and within 25% (or 50 ms) of the best p99 (${r0(bestP99)} ms)`,
  };
}

/** `sweep`: decode pool size x inference concurrency x endpoint latency at a fixed number of streams. */
export async function sweepScenario(
  options: SweepOptions = {},
  onProgress: Progress = () => undefined,
): Promise<BenchReport> {
  const r = resolve(options, { streams: 50 });
  const cores = availableParallelism();
  const pools = options.poolSizes ?? (r.smoke ? [1, 2] : Array.from({ length: cores }, (_, i) => i + 1));
  const concurrencies = options.concurrencies ?? (r.smoke ? [4] : [1, 4, 16]);
  const latencies = options.endpointLatenciesMs ?? (r.smoke ? [20] : [20, 200]);
  const total = pools.length * concurrencies.length * latencies.length;
  const cells: Cell[] = [];
  for (const latencyMs of latencies) {
    for (const concurrency of concurrencies) {
      for (const pool of pools) {
        const label =
          `sweep ${cells.length + 1}/${total} (pool ${pool}, concurrency ${concurrency}, endpoint ` +
          `${latencyMs} ms)`;
        const m = await measure(
          r.runs,
          runOptions(r, options, {
            decodeThreadPoolSize: pool,
            inferenceConcurrency: concurrency,
            endpointLatencyMs: latencyMs,
          }),
          r.boundMs,
          onProgress,
          label,
        );
        cells.push({ pool, concurrency, latencyMs, m });
      }
    }
  }
  const byLatency = latencies.map((l) => recommend(cells, l, r.boundMs));
  const pools_ = byLatency.map((b) => b.decodeThreadPoolSize).filter((n): n is number => n !== null);
  const concs = byLatency.map((b) => b.sageMakerTaskThreadPoolSize).filter((n): n is number => n !== null);
  const recommended = {
    // One setting for every endpoint latency measured: the largest of the per-latency picks.
    decodeThreadPoolSize: pools_.length ? Math.max(...pools_) : null,
    sageMakerTaskThreadPoolSize: concs.length ? Math.max(...concs) : null,
    byLatency,
  };
  const series = (pick: (m: Measured) => number) =>
    latencies.flatMap((l) =>
      concurrencies.map((c) => ({
        name: `concurrency ${c}, endpoint ${l} ms`,
        points: cells.filter((x) => x.latencyMs === l && x.concurrency === c).map((x) => ({ x: x.pool, y: pick(x.m) })),
      })),
    );
  const expected = cells[0]?.m.expectedSampledPerSecond ?? 0;
  return {
    scenario: 'sweep',
    settings: settingsOf(r, options, { poolSizes: pools, concurrencies, endpointLatenciesMs: latencies }),
    figures: {
      streams: r.streams,
      expectedSampledPerSecond: expected,
      recommended,
      cells: cells.map((c) => ({
        decodeThreadPoolSize: c.pool,
        sageMakerTaskThreadPoolSize: c.concurrency,
        endpointLatencyMs: c.latencyMs,
        held: c.m.held,
        why: c.m.why,
        ...summary(r, c.m),
      })),
    },
    table: {
      columns: [
        'endpoint ms',
        'concurrency',
        'decode pool',
        'published/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'dropped+failed',
        'CPU cores',
        'CPU ms/frame',
        'RSS MB',
        'other CPU cores',
        'held',
      ],
      rows: cells.map((c) => [
        c.latencyMs,
        c.concurrency,
        c.pool,
        r1(c.m.framesPerSecond.median),
        r0(c.m.p50.median),
        r0(c.m.p90.median),
        r0(c.m.p99.median),
        r0(c.m.max.median),
        c.m.dropped.median,
        Math.round(c.m.cpuCores.median * 100) / 100,
        r1(c.m.cpuSecondsPerFrame.median * 1000),
        mb(c.m.rssMaxBytes.median),
        Math.round(c.m.otherCpuCores.median * 100) / 100,
        c.m.held ? 'yes' : `no: ${c.m.why}`,
      ]),
    },
    conclusions: [
      `${r.streams} streams of ${what(r)} at ${sampling(r)}: ${expected.toFixed(1)} frames/s to process`,
      recommended.decodeThreadPoolSize === null
        ? 'no setting held the bound: nothing to recommend at this load'
        : `recommended on this machine (${cores} cores): decodeThreadPoolSize ${recommended.decodeThreadPoolSize}, ` +
          `sageMakerTaskThreadPoolSize ${recommended.sageMakerTaskThreadPoolSize}`,
      ...byLatency.map((b) =>
        b.decodeThreadPoolSize === null
          ? `endpoint ${b.endpointLatencyMs} ms: ${b.why}; Little's law needs >= ${b.littleLaw.toFixed(1)} calls in ` +
            `flight`
          : `endpoint ${b.endpointLatencyMs} ms: pool ${b.decodeThreadPoolSize}, concurrency ` +
            `${b.sageMakerTaskThreadPoolSize} (${b.framesPerSecond!.toFixed(1)} frames/s, p99 ${r0(b.p99!)} ms; ` +
            `${b.why}); Little's law: >= ${b.littleLaw.toFixed(1)} calls in flight on average`,
      ),
      'rule: sageMakerTaskThreadPoolSize >= frames/s x endpoint latency (s), with headroom for bursts (2x); ' +
        'decodeThreadPoolSize: the cores, unless the sweep shows fewer do as well',
    ],
    plots: [
      {
        id: 'sweep-throughput',
        title: `Frames published per second against decode pool size (${r.streams} streams)`,
        xLabel: 'decodeThreadPoolSize',
        yLabel: 'frames/s',
        series: series((m) => r1(m.framesPerSecond.median)),
      },
      {
        id: 'sweep-p99',
        title: `p99 IngestToProcessLatency against decode pool size (${r.streams} streams)`,
        xLabel: 'decodeThreadPoolSize',
        yLabel: 'ms',
        series: series((m) => r0(m.p99.median)),
        threshold: { y: r.boundMs, label: `bound ${r.boundMs} ms` },
      },
    ],
  };
}

/** The three scenarios by name, for the `kvs-infer bench` dispatcher. */
export const liveScenarios = {
  live: liveScenario,
  capacity: capacityScenario,
  sweep: sweepScenario,
} as const;
