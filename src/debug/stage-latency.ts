// The latency of each stage of a stream's sampled frames, for the debug view, read from the worker's metrics.

import { type MetricsRegistry, PIPELINE_STAGES } from '../metrics/index.js';
import type { StageLatencyView } from './types.js';

/** Every stage of `stream`, in a frame's order; without `metrics` (a lease machine alone) or a sample, no values. */
export function stageLatencies(metrics: Pick<MetricsRegistry, 'summary'> | null, stream: string): StageLatencyView[] {
  return PIPELINE_STAGES.map(({ metric, from, to }) => {
    const summary = metrics?.summary(metric, { stream }) ?? null;
    if (summary === null) return { metric, from, to, count: 0, p50: null, p99: null };
    return { metric, from, to, count: summary.count, p50: Math.round(summary.p50), p99: Math.round(summary.p99) };
  });
}
