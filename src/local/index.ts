// The local stack: everything kvs-infer talks to, on one machine with no AWS account. Each piece
// also starts alone, on a free port, for tests.

export { type ClipCodec, type ClipInfo, type ClipOptions, encodeClip } from './clip-encoder.js';
export { defaultCacheDir, demoClip, demoPhotoPath } from './demo-clip.js';
export { Emulator, type EmulatorKind, type EmulatorOptions } from './emulator.js';
export * as kvs from './kvs/index.js';
export {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  LocalStack,
  type LocalStackOptions,
  type LocalStreamSpec,
  localEnv,
} from './local-stack.js';
export { type LocalWorker, servedKeyframes, startLocalWorker, untilAllProcessed } from './local-worker.js';
export * as model from './model/index.js';
export { parseRecords, readAllRecords, type StoredRecord } from './read-records.js';
