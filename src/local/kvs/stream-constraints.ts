// The constraints the KVS API model (kinesis-video.json) puts on stream members, checked as KVS checks them:
// an InvalidArgumentException in AWS's validation wording, which names the member and the value refused.

import { KvsApiError } from './errors.js';

interface StringShape {
  min: number;
  max: number;
  /** The model's pattern, as its validation message quotes it. */
  pattern: string;
}

/** Lengths and patterns of the model's string shapes (lengths count characters, not UTF-16 units). */
const SHAPES = {
  StreamName: { min: 1, max: 256, pattern: '^[a-zA-Z0-9_.-]+$' },
  DeviceName: { min: 1, max: 128, pattern: '^[a-zA-Z0-9_.-]+$' },
  MediaType: { min: 1, max: 128, pattern: '^[\\w\\-\\.\\+]+/[\\w\\-\\.\\+]+(,[\\w\\-\\.\\+]+/[\\w\\-\\.\\+]+)*$' },
  KmsKeyId: { min: 1, max: 2048, pattern: '^.+$' },
  TagKey: { min: 1, max: 128, pattern: '^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$' },
  TagValue: { min: 0, max: 256, pattern: '^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$' },
} as const satisfies Record<string, StringShape>;

type ShapeName = keyof typeof SHAPES;

/** ResourceTags (CreateStream, TagStream) and TagKeyList (UntagStream) hold 1 to 50 entries. */
const MAX_TAG_ENTRIES = 50;

const compiled = new Map<ShapeName, RegExp>(
  Object.entries(SHAPES).map(([name, shape]) => [name as ShapeName, new RegExp(shape.pattern, 'u')]),
);

/** What is wrong with `value` for the shape, in the words of AWS validation messages; null when nothing is. */
function violation(shape: ShapeName, value: string): string | null {
  const { min, max, pattern } = SHAPES[shape];
  const length = [...value].length;
  if (length < min) return `Member must have length greater than or equal to ${min}`;
  if (length > max) return `Member must have length less than or equal to ${max}`;
  return compiled.get(shape)!.test(value) ? null : `Member must satisfy regular expression pattern: ${pattern}`;
}

/** `member` is the request member's name (`mediaType`, `tags`), as AWS names it in the message. */
function refuse(member: string, value: string, constraint: string): KvsApiError {
  const message =
    `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: ` + `${constraint}`;
  return new KvsApiError('InvalidArgumentException', message);
}

/** Checks a string member against its model shape. */
export function checkString(shape: ShapeName, member: string, value: string): void {
  const problem = violation(shape, value);
  if (problem !== null) throw refuse(member, value, problem);
}

/** Checks every key and value of a tag map. */
export function checkTagMap(tags: ReadonlyMap<string, string>): void {
  for (const [key, value] of tags) {
    const keyProblem = violation('TagKey', key);
    if (keyProblem !== null) throw refuse('tags', key, `Map keys must satisfy constraint: [${keyProblem}]`);
    const valueProblem = violation('TagValue', value);
    if (valueProblem !== null) throw refuse(`tags.${key}`, value, valueProblem);
  }
}

/**
 * A request's tag map or key list holds 1 to 50 entries: the limit of one request, before the 50 per stream.
 * The value is quoted as AWS (Java) prints a map or list: `{k=v, ...}`, `[a, ...]`.
 */
function checkEntryCount(member: string, count: number, printed: string): void {
  if (count < 1) throw refuse(member, printed, 'Member must have length greater than or equal to 1');
  if (count > MAX_TAG_ENTRIES)
    throw refuse(member, printed, `Member must have length less than or equal to ${MAX_TAG_ENTRIES}`);
}

/** Checks a request's tag map (CreateStream's and TagStream's `Tags`): its size, then every key and value. */
export function checkRequestTags(tags: ReadonlyMap<string, string>): void {
  checkEntryCount('tags', tags.size, `{${[...tags].map(([key, value]) => `${key}=${value}`).join(', ')}}`);
  checkTagMap(tags);
}

/** Checks UntagStream's `TagKeyList`. */
export function checkTagKeys(keys: readonly string[]): void {
  checkEntryCount('tagKeyList', keys.length, `[${keys.join(', ')}]`);
  for (const key of keys) checkString('TagKey', 'tagKeyList.member', key);
}
