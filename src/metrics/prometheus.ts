// The registry in Prometheus text exposition format 0.0.4, for a /metrics scrape: totals since start, with
// latency histograms as summaries (p50, p90, p99, _sum, _count).

import type { MetricsRegistry, SeriesSnapshot } from './registry.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const QUANTILES = [
  ['0.5', 'p50'],
  ['0.9', 'p90'],
  ['0.99', 'p99'],
] as const;

export function prometheusText(registry: MetricsRegistry): string {
  const { appName, workerId, series } = registry.snapshot();
  const lines: string[] = [];
  let family: string | undefined;
  // The snapshot lists series in table order, so each family's series are together as the format requires.
  for (const s of series) {
    const { prometheus: name, help, kind } = s.definition;
    if (name !== family) {
      family = name;
      lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${kind === 'histogram' ? 'summary' : kind}`);
    }
    const labels: [string, string][] = [
      ['app', appName],
      ['worker', workerId],
    ];
    if (s.labels.stream !== undefined) labels.push(['stream', s.labels.stream]);
    lines.push(...samples(name, labels, s));
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function samples(name: string, labels: [string, string][], s: SeriesSnapshot): string[] {
  if (s.kind !== 'histogram') return [`${name}${labelSet(labels)} ${formatValue(s.value)}`];
  const { summary } = s;
  return [
    ...QUANTILES.map(([q, key]) => `${name}${labelSet([...labels, ['quantile', q]])} ${formatValue(summary[key])}`),
    `${name}_sum${labelSet(labels)} ${formatValue(summary.sum)}`,
    `${name}_count${labelSet(labels)} ${formatValue(summary.count)}`,
  ];
}

function labelSet(labels: [string, string][]): string {
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** Label values escape backslash, double quote and line feed; nothing else. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** Go's float syntax: NaN and ±Inf spelled out (an empty summary's quantiles are NaN). */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
