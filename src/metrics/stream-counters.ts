// A stream's counters as the short field names the debug page, the log lines, the stats line and the demo summary
// show, read from the metrics registry: the one place per-stream progress is counted.

import type { CounterName } from './definitions.js';
import type { MetricsRegistry } from './registry.js';

/** Each field and the registry counter it shows. */
export const STREAM_COUNTER_FIELDS = {
  fragmentsRead: 'FragmentsRead',
  bytesRead: 'BytesRead',
  fragmentsCompleted: 'FragmentsCompleted',
  corruptFragments: 'CorruptFragments',
  incompleteFragments: 'IncompleteFragments',
  frames: 'FramesRead',
  keyframes: 'IFramesSeen',
  sampled: 'FramesSampled',
  skippedRepeats: 'FramesSkipped',
  encoded: 'FramesDecoded',
  inferred: 'FramesInferred',
  failed: 'FramesFailed',
  dropped: 'FramesDropped',
  published: 'FramesPublished',
  backpressureMs: 'ReadPausedTime',
  reconnects: 'GetMediaReconnects',
  fragmentsSkipped: 'FragmentsSkipped',
  skippedMs: 'TimeSkipped',
} as const satisfies Record<string, CounterName>;

export type StreamCounters = Record<keyof typeof STREAM_COUNTER_FIELDS, number>;

type Field = keyof StreamCounters;
const FIELDS = Object.entries(STREAM_COUNTER_FIELDS) as [Field, CounterName][];

/** `stream`'s counters since its lease began on this worker; zeros once the lease has ended. */
export function streamCounters(metrics: MetricsRegistry, stream: string): StreamCounters {
  return fill((name) => metrics.count(name, { stream }));
}

/** The counters over every stream this worker has read, ended leases included: they never go backwards. */
export function workerTotals(metrics: MetricsRegistry): StreamCounters {
  return fill((name) => metrics.countAll(name));
}

function fill(read: (name: CounterName) => number): StreamCounters {
  return Object.fromEntries(FIELDS.map(([field, name]) => [field, read(name)])) as StreamCounters;
}
