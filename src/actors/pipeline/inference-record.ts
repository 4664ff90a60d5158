// The JSON document published to the Kinesis data stream for every sampled frame: its result, or
// the error it met for good. `version` changes only when a field changes meaning or disappears.
// Each record also carries KIT's fields, in KIT's form, so that a consumer written for KIT reads it too.

import { fragmentMetaData, frameMetaData, type KitSource } from './kit-fields.js';

export const RECORD_VERSION = 1;

/** Where a frame failed for good. */
export type FailureStage = 'decode' | 'inference' | 'publish';

/** Which frame a record is about. */
export interface FrameIdentity {
  streamName: string;
  fragmentNumber: string;
  /** KVS server timestamp of the fragment (when KVS received it), epoch ms. */
  serverTimestamp: number;
  /** Producer timestamp of the fragment, epoch ms; null when the producer sent none. */
  producerTimestamp: number | null;
  /** Absolute timecode of the frame in the stream, ms. */
  frameTimecode: number;
  /** Position of the frame among the stream's I-frames, counted by the sampler (0 is the first read). */
  keyframeIndex: number;
  /** What KIT's fragmentMetaData and frameMetaData are made from; not itself in the record. */
  kit: KitSource;
}

export interface InferenceRecord extends Omit<FrameIdentity, 'kit'> {
  version: typeof RECORD_VERSION;
  /** `stream/fragmentNumber/frameTimecode`: the same frame always has the same key, for consumers that de-duplicate. */
  idempotencyKey: string;
  /** What the frame was sent as (endPointAcceptContentType). */
  contentType: string;
  endpoint: string;
  workerId: string;
  /** InvokeEndpoint calls made for this frame (0 when it failed before inference). */
  attempts: number;
  /** Time of the successful (or last) call, ms. */
  inferenceLatencyMs: number | null;
  /** From the fragment's server timestamp to handing this record to the publisher, ms. */
  ingestToPublishMs: number;
  /** Epoch ms at which the record was handed to the publisher. */
  publishedAt: number;
  /** The endpoint's answer when it is JSON. */
  result?: unknown;
  /** The endpoint's answer when it is not JSON, base64. */
  resultBase64?: string;
  /** The content type the endpoint answered with. */
  resultContentType?: string | null;
  /** Set instead of a result when the frame failed for good. */
  error?: { stage: FailureStage; code: string; message: string };
  /** KIT's: the fragment's metadata as KIT's parser library prints it, `FragmentMetadata(...)`. */
  fragmentMetaData: string;
  /** KIT's: the frame's block header as KIT's parser library prints it, `Frame(...)`. */
  frameMetaData: string;
  /** KIT's: the endpoint's answer as it came, base64; absent when the frame failed (then `error` says why). */
  sageMakerOutput?: string;
  /** Present (true) on records of `kvs-infer replay`, absent on a live worker's: past video run through the model. */
  replay?: true;
}

export interface RecordContext {
  contentType: string;
  endpoint: string;
  workerId: string;
  now: number;
  /** The frame was read from the archive by `kvs-infer replay`, not live. */
  replay?: boolean;
}

export type RecordBody =
  | { answer: Uint8Array; answerContentType: string | null; attempts: number; inferenceLatencyMs: number }
  | {
      error: { stage: FailureStage; code: string; message: string };
      attempts: number;
      inferenceLatencyMs: number | null;
    };

/**
 * An error record's code and message are cut to these many UTF-8 bytes: whatever an endpoint or a decoder says
 * (a ModelError carries the container's whole answer), the record stays far below Kinesis' 1 MiB, even with every
 * character escaped 6-fold in JSON, so that a failed frame is always recorded and its fragment can complete.
 */
export const MAX_ERROR_MESSAGE_BYTES = 16 * 1024;
const MAX_ERROR_CODE_BYTES = 256;

/** The error as recorded and logged: code and message cut to their bounds. */
export function boundedError(error: { stage: FailureStage; code: string; message: string }): {
  stage: FailureStage;
  code: string;
  message: string;
} {
  return {
    stage: error.stage,
    code: truncateUtf8(error.code, MAX_ERROR_CODE_BYTES),
    message: truncateUtf8(error.message, MAX_ERROR_MESSAGE_BYTES),
  };
}

/** `text` cut to at most `maxBytes` of UTF-8 (never inside a character), with a note of how much was cut. */
function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const note = ` ... (${bytes.length} bytes, cut)`;
  let end = maxBytes - note.length;
  // Back to the first byte of a character: continuation bytes are 10xxxxxx.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8') + note;
}

export function idempotencyKey(frame: Pick<FrameIdentity, 'streamName' | 'fragmentNumber' | 'frameTimecode'>): string {
  return `${frame.streamName}/${frame.fragmentNumber}/${frame.frameTimecode}`;
}

export function buildRecord(frame: FrameIdentity, context: RecordContext, body: RecordBody): InferenceRecord {
  const { kit, ...identity } = frame;
  const record: InferenceRecord = {
    version: RECORD_VERSION,
    idempotencyKey: idempotencyKey(frame),
    ...identity,
    fragmentMetaData: fragmentMetaData(identity, kit.fragment),
    frameMetaData: frameMetaData(kit.block),
    contentType: context.contentType,
    endpoint: context.endpoint,
    workerId: context.workerId,
    ...(context.replay ? { replay: true as const } : {}),
    attempts: body.attempts,
    inferenceLatencyMs: body.inferenceLatencyMs,
    ingestToPublishMs: context.now - frame.serverTimestamp,
    publishedAt: context.now,
  };
  if ('error' in body) {
    record.error = boundedError(body.error);
    return record;
  }
  record.resultContentType = body.answerContentType;
  const base64 = Buffer.from(body.answer).toString('base64');
  const json = parseJson(body.answer, body.answerContentType);
  if (json.ok) record.result = json.value;
  else record.resultBase64 = base64;
  record.sageMakerOutput = base64;
  return record;
}

/**
 * Endpoints label JSON loosely (application/json, text/plain, none): whatever parses as JSON is JSON, unless it says it
 * is binary.
 */
function parseJson(bytes: Uint8Array, contentType: string | null): { ok: true; value: unknown } | { ok: false } {
  if (contentType !== null && /^(image|video|audio)\/|octet-stream|protobuf/i.test(contentType)) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) };
  } catch {
    return { ok: false };
  }
}
