// The actors that own I/O: the worker root; lease coordination over a DynamoDB table (KCL's scheme)
// that decides which worker reads which stream and which runs discovery; discovery itself; and the
// lease actor that runs one lease machine with its GetMedia reader.

export { Worker, type WorkerConfig, type WorkerOptions } from './worker.js';
export { LeaseActor, type LeaseActorOptions } from './lease-actor.js';
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
