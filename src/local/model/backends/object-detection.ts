// The answer body of SageMaker's built-in Object Detection algorithm, `{"prediction": [[class_id, score, xmin,
// ymin, xmax, ymax], ...]}`, written as that algorithm (Python's json) writes it: every number a float, so a
// class id reads `4.0`. A consumer that indexes its labels with the class id as it comes then fails locally as
// it would on AWS.

import type { Prediction } from './centernet-decode.js';

/** `value` as Python prints a float: whole numbers keep a `.0`. */
const float = (value: number): string => (Number.isInteger(value) ? value.toFixed(1) : JSON.stringify(value));

/**
 * The JSON body for `prediction`, with `extra` string fields after it (e.g. padding); `, ` and `: ` as Python's
 * json.dumps.
 */
export function objectDetectionJson(prediction: readonly Prediction[], extra: Record<string, string> = {}): string {
  const rows = prediction.map((row) => `[${row.map(float).join(', ')}]`).join(', ');
  const fields = Object.entries(extra).map(([key, value]) => `, ${JSON.stringify(key)}: ${JSON.stringify(value)}`);
  return `{"prediction": [${rows}]${fields.join('')}}`;
}
