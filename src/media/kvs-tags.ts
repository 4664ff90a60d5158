// The AWS_KINESISVIDEO_* tags Kinesis Video Streams adds to each GetMedia fragment, and how
// each lands on a Fragment. Every other tag is the producer's own and is kept by name.

import type { Fragment } from './types.js';

export const KVS_TAG = {
  fragmentNumber: 'AWS_KINESISVIDEO_FRAGMENT_NUMBER',
  serverTimestamp: 'AWS_KINESISVIDEO_SERVER_TIMESTAMP',
  producerTimestamp: 'AWS_KINESISVIDEO_PRODUCER_TIMESTAMP',
  millisBehindNow: 'AWS_KINESISVIDEO_MILLIS_BEHIND_NOW',
  continuationToken: 'AWS_KINESISVIDEO_CONTINUATION_TOKEN',
  errorCode: 'AWS_KINESISVIDEO_ERROR_CODE',
  errorId: 'AWS_KINESISVIDEO_ERROR_ID',
} as const;

export function newFragment(index: number, offset: number): Fragment {
  return {
    index,
    fragmentNumber: null,
    serverTimestamp: null,
    producerTimestamp: null,
    millisBehindNow: null,
    continuationToken: null,
    errorCode: null,
    errorId: null,
    tags: {},
    frames: 0,
    keyframes: 0,
    offset,
  };
}

/** KVS timestamps are seconds with a millisecond fraction ("1511852109.126"). */
function epochMillis(value: string): number | null {
  if (!/^\d+(\.\d+)?$/.test(value)) return null;
  return Math.round(Number(value) * 1000);
}

function integer(value: string): number | null {
  return /^-?\d+$/.test(value) ? Number(value) : null;
}

/**
 * Applies one tag to a fragment. Returns a description of the problem when a KVS tag's value
 * cannot be read (the field stays null), or null when all is well.
 */
export function applyTag(fragment: Fragment, name: string, value: string): string | null {
  switch (name) {
    case KVS_TAG.fragmentNumber:
      fragment.fragmentNumber = value;
      return null;
    case KVS_TAG.continuationToken:
      fragment.continuationToken = value;
      return null;
    case KVS_TAG.errorCode:
      fragment.errorCode = value;
      return null;
    case KVS_TAG.errorId:
      fragment.errorId = value;
      return null;
    case KVS_TAG.serverTimestamp:
      fragment.serverTimestamp = epochMillis(value);
      return fragment.serverTimestamp === null ? `bad ${name} "${value}"` : null;
    case KVS_TAG.producerTimestamp:
      fragment.producerTimestamp = epochMillis(value);
      return fragment.producerTimestamp === null ? `bad ${name} "${value}"` : null;
    case KVS_TAG.millisBehindNow:
      fragment.millisBehindNow = integer(value);
      return fragment.millisBehindNow === null ? `bad ${name} "${value}"` : null;
    default:
      fragment.tags[name] = value;
      return null;
  }
}
