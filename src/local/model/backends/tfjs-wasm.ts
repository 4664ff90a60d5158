// TensorFlow.js on its WebAssembly backend, offline: the .wasm binaries and the graph model are read
// from the file system (tfjs-node is not available, and fetching over the network is not allowed).

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

/** Where tfjs-backend-wasm keeps its .wasm files (next to its Node bundle). */
export const defaultWasmDir = (): string => dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));

// The tfjs engine is one per process, so its backend is started once whoever asks first.
let started: Promise<void> | null = null;

/** Selects the wasm backend, loading its binary from `wasmDir`; later calls share the first start. */
export function startWasmBackend(wasmDir: string = defaultWasmDir()): Promise<void> {
  started ??= (async () => {
    setWasmPaths(wasmDir.endsWith('/') ? wasmDir : `${wasmDir}/`);
    if (!(await tf.setBackend('wasm')))
      throw new Error(`the tfjs wasm backend did not start (binaries from ${wasmDir})`);
    await tf.ready();
  })().catch((error: unknown) => {
    started = null;
    throw error;
  });
  return started;
}

interface ModelJson {
  modelTopology: tf.io.ModelArtifacts['modelTopology'];
  weightsManifest: tf.io.WeightsManifestConfig;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: object;
  userDefinedMetadata?: tf.io.ModelArtifacts['userDefinedMetadata'];
}

/** A tfjs graph model from a `model.json` path and the weight shards listed in it, beside it. */
export async function loadGraphModelFromFile(modelJsonPath: string): Promise<GraphModel> {
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJson;
  const dir = dirname(modelJsonPath);
  const shards: Buffer[] = [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest) {
    for (const path of group.paths) shards.push(await readFile(join(dir, path)));
    weightSpecs.push(...group.weights);
  }
  const weights = Buffer.concat(shards);
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
  };
  return loadGraphModel(tf.io.fromMemory(artifacts));
}
