// The worker's metric series, keyed by metric and stream: what the pipeline and lease actors write into, and
// what the EMF exporter (per interval) and the Prometheus endpoint and debug page (since start) read out.

import { CONFIG_DEFAULTS } from '../config/schema.js';
import { KvsInferError } from '../errors.js';
import { costPer1000Inferences, getMediaCost } from './cost.js';
import {
  type CounterName,
  type GaugeName,
  type HistogramName,
  METRICS,
  type MetricDefinition,
  type MetricKind,
  metricDefinition,
} from './definitions.js';
import { type EmfDistribution, LatencyHistogram, type LatencySummary } from './histogram.js';

export interface MetricLabels {
  /** The stream of a stream-scope metric; absent for worker-scope metrics. */
  stream?: string;
}

export interface MetricsRegistryOptions {
  appName: string;
  workerId: string;
  /** US dollars per 10^9 bytes read from GetMedia, which GetMediaCost counts from BytesRead; default us-east-1's. */
  getMediaPricePerGB?: number;
}

/** One series as of now: counters since start, gauges current, histograms summarised since start. */
export type SeriesSnapshot =
  | { definition: MetricDefinition; labels: MetricLabels; kind: 'counter' | 'gauge'; value: number }
  | { definition: MetricDefinition; labels: MetricLabels; kind: 'histogram'; summary: LatencySummary };

export interface RegistrySnapshot {
  appName: string;
  workerId: string;
  series: SeriesSnapshot[];
}

/**
 * One series over the interval since the last `collectInterval()`: counters as the delta, gauges current,
 * histograms drained. `retired` marks the last interval of a stream removed since, exported once more.
 */
export type IntervalSeries =
  | { definition: MetricDefinition; labels: MetricLabels; retired: boolean; kind: 'counter' | 'gauge'; value: number }
  | {
      definition: MetricDefinition;
      labels: MetricLabels;
      retired: boolean;
      kind: 'histogram';
      distribution: EmfDistribution;
    };

/** Removed streams whose last interval waits for an EMF export; past this many the oldest are forgotten,
 *  so a registry that nobody drains (Prometheus only) cannot grow with stream churn. */
export const MAX_RETIRED_SERIES = 10_000;

interface CounterSeries {
  kind: 'counter';
  definition: MetricDefinition;
  labels: MetricLabels;
  total: number;
  /** `total` at the last interval export: the next delta is counted from here. */
  exported: number;
}

interface GaugeSeries {
  kind: 'gauge';
  definition: MetricDefinition;
  labels: MetricLabels;
  value: number;
  read: (() => number) | undefined;
}

interface HistogramSeries {
  kind: 'histogram';
  definition: MetricDefinition;
  labels: MetricLabels;
  // Two distributions: EMF wants each interval on its own, Prometheus the totals since start.
  interval: LatencyHistogram;
  total: LatencyHistogram;
}

type Series = CounterSeries | GaugeSeries | HistogramSeries;

const STREAM_COUNTERS = METRICS.filter((m) => m.scope === 'stream' && m.kind === 'counter');
const WORKER_COUNTERS = METRICS.filter((m) => m.scope === 'worker' && m.kind === 'counter');
const TABLE_ORDER = new Map<string, number>(METRICS.map((m, i) => [m.name, i]));

export class MetricsRegistry {
  readonly appName: string;
  readonly workerId: string;
  readonly getMediaPricePerGB: number;
  readonly #series = new Map<string, Series>();
  /**
   * The series found for a labels object, by metric name: a stream's pipeline passes the same object for every frame,
   * so its counters are found without building a key. Forgotten whenever a series goes (`#dropped`).
   */
  #found = new WeakMap<MetricLabels, Map<string, Series>>();
  /** `#series` in export order; null once a series comes or goes. */
  #sorted: Series[] | null = null;
  #retired: (CounterSeries | HistogramSeries)[] = [];
  /**
   * Each stream counter summed over the streams removed so far, and what their ended labels objects counted after
   * (frames that were in flight), so that `countAll` never goes backwards and misses nothing.
   */
  readonly #removedTotals = new Map<string, number>();
  /** Labels objects of leases that ended (`removeStream`): what is recorded with them makes no series. */
  readonly #ended = new WeakSet<MetricLabels>();

  constructor(options: MetricsRegistryOptions) {
    for (const key of ['appName', 'workerId'] as const) {
      const value: unknown = options[key];
      if (typeof value !== 'string' || value.length === 0) {
        throw new KvsInferError('BAD_CONFIG', `metrics need a non-empty ${key}, got ${JSON.stringify(value)}`);
      }
    }
    this.appName = options.appName;
    this.workerId = options.workerId;
    const price = options.getMediaPricePerGB ?? CONFIG_DEFAULTS.getMediaPricePerGB;
    if (!(Number.isFinite(price) && price >= 0)) {
      throw new KvsInferError('BAD_CONFIG', `metrics need a getMediaPricePerGB >= 0, got ${price}`);
    }
    this.getMediaPricePerGB = price;
    // Counters exist from the start at 0 so that a scrape or a dashboard shows 0, not a missing series.
    for (const definition of WORKER_COUNTERS) this.#create(definition, {});
  }

  /** Adds `value` (finite, >= 0) to a counter. */
  add(name: CounterName, value = 1, labels?: MetricLabels): void {
    const series = this.#lookup(name, 'counter', labels) as CounterSeries | undefined;
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new KvsInferError('BAD_METRIC', `counter ${name} can only grow by a finite amount >= 0, got ${value}`);
    }
    // An ended lease's late count: no series of its stream, but the worker's totals (`countAll`) keep it.
    if (series === undefined) this.#removedTotals.set(name, (this.#removedTotals.get(name) ?? 0) + value);
    else series.total += value;
    // Priced as it is counted, so that GetMediaCost has BytesRead's life: interval deltas, retired streams, totals.
    if (name === 'BytesRead') this.add('GetMediaCost', getMediaCost(value, this.getMediaPricePerGB), labels);
  }

  /** Sets a gauge; replaces a callback registered with `gauge()`. A non-finite value is kept and not exported. */
  set(name: GaugeName, value: number, labels?: MetricLabels): void {
    const series = this.#lookup(name, 'gauge', labels) as GaugeSeries | undefined;
    if (series === undefined) return;
    series.value = value;
    series.read = undefined;
  }

  /** Records one latency in milliseconds (non-finite values are ignored). */
  observe(name: HistogramName, ms: number, labels?: MetricLabels): void {
    const series = this.#lookup(name, 'histogram', labels) as HistogramSeries | undefined;
    if (series === undefined) return;
    series.interval.record(ms);
    series.total.record(ms);
  }

  /**
   * Makes a gauge read `read()` at every export; a throw or a non-finite answer leaves that export without it.
   * Returns the function that unregisters it (no-op once replaced by another `gauge()` or `set()`).
   */
  gauge(name: GaugeName, read: () => number, labels?: MetricLabels): () => void {
    const series = this.#lookup(name, 'gauge', labels) as GaugeSeries | undefined;
    if (series === undefined) return () => undefined;
    series.read = read;
    const key = seriesKey(name, labels);
    return () => {
      if (this.#series.get(key) === series && series.read === read) {
        this.#series.delete(key);
        this.#dropped();
      }
    };
  }

  /**
   * Drops every series of `stream` (its lease left this worker). Counter increments and latencies not yet
   * exported stay for the next interval export, labelled as before; gauges go at once.
   *
   * `ended`, the labels object the ended lease recorded with, is inert from now on: what its frames still in flight
   * record makes no series (counter increments go to `countAll` alone), so the stream's series do not come back.
   * Any other labels object of the stream (a lease of it taken again, with its own) makes them afresh. Without
   * `ended`, the next record of the stream makes them again, whoever records it.
   */
  removeStream(stream: string, ended?: MetricLabels): void {
    if (ended !== undefined) {
      if (ended.stream !== stream) {
        throw new KvsInferError('BAD_METRIC', `labels of stream ${ended.stream} cannot end stream ${stream}`);
      }
      this.#ended.add(ended);
    }
    this.#dropped();
    for (const [key, series] of this.#series) {
      if (series.labels.stream !== stream) continue;
      this.#series.delete(key);
      if (series.kind === 'counter') {
        const name = series.definition.name;
        this.#removedTotals.set(name, (this.#removedTotals.get(name) ?? 0) + series.total);
      }
      if (series.kind === 'counter' && series.total > series.exported) this.#retired.push(series);
      else if (series.kind === 'histogram' && series.interval.count > 0) {
        series.total.destroy();
        this.#retired.push(series);
      } else if (series.kind === 'histogram') destroyHistograms(series);
    }
    if (this.#retired.length > MAX_RETIRED_SERIES) {
      for (const dropped of this.#retired.splice(0, this.#retired.length - MAX_RETIRED_SERIES)) {
        if (dropped.kind === 'histogram') destroyHistograms(dropped);
      }
    }
  }

  /** A counter's value since start (or since its stream's lease began); 0 when it has no series. */
  count(name: CounterName, labels?: MetricLabels): number {
    const series = this.#series.get(seriesKey(name, labels ?? {}));
    return series?.kind === 'counter' ? series.total : 0;
  }

  /** A counter summed over every series it has had: live streams and the streams removed since start. */
  countAll(name: CounterName): number {
    let total = this.#removedTotals.get(name) ?? 0;
    for (const series of this.#series.values())
      if (series.definition.name === name) total += (series as CounterSeries).total;
    return total;
  }

  /** A histogram's summary since start, or null when it has no series (nothing observed yet). */
  summary(name: HistogramName, labels?: MetricLabels): LatencySummary | null {
    const series = this.#series.get(seriesKey(name, labels ?? {}));
    return series?.kind === 'histogram' && series.total.count > 0 ? series.total.summary() : null;
  }

  /** Streams with at least one live series. */
  streams(): string[] {
    const streams = new Set<string>();
    for (const series of this.#series.values())
      if (series.labels.stream !== undefined) streams.add(series.labels.stream);
    return [...streams];
  }

  /** Every live series as of now, as plain data (the debug page's JSON, and what Prometheus is written from). */
  snapshot(): RegistrySnapshot {
    const series: SeriesSnapshot[] = [];
    for (const s of this.#ordered()) {
      const { definition, labels } = s;
      if (s.kind === 'histogram')
        series.push({ definition, labels: { ...labels }, kind: 'histogram', summary: s.total.summary() });
      else if (s.kind === 'counter')
        series.push({ definition, labels: { ...labels }, kind: 'counter', value: s.total });
      else {
        const value = readGauge(s);
        if (value !== undefined) series.push({ definition, labels: { ...labels }, kind: 'gauge', value });
      }
    }
    return { appName: this.appName, workerId: this.workerId, series };
  }

  /**
   * Ends the current interval for the EMF exporter: counter deltas since the last call (then counted from
   * now), current gauges, histograms drained (those without a sample left out), and the removed streams'
   * last intervals (then forgotten). Only one consumer should call this: each call starts a new interval.
   */
  collectInterval(): IntervalSeries[] {
    const out: IntervalSeries[] = [];
    const emit = (s: Series, retired: boolean): void => {
      const { definition } = s;
      const labels = { ...s.labels };
      if (s.kind === 'counter') {
        const value = s.total - s.exported;
        s.exported = s.total;
        out.push({ definition, labels, retired, kind: 'counter', value });
      } else if (s.kind === 'histogram') {
        const distribution = s.interval.drain();
        if (distribution !== null) out.push({ definition, labels, retired, kind: 'histogram', distribution });
      } else {
        const value = readGauge(s);
        if (value !== undefined) out.push({ definition, labels, retired, kind: 'gauge', value });
      }
    };
    for (const s of this.#ordered()) emit(s, false);
    const retired = this.#retired;
    this.#retired = [];
    for (const s of retired) {
      emit(s, true);
      if (s.kind === 'histogram') destroyHistograms(s);
    }
    return out;
  }

  /** Frees every histogram; the registry is empty afterwards. */
  destroy(): void {
    for (const s of [...this.#series.values(), ...this.#retired]) if (s.kind === 'histogram') destroyHistograms(s);
    this.#series.clear();
    this.#dropped();
    this.#retired = [];
    this.#removedTotals.clear();
  }

  /**
   * A labels object is taken as it is when first seen: its `stream` must not change afterwards. Undefined for an
   * ended labels object (checked past the cache, which `removeStream` empties): nothing is to be recorded.
   */
  #lookup(name: string, kind: MetricKind, labels: MetricLabels | undefined): Series | undefined {
    const found = labels === undefined ? undefined : this.#found.get(labels)?.get(name);
    if (found?.kind === kind) return found;
    const definition = checkedDefinition(name, kind, labels);
    if (labels !== undefined && this.#ended.has(labels)) return undefined;
    const series = this.#find(definition, labels);
    if (labels !== undefined) {
      const byName = this.#found.get(labels) ?? new Map<string, Series>();
      byName.set(name, series);
      this.#found.set(labels, byName);
    }
    return series;
  }

  #find(definition: MetricDefinition, labels: MetricLabels | undefined): Series {
    const { name } = definition;
    const stream = labels?.stream;
    const existing = this.#series.get(seriesKey(name, labels));
    if (existing !== undefined) return existing;
    // A stream's counters appear together, so its EMF document and scrape show 0 rather than nothing.
    if (stream !== undefined && !this.#series.has(seriesKey(STREAM_COUNTERS[0]!.name, labels))) {
      for (const counter of STREAM_COUNTERS) this.#create(counter, { stream });
      this.#createCostGauge(stream);
    }
    return (
      this.#series.get(seriesKey(name, labels)) ?? this.#create(definition, stream === undefined ? {} : { stream })
    );
  }

  #create(definition: MetricDefinition, labels: MetricLabels): Series {
    let series: Series;
    if (definition.kind === 'counter') series = { kind: 'counter', definition, labels, total: 0, exported: 0 };
    else if (definition.kind === 'gauge')
      series = { kind: 'gauge', definition, labels, value: Number.NaN, read: undefined };
    else
      series = {
        kind: 'histogram',
        definition,
        labels,
        interval: new LatencyHistogram(),
        total: new LatencyHistogram(),
      };
    this.#series.set(seriesKey(definition.name, labels), series);
    this.#sorted = null;
    return series;
  }

  /** The stream's GetMediaCost per 1,000 FramesInferred; not exported (NaN) before the first inference. */
  #createCostGauge(stream: string): void {
    const gauge = this.#create(metricDefinition('CostPer1000Inferences')!, { stream }) as GaugeSeries;
    gauge.read = () =>
      costPer1000Inferences(this.count('GetMediaCost', { stream }), this.count('FramesInferred', { stream })) ??
      Number.NaN;
  }

  /** Series in table order, then by stream: stable output, families together. */
  #ordered(): Series[] {
    this.#sorted ??= [...this.#series.values()].sort(
      (a, b) =>
        TABLE_ORDER.get(a.definition.name)! - TABLE_ORDER.get(b.definition.name)! ||
        compareText(a.labels.stream ?? '', b.labels.stream ?? ''),
    );
    return this.#sorted;
  }

  /** A series went: what was found or sorted may name it. */
  #dropped(): void {
    this.#found = new WeakMap();
    this.#sorted = null;
  }
}

/** `name`'s definition, checked against the kind written and the labels given. */
function checkedDefinition(name: string, kind: MetricKind, labels: MetricLabels | undefined): MetricDefinition {
  const definition = metricDefinition(name);
  if (definition === undefined) throw new KvsInferError('BAD_METRIC', `no metric is named ${JSON.stringify(name)}`);
  if (definition.kind !== kind) throw new KvsInferError('BAD_METRIC', `${name} is a ${definition.kind}, not a ${kind}`);
  const stream = labels?.stream;
  if (definition.scope === 'stream' && (typeof stream !== 'string' || stream.length === 0)) {
    throw new KvsInferError('BAD_METRIC', `${name} is a stream metric and needs a non-empty stream label`);
  }
  if (definition.scope === 'worker' && stream !== undefined) {
    throw new KvsInferError('BAD_METRIC', `${name} is a worker metric and takes no stream label`);
  }
  return definition;
}

function seriesKey(name: string, labels: MetricLabels | undefined): string {
  return labels?.stream === undefined ? name : `${name}\u0000${labels.stream}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function readGauge(series: GaugeSeries): number | undefined {
  let value: number;
  try {
    value = series.read === undefined ? series.value : series.read();
  } catch {
    return undefined;
  }
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function destroyHistograms(series: HistogramSeries): void {
  series.interval.destroy();
  series.total.destroy();
}
