// The local server's streams: their KVS metadata (name, ARN, version, tags, retention) and the
// FragmentLog each one owns; resolves the StreamName / StreamARN pair every API takes.

import { randomBytes } from 'node:crypto';
import { KvsApiError } from './errors.js';
import type { FragmentLog } from './fragment-log.js';
import { checkString, checkTagMap } from './stream-constraints.js';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
/** KVS encrypts with the account's AWS-managed key unless told otherwise. */
export const DEFAULT_KMS_KEY_ID = `arn:aws:kms:${LOCAL_REGION}:${LOCAL_ACCOUNT}:alias/aws/kinesisvideo`;
/** KVS's limit on tags per stream. */
export const MAX_TAGS_PER_STREAM = 50;

export interface StreamOptions {
  tags?: Record<string, string> | Map<string, string>;
  /**
   * DataRetentionInHours as DescribeStream reports it. Default 0, as in KVS: nothing is archived (ListFragments and
   * GetMediaForFragmentList find nothing, PutMedia sends no PERSISTED ack); GetMedia reads the host buffer.
   */
  retentionHours?: number;
  mediaType?: string;
  kmsKeyId?: string;
  deviceName?: string;
}

export interface StreamLogContext {
  name: string;
  retentionHours: number;
}

export interface StreamRegistryOptions {
  clock: { now(): number };
  /** Builds the log of a new stream; the registry closes it when the stream is deleted. */
  createLog: (stream: StreamLogContext) => FragmentLog;
}

export class KvsStream {
  readonly name: string;
  readonly arn: string;
  readonly creationTime: number;
  readonly log: FragmentLog;
  readonly version: string;
  status: 'ACTIVE' | 'DELETING' = 'ACTIVE';
  mediaType: string | undefined;
  kmsKeyId: string;
  deviceName: string | undefined;
  retentionHours: number;
  readonly tags: Map<string, string>;
  /** One controller per live GetMedia response; aborting it ends that response. */
  readonly readers = new Set<AbortController>();
  /** Whether a PutMedia connection is feeding the stream: KVS takes one at a time. */
  producing = false;

  constructor(name: string, creationTime: number, log: FragmentLog, options: StreamOptions) {
    this.name = name;
    this.creationTime = creationTime;
    this.arn = `arn:aws:kinesisvideo:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stream/${name}/${creationTime}`;
    this.log = log;
    // KVS versions are opaque strings that change when the stream is updated (no update API here yet).
    this.version = randomBytes(10).toString('hex');
    this.mediaType = options.mediaType;
    this.kmsKeyId = options.kmsKeyId ?? DEFAULT_KMS_KEY_ID;
    this.deviceName = options.deviceName;
    this.retentionHours = options.retentionHours ?? 0;
    this.tags = new Map(options.tags instanceof Map ? options.tags : Object.entries(options.tags ?? {}));
  }

  /** Whether KVS persists what the stream receives: only with a DataRetentionInHours above 0. */
  get archived(): boolean {
    return this.retentionHours > 0;
  }
}

/** Checks the tags a stream would hold: each against the API model, and at most 50 of them. */
export function validateTags(tags: ReadonlyMap<string, string>): void {
  checkTagMap(tags);
  if (tags.size > MAX_TAGS_PER_STREAM) {
    throw new KvsApiError(
      'TagsPerResourceExceededLimitException',
      `a stream can have at most ${MAX_TAGS_PER_STREAM} tags, this one would have ${tags.size}`,
    );
  }
}

export class StreamRegistry {
  readonly #byName = new Map<string, KvsStream>();
  readonly #byArn = new Map<string, KvsStream>();
  readonly #clock: { now(): number };
  readonly #createLog: (stream: StreamLogContext) => FragmentLog;

  constructor(options: StreamRegistryOptions) {
    this.#clock = options.clock;
    this.#createLog = options.createLog;
  }

  get size(): number {
    return this.#byName.size;
  }

  create(name: string, options: StreamOptions = {}): KvsStream {
    checkString('StreamName', 'streamName', name);
    if (options.deviceName !== undefined) checkString('DeviceName', 'deviceName', options.deviceName);
    if (options.mediaType !== undefined) checkString('MediaType', 'mediaType', options.mediaType);
    if (options.kmsKeyId !== undefined) checkString('KmsKeyId', 'kmsKeyId', options.kmsKeyId);
    const retentionHours = options.retentionHours ?? 0;
    if (!Number.isInteger(retentionHours) || retentionHours < 0 || retentionHours > 87600) {
      throw new KvsApiError('InvalidArgumentException', 'DataRetentionInHours must be an integer from 0 to 87600');
    }
    if (this.#byName.has(name)) throw new KvsApiError('ResourceInUseException', `The stream ${name} already exists`);
    const tags = new Map(options.tags instanceof Map ? options.tags : Object.entries(options.tags ?? {}));
    validateTags(tags);
    const stream = new KvsStream(name, this.#clock.now(), this.#createLog({ name, retentionHours }), {
      ...options,
      tags,
      retentionHours,
    });
    this.#byName.set(name, stream);
    this.#byArn.set(stream.arn, stream);
    return stream;
  }

  get(name: string): KvsStream | undefined {
    return this.#byName.get(name);
  }

  /** Finds the stream an API call names by StreamName and/or StreamARN (one of them is required). */
  resolve(name: string | undefined, arn: string | undefined): KvsStream {
    if (name === undefined && arn === undefined)
      throw new KvsApiError('InvalidArgumentException', 'StreamName or StreamARN is required');
    const stream = arn !== undefined ? this.#byArn.get(arn) : this.#byName.get(name!);
    if (stream === undefined) {
      throw new KvsApiError('ResourceNotFoundException', `The requested stream ${arn ?? name} does not exist`);
    }
    if (name !== undefined && arn !== undefined && stream.name !== name) {
      throw new KvsApiError('InvalidArgumentException', `StreamName ${name} does not match StreamARN ${arn}`);
    }
    return stream;
  }

  /** Every stream, sorted by name so that pages of ListStreams are stable. */
  list(): KvsStream[] {
    return [...this.#byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Removes a stream at once and ends every reader of its log. */
  delete(stream: KvsStream): void {
    if (this.#byName.get(stream.name) !== stream) return;
    stream.status = 'DELETING';
    this.#byName.delete(stream.name);
    this.#byArn.delete(stream.arn);
    for (const reader of stream.readers) reader.abort();
    stream.log.close();
  }

  close(): void {
    for (const stream of [...this.#byName.values()]) this.delete(stream);
  }
}
