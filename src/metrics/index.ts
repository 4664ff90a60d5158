// The metrics core (one registry of series) and its two exporters: CloudWatch EMF lines and a Prometheus scrape.

export {
  METRICS,
  PIPELINE_STAGES,
  metricDefinition,
  type CounterName,
  type GaugeName,
  type HistogramName,
  type MetricDefinition,
  type MetricKind,
  type MetricName,
  type MetricScope,
  type MetricUnit,
  type StageMetricName,
} from './definitions.js';
export { LatencyHistogram, MAX_EMF_VALUES, MAX_LATENCY_MS, type EmfDistribution, type LatencySummary } from './histogram.js';
export {
  MAX_RETIRED_SERIES,
  MetricsRegistry,
  type IntervalSeries,
  type MetricLabels,
  type MetricsRegistryOptions,
  type RegistrySnapshot,
  type SeriesSnapshot,
} from './registry.js';
export {
  EMF_MAX_DIMENSIONS,
  EMF_MAX_METRICS,
  EmfExporter,
  emfDocuments,
  type EmfDocument,
  type EmfExporterOptions,
  type EmfMetricDirective,
  type EmfOptions,
} from './emf.js';
export { PROMETHEUS_CONTENT_TYPE, escapeLabelValue, prometheusText } from './prometheus.js';
