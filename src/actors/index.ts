// The actors that own I/O: the worker root (here) wiring two subsystems. lease/: coordination over a DynamoDB
// table (KCL's scheme) that decides which worker reads which stream and which runs discovery; discovery itself;
// the lease actor that runs one lease machine. pipeline/: the GetMedia reader and what its fragments go through:
// frame pool, inference dispatcher, result publisher, and the record they publish.

export { type Clock, systemClock } from './clock.js';
export {
  Discovery,
  DiscoveryError,
  type DiscoveryErrorCode,
  type DiscoveryOptions,
  type DiscoveryTimers,
  matchesTagFilters,
} from './lease/discovery.js';
export { LeaseActor, type LeaseActorOptions } from './lease/lease-actor.js';
export {
  LeaseCoordinator,
  type LeaseCoordinatorCounters,
  type LeaseCoordinatorOptions,
  type SyncResult,
} from './lease/lease-coordinator.js';
export { LeaseError, type LeaseErrorCode } from './lease/lease-errors.js';
export { LeaseTable, type LeaseTableOptions, parseLease } from './lease/lease-table.js';
export {
  type Checkpoint,
  type Lease,
  type LeaseLostReason,
  type LeaseStore,
  SYNC_LEASE_KEY,
} from './lease/lease-types.js';
export { errorFields, jsonLinesLogger, type Logger, type LogLevel, type LogRecord } from './logger.js';
export {
  type DispatcherOptions,
  type DispatcherStats,
  type DispatchHandle,
  InferenceDispatcher,
  InferenceError,
  type InferenceErrorCode,
  type InferenceOutcome,
  type InferenceRequest,
} from './pipeline/inference-dispatcher.js';
export {
  buildRecord,
  type FailureStage,
  type InferenceRecord,
  idempotencyKey,
  RECORD_VERSION,
} from './pipeline/inference-record.js';
export {
  MediaReaderError,
  type MediaReaderErrorCode,
  type MediaReaderOptions,
  readStreamMedia,
} from './pipeline/media-reader.js';
export {
  PublishError,
  type PublishErrorCode,
  type PublisherOptions,
  type PublisherStats,
  type PublishHandle,
  type PublishReceipt,
  type PublishRecord,
  ResultPublisher,
} from './pipeline/result-publisher.js';
export { Slots } from './pipeline/slots.js';
export {
  type CompletedFragment,
  type PipelineServices,
  StreamPipeline,
  type StreamPipelineOptions,
} from './pipeline/stream-pipeline.js';
export { Worker, type WorkerConfig, type WorkerOptions, type WorkerStats } from './worker.js';
