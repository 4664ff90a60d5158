// The local Kinesis Video Streams server: an HTTP API the real AWS SDK v3 clients accept as KVS
// (control plane, GetMedia, archived media, PutMedia) over per-stream fragment logs.

// The server and its API layer.
export { KvsServer, type KvsServerOptions, type ReplayFileOptions } from './server.js';
export {
  StreamRegistry,
  KvsStream,
  DEFAULT_KMS_KEY_ID,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  MAX_TAGS_PER_STREAM,
  type StreamOptions,
  type StreamRegistryOptions,
  type StreamLogContext,
} from './stream-registry.js';
export { parseStartSelector } from './get-media.js';
export type { ApiContext, Clock, Route } from './route.js';
export { IN_BAND_ERRORS, KvsApiError, KvsInBandError, type KvsApiErrorName } from './errors.js';

// The media core it serves from.
export { FragmentLog, type FragmentLogOptions } from './fragment-log.js';
export { renderGetMediaFragment, renderGetMediaError, renderArchivedFragment, kvsTimestamp } from './fragment-renderer.js';
export { FileSource, FileSourceError, type FileSourceErrorCode, type SourceFragment, type ReplayOptions } from './file-source.js';
export { ingestPutMedia, PUT_MEDIA_ERROR, type PutMediaAck, type PutMediaErrorCode, type PutMediaEventType, type PutMediaOptions } from './put-media.js';
export type { FragmentInput, FragmentRange, StartSelector, StoredFragment } from './types.js';
export * as mkvWriter from './mkv-writer.js';
export { MkvWriteError, type BlockSpec, type MkvWriteErrorCode } from './mkv-writer.js';
