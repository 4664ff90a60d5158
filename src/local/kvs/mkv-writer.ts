// A small EBML / Matroska writer: the elements a KVS-style stream needs (EBML header, Segment and
// Cluster starts, Info, Tracks, Tags, SimpleBlocks), byte-for-byte readable by our MkvParser.

import { KvsInferError } from '../../errors.js';
import { ID } from '../../media/elements.js';
import type { TrackInfo } from '../../media/types.js';

export type MkvWriteErrorCode = 'MKV_WRITE_RANGE';

export class MkvWriteError extends KvsInferError<MkvWriteErrorCode> {}

/** Ids the parser skips but a well-formed document carries. */
const WRITE_ID = {
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42f7,
  EBMLMaxIDLength: 0x42f2,
  EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  MuxingApp: 0x4d80,
  WritingApp: 0x5741,
  TrackUID: 0x73c5,
} as const;

/** Passed as a size: the all-ones value that marks an element of unknown size (Segments, Clusters). */
export const UNKNOWN = -1;

/** The bytes of an element id; Matroska ids keep their length marker, so they are written as they are. */
export function encodeId(id: number): Uint8Array {
  if (!Number.isInteger(id) || id < 0x81 || id > 0x1fffffff)
    throw new MkvWriteError('MKV_WRITE_RANGE', `bad element id 0x${id.toString(16)}`);
  const length = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
  const out = new Uint8Array(length);
  for (let i = length - 1, v = id; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

/** The fewest bytes that hold `size` as an EBML size (the all-ones value of each length is reserved). */
export function sizeLength(size: number): number {
  for (let length = 1; length <= 8; length++) if (size < 2 ** (7 * length) - 1) return length;
  throw new MkvWriteError('MKV_WRITE_RANGE', `element size ${size} does not fit in 8 bytes`);
}

/**
 * Writes an EBML size (or UNKNOWN) of `length` bytes (default: the fewest) into `target` at `at`; returns the length.
 */
export function writeSize(target: Uint8Array, at: number, size: number, length?: number): number {
  if (size === UNKNOWN) {
    const n = length ?? 8;
    target[at] = 0xff >> (n - 1);
    target.fill(0xff, at + 1, at + n);
    return n;
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new MkvWriteError('MKV_WRITE_RANGE', `bad element size ${size}`);
  const n = length ?? sizeLength(size);
  if (n < 1 || n > 8 || size >= 2 ** (7 * n) - 1)
    throw new MkvWriteError('MKV_WRITE_RANGE', `size ${size} does not fit in ${length} bytes`);
  let v = size;
  for (let i = n - 1; i >= 1; i--) {
    target[at + i] = v % 256;
    v = Math.floor(v / 256);
  }
  target[at] = (0x80 >> (n - 1)) | v;
  return n;
}

export function encodeSize(size: number, length?: number): Uint8Array {
  const out = new Uint8Array(size === UNKNOWN ? (length ?? 8) : (length ?? sizeLength(size)));
  writeSize(out, 0, size, length);
  return out;
}

export interface ElementOptions {
  /** Bytes of the size field; default the fewest. KVS writes its tags with 4 and its masters with 8. */
  sizeLength?: number;
}

/** One element: id, size, payload (several parts are concatenated). */
export function element(
  id: number,
  payload: Uint8Array | readonly Uint8Array[],
  options: ElementOptions = {},
): Uint8Array {
  const parts = payload instanceof Uint8Array ? [payload] : payload;
  let bodyLength = 0;
  for (const part of parts) bodyLength += part.length;
  const idBytes = encodeId(id);
  const sizeBytes = encodeSize(bodyLength, options.sizeLength);
  const out = new Uint8Array(idBytes.length + sizeBytes.length + bodyLength);
  out.set(idBytes, 0);
  out.set(sizeBytes, idBytes.length);
  let at = idBytes.length + sizeBytes.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The header of a master element whose children are written separately (size UNKNOWN or the children's total). */
export function masterStart(id: number, size: number, options: ElementOptions = {}): Uint8Array {
  return concat([encodeId(id), encodeSize(size, options.sizeLength)]);
}

export function uintElement(id: number, value: number, options?: ElementOptions): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new MkvWriteError('MKV_WRITE_RANGE', `bad unsigned value ${value}`);
  let length = 1;
  while (length < 8 && value >= 2 ** (8 * length)) length++;
  const payload = new Uint8Array(length);
  for (let i = length - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) payload[i] = v % 256;
  return element(id, payload, options);
}

const encoder = new TextEncoder();

export function stringElement(id: number, value: string, options?: ElementOptions): Uint8Array {
  return element(id, encoder.encode(value), options);
}

/** The EBML header of a Matroska document, as KVS sends it before every GetMedia fragment. */
export function ebmlHeader(): Uint8Array {
  return element(
    ID.EBML,
    [
      uintElement(WRITE_ID.EBMLVersion, 1),
      uintElement(WRITE_ID.EBMLReadVersion, 1),
      uintElement(WRITE_ID.EBMLMaxIDLength, 4),
      uintElement(WRITE_ID.EBMLMaxSizeLength, 8),
      stringElement(WRITE_ID.DocType, 'matroska'),
      uintElement(WRITE_ID.DocTypeVersion, 4),
      uintElement(WRITE_ID.DocTypeReadVersion, 2),
    ],
    { sizeLength: 8 },
  );
}

/** A Segment of unknown size: its children follow, and the next EBML header ends it. */
export function segmentStart(): Uint8Array {
  return masterStart(ID.Segment, UNKNOWN);
}

export interface InfoOptions {
  /** Nanoseconds per timecode tick; default 1,000,000 (timecodes in milliseconds). */
  timecodeScale?: number;
  muxingApp?: string;
  writingApp?: string;
}

export function info(options: InfoOptions = {}): Uint8Array {
  return element(
    ID.Info,
    [
      uintElement(ID.TimecodeScale, options.timecodeScale ?? 1_000_000),
      stringElement(WRITE_ID.MuxingApp, options.muxingApp ?? 'kvs-infer'),
      stringElement(WRITE_ID.WritingApp, options.writingApp ?? 'kvs-infer'),
    ],
    { sizeLength: 8 },
  );
}

/** Tracks, one TrackEntry per track; a video track's PixelWidth/PixelHeight when both are known. */
export function tracks(entries: readonly TrackInfo[]): Uint8Array {
  return element(
    ID.Tracks,
    entries.map((track) => {
      const children = [
        uintElement(ID.TrackNumber, track.number),
        uintElement(WRITE_ID.TrackUID, track.number),
        uintElement(ID.TrackType, track.type),
      ];
      if (track.codecId !== null) children.push(stringElement(ID.CodecID, track.codecId));
      if (track.width !== null && track.height !== null) {
        children.push(
          element(ID.Video, [uintElement(ID.PixelWidth, track.width), uintElement(ID.PixelHeight, track.height)]),
        );
      }
      if (track.codecPrivate !== null) children.push(element(ID.CodecPrivate, track.codecPrivate));
      return element(ID.TrackEntry, children);
    }),
    { sizeLength: 8 },
  );
}

/** A Tags element holding one Tag with a SimpleTag (TagName, TagString) per entry, in order. */
export function tags(
  values: Record<string, string> | Iterable<readonly [string, string]>,
  options: ElementOptions = {},
): Uint8Array {
  const entries =
    Symbol.iterator in values ? [...(values as Iterable<readonly [string, string]>)] : Object.entries(values);
  const simpleTags = entries.map(([name, value]) =>
    element(
      ID.SimpleTag,
      [stringElement(ID.TagName, name, options), stringElement(ID.TagString, value, options)],
      options,
    ),
  );
  return element(ID.Tags, element(ID.Tag, simpleTags, options), options);
}

/**
 * A Cluster's header and Timecode. `contentBytes` is the size of what follows the Timecode (the blocks);
 * without it the Cluster has unknown size, as a live producer writes it.
 */
export function clusterStart(timecode: number, contentBytes?: number): Uint8Array {
  const timecodeElement = uintElement(ID.Timecode, timecode);
  const size = contentBytes === undefined ? UNKNOWN : timecodeElement.length + contentBytes;
  return concat([masterStart(ID.Cluster, size, { sizeLength: 8 }), timecodeElement]);
}

export interface BlockSpec {
  track: number;
  /** Relative to the cluster's Timecode, in timecode ticks: a signed 16-bit value. */
  timecode: number;
  keyframe: boolean;
  data: Uint8Array;
}

/** Bytes a SimpleBlock element of this block takes. */
export function simpleBlockLength(block: Pick<BlockSpec, 'track' | 'data'>): number {
  const payload = sizeLength(block.track) + 3 + block.data.length;
  return encodeId(ID.SimpleBlock).length + sizeLength(payload) + payload;
}

/** Writes one SimpleBlock element into `target` at `at`; returns the offset after it. */
export function writeSimpleBlock(target: Uint8Array, at: number, block: BlockSpec): number {
  if (!Number.isInteger(block.timecode) || block.timecode < -32768 || block.timecode > 32767) {
    throw new MkvWriteError(
      'MKV_WRITE_RANGE',
      `block timecode ${block.timecode} is outside the signed 16-bit range of a SimpleBlock`,
    );
  }
  const trackBytes = sizeLength(block.track);
  const payload = trackBytes + 3 + block.data.length;
  target[at++] = ID.SimpleBlock;
  at += writeSize(target, at, payload);
  at += writeSize(target, at, block.track, trackBytes);
  target[at++] = (block.timecode >> 8) & 0xff;
  target[at++] = block.timecode & 0xff;
  // No lacing; keyframe and (for a lone frame) nothing else.
  target[at++] = block.keyframe ? 0x80 : 0x00;
  target.set(block.data, at);
  return at + block.data.length;
}

export function simpleBlock(block: BlockSpec): Uint8Array {
  const out = new Uint8Array(simpleBlockLength(block));
  writeSimpleBlock(out, 0, block);
  return out;
}

/** Many SimpleBlocks in one allocation: a cluster's content, built once and shared from then on. */
export function simpleBlocks(blocks: readonly BlockSpec[]): Uint8Array {
  let total = 0;
  for (const block of blocks) total += simpleBlockLength(block);
  const out = new Uint8Array(total);
  let at = 0;
  for (const block of blocks) at = writeSimpleBlock(out, at, block);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
