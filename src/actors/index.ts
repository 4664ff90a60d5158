// The actors that own I/O: the worker root; lease coordination over a DynamoDB table (KCL's scheme)
// that decides which worker reads which stream and which runs discovery; discovery itself; the
// lease actor that runs one lease machine with its GetMedia reader; and the pipeline behind it:
// frame pool, inference dispatcher, result publisher, and the record they publish.

export { Worker, type WorkerConfig, type WorkerOptions, type WorkerStats } from './worker.js';
export { LeaseActor, type LeaseActorOptions } from './lease-actor.js';
export { StreamPipeline, type CompletedFragment, type PipelineCounters, type PipelineServices, type StreamPipelineOptions } from './stream-pipeline.js';
export {
  InferenceDispatcher,
  InferenceError,
  type DispatchHandle,
  type DispatcherOptions,
  type DispatcherStats,
  type InferenceErrorCode,
  type InferenceOutcome,
  type InferenceRequest,
} from './inference-dispatcher.js';
export { PublishError, ResultPublisher, type PublishErrorCode, type PublishHandle, type PublisherOptions, type PublisherStats, type PublishReceipt, type PublishRecord } from './result-publisher.js';
export { buildRecord, idempotencyKey, RECORD_VERSION, type FailureStage, type InferenceRecord } from './inference-record.js';
export { Slots } from './slots.js';
export { errorFields, jsonLinesLogger, type LogLevel, type LogRecord, type Logger } from './logger.js';

export { LeaseTable, parseLease, type LeaseTableOptions } from './lease-table.js';
export {
  LeaseCoordinator,
  type LeaseCoordinatorCounters,
  type LeaseCoordinatorOptions,
  type SyncResult,
} from './lease-coordinator.js';
export { LeaseError, type LeaseErrorCode } from './lease-errors.js';
export { Discovery, DiscoveryError, matchesTagFilters, type DiscoveryErrorCode, type DiscoveryOptions, type DiscoveryTimers } from './discovery.js';
export { MediaReaderError, readStreamMedia, type MediaReaderErrorCode, type MediaReaderOptions } from './media-reader.js';
export {
  SYNC_LEASE_KEY,
  systemClock,
  type Checkpoint,
  type Lease,
  type LeaseClock,
  type LeaseLostReason,
  type LeaseStore,
} from './lease-types.js';
