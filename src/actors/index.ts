// The actors that own I/O: the worker root (here) wiring two subsystems. lease/: coordination over a DynamoDB
// table (KCL's scheme) that decides which worker reads which stream and which runs discovery; discovery itself;
// the lease actor that runs one lease machine. pipeline/: the GetMedia reader and what its fragments go through:
// frame pool, inference dispatcher, result publisher, and the record they publish.

export { Worker, type WorkerConfig, type WorkerOptions, type WorkerStats } from './worker.js';
export { LeaseActor, type LeaseActorOptions } from './lease/lease-actor.js';
export { StreamPipeline, type CompletedFragment, type PipelineCounters, type PipelineServices, type StreamPipelineOptions } from './pipeline/stream-pipeline.js';
export {
  InferenceDispatcher,
  InferenceError,
  type DispatchHandle,
  type DispatcherOptions,
  type DispatcherStats,
  type InferenceErrorCode,
  type InferenceOutcome,
  type InferenceRequest,
} from './pipeline/inference-dispatcher.js';
export { PublishError, ResultPublisher, type PublishErrorCode, type PublishHandle, type PublisherOptions, type PublisherStats, type PublishReceipt, type PublishRecord } from './pipeline/result-publisher.js';
export { buildRecord, idempotencyKey, RECORD_VERSION, type FailureStage, type InferenceRecord } from './pipeline/inference-record.js';
export { Slots } from './pipeline/slots.js';
export { errorFields, jsonLinesLogger, type LogLevel, type LogRecord, type Logger } from './logger.js';

export { LeaseTable, parseLease, type LeaseTableOptions } from './lease/lease-table.js';
export { systemClock, type Clock } from './clock.js';
export {
  LeaseCoordinator,
  type LeaseCoordinatorCounters,
  type LeaseCoordinatorOptions,
  type SyncResult,
} from './lease/lease-coordinator.js';
export { LeaseError, type LeaseErrorCode } from './lease/lease-errors.js';
export { Discovery, DiscoveryError, matchesTagFilters, type DiscoveryErrorCode, type DiscoveryOptions, type DiscoveryTimers } from './lease/discovery.js';
export { MediaReaderError, readStreamMedia, type MediaReaderErrorCode, type MediaReaderOptions } from './pipeline/media-reader.js';
export {
  SYNC_LEASE_KEY,
  type Checkpoint,
  type Lease,
  type LeaseLostReason,
  type LeaseStore,
} from './lease/lease-types.js';
