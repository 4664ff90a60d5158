// The default Lambda consumer (cfn/lambda) on records a real worker published to the local stack's
// Kinesis: it logs every frame with COCO labels, skips bad records, stores the fragments with
// detections (media from the KVS server's GetMediaForFragmentList) in a local S3, reports the records
// of a fragment it could not store, and its esbuild bundle does the same on its own.

import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import t, { type Test } from 'tap';
import { describeFrame, MAX_RESULT_CHARS } from '../../cfn/lambda/describe.js';
import type { InferenceRecord } from '../../src/actors/pipeline/inference-record.js';
import { COCO_LABELS } from '../../src/local/model/backends/coco-labels.js';
import { type Fragment, readMkv } from '../../src/media/index.js';
import {
  captureLogLines,
  kinesisEvent,
  kinesisEventRecord,
  publishWithWorker,
  type RawRecord,
  S3RVER_CREDENTIALS,
  startS3,
} from './lambda-fixtures.js';

const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const STREAMS = ['front-door', 'parking-lot'];
const BUCKET = 'kvs-infer-results';
const BUCKET_2 = 'kvs-infer-results-2';
const MIN_SCORE = 0.5;

type Handler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;
type Line = Record<string, unknown>;

// The real detector on the demo clip, so that the frames hold real people.
const published = await publishWithWorker({ streams: STREAMS, model: 'detector', timeoutMs: 120_000 });
t.teardown(() => published.stack.close());
const s3Dir = await mkdtemp(join(tmpdir(), 'kvs-infer-lambda-s3-'));
const s3 = await startS3(s3Dir, [BUCKET, BUCKET_2]);
t.teardown(async () => {
  await s3.close();
  await rm(s3Dir, { recursive: true, force: true });
});

// Configured as in production: the SDK's standard variables, set before the module builds its clients.
const savedEnv = { ...process.env };
Object.assign(process.env, published.stack.env, {
  AWS_ENDPOINT_URL_S3: s3.url,
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
});
delete process.env.RESULTS_BUCKET;
delete process.env.MIN_SCORE;
t.teardown(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});
const { handler } = (await import('../../cfn/lambda/index.js')) as { handler: Handler };

const s3Client = new S3Client({
  region: 'us-east-1',
  endpoint: s3.url,
  forcePathStyle: true,
  credentials: S3RVER_CREDENTIALS,
});
t.teardown(() => s3Client.destroy());

const records = published.records;
const decoded = new Map(
  records.map((r) => [r.sequenceNumber, JSON.parse(Buffer.from(r.data).toString('utf8')) as InferenceRecord]),
);
const recordOf = (raw: RawRecord) => decoded.get(raw.sequenceNumber)!;
const predictions = (raw: RawRecord) =>
  (recordOf(raw).result as { prediction?: number[][] } | undefined)?.prediction ?? [];
const fragmentKey = (raw: RawRecord) => `${recordOf(raw).streamName}/${recordOf(raw).fragmentNumber}`;
/** stream/fragmentNumber of every fragment where one of the frames has a prediction scoring MIN_SCORE or more. */
const detectedFragments = new Set(
  records.filter((r) => predictions(r).some((p) => p[1]! >= MIN_SCORE)).map(fragmentKey),
);

/** The event of test 1: every published record, with two bad ones in the middle (as another producer could write). */
const lastSequence = BigInt(records.at(-1)!.sequenceNumber);
const notJson: RawRecord = {
  ...records[0]!,
  sequenceNumber: String(lastSequence + 1n),
  partitionKey: 'someone-else',
  data: Buffer.from('this is not JSON {'),
};
const noVersion: RawRecord = {
  ...records[0]!,
  sequenceNumber: String(lastSequence + 2n),
  data: Buffer.from(JSON.stringify({ streamName: 'front-door', fragmentNumber: '1' })),
};
const middle = Math.floor(records.length / 2);
const mixedEvent: KinesisStreamEvent = {
  Records: [...records.slice(0, middle), notJson, noVersion, ...records.slice(middle)].map((r) =>
    kinesisEventRecord(r, published.dataStream),
  ),
};

function checkFrameLines(t: Test, lines: Line[], label: string): void {
  const frames = lines.filter((l) => l.event === 'frame');
  t.equal(frames.length, records.length, `${label}: one frame line per good record`);
  t.same(
    frames.map((l) => l.sequenceNumber),
    records.map((r) => r.sequenceNumber),
    `${label}: in the batch's order, each naming its Kinesis sequence number`,
  );
  for (const [i, line] of frames.entries()) {
    const record = recordOf(records[i]!);
    const expected = predictions(records[i]!)
      .filter((p) => p[1]! >= MIN_SCORE)
      .sort((a, b) => b[1]! - a[1]!);
    const ok =
      line.level === 'info' &&
      line.stream === record.streamName &&
      line.fragmentNumber === record.fragmentNumber &&
      line.frameTimecode === record.frameTimecode &&
      line.workerId === 'lambda-test-worker' &&
      line.serverTime === new Date(record.serverTimestamp).toISOString() &&
      line.producerTime ===
        (record.producerTimestamp === null ? null : new Date(record.producerTimestamp).toISOString()) &&
      Array.isArray(line.detections) &&
      (line.detections as { label: string; score: number; box: number[] }[]).every(
        (d, j) =>
          d.label === COCO_LABELS[expected[j]![0]!] &&
          Math.abs(d.score - expected[j]![1]!) < 1e-4 &&
          d.box.length === 4,
      ) &&
      (line.detections as unknown[]).length === expected.length;
    if (!ok) t.fail(`${label}: frame line ${i} describes its record`, { line, record });
  }
  t.pass(
    `${label}: every frame line carries stream, fragment, timecode, ISO times, worker and the detections over ` +
      `${MIN_SCORE} with COCO labels`,
  );
  const people = frames
    .flatMap((l) => l.detections as { label: string; score: number }[])
    .filter((d) => d.label === 'person');
  t.ok(
    people.length > 0,
    `${label}: the detector found people in the demo clip (${people.length} detections, best ` +
      `${Math.max(...people.map((p) => p.score))})`,
  );
}

function checkBadRecords(t: Test, lines: Line[], label: string): void {
  const bad = lines.filter((l) => l.event === 'bad-record');
  t.same(
    bad.map((l) => ({ level: l.level, sequenceNumber: l.sequenceNumber })),
    [
      { level: 'warn', sequenceNumber: notJson.sequenceNumber },
      { level: 'warn', sequenceNumber: noVersion.sequenceNumber },
    ],
    `${label}: the bad records are skipped with a warning naming their sequence numbers`,
  );
  t.match(bad[0]!.reason, /not a JSON document/);
  t.match(bad[1]!.reason, /no version/);
}

t.test('the handler logs one line per frame with COCO labels and skips bad records with a warning', async (t) => {
  // Prepare
  t.ok(records.length >= 20, `the worker published ${records.length} records`);
  t.ok(detectedFragments.size > 0, `${detectedFragments.size} fragments hold detections scoring ${MIN_SCORE} or more`);

  // Act
  const { value, lines } = await captureLogLines(() => handler(mixedEvent));

  // Assess
  t.same(value, { batchItemFailures: [] }, 'nothing to retry');
  checkFrameLines(t, lines, 'handler');
  checkBadRecords(t, lines, 'handler');
  t.match(
    lines.at(-1),
    { event: 'batch', records: records.length + 2, skipped: 2, fragmentsStored: 0, bucket: null },
    'without RESULTS_BUCKET nothing is stored',
  );
});

t.test('the esbuild bundle in the zip is self-contained and behaves the same', async (t) => {
  // Prepare
  const { stdout } = await execFileAsync(process.execPath, [join(root, 'scripts', 'build-lambda.mjs')], { cwd: root });
  const zipPath = join(root, 'dist', 'lambda', 'kvs-infer-consumer.zip');
  t.match(stdout, /dist\/lambda\/kvs-infer-consumer\.zip \d+ bytes/, 'the build prints the zip and its size');
  const listing = (await execFileAsync('unzip', ['-Z1', zipPath])).stdout.split('\n').filter((l) => l !== '');
  t.same(listing, ['index.mjs'], 'the zip holds index.mjs at its root, alone');
  const dir = await mkdtemp(join(tmpdir(), 'kvs-infer-lambda-bundle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await execFileAsync('unzip', ['-q', zipPath, '-d', dir]);
  t.same(await readdir(dir), ['index.mjs']);

  // Act
  const bundle = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as { handler: Handler };
  const { value, lines } = await captureLogLines(() => bundle.handler(mixedEvent));

  // Assess
  t.same(value, { batchItemFailures: [] }, 'nothing to retry');
  checkFrameLines(t, lines, 'bundle');
  checkBadRecords(t, lines, 'bundle');
});

async function objectBytes(bucket: string, key: string): Promise<Uint8Array> {
  const answer = await s3Client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return answer.Body!.transformToByteArray();
}

async function keysOf(bucket: string): Promise<string[]> {
  const { Contents = [] } = await s3Client.send(new ListObjectsV2Command({ Bucket: bucket }));
  return Contents.map((c) => c.Key!).sort();
}

async function fragmentsIn(bytes: Uint8Array): Promise<Fragment[]> {
  const fragments: Fragment[] = [];
  for await (const event of readMkv(
    (async function* () {
      yield bytes;
    })(),
  )) {
    if (event.type === 'error') throw event.error;
    if (event.type === 'fragment') fragments.push(event.fragment);
  }
  return fragments;
}

t.test(
  'with RESULTS_BUCKET each fragment with detections is stored as .mkv and .json; a fragment that cannot be fetched ' +
    'is retried alone',
  async (t) => {
    t.teardown(() => {
      delete process.env.RESULTS_BUCKET;
    });

    await t.test('every detected fragment stored', async (t) => {
      // Prepare
      process.env.RESULTS_BUCKET = BUCKET;

      // Act
      const { value, lines } = await captureLogLines(() => handler(kinesisEvent(records, published.dataStream)));

      // Assess
      t.same(value, { batchItemFailures: [] });
      t.same(
        await keysOf(BUCKET),
        [...detectedFragments].flatMap((f) => [`${f}.json`, `${f}.mkv`]).sort(),
        'exactly the fragments with detections, .mkv and .json each',
      );
      t.equal(lines.filter((l) => l.event === 'fragment-stored').length, detectedFragments.size);
      for (const key of detectedFragments) {
        const [stream, fragmentNumber] = key.split('/') as [string, string];
        const fragments = await fragmentsIn(await objectBytes(BUCKET, `${key}.mkv`));
        t.same(
          fragments.map((f) => ({ fragmentNumber: f.fragmentNumber, errorCode: f.errorCode })),
          [{ fragmentNumber, errorCode: null }],
          `${key}.mkv parses with readMkv and carries its fragment number in its tags`,
        );
        t.ok(
          fragments[0]!.keyframes >= 1 && fragments[0]!.frames >= 1,
          `${key}.mkv holds the fragment's frames (${fragments[0]!.frames})`,
        );
        const document = JSON.parse(Buffer.from(await objectBytes(BUCKET, `${key}.json`)).toString('utf8')) as {
          stream: string;
          fragmentNumber: string;
          media: { key: string; bytes: number };
          frames: { record: InferenceRecord; detections: { label: string }[] | null }[];
        };
        // At least once: a frame published twice (its duplicates carry the same idempotencyKey) is stored once, the
        // latest copy.
        const once = new Map(
          records.filter((r) => fragmentKey(r) === key).map((r) => [recordOf(r).idempotencyKey, recordOf(r)]),
        );
        const expected = [...once.values()].sort((a, b) => a.frameTimecode - b.frameTimecode);
        t.match(
          document,
          { stream, fragmentNumber, media: { key: `${key}.mkv` } },
          `${key}.json names its fragment and media`,
        );
        t.same(
          document.frames.map((f) => f.record),
          expected,
          `${key}.json holds the fragment's records`,
        );
        t.ok(
          document.frames.some((f) => (f.detections?.length ?? 0) > 0),
          `${key}.json holds the detections`,
        );
      }
    });

    await t.test(
      'a stream KVS no longer has: its fragments come back in batchItemFailures, the others are stored',
      async (t) => {
        // Prepare
        process.env.RESULTS_BUCKET = BUCKET_2;
        const [kept, deleted] = STREAMS as [string, string];
        published.stack.kvs.deleteStream(deleted);
        const failing = records.filter(
          (r) => recordOf(r).streamName === deleted && detectedFragments.has(fragmentKey(r)),
        );
        t.ok(failing.length > 0, `${failing.length} records of ${deleted} are in fragments with detections`);

        // Act
        const { value, lines } = await captureLogLines(() => handler(kinesisEvent(records, published.dataStream)));

        // Assess
        t.same(
          value.batchItemFailures.map((f) => f.itemIdentifier),
          failing.map((r) => r.sequenceNumber),
          "exactly the failed fragments' records, to be retried",
        );
        const failedLines = lines.filter((l) => l.event === 'fragment-store-failed');
        t.equal(failedLines.length, new Set(failing.map(fragmentKey)).size, 'each failed fragment logged');
        t.ok(
          failedLines.every(
            (l) =>
              l.level === 'error' &&
              l.stream === deleted &&
              (l.error as { name: string }).name === 'ResourceNotFoundException',
          ),
          'with the stream and the error',
        );
        const keptFragments = [...detectedFragments].filter((f) => f.startsWith(`${kept}/`));
        t.same(
          await keysOf(BUCKET_2),
          keptFragments.flatMap((f) => [`${f}.json`, `${f}.mkv`]).sort(),
          `the fragments of ${kept} are stored`,
        );
      },
    );
  },
);

t.test(
  'frames that are not Object Detection answers: other JSON truncated, binary answers by size, errors, unknown ' +
    'versions',
  async (t) => {
    // Prepare
    const base = recordOf(records[0]!);
    const { result: _result, ...withoutResult } = base;
    const big = { labels: Array.from({ length: 500 }, (_, i) => `label-${i}`) };
    const frame = (record: Record<string, unknown>) => ({
      sequenceNumber: '1',
      record: { ...withoutResult, ...record } as never,
    });

    // Act
    const small = describeFrame(frame({ result: { label: 'cat', confidence: 0.9 } }), MIN_SCORE);
    const truncated = describeFrame(frame({ result: big }), MIN_SCORE);
    const binary = describeFrame(
      frame({ resultBase64: Buffer.alloc(1000).toString('base64'), resultContentType: 'application/x-protobuf' }),
      MIN_SCORE,
    );
    const failed = describeFrame(
      frame({ error: { stage: 'inference', code: 'ENDPOINT_TIMEOUT', message: 'timed out' } }),
      MIN_SCORE,
    );
    const v2 = { ...records[0]!, data: Buffer.from(JSON.stringify({ ...base, version: 2 })) };
    const { value, lines } = await captureLogLines(() => handler(kinesisEvent([v2], published.dataStream)));

    // Assess
    t.match(
      small,
      { detections: null, line: { event: 'frame', result: { label: 'cat', confidence: 0.9 } } },
      'small JSON answers are logged as they are',
    );
    t.equal((truncated.line.resultTruncated as string).length, MAX_RESULT_CHARS, 'large ones truncated to 2 KB');
    t.equal(truncated.line.resultChars, JSON.stringify(big).length);
    t.notOk('result' in truncated.line);
    t.match(
      binary.line,
      { resultBase64Bytes: 1000, resultContentType: 'application/x-protobuf' },
      'binary answers noted by size',
    );
    t.match(
      failed.line,
      { level: 'warn', error: { code: 'ENDPOINT_TIMEOUT' } },
      'failed frames logged with their error',
    );
    t.same(value, { batchItemFailures: [] });
    t.match(
      lines,
      [
        { level: 'warn', event: 'unknown-record-version', version: 2 },
        { event: 'frame', stream: base.streamName },
        { event: 'batch' },
      ],
      'an unknown version is warned about and read anyway',
    );
  },
);
