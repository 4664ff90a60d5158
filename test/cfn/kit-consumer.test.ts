// A consumer written for KIT's records (test/fixtures/kit_consumer.py, run by python3 as a Lambda would run
// it) on records a real worker published to the local stack's Kinesis: it reads every record with an answer,
// and skips error records, which carry KIT's metadata but no sageMakerOutput (answers too large for a record).

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import type { InferenceRecord } from '../../src/actors/pipeline/inference-record.js';
import { MAX_RECORD_BYTES } from '../../src/actors/pipeline/result-publisher.js';
import { kinesisEvent, type Published, publishWithWorker } from './lambda-fixtures.js';

const execFileAsync = promisify(execFile);
const CONSUMER = join(import.meta.dirname, '..', 'fixtures', 'kit_consumer.py');
const STREAM = 'front-door';

interface ConsumerOutput {
  parsed: {
    streamName: string;
    fragmentNumber: string;
    serverSideTimestampMillis: number;
    producerSideTimestampMillis: number;
    trackNumber: number;
    timeCode: number;
    keyFrame: boolean;
    sageMakerOutput: unknown;
  }[];
  skipped: { streamName: string; fragmentMetaData: string; error: InferenceRecord['error'] }[];
}

/** Runs the KIT consumer on the Lambda event of `published`'s records; its exit code, output and errors. */
async function runKitConsumer(
  t: Test,
  published: Published,
): Promise<{ code: number; output: ConsumerOutput | null; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kvs-infer-kit-consumer-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const eventFile = join(dir, 'event.json');
  await writeFile(eventFile, JSON.stringify(kinesisEvent(published.records, published.dataStream)));
  try {
    const { stdout, stderr } = await execFileAsync('python3', [CONSUMER, eventFile], {
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, output: JSON.parse(stdout) as ConsumerOutput, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stderr?: string; message: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      output: null,
      stderr: failed.stderr ?? failed.message,
    };
  }
}

const decode = (published: Published) =>
  published.records.map((r) => JSON.parse(Buffer.from(r.data).toString('utf8')) as InferenceRecord);

t.test(
  'a KIT consumer reads every record a worker published: stream, fragment and frame metadata, the decoded answer',
  async (t) => {
    // Prepare
    const published = await publishWithWorker({ streams: [STREAM], model: 'fixed', timeoutMs: 120_000 });
    t.teardown(() => published.stack.close());
    const records = decode(published);
    const served = published.stack.kvs
      .streamLog(STREAM)
      .list({ type: 'SERVER_TIMESTAMP', start: 0, end: Number.MAX_SAFE_INTEGER });
    const clusterTimecodes = new Map(
      served.map((f) => [f.fragmentNumber, Math.round(f.clusterTimecode ?? f.producerTimestamp)]),
    );

    // Act
    const { code, output, stderr } = await runKitConsumer(t, published);

    // Assess
    t.ok(records.length >= 10, `the worker published ${records.length} records`);
    t.equal(code, 0, 'the consumer exits 0');
    t.equal(stderr, '', 'and writes no error');
    t.equal(output?.parsed.length, records.length, 'it parsed every record');
    t.same(output?.skipped, [], 'and skipped none');
    const expected = records.map((record) => ({
      streamName: STREAM,
      fragmentNumber: record.fragmentNumber,
      // Java's ceil(seconds x 1000) of a millisecond tag is the millisecond itself in this epoch (kit-fields.test.ts).
      serverSideTimestampMillis: record.serverTimestamp,
      producerSideTimestampMillis: record.producerTimestamp ?? -1,
      trackNumber: 1,
      // The block's timecode relative to the cluster the server wrote for its fragment.
      timeCode: record.frameTimecode - clusterTimecodes.get(record.fragmentNumber)!,
      keyFrame: true,
      sageMakerOutput: record.result,
    }));
    t.same(output?.parsed, expected, 'each as the kvs-infer fields of the same record say');
  },
);

t.test('answers too large for a record with both copies become error records; a KIT consumer skips them', async (t) => {
  // Prepare: 600 000-byte answers, which fit a record once (result) but not twice (result and sageMakerOutput)
  const answerBytes = 600_000;
  t.ok(
    answerBytes < MAX_RECORD_BYTES && answerBytes * (1 + 4 / 3) > MAX_RECORD_BYTES,
    'the answer fits a record once, not with its base64 copy',
  );
  const published = await publishWithWorker({
    streams: [STREAM],
    model: 'fixed',
    timeoutMs: 120_000,
    fixedAnswerBytes: answerBytes,
  });
  t.teardown(() => published.stack.close());
  const records = decode(published);

  // Act
  const { code, output, stderr } = await runKitConsumer(t, published);

  // Assess
  t.ok(
    records.length >= 10,
    `the worker recorded ${records.length} frames, each fragment completed (publishWithWorker waited for it)`,
  );
  const wrong = records.filter(
    (r) =>
      r.error?.stage !== 'publish' ||
      r.error.code !== 'RECORD_TOO_LARGE' ||
      !/over the 1048576-byte limit of a Kinesis record/.test(r.error.message) ||
      'sageMakerOutput' in r ||
      'result' in r ||
      !r.fragmentMetaData.startsWith(`FragmentMetadata(fragmentNumberString=${r.fragmentNumber}, `) ||
      !r.frameMetaData.startsWith('Frame(trackNumber=1, '),
  );
  t.same(wrong, [], "every record is a publish error RECORD_TOO_LARGE with KIT's metadata and no answer");
  t.equal(code, 0, 'the consumer exits 0');
  t.equal(stderr, '', 'and writes no error');
  t.same(output?.parsed, [], 'it parsed no answer');
  t.same(
    output?.skipped.map((s) => [s.streamName, s.fragmentMetaData, s.error?.code]),
    records.map((r) => [STREAM, r.fragmentMetaData, 'RECORD_TOO_LARGE']),
    'and skipped every record, seeing why in `error`',
  );
});
