// Push-based, incremental Matroska / KVS GetMedia parser. Chunks of any size go in; tracks,
// frames (views into the input, not copies) and complete fragments come out, in arrival order.
// It never throws on bad input: problems become `error` events and parsing resynchronises.

import { canBeChildOf, ELEMENTS, type ElementKind, elementName, ID } from './elements.js';
import { MediaError, type MediaErrorCode } from './errors.js';
import { applyTag, newFragment } from './kvs-tags.js';
import { type Fragment, type Frame, TRACK_TYPE_VIDEO, type TrackInfo } from './types.js';
import { idLength, readSize, readUint, UNKNOWN_SIZE, vintLength } from './vint.js';

export type MkvEvent =
  | { type: 'tracks'; tracks: TrackInfo[]; video: TrackInfo | null }
  | { type: 'frame'; frame: Frame }
  | { type: 'fragment'; fragment: Fragment }
  | { type: 'error'; error: MediaError };

export interface MkvParserOptions {
  /** Largest element payload the parser buffers (blocks, tag values); default 64 MiB. */
  maxElementSize?: number;
  /** Deepest nesting of elements accepted; default 32. */
  maxDepth?: number;
}

interface OpenElement {
  id: number;
  start: number;
  /** Absolute end offset; for an unknown-size element, its parent's end (Infinity at the top). */
  end: number;
  unknownSize: boolean;
}

interface SimpleTagState {
  name: string | null;
  value: string | null;
}

interface BlockGroupState {
  block: Uint8Array | null;
  offset: number;
  hasReference: boolean;
}

/** The EBML header id, the magic that starts every document (and every KVS fragment). */
const EBML_MAGIC = Uint8Array.of(0x1a, 0x45, 0xdf, 0xa3);
const CLUSTER_MAGIC = Uint8Array.of(0x1f, 0x43, 0xb6, 0x75);
/** Longest EBML header taken for the next document's inside a block (KVS writes 47 bytes), and its payload. */
const HEADER_WINDOW = 80;
const MAX_HEADER_PAYLOAD = HEADER_WINDOW - 12;

const DEFAULT_TIMECODE_SCALE = 1_000_000;

export class MkvParser {
  private readonly maxElementSize: number;
  private readonly maxDepth: number;

  /** Absolute offset of the first byte not yet consumed. */
  private offset = 0;
  private totalBytes = 0;
  /** Bytes of an element that straddles chunks, and how many bytes are needed to go on. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private need = 0;
  /**
   * The pending element is a block that nothing but its own size bounds (in an unknown-size Cluster), and how many of
   * its bytes have been searched for the next document's header as they came.
   */
  private pendingUnbounded = false;
  private searched = 0;
  private skipRemaining = 0;
  private skipStart = 0;
  /**
   * The element being skipped, when nothing but its own size bounds it (`describeId` and size, for the error), and the
   * last bytes skipped, searched again with the next chunk for a document header across the boundary.
   */
  private skipUnbounded: string | null = null;
  private skipTail: Uint8Array = new Uint8Array(0);
  private resyncing = false;
  private sawElement = false;

  private readonly stack: OpenElement[] = [];
  private events: MkvEvent[] = [];

  private timecodeScale = DEFAULT_TIMECODE_SCALE;
  private tracks: TrackInfo[] = [];
  private video: TrackInfo | null = null;
  private track: TrackInfo | null = null;
  private documentStart = 0;
  private fragmentsInDocument = 0;
  private clusterTimecode = 0;
  /** One entry per SimpleTag open on `stack`: emptied wherever the stack is dropped without closing them. */
  private readonly simpleTags: SimpleTagState[] = [];
  private group: BlockGroupState | null = null;

  private fragment: Fragment | null = null;
  private fragmentHasCluster = false;
  private nextFragmentIndex = 0;
  private ended = false;

  constructor(options: MkvParserOptions = {}) {
    this.maxElementSize = options.maxElementSize ?? 64 * 1024 * 1024;
    this.maxDepth = options.maxDepth ?? 32;
  }

  /** Feeds the next bytes; returns the events they complete. */
  push(chunk: Uint8Array): MkvEvent[] {
    if (this.ended || chunk.length === 0) return this.drain();
    this.totalBytes += chunk.length;
    if (this.skipRemaining > 0 && this.skipUnbounded !== null && this.skipTail.length > 0) {
      const tail = this.skipTail;
      // Only the element's own bytes: a header that runs past its end does not cut it, however the input is split.
      const head = chunk.subarray(0, Math.min(HEADER_WINDOW, this.skipRemaining));
      const next = findDocument(concat([tail, head], tail.length + head.length), 0);
      // One that starts in this chunk is found as it is skipped.
      if (next >= 0 && next < tail.length) {
        // The skipped element is cut short by a document that began in the last chunk: parse on from its header.
        this.offset -= tail.length - next;
        this.cutShort(this.skipUnbounded, this.skipStart, this.offset);
        this.skipRemaining = 0;
        this.run(concat([tail.subarray(next), chunk], tail.length - next + chunk.length));
        return this.drain();
      }
    }
    let pos = 0;
    while (this.pendingBytes > 0 && pos < chunk.length) {
      if (this.resyncing) {
        // Rare path: the carried tail of a resync search joins the whole chunk.
        this.run(concat([...this.pending, chunk.subarray(pos)], this.pendingBytes + chunk.length - pos));
        return this.drain();
      }
      const take = Math.min(this.need - this.pendingBytes, chunk.length - pos);
      const piece = chunk.subarray(pos, pos + take);
      if (this.pendingUnbounded && this.documentStartsIn(piece)) {
        // The block is cut short by the next document: parse on from what is in hand, which finds it again.
        this.run(concat([...this.pending, chunk.subarray(pos)], this.pendingBytes + chunk.length - pos));
        return this.drain();
      }
      this.pending.push(piece);
      this.pendingBytes += take;
      this.searched = this.pendingBytes;
      pos += take;
      if (this.pendingBytes < this.need) return this.drain();
      this.run(concat(this.pending, this.pendingBytes));
    }
    if (pos < chunk.length) this.run(pos === 0 ? chunk : chunk.subarray(pos));
    return this.drain();
  }

  /** Signals the end of input: completes what can be completed and reports what cannot. */
  end(): MkvEvent[] {
    if (this.ended) return this.drain();
    this.ended = true;
    if (this.totalBytes === 0) {
      this.report('MKV_EMPTY', 'the input is empty', null);
      return this.drain();
    }
    if (this.resyncing) return this.drain();
    const truncatedAt = this.truncation();
    if (truncatedAt !== null) {
      this.report(
        'MKV_TRUNCATED',
        `input ended at byte ${this.totalBytes} inside ${truncatedAt.what} starting at byte ${truncatedAt.offset}`,
        truncatedAt.offset,
      );
      this.fragment = null;
      return this.drain();
    }
    while (this.stack.length > 0) this.close(this.stack.pop()!);
    this.finishFragment();
    return this.drain();
  }

  private drain(): MkvEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  /** Where the input stopped short, if it did: an element cut off, or a KVS fragment without its closing tags. */
  private truncation(): { offset: number; what: string } | null {
    if (this.pendingBytes > 0) return { offset: this.offset, what: 'an element' };
    if (this.skipRemaining > 0) return { offset: this.skipStart, what: 'an element' };
    for (const open of this.stack) {
      if (!open.unknownSize && open.end > this.offset) return { offset: open.start, what: elementName(open.id) };
    }
    const top = this.stack.at(-1);
    // KVS ends every fragment with tags after its cluster; a stream cut inside the cluster lost frames.
    if (top?.id === ID.Cluster && this.fragment?.fragmentNumber != null) {
      return { offset: top.start, what: `the Cluster of fragment ${this.fragment.fragmentNumber}` };
    }
    return null;
  }

  private run(buf: Uint8Array): void {
    const base = this.offset;
    const length = buf.length;
    let pos = 0;
    // Bytes of a block pending at position 0 already searched for a document's header, but for the last window.
    const searched = this.pendingUnbounded ? Math.max(0, this.searched - HEADER_WINDOW) : 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingUnbounded = false;
    for (;;) {
      if (this.skipRemaining > 0) {
        const n = Math.min(this.skipRemaining, length - pos);
        const next = this.skipUnbounded === null ? -1 : findDocument(buf.subarray(0, pos + n), pos);
        if (next >= 0) {
          this.cutShort(this.skipUnbounded!, this.skipStart, base + next);
          this.skipRemaining = 0;
          pos = next;
          continue;
        }
        if (this.skipUnbounded !== null) this.skipTail = lastBytes(this.skipTail, buf.subarray(pos, pos + n));
        this.skipRemaining -= n;
        pos += n;
        if (this.skipRemaining > 0) break;
      }
      if (this.resyncing) {
        pos = this.resync(buf, pos);
        if (this.resyncing) break;
      }
      const at = base + pos;
      this.closeEnded(at);
      if (pos >= length) break;

      const idBytes = idLength(buf[pos]!);
      if (idBytes === 0) {
        pos = this.fail(`invalid element id byte 0x${buf[pos]!.toString(16)}`, at, pos);
        continue;
      }
      if (length - pos < idBytes + 1) {
        pos = this.wait(buf, pos, base, idBytes + 1);
        break;
      }
      const sizeBytes = vintLength(buf[pos + idBytes]!);
      if (sizeBytes === 0) {
        pos = this.fail('invalid element size', at, pos);
        continue;
      }
      const headerBytes = idBytes + sizeBytes;
      if (length - pos < headerBytes) {
        pos = this.wait(buf, pos, base, headerBytes);
        break;
      }
      let id = 0;
      for (let i = 0; i < idBytes; i++) id = id * 256 + buf[pos + i]!;
      const size = readSize(buf, pos + idBytes, sizeBytes);
      const unknownSize = size === UNKNOWN_SIZE;

      if (!this.sawElement && id !== ID.EBML) {
        pos = this.fail('the input does not start with an EBML header', at, pos);
        continue;
      }
      while (this.stack.at(-1)?.unknownSize && !canBeChildOf(id, this.stack.at(-1)!.id)) {
        this.close(this.stack.pop()!);
      }
      const parent = this.stack.at(-1);
      if (parent === undefined && !canBeChildOf(id, null)) {
        pos = this.fail(`unexpected ${elementName(id)} element at the top level`, at, pos);
        continue;
      }
      if (!unknownSize && parent !== undefined && at + headerBytes + size > parent.end) {
        const next = this.fail(`${elementName(id)} of ${size} bytes overruns its ${elementName(parent.id)}`, at, pos);
        // The next document's header, cutting this one short: resync finds it here, at the top level where it
        // cannot overrun, rather than past it at that document's Cluster (read without its tags, no fragment number).
        pos = id === ID.EBML ? pos : next;
        continue;
      }
      this.sawElement = true;
      // A known element out of place is skipped rather than interpreted.
      const kind: ElementKind | undefined = canBeChildOf(id, parent?.id ?? null) ? ELEMENTS.get(id)?.kind : undefined;

      if (id === ID.EBML) {
        if (unknownSize) {
          pos = this.fail('EBML header of unknown size', at, pos);
          continue;
        }
        this.startDocument(at);
      } else if (kind === 'master') {
        if (this.stack.length >= this.maxDepth) {
          pos = this.fail(`elements nested deeper than ${this.maxDepth}`, at, pos);
          continue;
        }
        pos += headerBytes;
        const end = unknownSize ? (parent?.end ?? Infinity) : at + headerBytes + size;
        this.stack.push({ id, start: at, end, unknownSize });
        this.open(id, at);
        continue;
      }
      if (unknownSize) {
        pos = this.fail(`${elementName(id)} of unknown size`, at, pos);
        continue;
      }
      if (kind === undefined || id === ID.EBML) {
        // Inside an unknown-size Segment or Cluster (or at the top) nothing else bounds a skip: 9 bytes declaring
        // a 1 TiB Void would swallow the rest of the connection.
        if (size > this.maxElementSize && (parent?.end ?? Infinity) === Infinity) {
          pos = this.fail(
            `skipped ${describeId(id)} of ${size} bytes exceeds the ${this.maxElementSize}-byte limit`,
            at,
            pos,
          );
          continue;
        }
        pos += headerBytes;
        this.skipRemaining = size;
        this.skipStart = at;
        // Like a block's, an unbounded skip corrupted upwards would take the next fragments with it.
        const unbounded = id !== ID.EBML && (parent?.end ?? Infinity) === Infinity;
        this.skipUnbounded = unbounded ? `${describeId(id)} of ${size} bytes` : null;
        this.skipTail = new Uint8Array(0);
        continue;
      }
      if (size > this.maxElementSize) {
        pos = this.fail(`${elementName(id)} of ${size} bytes exceeds the ${this.maxElementSize}-byte limit`, at, pos);
        continue;
      }
      const complete = length - pos >= headerBytes + size;
      // In an unknown-size Cluster of an unknown-size Segment (not KVS's: its Clusters are sized) nothing but its size
      // bounds a block: one inflated by corruption would take the next fragments in as its payload. The next
      // document's header inside it cuts it short.
      const unbounded = kind === 'block' && (parent?.end ?? Infinity) === Infinity;
      if (unbounded) {
        const from = pos + Math.max(headerBytes, pos === 0 ? searched : 0);
        const next = findDocument(complete ? buf.subarray(0, pos + headerBytes + size) : buf, from);
        if (next >= 0) {
          this.cutShort(`${elementName(id)} of ${size} bytes`, at, base + next);
          pos = next;
          continue;
        }
      }
      if (!complete) {
        pos = this.wait(buf, pos, base, headerBytes + size);
        this.pendingUnbounded = unbounded;
        this.searched = this.pendingBytes;
        break;
      }
      this.leaf(id, buf.subarray(pos + headerBytes, pos + headerBytes + size), at);
      pos += headerBytes + size;
    }
    this.offset = base + pos;
  }

  /** Keeps the unconsumed tail for the next push; returns the position to stop at. */
  private wait(buf: Uint8Array, pos: number, base: number, need: number): number {
    this.pending = [buf.subarray(pos)];
    this.pendingBytes = buf.length - pos;
    this.need = need;
    this.offset = base + pos;
    return pos;
  }

  /**
   * Reports corrupt input and drops the fragment being read; parsing resumes at the next EBML
   * header, or the next Cluster of the current document. Returns the position to go on from.
   */
  private fail(reason: string, at: number, pos: number): number {
    const fragment = this.fragment;
    const where = fragment ? ` (fragment ${fragment.fragmentNumber ?? `#${fragment.index}`})` : '';
    this.report('MKV_INVALID', `${reason} at byte ${at}${where}`, at, fragment);
    this.fragment = null;
    this.group = null;
    // The open SimpleTags are abandoned with the fragment: a corrupt tag's value is not held for the connection.
    this.simpleTags.length = 0;
    this.resyncing = true;
    return pos + 1;
  }

  /** Reports `what` (an element at `at`) cut short by the next document at `next`; parsing resumes there. */
  private cutShort(what: string, at: number, next: number): void {
    this.fail(`the next document's EBML header at byte ${next} cuts short ${what}`, at, 0);
  }

  /**
   * Whether a next document's EBML header starts in `piece` of the pending block, or across the boundary between
   * the bytes pending and it.
   */
  private documentStartsIn(piece: Uint8Array): boolean {
    const tail: Uint8Array[] = [];
    let tailBytes = 0;
    for (let i = this.pending.length - 1; i >= 0 && tailBytes < HEADER_WINDOW; i--) {
      const part = this.pending[i]!;
      const keep = part.subarray(Math.max(0, part.length - (HEADER_WINDOW - tailBytes)));
      tail.unshift(keep);
      tailBytes += keep.length;
    }
    const across = concat(
      [...tail, piece.subarray(0, HEADER_WINDOW)],
      tailBytes + Math.min(piece.length, HEADER_WINDOW),
    );
    return findDocument(across, 0) >= 0 || findDocument(piece, 0) >= 0;
  }

  /** Searches for the next EBML header or Cluster; returns the position to go on from. */
  private resync(buf: Uint8Array, pos: number): number {
    const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    const ebml = view.indexOf(EBML_MAGIC, pos);
    const cluster = this.tracks.length > 0 ? view.indexOf(CLUSTER_MAGIC, pos) : -1;
    const found = ebml < 0 ? cluster : cluster < 0 ? ebml : Math.min(ebml, cluster);
    if (found < 0) {
      // Keep a tail that may hold the start of a magic cut by the chunk boundary.
      const keep = Math.max(pos, buf.length - 3);
      this.pending = keep < buf.length ? [buf.subarray(keep)] : [];
      this.pendingBytes = buf.length - keep;
      this.need = this.pendingBytes + 1;
      return keep;
    }
    this.resyncing = false;
    // Either way every open SimpleTag is dropped below, unclosed.
    this.simpleTags.length = 0;
    if (found === cluster) {
      // Re-enter the document: drop everything open down to the segment level.
      while (this.stack.length > 0 && this.stack.at(-1)!.id !== ID.Segment) this.stack.pop();
      this.clusterTimecode = 0;
    } else {
      this.stack.length = 0;
    }
    return found;
  }

  private closeEnded(at: number): void {
    while (this.stack.length > 0 && this.stack.at(-1)!.end <= at) this.close(this.stack.pop()!);
  }

  private report(code: MediaErrorCode, message: string, offset: number | null, fragment: Fragment | null = null): void {
    this.events.push({ type: 'error', error: new MediaError(code, message, { offset, fragment }) });
  }

  private startDocument(at: number): void {
    this.stack.length = 0;
    this.simpleTags.length = 0;
    this.finishFragment();
    this.timecodeScale = DEFAULT_TIMECODE_SCALE;
    this.tracks = [];
    this.video = null;
    this.documentStart = at;
    this.fragmentsInDocument = 0;
  }

  private currentFragment(at: number): Fragment {
    if (this.fragment === null) {
      const offset = this.fragmentsInDocument === 0 ? this.documentStart : at;
      this.fragment = newFragment(this.nextFragmentIndex++, offset);
      this.fragmentHasCluster = false;
      this.fragmentsInDocument++;
    }
    return this.fragment;
  }

  private finishFragment(): void {
    if (this.fragment === null) return;
    this.events.push({ type: 'fragment', fragment: this.fragment });
    this.fragment = null;
  }

  private open(id: number, at: number): void {
    switch (id) {
      case ID.Tracks:
        this.tracks = [];
        this.video = null;
        break;
      case ID.TrackEntry:
        this.track = { number: 0, type: 0, codecId: null, codecPrivate: null, width: null, height: null };
        break;
      case ID.Cluster:
        // In a plain Matroska file each cluster is a fragment; in GetMedia output each document is.
        if (this.fragmentHasCluster) this.finishFragment();
        this.currentFragment(at);
        this.fragmentHasCluster = true;
        this.clusterTimecode = 0;
        break;
      case ID.BlockGroup:
        this.group = { block: null, offset: at, hasReference: false };
        break;
      case ID.SimpleTag:
        this.simpleTags.push({ name: null, value: null });
        break;
    }
  }

  private close(element: OpenElement): void {
    switch (element.id) {
      case ID.TrackEntry:
        if (this.track !== null && this.track.number > 0) this.tracks.push(this.track);
        this.track = null;
        break;
      case ID.Tracks:
        this.video = this.tracks.find((t) => t.type === TRACK_TYPE_VIDEO) ?? null;
        this.events.push({ type: 'tracks', tracks: this.tracks, video: this.video });
        break;
      case ID.BlockGroup:
        if (this.group?.block) this.block(this.group.block, !this.group.hasReference, this.group.offset);
        this.group = null;
        break;
      case ID.SimpleTag: {
        const tag = this.simpleTags.pop();
        if (tag?.name != null && tag.value != null) {
          const fragment = this.currentFragment(element.start);
          const problem = applyTag(fragment, tag.name, tag.value);
          if (problem !== null)
            this.report('MKV_INVALID', `${problem} at byte ${element.start}`, element.start, fragment);
        }
        break;
      }
    }
  }

  private leaf(id: number, payload: Uint8Array, at: number): void {
    switch (id) {
      case ID.TimecodeScale:
        this.timecodeScale = readUint(payload) || DEFAULT_TIMECODE_SCALE;
        break;
      case ID.TrackNumber:
        if (this.track) this.track.number = readUint(payload);
        break;
      case ID.TrackType:
        if (this.track) this.track.type = readUint(payload);
        break;
      case ID.CodecID:
        if (this.track) this.track.codecId = text(payload);
        break;
      case ID.CodecPrivate:
        // Copied: it outlives the chunk it arrived in.
        if (this.track) this.track.codecPrivate = payload.slice();
        break;
      case ID.PixelWidth:
        if (this.track) this.track.width = readUint(payload);
        break;
      case ID.PixelHeight:
        if (this.track) this.track.height = readUint(payload);
        break;
      case ID.Timecode:
        this.clusterTimecode = readUint(payload);
        break;
      case ID.SimpleBlock:
        this.block(payload, (payload[vintLength(payload[0] ?? 0) + 2]! & 0x80) !== 0, at);
        break;
      case ID.Block:
        if (this.group) this.group.block = payload;
        break;
      case ID.ReferenceBlock:
        if (this.group) this.group.hasReference = true;
        break;
      case ID.TagName:
        if (this.simpleTags.length > 0) this.simpleTags.at(-1)!.name = text(payload);
        break;
      case ID.TagString:
        if (this.simpleTags.length > 0) this.simpleTags.at(-1)!.value = text(payload);
        break;
      case ID.TagBinary:
        if (this.simpleTags.length > 0) this.simpleTags.at(-1)!.value = Buffer.from(payload).toString('base64');
        break;
    }
  }

  /** A SimpleBlock or Block payload: track number, 16-bit relative timecode, flags, then the frame. */
  private block(payload: Uint8Array, keyframe: boolean, at: number): void {
    const trackBytes = vintLength(payload[0] ?? 0);
    const headerBytes = trackBytes + 3;
    const fragment = this.currentFragment(at);
    if (trackBytes === 0 || payload.length < headerBytes) {
      this.report('MKV_INVALID', `block at byte ${at} is too short or has a bad track number`, at, fragment);
      return;
    }
    if (this.video === null || readSize(payload, 0, trackBytes) !== this.video.number) return;
    const flags = payload[trackBytes + 2]!;
    if ((flags & 0x06) !== 0) {
      this.report('MKV_INVALID', `laced video block at byte ${at} is not supported`, at, fragment);
      return;
    }
    const relative = ((payload[trackBytes]! << 24) >> 16) | payload[trackBytes + 1]!;
    fragment.frames++;
    if (keyframe) fragment.keyframes++;
    this.events.push({
      type: 'frame',
      frame: {
        fragment,
        track: this.video,
        keyframe,
        // Scaled by the ratio, not the product: epoch-millisecond cluster timecodes times 1e6 pass 2^53.
        timecodeMs: (this.clusterTimecode + relative) * (this.timecodeScale / 1e6),
        clusterTimecodeMs: this.clusterTimecode * (this.timecodeScale / 1e6),
        blockTimecode: relative,
        invisible: (flags & 0x08) !== 0,
        discardable: (flags & 0x01) !== 0,
        data: payload.subarray(headerBytes),
        offset: at,
      },
    });
  }
}

/** An element's name and id, for errors about elements the parser does not read. */
function describeId(id: number): string {
  const hex = `0x${id.toString(16).toUpperCase()}`;
  const name = elementName(id);
  return name === hex ? `element ${hex}` : `${name} (${hex})`;
}

const decoder = new TextDecoder();

/**
 * The first position from `from` where an EBML header of a Matroska or WebM document starts and ends inside `buf`, or
 * -1. The DocType is checked too: the four magic bytes alone come by chance in a few GB of video.
 */
function findDocument(buf: Uint8Array, from: number): number {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  for (let i = view.indexOf(EBML_MAGIC, from); i >= 0; i = view.indexOf(EBML_MAGIC, i + 1)) {
    if (isDocumentHeader(buf, i)) return i;
  }
  return -1;
}

/** Whether the EBML header whose magic is at `at` is whole in `buf`, well formed and of DocType matroska or webm. */
function isDocumentHeader(buf: Uint8Array, at: number): boolean {
  let pos = at + EBML_MAGIC.length;
  const sizeBytes = pos < buf.length ? vintLength(buf[pos]!) : 0;
  if (sizeBytes === 0 || pos + sizeBytes > buf.length) return false;
  const size = readSize(buf, pos, sizeBytes);
  pos += sizeBytes;
  const end = pos + size;
  if (size < 0 || size > MAX_HEADER_PAYLOAD || end > buf.length) return false;
  while (pos < end) {
    const idBytes = idLength(buf[pos]!);
    const childSizeBytes = idBytes === 0 || pos + idBytes >= end ? 0 : vintLength(buf[pos + idBytes]!);
    if (childSizeBytes === 0 || pos + idBytes + childSizeBytes > end) return false;
    let id = 0;
    for (let i = 0; i < idBytes; i++) id = id * 256 + buf[pos + i]!;
    const childSize = readSize(buf, pos + idBytes, childSizeBytes);
    const body = pos + idBytes + childSizeBytes;
    if (childSize < 0 || body + childSize > end) return false;
    if (id === ID.DocType) {
      const docType = text(buf.subarray(body, body + childSize));
      return docType === 'matroska' || docType === 'webm';
    }
    pos = body + childSize;
  }
  return false;
}

/** EBML strings may be padded with NULs. */
function text(payload: Uint8Array): string {
  const end = payload.indexOf(0);
  return decoder.decode(end < 0 ? payload : payload.subarray(0, end));
}

/** The last HEADER_WINDOW bytes of `before` then `bytes`, copied (the chunks they come from are not kept). */
function lastBytes(before: Uint8Array, bytes: Uint8Array): Uint8Array {
  if (bytes.length >= HEADER_WINDOW) return bytes.slice(bytes.length - HEADER_WINDOW);
  const keep = before.subarray(Math.max(0, before.length - (HEADER_WINDOW - bytes.length)));
  return Buffer.concat([keep, bytes]);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}
