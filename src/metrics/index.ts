// The metrics core (one registry of series) and its two exporters: CloudWatch EMF lines and a Prometheus scrape.

export { BYTES_PER_GB, costPer1000Inferences, getMediaCost, type MediaCost, mediaCost } from './cost.js';
export {
  type CounterName,
  type GaugeName,
  type HistogramName,
  METRICS,
  type MetricDefinition,
  type MetricKind,
  type MetricName,
  type MetricScope,
  type MetricUnit,
  metricDefinition,
  PIPELINE_STAGES,
  type StageMetricName,
} from './definitions.js';
export {
  EMF_MAX_DIMENSIONS,
  EMF_MAX_METRICS,
  type EmfDocument,
  EmfExporter,
  type EmfExporterOptions,
  type EmfMetricDirective,
  type EmfOptions,
  emfDocuments,
} from './emf.js';
export {
  type EmfDistribution,
  LatencyHistogram,
  type LatencySummary,
  MAX_EMF_VALUES,
  MAX_LATENCY_MS,
} from './histogram.js';
export { escapeLabelValue, PROMETHEUS_CONTENT_TYPE, prometheusText } from './prometheus.js';
export {
  type IntervalSeries,
  MAX_RETIRED_SERIES,
  type MetricLabels,
  MetricsRegistry,
  type MetricsRegistryOptions,
  type RegistrySnapshot,
  type SeriesSnapshot,
} from './registry.js';
export { STREAM_COUNTER_FIELDS, type StreamCounters, streamCounters, workerTotals } from './stream-counters.js';
