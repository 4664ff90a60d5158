// The handler, given its clients: logs every frame of the batch, stores the fragments with detections
// when a bucket is set, and answers which records to retry (partial batch response).

import type { KinesisStreamBatchItemFailure, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { describeFrame } from './describe.js';
import type { Log } from './log.js';
import { KNOWN_RECORD_VERSION, parseKinesisRecord } from './parse-records.js';
import { type FragmentGroup, FragmentStore, type StoreClients } from './store-fragments.js';

export interface ConsumerSettings {
  /** Detections scoring less are neither logged nor stored. */
  minScore: number;
  /** Where fragments with detections go; none: frames are only logged. */
  resultsBucket: string | null;
}

export const DEFAULT_MIN_SCORE = 0.5;
/** Fragments fetched and stored at once. */
export const STORE_CONCURRENCY = 4;

/**
 * MIN_SCORE and RESULTS_BUCKET; a MIN_SCORE that is not a number in [0, 1] fails every invocation, loudly, until fixed.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv): ConsumerSettings {
  const raw = env.MIN_SCORE?.trim();
  const minScore = raw === undefined || raw === '' ? DEFAULT_MIN_SCORE : Number(raw);
  if (!(Number.isFinite(minScore) && minScore >= 0 && minScore <= 1))
    throw new Error(`MIN_SCORE must be a number from 0 to 1, got "${env.MIN_SCORE}"`);
  const bucket = env.RESULTS_BUCKET?.trim();
  return { minScore, resultsBucket: bucket === undefined || bucket === '' ? null : bucket };
}

export interface ConsumerOptions extends StoreClients {
  log: Log;
  /** Read at every invocation. */
  settings: () => ConsumerSettings;
}

export type KinesisConsumer = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;

export function createConsumer(options: ConsumerOptions): KinesisConsumer {
  const { log } = options;
  return async (event) => {
    const settings = options.settings();
    const groups = new Map<string, FragmentGroup>();
    let skipped = 0;
    for (const kinesisRecord of event.Records) {
      const outcome = parseKinesisRecord(kinesisRecord);
      if (!outcome.ok) {
        // Retrying cannot fix it, and throwing would retry the whole batch until the record expires.
        skipped++;
        log({
          level: 'warn',
          event: 'bad-record',
          sequenceNumber: outcome.sequenceNumber,
          partitionKey: kinesisRecord.kinesis.partitionKey,
          reason: outcome.reason,
        });
        continue;
      }
      const { parsed } = outcome;
      const { record } = parsed;
      if (record.version !== KNOWN_RECORD_VERSION) {
        log({
          level: 'warn',
          event: 'unknown-record-version',
          version: record.version,
          known: KNOWN_RECORD_VERSION,
          sequenceNumber: parsed.sequenceNumber,
          stream: record.streamName,
        });
      }
      const { detections, line } = describeFrame(parsed, settings.minScore);
      log(line);
      const key = `${record.streamName}\u0000${record.fragmentNumber}`;
      let group = groups.get(key);
      if (group === undefined) {
        group = { stream: record.streamName, fragmentNumber: record.fragmentNumber, frames: [], sequenceNumbers: [] };
        groups.set(key, group);
      }
      group.frames.push({ record, detections });
      group.sequenceNumbers.push(parsed.sequenceNumber);
    }

    const withDetections = [...groups.values()].filter((g) => g.frames.some((f) => (f.detections?.length ?? 0) > 0));
    const failed: FragmentGroup[] = [];
    let stored = 0;
    if (settings.resultsBucket !== null && withDetections.length > 0) {
      const store = new FragmentStore(options, settings.resultsBucket);
      await eachLimited(withDetections, STORE_CONCURRENCY, async (group) => {
        try {
          const document = await store.store(group);
          stored++;
          log({
            level: 'info',
            event: 'fragment-stored',
            stream: group.stream,
            fragmentNumber: group.fragmentNumber,
            bucket: settings.resultsBucket,
            key: document.media.key,
            mediaBytes: document.media.bytes,
            frames: document.frames.length,
          });
        } catch (error) {
          failed.push(group);
          const { name, message } = error as Error;
          log({
            level: 'error',
            event: 'fragment-store-failed',
            stream: group.stream,
            fragmentNumber: group.fragmentNumber,
            bucket: settings.resultsBucket,
            error: { name, message },
            sequenceNumbers: group.sequenceNumbers,
          });
        }
      });
    }
    // For a Kinesis source Lambda resumes from the lowest sequence number reported, so the later records of
    // the batch come again too: storing is idempotent (same keys, frames merged by idempotencyKey).
    const failedSequences = new Set(failed.flatMap((g) => g.sequenceNumbers));
    const batchItemFailures: KinesisStreamBatchItemFailure[] = event.Records.map((r) => r.kinesis.sequenceNumber)
      .filter((s) => failedSequences.has(s))
      .map((itemIdentifier) => ({ itemIdentifier }));
    log({
      level: failed.length > 0 ? 'warn' : 'info',
      event: 'batch',
      records: event.Records.length,
      skipped,
      fragments: groups.size,
      fragmentsWithDetections: withDetections.length,
      fragmentsStored: stored,
      fragmentsFailed: failed.length,
      bucket: settings.resultsBucket,
    });
    return { batchItemFailures };
  };
}

async function eachLimited<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
