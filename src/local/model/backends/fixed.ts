// The `fixed` backend: no model, an answer in the Object Detection format (floats, as the built-in algorithm writes
// them) derived from a hash of the body (so tests can tell requests apart and predict the answer), after a configurable
// delay.

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { IMAGE_CONTENT_TYPES } from '../../../native/types.js';
import { ModelServerError } from '../errors.js';
import type { Backend, BackendRequest, BackendResponse } from '../types.js';
import type { Prediction } from './centernet-decode.js';
import { objectDetectionJson } from './object-detection.js';

export interface FixedOptions {
  /** Delay before each answer, ms; default 0. */
  latencyMs?: number;
  /**
   * Pads each answer (a `padding` field) to this many bytes, as a model with large answers (masks, embeddings) does;
   * default none.
   */
  answerBytes?: number;
  /** Accepted request types; default the image types. */
  contentTypes?: readonly string[];
}

/** The one-row answer of the fixed backend for `body`: class 0..79, score 0.5..1, a box inside the picture. */
export function fixedPrediction(body: Uint8Array): Prediction[] {
  const hash = createHash('sha256').update(body).digest();
  const unit = (i: number) => hash[i]! / 255;
  const round = (value: number) => Math.round(value * 10000) / 10000;
  const xmin = round(unit(2) * 0.5);
  const ymin = round(unit(3) * 0.5);
  return [
    [
      hash[0]! % 80,
      round(0.5 + unit(1) * 0.5),
      xmin,
      ymin,
      round(xmin + 0.1 + unit(4) * 0.4),
      round(ymin + 0.1 + unit(5) * 0.4),
    ],
  ];
}

export class FixedBackend implements Backend {
  readonly name = 'fixed';
  readonly contentTypes: readonly string[];
  readonly responseContentType = 'application/json';
  readonly latencyMs: number;
  readonly answerBytes: number;

  private constructor(latencyMs: number, answerBytes: number, contentTypes: readonly string[]) {
    this.latencyMs = latencyMs;
    this.answerBytes = answerBytes;
    this.contentTypes = contentTypes;
  }

  static async create(options: FixedOptions = {}): Promise<FixedBackend> {
    const latencyMs = options.latencyMs ?? 0;
    if (!(Number.isFinite(latencyMs) && latencyMs >= 0))
      throw new ModelServerError('BAD_SERVER_OPTIONS', `fixed latency must be a number of ms >= 0, got ${latencyMs}`);
    const answerBytes = options.answerBytes ?? 0;
    if (!(Number.isInteger(answerBytes) && answerBytes >= 0))
      throw new ModelServerError(
        'BAD_SERVER_OPTIONS',
        `fixed answer bytes must be an integer >= 0, got ${answerBytes}`,
      );
    return new FixedBackend(latencyMs, answerBytes, options.contentTypes ?? IMAGE_CONTENT_TYPES);
  }

  /** Echoes the custom attributes, so that tests can see SageMaker forwarding them both ways. */
  async invoke(request: BackendRequest): Promise<BackendResponse> {
    if (this.latencyMs > 0) await sleep(this.latencyMs, undefined, { signal: request.signal });
    const response: BackendResponse = {
      body: this.#answer(fixedPrediction(request.body)),
      contentType: this.responseContentType,
    };
    if (request.customAttributes !== undefined) response.customAttributes = request.customAttributes;
    return response;
  }

  #answer(prediction: Prediction[]): string {
    const plain = objectDetectionJson(prediction);
    // The answer is ASCII, so characters are bytes; an empty padding field says how many it adds itself.
    const pad = this.answerBytes - objectDetectionJson(prediction, { padding: '' }).length;
    return pad > 0 ? objectDetectionJson(prediction, { padding: 'x'.repeat(pad) }) : plain;
  }
}
