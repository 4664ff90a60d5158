// Turns the Kinesis records of a Lambda event back into kvs-infer inference records: base64, UTF-8,
// JSON, and the few fields the consumer cannot do without. A bad record is reported, never thrown.

import type { KinesisStreamRecord } from 'aws-lambda';
import type { InferenceRecord } from '../../src/actors/pipeline/inference-record.js';

/** The record version this consumer was written for; newer ones are read on a best-effort basis. */
export const KNOWN_RECORD_VERSION = 1;

/**
 * A record as published, with only the identifying fields checked: anything else may be missing or of
 * another type in a version this consumer does not know, so readers check before they use it.
 */
export type ConsumedRecord = Partial<Omit<InferenceRecord, 'version' | 'streamName' | 'fragmentNumber'>> & {
  version: unknown;
  streamName: string;
  fragmentNumber: string;
};

export interface ParsedRecord {
  sequenceNumber: string;
  record: ConsumedRecord;
}

export type ParseOutcome = { ok: true; parsed: ParsedRecord } | { ok: false; sequenceNumber: string; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseKinesisRecord(record: KinesisStreamRecord): ParseOutcome {
  const sequenceNumber = record.kinesis.sequenceNumber;
  const fail = (reason: string): ParseOutcome => ({ ok: false, sequenceNumber, reason });
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(record.kinesis.data, 'base64')));
  } catch (error) {
    return fail(`not a JSON document: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const candidate = value as Record<string, unknown>;
  if (!('version' in candidate)) return fail('no version');
  if (typeof candidate.streamName !== 'string' || candidate.streamName === '') return fail('no streamName');
  if (typeof candidate.fragmentNumber !== 'string' || candidate.fragmentNumber === '') return fail('no fragmentNumber');
  return { ok: true, parsed: { sequenceNumber, record: candidate as ConsumedRecord } };
}
