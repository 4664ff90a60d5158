// Archived media (@aws-sdk/client-kinesis-video-archived-media): ListFragments over a timestamp
// range, and GetMediaForFragmentList, which sends chosen fragments as one `video/webm` body. Both see
// the archive only: a stream with DataRetentionInHours 0 has none, whatever its host buffer holds.

import type { ServerResponse } from 'node:http';
import {
  decodeToken,
  encodeToken,
  optionalInteger,
  optionalObject,
  optionalString,
  optionalStringList,
  requiredObject,
  requiredString,
  requiredTimestamp,
  toEpochSeconds,
} from './api-input.js';
import { KvsApiError } from './errors.js';
import { renderArchivedFragment } from './fragment-renderer.js';
import { type JsonObject, startStream, writeChunks } from './http-io.js';
import type { ApiContext, Route } from './route.js';
import type { FragmentRange, StoredFragment } from './types.js';

const MAX_FRAGMENTS = 1000;

function parseRange(input: JsonObject): FragmentRange {
  const selector = optionalObject(input, 'FragmentSelector');
  // Without a selector KVS lists the whole retained stream.
  if (selector === undefined) return { type: 'SERVER_TIMESTAMP', start: 0, end: Number.MAX_SAFE_INTEGER };
  const type = requiredString(selector, 'FragmentSelectorType');
  if (type !== 'SERVER_TIMESTAMP' && type !== 'PRODUCER_TIMESTAMP') {
    throw new KvsApiError(
      'InvalidArgumentException',
      `FragmentSelectorType must be SERVER_TIMESTAMP or PRODUCER_TIMESTAMP, got ${type}`,
    );
  }
  const range = requiredObject(selector, 'TimestampRange');
  const start = requiredTimestamp(range, 'StartTimestamp');
  const end = requiredTimestamp(range, 'EndTimestamp');
  if (end < start) throw new KvsApiError('InvalidArgumentException', 'EndTimestamp must not be before StartTimestamp');
  return { type, start, end };
}

function fragmentEntry(fragment: StoredFragment): JsonObject {
  return {
    FragmentNumber: fragment.fragmentNumber,
    FragmentSizeInBytes: fragment.sizeBytes,
    ProducerTimestamp: toEpochSeconds(fragment.producerTimestamp),
    ServerTimestamp: toEpochSeconds(fragment.serverTimestamp),
    FragmentLengthInMilliseconds: fragment.durationMs,
  };
}

function listFragments(input: JsonObject, ctx: ApiContext): JsonObject {
  const stream = ctx.registry.resolve(optionalString(input, 'StreamName'), optionalString(input, 'StreamARN'));
  const maxResults = optionalInteger(input, 'MaxResults', 1, MAX_FRAGMENTS) ?? MAX_FRAGMENTS;
  const after = decodeToken(optionalString(input, 'NextToken'));
  const range = parseRange(input);
  let fragments = stream.archived ? stream.log.list(range) : [];
  if (after !== undefined) {
    const afterNumber = BigInt(after);
    fragments = fragments.filter((f) => BigInt(f.fragmentNumber) > afterNumber);
  }
  const page = fragments.slice(0, maxResults);
  const more = fragments.length > page.length;
  return {
    Fragments: page.map(fragmentEntry),
    NextToken: more ? encodeToken(page[page.length - 1]!.fragmentNumber) : undefined,
  };
}

async function getMediaForFragmentList(input: JsonObject, ctx: ApiContext, res: ServerResponse): Promise<void> {
  const stream = ctx.registry.resolve(optionalString(input, 'StreamName'), optionalString(input, 'StreamARN'));
  const numbers = optionalStringList(input, 'Fragments');
  if (numbers === undefined || numbers.length === 0 || numbers.length > MAX_FRAGMENTS) {
    throw new KvsApiError('InvalidArgumentException', `Fragments must list 1 to ${MAX_FRAGMENTS} fragment numbers`);
  }
  // Every fragment is looked up before the response starts, so that a missing one is a clean 404.
  const fragments = numbers.map((number) => {
    if (!stream.archived) {
      const why = 'the stream archives nothing (DataRetentionInHours 0)';
      throw new KvsApiError(
        'ResourceNotFoundException',
        `Fragment ${number} of stream ${stream.name} was not found: ${why}`,
      );
    }
    const fragment = /^\d+$/.test(number) ? stream.log.get(number) : undefined;
    if (fragment === undefined)
      throw new KvsApiError('ResourceNotFoundException', `Fragment ${number} of stream ${stream.name} was not found`);
    return fragment;
  });
  startStream(res, ctx.requestId, 'video/webm');
  for (const fragment of fragments) {
    if (!(await writeChunks(res, renderArchivedFragment(fragment)))) return;
  }
  res.end();
}

export const archivedMediaRoutes: Route[] = [
  { path: '/listFragments', kind: 'json', handle: listFragments },
  { path: '/getMediaForFragmentList', kind: 'media', handle: getMediaForFragmentList },
];
