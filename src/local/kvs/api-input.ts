// Reads members of a REST-JSON request body, answering InvalidArgumentException the way KVS does
// for a missing or mistyped member. Timestamps arrive as epoch seconds (with a fraction).

import { KvsApiError } from './errors.js';
import type { JsonObject } from './http-io.js';

function invalid(message: string): KvsApiError {
  return new KvsApiError('InvalidArgumentException', message);
}

export function optionalString(body: JsonObject, member: string): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${member} must be a string`);
  return value;
}

export function requiredString(body: JsonObject, member: string): string {
  const value = optionalString(body, member);
  if (value === undefined || value === '') throw invalid(`${member} is required`);
  return value;
}

export function optionalInteger(body: JsonObject, member: string, min: number, max: number): number | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${member} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function optionalObject(body: JsonObject, member: string): JsonObject | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${member} must be an object`);
  return value as JsonObject;
}

export function requiredObject(body: JsonObject, member: string): JsonObject {
  const value = optionalObject(body, member);
  if (value === undefined) throw invalid(`${member} is required`);
  return value;
}

export function optionalStringList(body: JsonObject, member: string): string[] | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string'))
    throw invalid(`${member} must be a list of strings`);
  return value as string[];
}

export function optionalStringMap(body: JsonObject, member: string): Map<string, string> | undefined {
  const value = optionalObject(body, member);
  if (value === undefined) return undefined;
  const map = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw invalid(`${member}.${key} must be a string`);
    map.set(key, item);
  }
  return map;
}

/** An epoch-seconds timestamp member, as epoch milliseconds. */
export function optionalTimestamp(body: JsonObject, member: string): number | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw invalid(`${member} must be a timestamp in epoch seconds`);
  return Math.round(value * 1000);
}

export function requiredTimestamp(body: JsonObject, member: string): number {
  const value = optionalTimestamp(body, member);
  if (value === undefined) throw invalid(`${member} is required`);
  return value;
}

/** Epoch milliseconds as the epoch seconds the SDK parses (millisecond precision kept). */
export const toEpochSeconds = (ms: number): number => ms / 1000;

/**
 * Pagination tokens are opaque to clients; ours carry the key to resume after, so a page stays
 * right while the list changes underneath.
 */
export function encodeToken(key: string): string {
  return Buffer.from(JSON.stringify({ after: key })).toString('base64url');
}

export function decodeToken(token: string | undefined, member = 'NextToken'): string | undefined {
  if (token === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { after?: unknown }).after === 'string') {
      return (parsed as { after: string }).after;
    }
  } catch {
    // falls through to the error below
  }
  throw invalid(`${member} is not a token this service issued`);
}
