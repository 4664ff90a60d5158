// Staying at the live edge (maxMillisBehindNow): when a stream's reader leaves its backlog for NOW, and what that
// jump skipped. KVS tags every fragment with how far it is behind the newest (MillisBehindNow), but says nothing of
// the fragments in between: the skip is measured in time, and in fragments only by an estimate.

import type { Fragment, Frame } from '../../media/index.js';

/** A jump to NOW, reported when the first fragment after it has been read. */
export interface LiveEdgeSkip {
  type: 'live-edge-skip';
  /** The last fragment read before the jump; every fragment after it and before `firstFragmentNumber` is skipped. */
  lastFragmentNumber: string;
  lastServerTimestamp: number;
  lastProducerTimestamp: number | null;
  /** What triggered the jump: the last fragment's MillisBehindNow, over the limit. */
  millisBehindNow: number;
  maxMillisBehindNow: number;
  /** The first fragment read after the jump. */
  firstFragmentNumber: string;
  firstServerTimestamp: number;
  firstProducerTimestamp: number | null;
  /** Server time from the last frame read before the jump to the first frame read after it. */
  skippedMillis: number;
  /** The same span in producer time; null when either fragment has no producer timestamp. */
  skippedProducerMillis: number | null;
  /**
   * An estimate: `skippedMillis` over the length of the last fragment read (its frames' span plus one frame
   * interval); null when that fragment had fewer than two frames, so its length is unknown.
   */
  fragmentsSkipped: number | null;
}

interface Span {
  fragment: Fragment;
  firstTimecode: number;
  lastTimecode: number;
  frames: number;
}

/** A fragment with the tags GetMedia always sends. */
type Numbered = Fragment & { fragmentNumber: string; serverTimestamp: number };

/** The fragment the reader jumped from, with its frames' span. */
interface JumpedFrom {
  fragment: Numbered & { millisBehindNow: number };
  span: Span | null;
}

/**
 * One reader's live-edge decisions, fed every frame and every fragment read to its end, across the connections of
 * one read (the jump included).
 */
export class LiveEdge {
  readonly #maxMillisBehindNow: number;
  /** The frames of the fragment being read. */
  #span: Span | null = null;
  /**
   * Set by a jump until a fragment has been read from the new position, which reports it: none jumps meanwhile, so a
   * stale lag cannot make the reader jump again before it has read from where it jumped to.
   */
  #jumpedFrom: JumpedFrom | null = null;

  constructor(maxMillisBehindNow: number) {
    this.#maxMillisBehindNow = maxMillisBehindNow;
  }

  /** Notes a frame: the first and last frame of a fragment date its span. */
  frame(frame: Frame): void {
    const span = this.#span;
    if (span?.fragment === frame.fragment) {
      span.lastTimecode = frame.timecodeMs;
      span.frames++;
    } else {
      this.#span = {
        fragment: frame.fragment,
        firstTimecode: frame.timecodeMs,
        lastTimecode: frame.timecodeMs,
        frames: 1,
      };
    }
  }

  /**
   * A fragment read to its end. `skipped`: the first fragment after a jump, which reports it. `jump`: the fragment
   * is further behind the newest than the limit, so reading should go on from NOW after it. The first fragment read
   * after a jump never triggers the next one.
   */
  read(fragment: Fragment): { skipped: LiveEdgeSkip | null; jump: boolean } {
    const { fragmentNumber, serverTimestamp, millisBehindNow } = fragment;
    if (fragmentNumber === null || serverTimestamp === null) return { skipped: null, jump: false };
    const from = this.#jumpedFrom;
    if (from !== null) {
      this.#jumpedFrom = null;
      return { skipped: this.#skip(from, { ...fragment, fragmentNumber, serverTimestamp }), jump: false };
    }
    if (millisBehindNow === null || millisBehindNow <= this.#maxMillisBehindNow) return { skipped: null, jump: false };
    const span = this.#span?.fragment === fragment ? this.#span : null;
    this.#jumpedFrom = { fragment: { ...fragment, fragmentNumber, serverTimestamp, millisBehindNow }, span };
    return { skipped: null, jump: true };
  }

  #skip(from: JumpedFrom, first: Numbered): LiveEdgeSkip {
    const last = from.fragment;
    // From the last frame read: the fragment's start plus how far into it its last frame lies.
    const lastFrameOffset = from.span === null ? 0 : from.span.lastTimecode - from.span.firstTimecode;
    const skippedMillis = Math.max(0, first.serverTimestamp - (last.serverTimestamp + lastFrameOffset));
    const skippedProducerMillis =
      first.producerTimestamp === null || last.producerTimestamp === null
        ? null
        : Math.max(0, first.producerTimestamp - (last.producerTimestamp + lastFrameOffset));
    return {
      type: 'live-edge-skip',
      lastFragmentNumber: last.fragmentNumber,
      lastServerTimestamp: last.serverTimestamp,
      lastProducerTimestamp: last.producerTimestamp,
      millisBehindNow: last.millisBehindNow,
      maxMillisBehindNow: this.#maxMillisBehindNow,
      firstFragmentNumber: first.fragmentNumber,
      firstServerTimestamp: first.serverTimestamp,
      firstProducerTimestamp: first.producerTimestamp,
      skippedMillis,
      skippedProducerMillis,
      fragmentsSkipped: estimateFragments(skippedMillis, from.span),
    };
  }
}

/**
 * Fragments in `millis`, by the length of the fragment whose frames `span` holds: its first to last frame plus one
 * mean frame interval (frames come at a steady rate within a GOP).
 */
function estimateFragments(millis: number, span: Span | null): number | null {
  if (span === null || span.frames < 2) return null;
  const lengthMs = ((span.lastTimecode - span.firstTimecode) * span.frames) / (span.frames - 1);
  return lengthMs > 0 ? Math.round(millis / lengthMs) : null;
}
