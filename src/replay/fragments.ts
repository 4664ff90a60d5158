// The fragments of a replay's range, as ListFragments lists them (page by page, in no promised order),
// put in stream order, and cut into the batches that GetMediaForFragmentList reads one at a time.

import {
  type KinesisVideoArchivedMediaClient,
  ListFragmentsCommand,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { compareFragmentNumbers } from '../media/index.js';
import type { TimeRange } from './time-range.js';

/**
 * By producer timestamp: the times a user names are the camera's (what its recording shows), and they hold still
 * when a producer uploads late, which moves the server timestamps.
 */
export const FRAGMENT_SELECTOR = 'PRODUCER_TIMESTAMP';

/** ListFragments' page limit. */
const PAGE_SIZE = 1000;

export interface RangeFragment {
  fragmentNumber: string;
  sizeBytes: number;
  /** Epoch ms. */
  producerTimestamp: number;
  serverTimestamp: number;
}

export interface BatchLimits {
  /** Fragments per GetMediaForFragmentList call, 1 to 1000 (its limit). */
  maxFragments: number;
  /** Their FragmentSizeInBytes together; a fragment larger than this goes alone. */
  maxBytes: number;
}

/**
 * Every fragment of `streamName` whose producer timestamp is in `range`, sorted by fragment number (stream order)
 * and without repeats. Each page has `timeoutMs` as its deadline; the SDK retries a failed page with backoff.
 */
export async function listRangeFragments(
  client: KinesisVideoArchivedMediaClient,
  streamName: string,
  range: TimeRange,
  timeoutMs: number,
): Promise<RangeFragment[]> {
  const byNumber = new Map<string, RangeFragment>();
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListFragmentsCommand({
        StreamName: streamName,
        MaxResults: PAGE_SIZE,
        NextToken: nextToken,
        FragmentSelector: {
          FragmentSelectorType: FRAGMENT_SELECTOR,
          TimestampRange: { StartTimestamp: new Date(range.start), EndTimestamp: new Date(range.end) },
        },
      }),
      { abortSignal: AbortSignal.timeout(timeoutMs) },
    );
    for (const f of page.Fragments ?? []) {
      if (f.FragmentNumber === undefined) continue;
      byNumber.set(f.FragmentNumber, {
        fragmentNumber: f.FragmentNumber,
        sizeBytes: f.FragmentSizeInBytes ?? 0,
        producerTimestamp: f.ProducerTimestamp?.getTime() ?? 0,
        serverTimestamp: f.ServerTimestamp?.getTime() ?? 0,
      });
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return [...byNumber.values()].sort((a, b) => compareFragmentNumbers(a.fragmentNumber, b.fragmentNumber));
}

/** `fragments` in order, cut into batches within `limits`. */
export function batches(fragments: readonly RangeFragment[], limits: BatchLimits): RangeFragment[][] {
  const out: RangeFragment[][] = [];
  let batch: RangeFragment[] = [];
  let bytes = 0;
  for (const fragment of fragments) {
    if (batch.length > 0 && (batch.length >= limits.maxFragments || bytes + fragment.sizeBytes > limits.maxBytes)) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(fragment);
    bytes += fragment.sizeBytes;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}
