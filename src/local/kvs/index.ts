// The local Kinesis Video Streams server: an HTTP API the real AWS SDK v3 clients accept as KVS
// (control plane, GetMedia, archived media, PutMedia) over per-stream fragment logs.

export { IN_BAND_ERRORS, KvsApiError, type KvsApiErrorName, KvsInBandError } from './errors.js';
export {
  FileSource,
  FileSourceError,
  type FileSourceErrorCode,
  type ReplayOptions,
  type SourceFragment,
} from './file-source.js';
// The media core it serves from.
export { FragmentLog, type FragmentLogOptions } from './fragment-log.js';
export {
  kvsTimestamp,
  renderArchivedFragment,
  renderGetMediaError,
  renderGetMediaFragment,
} from './fragment-renderer.js';
export { parseStartSelector } from './get-media.js';
export * as mkvWriter from './mkv-writer.js';
export { type BlockSpec, MkvWriteError, type MkvWriteErrorCode } from './mkv-writer.js';
export {
  ingestPutMedia,
  PUT_MEDIA_ERROR,
  type PutMediaAck,
  type PutMediaErrorCode,
  type PutMediaEventType,
  type PutMediaOptions,
} from './put-media.js';
export type { ApiContext, Clock, Route } from './route.js';
// The server and its API layer.
export { KvsServer, type KvsServerOptions, type ReplayFileOptions } from './server.js';
export {
  DEFAULT_KMS_KEY_ID,
  KvsStream,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  MAX_TAGS_PER_STREAM,
  type StreamLogContext,
  type StreamOptions,
  StreamRegistry,
  type StreamRegistryOptions,
} from './stream-registry.js';
export type { FragmentInput, FragmentRange, StartSelector, StoredFragment } from './types.js';
