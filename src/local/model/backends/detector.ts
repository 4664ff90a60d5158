// The `detector` backend: @vladmandic/human's CenterNet (MobileNetV3, COCO, 512x512) on tfjs + wasm,
// answering in SageMaker's built-in Object Detection format `{"prediction": [[class_id, score, xmin, ymin, xmax, ymax],
// ...]}`, every number a float as that algorithm sends them (class ids `4.0`).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import { IMAGE_CONTENT_TYPES } from '../../../native/types.js';
import { BackendError, ModelServerError } from '../errors.js';
import type { Backend, BackendRequest, BackendResponse } from '../types.js';
import { type DecodeOptions, decodeCenterNet, type Prediction } from './centernet-decode.js';
import { imageToModelInput } from './image-input.js';
import { objectDetectionJson } from './object-detection.js';
import { loadGraphModelFromFile, startWasmBackend } from './tfjs-wasm.js';

export interface DetectorOptions {
  /** CenterNet's model.json; default the one @vladmandic/human ships (models/centernet.json). */
  modelPath?: string;
  /** Directory of tfjs-backend-wasm's .wasm files; default its package's dist/. */
  wasmDir?: string;
  /** Default 0.2, as human. */
  minScore?: number;
  /** Default 0.4, as human. */
  iouThreshold?: number;
  /** Default 100, all the model can give. */
  maxDetections?: number;
}

const OUTPUT = 'tower_0/detections';

/** human's package root, found through its CommonJS entry (its `exports` hide package.json). */
export function defaultCenterNetPath(): string {
  const entry = createRequire(import.meta.url).resolve('@vladmandic/human');
  return join(dirname(entry), '..', 'models', 'centernet.json');
}

export class DetectorBackend implements Backend {
  readonly name = 'detector';
  readonly contentTypes = IMAGE_CONTENT_TYPES;
  readonly responseContentType = 'application/json';
  readonly inputSize: number;
  readonly #model: GraphModel;
  readonly #decode: DecodeOptions;

  private constructor(model: GraphModel, decode: DecodeOptions) {
    this.#model = model;
    this.#decode = decode;
    this.inputSize = decode.inputSize;
  }

  /** Starts the wasm backend (once a process) and loads the model: about 50 ms once the wasm is warm. */
  static async create(options: DetectorOptions = {}): Promise<DetectorBackend> {
    const decode = {
      minScore: options.minScore ?? 0.2,
      iouThreshold: options.iouThreshold ?? 0.4,
      maxDetections: options.maxDetections ?? 100,
    };
    if (
      !(decode.minScore >= 0 && decode.minScore < 1) ||
      !(decode.iouThreshold > 0 && decode.iouThreshold <= 1) ||
      !(Number.isInteger(decode.maxDetections) && decode.maxDetections >= 1)
    ) {
      throw new ModelServerError(
        'BAD_SERVER_OPTIONS',
        `detector needs minScore in [0, 1), iouThreshold in (0, 1] and an integer maxDetections >= 1, got ` +
          `${JSON.stringify(decode)}`,
      );
    }
    const modelPath = options.modelPath ?? defaultCenterNetPath();
    if (!existsSync(modelPath))
      throw new ModelServerError('BACKEND_LOAD_FAILED', `CenterNet model not found at ${modelPath}`);
    let model: GraphModel;
    try {
      await startWasmBackend(options.wasmDir);
      model = await loadGraphModelFromFile(modelPath);
    } catch (error) {
      throw new ModelServerError(
        'BACKEND_LOAD_FAILED',
        `loading CenterNet from ${modelPath}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    // NHWC [1, size, size, 3]; human reads the size the same way.
    const inputSize = model.inputs[0]?.shape?.[2] ?? 512;
    return new DetectorBackend(model, { ...decode, inputSize });
  }

  async invoke(request: BackendRequest): Promise<BackendResponse> {
    const predictions = await this.detect(request.body);
    return { body: objectDetectionJson(predictions), contentType: this.responseContentType };
  }

  /** Detections in one image, best first. */
  async detect(image: Buffer): Promise<Prediction[]> {
    const pixels = await imageToModelInput(image, this.inputSize);
    let output: tf.Tensor;
    try {
      output = tf.tidy(
        () => this.#model.execute(tf.tensor4d(pixels, [1, this.inputSize, this.inputSize, 3]), OUTPUT) as tf.Tensor,
      );
    } catch (error) {
      throw new BackendError('INFERENCE_FAILED', `CenterNet failed: ${(error as Error).message}`, { cause: error });
    }
    try {
      return decodeCenterNet(await output.data(), this.#decode);
    } finally {
      output.dispose();
    }
  }

  async close(): Promise<void> {
    this.#model.dispose();
  }
}
