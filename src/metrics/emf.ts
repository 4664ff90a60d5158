// CloudWatch Embedded Metric Format: each interval, one JSON log line for the worker's metrics and one per
// stream, which CloudWatch Logs turns into metrics without a PutMetricData call.

import { KvsInferError } from '../errors.js';
import type { IntervalSeries, MetricsRegistry } from './registry.js';

/** EMF's limits: metric definitions per directive, dimension keys per dimension set. */
export const EMF_MAX_METRICS = 100;
export const EMF_MAX_DIMENSIONS = 30;

export interface EmfMetricDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: { Name: string; Unit: string }[];
}

export interface EmfDocument {
  _aws: { Timestamp: number; CloudWatchMetrics: EmfMetricDirective[] };
  [member: string]: unknown;
}

export interface EmfOptions {
  namespace: string;
  /** Epoch milliseconds the interval is reported at. */
  timestamp: number;
}

/**
 * The documents for the interval since the last call (see `MetricsRegistry.collectInterval`): worker metrics
 * under [AppName, WorkerId]; each stream's under [AppName, StreamName] and [AppName], for per-stream and total
 * graphs. Counters are the interval's delta and are written even when 0, so an idle stream graphs as 0 rather
 * than as a gap; gauges are current; histograms appear only in intervals that recorded a sample. A stream
 * document also carries WorkerId, as a plain member (not a dimension), for Logs Insights.
 */
export function emfDocuments(registry: MetricsRegistry, options: EmfOptions): EmfDocument[] {
  const { namespace, timestamp } = options;
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 255) {
    throw new KvsInferError('BAD_CONFIG', `an EMF namespace is 1 to 255 characters, got ${JSON.stringify(namespace)}`);
  }
  if (!Number.isFinite(timestamp))
    throw new KvsInferError('BAD_CONFIG', `an EMF timestamp is epoch milliseconds, got ${timestamp}`);
  const at = Math.trunc(timestamp);

  const worker: IntervalSeries[] = [];
  const streams = new Map<string, { stream: string; series: IntervalSeries[] }>();
  for (const series of registry.collectInterval()) {
    const stream = series.labels.stream;
    if (stream === undefined) {
      worker.push(series);
      continue;
    }
    // A removed stream's last interval and its new series (the lease came back) would repeat metric names.
    const key = `${series.retired ? 'r' : 'l'}:${stream}`;
    let group = streams.get(key);
    if (group === undefined) {
      group = { stream, series: [] };
      streams.set(key, group);
    }
    group.series.push(series);
  }

  const documents = documentsFor(
    namespace,
    at,
    [['AppName', 'WorkerId']],
    { AppName: registry.appName, WorkerId: registry.workerId },
    worker,
  );
  for (const { stream, series } of streams.values()) {
    documents.push(
      ...documentsFor(
        namespace,
        at,
        [['AppName', 'StreamName'], ['AppName']],
        { AppName: registry.appName, StreamName: stream, WorkerId: registry.workerId },
        series,
      ),
    );
  }
  return documents;
}

function documentsFor(
  namespace: string,
  timestamp: number,
  dimensions: string[][],
  members: Record<string, string>,
  series: IntervalSeries[],
): EmfDocument[] {
  const documents: EmfDocument[] = [];
  // Split into documents rather than directives: the EMF libraries cap metrics per event, not only per directive.
  for (let start = 0; start < series.length; start += EMF_MAX_METRICS) {
    const chunk = series.slice(start, start + EMF_MAX_METRICS);
    const metric = (s: IntervalSeries) => ({ Name: s.definition.name, Unit: s.definition.unit });
    const byApp = chunk.filter((s) => s.definition.byApp && s.labels.stream === undefined);
    const document: EmfDocument = {
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [
          { Namespace: namespace, Dimensions: dimensions.map((set) => [...set]), Metrics: chunk.map(metric) },
          // The same member, a second time by AppName alone: one value per worker, averaged by CloudWatch.
          ...(byApp.length > 0
            ? [{ Namespace: namespace, Dimensions: [['AppName']], Metrics: byApp.map(metric) }]
            : []),
        ],
      },
      ...members,
    };
    for (const s of chunk) document[s.definition.name] = s.kind === 'histogram' ? s.distribution : s.value;
    documents.push(document);
  }
  return documents;
}

export interface EmfExporterOptions {
  registry: MetricsRegistry;
  namespace: string;
  intervalMs: number;
  /** Takes one JSON document per call, without a newline (e.g. a line to stdout, or a CloudWatch Logs event). */
  write: (line: string) => void;
  /** Epoch milliseconds; Date.now by default. */
  now?: () => number;
  /** A failed write loses that interval and is reported here; the timer keeps going. */
  onError?: (error: unknown) => void;
}

export class EmfExporter {
  readonly #options: EmfExporterOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: EmfExporterOptions) {
    if (!(Number.isFinite(options.intervalMs) && options.intervalMs >= 1)) {
      throw new KvsInferError('BAD_CONFIG', `an EMF interval is at least 1 ms, got ${options.intervalMs}`);
    }
    if (typeof options.namespace !== 'string' || options.namespace.length === 0) {
      throw new KvsInferError('BAD_CONFIG', 'an EMF namespace is a non-empty string');
    }
    this.#options = options;
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.flush(), this.#options.intervalMs);
    // Metrics alone must not keep a worker that has finished its work alive.
    this.#timer.unref();
  }

  /** Stops the timer and writes the interval in progress, so the last seconds before shutdown are not lost. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.flush();
  }

  /** Writes the interval in progress now. */
  flush(): void {
    const { registry, namespace, write, now = Date.now, onError } = this.#options;
    try {
      for (const document of emfDocuments(registry, { namespace, timestamp: now() })) write(JSON.stringify(document));
    } catch (error) {
      onError?.(error);
    }
  }
}
