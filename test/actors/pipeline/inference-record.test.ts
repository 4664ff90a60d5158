// The published record: kvs-infer's versioned fields and, beside them, KIT's (streamName, fragmentMetaData,
// frameMetaData, and sageMakerOutput on records with an answer).

import t from 'tap';
import { buildRecord, type FrameIdentity, RECORD_VERSION } from '../../../src/actors/pipeline/inference-record.js';

const NUMBER = '91343852333181432392682062607743920146159169392';
const FRAGMENT_TEXT =
  `FragmentMetadata(fragmentNumberString=${NUMBER}, serverSideTimestampMillis=1763770000123, ` +
  `producerSideTimestampMillis=1763769999800, ` +
  `fragmentNumber=${NUMBER}, success=true, errorId=0, errorCode=null, ` +
  `millisBehindNow=OptionalLong[412], continuationToken=Optional[${NUMBER}])`;
const FRAME_TEXT = 'Frame(trackNumber=1, timeCode=0, keyFrame=true, invisible=false, discardable=false, lacing=NO)';
const context = { contentType: 'image/jpeg', endpoint: 'my-endpoint', workerId: 'w1', now: 1763770000535 };

function identity(): FrameIdentity {
  return {
    streamName: 'front-door',
    fragmentNumber: NUMBER,
    serverTimestamp: 1763770000123,
    producerTimestamp: 1763769999800,
    frameTimecode: 4000,
    keyframeIndex: 4,
    kit: {
      fragment: { millisBehindNow: 412, continuationToken: NUMBER },
      block: { trackNumber: 1, blockTimecode: 0, keyframe: true, invisible: false, discardable: false },
    },
  };
}

t.test("a JSON answer: `result` parsed, and KIT's fields with the answer's very bytes in base64", async (t) => {
  // Prepare: spacing that parsing and printing again would not keep
  const answer = Buffer.from('{ "prediction": [[0, 0.73, 0.58, 0.05, 1.0, 0.97]] }\n');

  // Act
  const record = buildRecord(identity(), context, {
    answer,
    answerContentType: 'application/json',
    attempts: 1,
    inferenceLatencyMs: 231,
  });

  // Assess
  t.same(
    record,
    {
      version: RECORD_VERSION,
      idempotencyKey: `front-door/${NUMBER}/4000`,
      streamName: 'front-door',
      fragmentNumber: NUMBER,
      serverTimestamp: 1763770000123,
      producerTimestamp: 1763769999800,
      frameTimecode: 4000,
      keyframeIndex: 4,
      fragmentMetaData: FRAGMENT_TEXT,
      frameMetaData: FRAME_TEXT,
      contentType: 'image/jpeg',
      endpoint: 'my-endpoint',
      workerId: 'w1',
      attempts: 1,
      inferenceLatencyMs: 231,
      ingestToPublishMs: 412,
      publishedAt: 1763770000535,
      resultContentType: 'application/json',
      result: { prediction: [[0, 0.73, 0.58, 0.05, 1.0, 0.97]] },
      sageMakerOutput: answer.toString('base64'),
    },
    "every field, and nothing of what KIT's strings are made from",
  );
  t.ok(
    Buffer.from(record.sageMakerOutput!, 'base64').equals(answer),
    'sageMakerOutput decodes to the answer byte for byte',
  );
});

t.test('a binary answer: resultBase64 and sageMakerOutput are the same base64', async (t) => {
  // Prepare
  const answer = Buffer.from([0x08, 0x96, 0x01, 0xff, 0x00]);

  // Act
  const record = buildRecord(identity(), context, {
    answer,
    answerContentType: 'application/x-protobuf',
    attempts: 2,
    inferenceLatencyMs: 10,
  });

  // Assess
  t.equal(record.resultBase64, answer.toString('base64'));
  t.equal(record.sageMakerOutput, record.resultBase64);
  t.notOk('result' in record, 'no result');
  t.match(record, { fragmentMetaData: FRAGMENT_TEXT, frameMetaData: FRAME_TEXT });
});

t.test(
  "an error record: KIT's streamName, fragmentMetaData and frameMetaData, no sageMakerOutput, and the error",
  async (t) => {
    // Act
    const error = { stage: 'inference' as const, code: 'ENDPOINT_REJECTED', message: 'ValidationError' };
    const record = buildRecord(identity(), context, { error, attempts: 1, inferenceLatencyMs: 5 });

    // Assess
    t.match(record, { streamName: 'front-door', fragmentMetaData: FRAGMENT_TEXT, frameMetaData: FRAME_TEXT, error });
    t.notOk('sageMakerOutput' in record, 'no sageMakerOutput');
    t.notOk('result' in record || 'resultBase64' in record, 'no result');
  },
);

t.test('fragmentMetaData is what the fragment holds when the record is built', async (t) => {
  // Prepare: identity taken while the fragment's closing tags were still to come
  const frame = identity();
  const fragment = { millisBehindNow: null as number | null, continuationToken: null as string | null };
  frame.kit.fragment = fragment;
  const before = buildRecord(frame, context, {
    answer: Buffer.from('{}'),
    answerContentType: 'application/json',
    attempts: 1,
    inferenceLatencyMs: 1,
  });

  // Act: the parser fills in the tags KVS sends after the cluster
  fragment.millisBehindNow = 412;
  fragment.continuationToken = NUMBER;
  const after = buildRecord(frame, context, {
    answer: Buffer.from('{}'),
    answerContentType: 'application/json',
    attempts: 1,
    inferenceLatencyMs: 1,
  });

  // Assess
  t.match(before.fragmentMetaData, /millisBehindNow=OptionalLong\.empty, continuationToken=Optional\.empty\)$/);
  t.equal(after.fragmentMetaData, FRAGMENT_TEXT);
});

t.test('a replayed frame: `replay: true` beside the usual fields; a live one has no replay field', async (t) => {
  // Prepare
  const body = { answer: Buffer.from('{}'), answerContentType: 'application/json', attempts: 1, inferenceLatencyMs: 9 };

  // Act
  const replayed = buildRecord(identity(), { ...context, replay: true }, body);
  const live = buildRecord(identity(), { ...context, replay: false }, body);

  // Assess
  t.equal(replayed.replay, true, 'marked');
  t.same(Object.keys(replayed).slice(12, 15), ['workerId', 'replay', 'attempts'], 'after workerId');
  t.same({ ...replayed, replay: undefined }, { ...live, replay: undefined }, 'every other field as for a live frame');
  t.notOk('replay' in live, 'a live record has no replay field');
});
