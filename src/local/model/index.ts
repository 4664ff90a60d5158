// The local model server: SageMaker runtime's InvokeEndpoint and the SageMaker container contract on
// one port, in front of a pluggable model (`detector`, `fixed`, your own container by URL, or your own Backend), with fault injection.

export { ModelServer, INVOCATION_TIMEOUT_MS, type ModelServerOptions } from './server.js';
export { MAX_PAYLOAD_BYTES, MAX_CUSTOM_ATTRIBUTES_LENGTH, MAX_NAME_LENGTH } from './invoke-checks.js';
export type { Backend, BackendRequest, BackendResponse } from './types.js';
export { FAULT_KINDS, DEFAULT_LATENCY_SPIKE_MS, FaultPlan, parseFaults, validateFaults, type FaultConfig, type FaultKind } from './faults.js';
export type { ModelServerStats } from './stats.js';
export { BackendError, ModelServerError, type BackendErrorCode, type ModelServerErrorCode } from './errors.js';
export { SAGEMAKER_ERROR_STATUS, type SageMakerErrorName } from './sagemaker-errors.js';
export { accepts, mediaType } from './container.js';
export { seededRandom } from '../random.js';
export * from './backends/index.js';
