// The control-plane operations of Kinesis Video Streams (@aws-sdk/client-kinesis-video) that
// kvs-infer calls: streams, their tags, and the data endpoint (this server itself).

import {
  decodeToken,
  encodeToken,
  optionalInteger,
  optionalObject,
  optionalString,
  optionalStringList,
  optionalStringMap,
  requiredString,
  toEpochSeconds,
} from './api-input.js';
import { KvsApiError } from './errors.js';
import type { JsonObject } from './http-io.js';
import type { ApiContext, Route } from './route.js';
import { checkRequestTags, checkTagKeys } from './stream-constraints.js';
import { type KvsStream, validateTags } from './stream-registry.js';

/** GetDataEndpoint's APIName values; every one is served (or refused per operation) by this server. */
const DATA_APIS = new Set([
  'PUT_MEDIA',
  'GET_MEDIA',
  'LIST_FRAGMENTS',
  'GET_MEDIA_FOR_FRAGMENT_LIST',
  'GET_HLS_STREAMING_SESSION_URL',
  'GET_DASH_STREAMING_SESSION_URL',
  'GET_CLIP',
  'GET_IMAGES',
]);

const LIST_STREAMS_MAX = 10000;

export function streamInfo(stream: KvsStream): JsonObject {
  return {
    DeviceName: stream.deviceName,
    StreamName: stream.name,
    StreamARN: stream.arn,
    MediaType: stream.mediaType,
    KmsKeyId: stream.kmsKeyId,
    Version: stream.version,
    Status: stream.status,
    CreationTime: toEpochSeconds(stream.creationTime),
    DataRetentionInHours: stream.retentionHours,
  };
}

function tagsObject(tags: Map<string, string>): Record<string, string> {
  return Object.fromEntries(tags);
}

function named(input: JsonObject, ctx: ApiContext): KvsStream {
  return ctx.registry.resolve(optionalString(input, 'StreamName'), optionalString(input, 'StreamARN'));
}

function createStream(input: JsonObject, ctx: ApiContext): JsonObject {
  const tags = optionalStringMap(input, 'Tags');
  if (tags !== undefined) checkRequestTags(tags);
  const stream = ctx.registry.create(requiredString(input, 'StreamName'), {
    deviceName: optionalString(input, 'DeviceName'),
    mediaType: optionalString(input, 'MediaType'),
    kmsKeyId: optionalString(input, 'KmsKeyId'),
    retentionHours: optionalInteger(input, 'DataRetentionInHours', 0, 87600),
    tags,
  });
  return { StreamARN: stream.arn };
}

function describeStream(input: JsonObject, ctx: ApiContext): JsonObject {
  return { StreamInfo: streamInfo(named(input, ctx)) };
}

function listStreams(input: JsonObject, ctx: ApiContext): JsonObject {
  const maxResults = optionalInteger(input, 'MaxResults', 1, LIST_STREAMS_MAX) ?? LIST_STREAMS_MAX;
  const after = decodeToken(optionalString(input, 'NextToken'));
  const condition = optionalObject(input, 'StreamNameCondition');
  let prefix: string | undefined;
  if (condition !== undefined) {
    const operator = optionalString(condition, 'ComparisonOperator');
    if (operator !== undefined && operator !== 'BEGINS_WITH') {
      throw new KvsApiError('InvalidArgumentException', `ComparisonOperator must be BEGINS_WITH, got ${operator}`);
    }
    prefix = optionalString(condition, 'ComparisonValue');
  }
  const matching = ctx.registry
    .list()
    .filter((s) => (prefix === undefined || s.name.startsWith(prefix)) && (after === undefined || s.name > after));
  const page = matching.slice(0, maxResults);
  const more = matching.length > page.length;
  return {
    StreamInfoList: page.map(streamInfo),
    NextToken: more ? encodeToken(page[page.length - 1]!.name) : undefined,
  };
}

function listTagsForStream(input: JsonObject, ctx: ApiContext): JsonObject {
  // At most 50 tags per stream: one page always holds them all, so NextToken is accepted and never issued.
  decodeToken(optionalString(input, 'NextToken'));
  return { Tags: tagsObject(named(input, ctx).tags) };
}

function tagStream(input: JsonObject, ctx: ApiContext): JsonObject {
  // The request is validated before the stream is looked up, as the model's constraints are.
  const tags = optionalStringMap(input, 'Tags');
  if (tags === undefined) throw new KvsApiError('InvalidArgumentException', 'Tags is required');
  checkRequestTags(tags);
  const stream = named(input, ctx);
  const merged = new Map([...stream.tags, ...tags]);
  validateTags(merged);
  for (const [key, value] of tags) stream.tags.set(key, value);
  return {};
}

function untagStream(input: JsonObject, ctx: ApiContext): JsonObject {
  const keys = optionalStringList(input, 'TagKeyList');
  if (keys === undefined) throw new KvsApiError('InvalidArgumentException', 'TagKeyList is required');
  checkTagKeys(keys);
  const stream = named(input, ctx);
  for (const key of keys) stream.tags.delete(key);
  return {};
}

function deleteStream(input: JsonObject, ctx: ApiContext): JsonObject {
  const stream = ctx.registry.resolve(undefined, requiredString(input, 'StreamARN'));
  const currentVersion = optionalString(input, 'CurrentVersion');
  if (currentVersion !== undefined && currentVersion !== stream.version) {
    throw new KvsApiError(
      'VersionMismatchException',
      `The stream version ${currentVersion} does not match the current version ${stream.version}`,
    );
  }
  ctx.registry.delete(stream);
  return {};
}

function getDataEndpoint(input: JsonObject, ctx: ApiContext): JsonObject {
  const api = requiredString(input, 'APIName');
  if (!DATA_APIS.has(api))
    throw new KvsApiError('InvalidArgumentException', `APIName ${api} is not one of ${[...DATA_APIS].join(', ')}`);
  named(input, ctx);
  return { DataEndpoint: ctx.url };
}

export const controlPlaneRoutes: Route[] = [
  { path: '/createStream', kind: 'json', handle: createStream },
  { path: '/describeStream', kind: 'json', handle: describeStream },
  { path: '/listStreams', kind: 'json', handle: listStreams },
  { path: '/listTagsForStream', kind: 'json', handle: listTagsForStream },
  { path: '/tagStream', kind: 'json', handle: tagStream },
  { path: '/untagStream', kind: 'json', handle: untagStream },
  { path: '/deleteStream', kind: 'json', handle: deleteStream },
  { path: '/getDataEndpoint', kind: 'json', handle: getDataEndpoint },
];
