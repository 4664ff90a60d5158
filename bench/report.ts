// What every benchmark scenario hands back to `kvs-infer bench`, which writes it as JSON, as a Markdown
// table and as plots: the settings it ran with, its figures, and the series worth drawing.

export type Resolution = '1080p' | '720p';

/** What every scenario takes; each uses the options that apply to it and fills in its defaults. */
export interface ScenarioOptions {
  streams?: number;
  durationSeconds?: number;
  warmupSeconds?: number;
  inferenceInterval?: number;
  /** The worker's samplingIntervalMillis: one I-frame per interval of producer time, instead of 1 in N. */
  samplingIntervalMillis?: number;
  /** The images' size (the worker's imageWidth / imageHeight; media's output too); one side keeps the aspect ratio. */
  imageWidth?: number;
  imageHeight?: number;
  /** GetMedia's price, US dollars per GB, for the cost figures; default the worker's getMediaPricePerGB default. */
  pricePerGB?: number;
  resolution?: Resolution;
  bitrate?: string;
  gopSeconds?: number;
  files?: string[];
  /** Repetitions of each measurement (the figures are medians, with min and max). */
  runs?: number;
  /** p99 IngestToProcessLatency a setting must stay under, ms; default 500. */
  boundMs?: number;
  /** Seconds, not minutes: a CI-sized run. */
  smoke?: boolean;
  /**
   * live, capacity, sweep: false starts every stream's replay at once instead of spread over a sampling period
   * (LiveRunOptions' staggerStreams), so that every stream is read from the start however rarely it is sampled.
   */
  staggerStreams?: boolean;
  /** live, capacity, sweep: write the worker's V8 CPU profile of each run (`node --cpu-prof`) into this directory. */
  cpuProfileDir?: string;
  /** fleet: worker processes at the start. */
  workers?: number;
  /** fleet: the workers' leaseAssignment; their configuration's default when absent. */
  leaseAssignment?: 'leader' | 'every-worker';
  /**
   * The workers' failoverTimeMillis (a renewal every third of it). fleet: default sized to the emulator's write rate
   * (see bench/fleet.ts); live, capacity, sweep: default the worker's (10 000).
   */
  failoverTimeMillis?: number;
  /** live, capacity, sweep: the worker's checkpointIntervalMillis; default the worker's (5000). */
  checkpointIntervalMillis?: number;
}

/** A measured quantity over several runs, warm-up excluded. */
export interface Figure {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/** One line of a plot: y against x, e.g. p99 IngestToProcessLatency against the number of streams. */
export interface PlotSeries {
  name: string;
  points: { x: number; y: number }[];
}

export interface PlotSpec {
  /** File name without extension, e.g. `capacity-p99`. */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  /** A horizontal line to draw (a bound such as 500 ms). */
  threshold?: { y: number; label: string };
}

export interface BenchReport {
  scenario: 'media' | 'live' | 'capacity' | 'sweep' | 'fleet';
  /** The options the scenario ran with, defaults filled in. */
  settings: Record<string, unknown>;
  /** The scenario's own figures; for `live` at least the fields of LiveFigures. */
  figures: Record<string, unknown>;
  /** Markdown table: header cells, then rows of cells. */
  table: { columns: string[]; rows: (string | number)[][] };
  /** One-line conclusions for people (e.g. "largest N that held: 120 streams"). */
  conclusions: string[];
  plots: PlotSpec[];
}

/** What a `live` run measures; the JSON of a `live` run holds at least these. */
export interface LiveFigures {
  scenario: 'live';
  streams: number;
  durationSeconds: number;
  /** Frames published per second by the worker, in the measured window. */
  framesPerSecond: number;
  /** KIT's IngestToProcessLatency over the measured window (warm-up excluded), from the worker's own metrics. */
  ingestToProcessMs: { p50: number; p90: number; p99: number; max: number };
  /** Frames the worker dropped (the `latest` policy) or failed. */
  dropped: number;
  cpuSecondsPerFrame: number;
  rssMaxBytes: number;
  bytesPerSecond: number;
}

/** Median, min and max of `samples`. */
export function figure(samples: number[]): Figure {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)!, runs: sorted.length };
}
