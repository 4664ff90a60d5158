// What a frame's record says, readably: detections with COCO labels for SageMaker Object Detection
// answers, other answers as they are (truncated), or the error; one log line per frame.

import { COCO_LABELS } from '../../src/local/model/backends/coco-labels.js';
import type { LogLine } from './log.js';
import type { ParsedRecord } from './parse-records.js';

export interface Detection {
  label: string;
  score: number;
  /** [xmin, ymin, xmax, ymax], fractions of the picture. */
  box: [number, number, number, number];
}

/** Other JSON answers are logged up to this many characters of their JSON text. */
export const MAX_RESULT_CHARS = 2048;

const round = (value: number) => Math.round(value * 10_000) / 10_000;

/**
 * The detections scoring at least `minScore`, best first, when `result` is in the Object Detection format
 * (`{"prediction": [[class_id, score, xmin, ymin, xmax, ymax], ...]}`); null for any other answer.
 */
export function detectionsOf(result: unknown, minScore: number): Detection[] | null {
  if (typeof result !== 'object' || result === null) return null;
  const prediction = (result as { prediction?: unknown }).prediction;
  if (!Array.isArray(prediction)) return null;
  const rows = prediction.filter(
    (row): row is number[] =>
      Array.isArray(row) &&
      row.length >= 6 &&
      row.slice(0, 6).every((v) => typeof v === 'number' && Number.isFinite(v)),
  );
  if (rows.length !== prediction.length) return null;
  return rows
    .filter((row) => row[1]! >= minScore)
    .sort((a, b) => b[1]! - a[1]!)
    .map(([classId, score, xmin, ymin, xmax, ymax]) => ({
      // The built-in algorithm sends class ids as floats (0.0).
      label: COCO_LABELS[Math.round(classId!)] ?? `class ${classId}`,
      score: round(score!),
      box: [round(xmin!), round(ymin!), round(xmax!), round(ymax!)],
    }));
}

export interface FrameDescription {
  /** null when the answer is not in the Object Detection format (or the frame failed). */
  detections: Detection[] | null;
  line: LogLine;
}

/** An epoch-ms timestamp as ISO 8601; null when there is none. */
export const isoTime = (ms: unknown): string | null =>
  typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : null;

export function describeFrame({ sequenceNumber, record }: ParsedRecord, minScore: number): FrameDescription {
  const line: LogLine = {
    level: 'info',
    event: 'frame',
    stream: record.streamName,
    fragmentNumber: record.fragmentNumber,
    frameTimecode: record.frameTimecode ?? null,
    keyframeIndex: record.keyframeIndex ?? null,
    producerTime: isoTime(record.producerTimestamp),
    serverTime: isoTime(record.serverTimestamp),
    workerId: record.workerId ?? null,
    sequenceNumber,
  };
  if (record.error !== undefined) {
    return { detections: null, line: { ...line, level: 'warn', error: record.error } };
  }
  if (record.resultBase64 !== undefined) {
    const bytes = typeof record.resultBase64 === 'string' ? Buffer.byteLength(record.resultBase64, 'base64') : null;
    return {
      detections: null,
      line: { ...line, resultContentType: record.resultContentType ?? null, resultBase64Bytes: bytes },
    };
  }
  const detections = detectionsOf(record.result, minScore);
  if (detections !== null) return { detections, line: { ...line, detections } };
  const text = JSON.stringify(record.result ?? null);
  const result =
    text.length <= MAX_RESULT_CHARS
      ? { result: record.result ?? null }
      : { resultTruncated: text.slice(0, MAX_RESULT_CHARS), resultChars: text.length };
  return { detections: null, line: { ...line, resultContentType: record.resultContentType ?? null, ...result } };
}
