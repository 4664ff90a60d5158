// The local stack: everything kvs-infer talks to, on one machine with no AWS account. Each piece
// also starts alone, on a free port, for tests.

export { LocalStack, LOCAL_CREDENTIALS, LOCAL_REGION, type LocalStackOptions, type LocalStreamSpec } from './local-stack.js';
export { parseRecords, readAllRecords, type StoredRecord } from './read-records.js';
export { servedKeyframes, startLocalWorker, untilAllProcessed, type LocalWorker } from './local-worker.js';
export { Emulator, type EmulatorKind, type EmulatorOptions } from './emulator.js';
export { demoClip, demoPhotoPath, defaultCacheDir } from './demo-clip.js';
export { encodeClip, type ClipCodec, type ClipInfo, type ClipOptions } from './clip-encoder.js';
export * as kvs from './kvs/index.js';
export * as model from './model/index.js';
