// CenterNet's `tower_0/detections` output turned into SageMaker Object Detection rows. The model
// already picks its top 100 peaks; as @vladmandic/human does, what is left is a score threshold
// and a class-agnostic non-maximum suppression, then coordinates normalised to 0..1.

/**
 * `[class_id, score, xmin, ymin, xmax, ymax]`, coordinates 0..1 of the image; SageMaker's built-in Object Detection
 * row.
 */
export type Prediction = [classId: number, score: number, xmin: number, ymin: number, xmax: number, ymax: number];

export interface DecodeOptions {
  /** Side of the square model input in pixels; the raw coordinates are in that space. */
  inputSize: number;
  /** Detections scoring this or less are dropped; human's default is 0.2. */
  minScore: number;
  /** A box overlapping a better one by more than this IoU is dropped; human's default is 0.4. */
  iouThreshold: number;
  maxDetections: number;
}

/**
 * `raw` holds rows of 6 floats, `x1, y1, x2, y2, score, class`, in input pixels. The input was
 * the whole picture stretched to the square, so dividing by `inputSize` gives picture coordinates.
 */
export function decodeCenterNet(raw: ArrayLike<number>, options: DecodeOptions): Prediction[] {
  const candidates: Prediction[] = [];
  const clamp = (value: number) => Math.min(1, Math.max(0, value / options.inputSize));
  for (let offset = 0; offset + 6 <= raw.length; offset += 6) {
    const score = raw[offset + 4]!;
    const classId = raw[offset + 5]!;
    if (!(score > options.minScore) || !Number.isInteger(classId) || classId < 0) continue;
    candidates.push([
      classId,
      score,
      clamp(raw[offset]!),
      clamp(raw[offset + 1]!),
      clamp(raw[offset + 2]!),
      clamp(raw[offset + 3]!),
    ]);
  }
  return nonMaxSuppression(candidates, options.iouThreshold, options.maxDetections);
}

/** Greedy NMS over all classes together, best score first (tf.image.nonMaxSuppression's rule). */
export function nonMaxSuppression(
  predictions: readonly Prediction[],
  iouThreshold: number,
  maxDetections: number,
): Prediction[] {
  const sorted = [...predictions].sort((a, b) => b[1] - a[1]);
  const kept: Prediction[] = [];
  for (const candidate of sorted) {
    if (kept.length >= maxDetections) break;
    if (kept.every((other) => iou(candidate, other) <= iouThreshold)) kept.push(candidate);
  }
  return kept;
}

export function iou(a: Prediction, b: Prediction): number {
  const width = Math.min(a[4], b[4]) - Math.max(a[2], b[2]);
  const height = Math.min(a[5], b[5]) - Math.max(a[3], b[3]);
  if (width <= 0 || height <= 0) return 0;
  const intersection = width * height;
  const area = (p: Prediction) => (p[4] - p[2]) * (p[5] - p[3]);
  return intersection / (area(a) + area(b) - intersection);
}
