// The local model server: SageMaker runtime's InvokeEndpoint and the SageMaker container contract on
// one port, in front of a pluggable model (`detector`, `fixed`, your own container by URL, or your own Backend), with
// fault injection.

export { seededRandom } from '../random.js';
export * from './backends/index.js';
export { accepts, mediaType } from './container.js';
export { BackendError, type BackendErrorCode, ModelServerError, type ModelServerErrorCode } from './errors.js';
export {
  DEFAULT_LATENCY_SPIKE_MS,
  FAULT_KINDS,
  type FaultConfig,
  type FaultKind,
  FaultPlan,
  parseFaults,
  validateFaults,
} from './faults.js';
export { MAX_CUSTOM_ATTRIBUTES_LENGTH, MAX_NAME_LENGTH, MAX_PAYLOAD_BYTES } from './invoke-checks.js';
export { SAGEMAKER_ERROR_STATUS, type SageMakerErrorName } from './sagemaker-errors.js';
export { INVOCATION_TIMEOUT_MS, ModelServer, type ModelServerOptions } from './server.js';
export type { ModelServerStats } from './stats.js';
export type { Backend, BackendRequest, BackendResponse } from './types.js';
