// What `kvs-infer demo` reports at the end, per stream: frames sampled, inferred and published (from
// the metrics registry's counters and the records read back from Kinesis), what reading the stream cost, detections by
// class, latency percentiles.

import hdr from 'hdr-histogram-js';
import type { InferenceRecord } from '../actors/pipeline/inference-record.js';
import { BYTES_PER_GB, type MediaCost, mediaCost, type StreamCounters } from '../metrics/index.js';

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ClassSummary {
  label: string;
  count: number;
  /** The highest-scoring detection of the class: score and [xmin, ymin, xmax, ymax] as the endpoint gave them. */
  best: { score: number; box: number[]; fragmentNumber: string; frameTimecode: number };
}

export interface StreamSummary {
  stream: string;
  fragmentsRead: number;
  keyframes: number;
  sampled: number;
  inferred: number;
  failed: number;
  /** Records of the stream read back from the data stream (a frame published twice counts twice). */
  published: number;
  distinctFrames: number;
  /** The GetMedia cost meter's figures for the stream. */
  cost: MediaCost;
  classes: ClassSummary[];
  /**
   * Answers not in the Object Detection format (your own container's, say): published, but not counted as detections.
   */
  otherAnswers: number;
  inferenceMs: Percentiles | null;
  ingestToPublishMs: Percentiles | null;
}

/** Detections below this score are not counted (the detector's own answer keeps weaker ones). */
export const MIN_SCORE = 0.3;

/** One summary per stream in `counters`, from the records published for it; media priced at `getMediaPricePerGB`. */
export function summarize(
  counters: Map<string, StreamCounters>,
  records: InferenceRecord[],
  labels: readonly string[],
  getMediaPricePerGB: number,
): StreamSummary[] {
  return [...counters].map(([stream, c]) => {
    const mine = records.filter((r) => r.streamName === stream);
    return {
      stream,
      fragmentsRead: c.fragmentsRead,
      keyframes: c.keyframes,
      sampled: c.sampled,
      inferred: c.inferred,
      failed: c.failed,
      published: mine.length,
      distinctFrames: new Set(mine.map((r) => r.idempotencyKey)).size,
      cost: mediaCost(c, getMediaPricePerGB),
      classes: detections(mine, labels),
      otherAnswers: mine.filter((r) => r.error === undefined && predictionsOf(r) === null).length,
      inferenceMs: percentiles(mine.flatMap((r) => (r.inferenceLatencyMs === null ? [] : [r.inferenceLatencyMs]))),
      ingestToPublishMs: percentiles(mine.map((r) => r.ingestToPublishMs)),
    };
  });
}

/**
 * Counts SageMaker Object Detection answers, `{"prediction": [[class_id, score, xmin, ymin, xmax, ymax], ...]}`, by
 * class name.
 */
function detections(records: InferenceRecord[], labels: readonly string[]): ClassSummary[] {
  const classes = new Map<string, ClassSummary>();
  for (const record of records) {
    for (const row of predictionsOf(record) ?? []) {
      if (!Array.isArray(row) || row.length < 6 || !row.every((v) => typeof v === 'number')) continue;
      const [classId, score, ...box] = row as number[];
      if (score! < MIN_SCORE) continue;
      const label = labels[classId!] ?? `class ${classId}`;
      const seen = classes.get(label);
      const candidate = {
        score: score!,
        box: box.slice(0, 4),
        fragmentNumber: record.fragmentNumber,
        frameTimecode: record.frameTimecode,
      };
      if (seen === undefined) classes.set(label, { label, count: 1, best: candidate });
      else {
        seen.count++;
        if (candidate.score > seen.best.score) seen.best = candidate;
      }
    }
  }
  return [...classes.values()].sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
}

/**
 * The rows of an Object Detection answer; null for any other answer. JSON reads the algorithm's `4.0` class ids as 4.
 */
function predictionsOf(record: InferenceRecord): unknown[] | null {
  const prediction = (record.result as { prediction?: unknown } | undefined)?.prediction;
  return Array.isArray(prediction) ? prediction : null;
}

function percentiles(values: number[]): Percentiles | null {
  if (values.length === 0) return null;
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000,
    numberOfSignificantValueDigits: 3,
  });
  for (const value of values) histogram.recordValue(Math.max(1, Math.round(value)));
  const at = (p: number) => histogram.getValueAtPercentile(p);
  const summary = { p50: at(50), p90: at(90), p99: at(99), max: histogram.maxValue };
  histogram.destroy();
  return summary;
}

/** The summary as a person reads it. */
export function renderSummary(summaries: StreamSummary[]): string {
  const lines: string[] = [];
  for (const s of summaries) {
    lines.push(`stream ${s.stream}`);
    lines.push(
      `  fragments read ${s.fragmentsRead}, I-frames seen ${s.keyframes}, sampled ${s.sampled}, ` +
        `inferred ${s.inferred}, failed ${s.failed}`,
    );
    lines.push(`  published ${s.published} records for ${s.distinctFrames} frames`);
    const { bytesRead, dollars, dollarsPer1000Inferences: per1000 } = s.cost;
    lines.push(
      `  GetMedia read ${significant(bytesRead / BYTES_PER_GB)} GB, est. $${significant(dollars)}` +
        (per1000 === null ? '' : ` ($${significant(per1000)} per 1,000 inferences)`),
    );
    if (s.classes.length === 0) lines.push(`  detections (score >= ${MIN_SCORE}): none`);
    else {
      lines.push(`  detections (score >= ${MIN_SCORE}):`);
      for (const c of s.classes) {
        const box = c.best.box.map((v) => v.toFixed(2)).join(', ');
        lines.push(
          `    ${c.label.padEnd(14)} ${String(c.count).padStart(4)}   ` +
            `best ${c.best.score.toFixed(2)} at [${box}] (frame ${c.best.frameTimecode} ms)`,
        );
      }
    }
    if (s.otherAnswers > 0)
      lines.push(`  answers not in the Object Detection format ({"prediction": [...]}): ${s.otherAnswers}`);
    if (s.inferenceMs) lines.push(`  inference ms:        ${format(s.inferenceMs)}`);
    if (s.ingestToPublishMs) lines.push(`  ingest to publish ms: ${format(s.ingestToPublishMs)}`);
  }
  return `${lines.join('\n')}\n`;
}

const format = (p: Percentiles): string => `p50 ${p.p50}  p90 ${p.p90}  p99 ${p.p99}  max ${p.max}`;

/** Three significant digits: a demo reads megabytes, worth fractions of a cent. */
const significant = (value: number): string => (value === 0 ? '0' : value.toPrecision(3));
