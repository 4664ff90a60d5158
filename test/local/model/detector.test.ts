// The `detector` backend through the real SDK: CenterNet finds people in human's sample photo and in
// an I-frame of a real KVS capture (as JPEG, PNG and BMP), answering in the Object Detection format.

import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvokeEndpointCommand, type ModelError, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import t from 'tap';
import { demoClip } from '../../../src/local/demo-clip.js';
import { COCO_LABELS, ModelServer, type Prediction } from '../../../src/local/model/index.js';
import { extractImages, type FramePool, type ImageContentType } from '../../../src/native/index.js';
import { capture, capturesSkip } from '../../helpers/fixtures.js';
import { poolFor } from '../../native/helpers/pool.js';

const SAMPLES = join(
  dirname(createRequire(import.meta.url).resolve('@vladmandic/human')),
  '..',
  'assets',
  'samples.jpg',
);
const PERSON = COCO_LABELS.indexOf('person');

/** The first I-frame of a capture, as `contentType`, through the project's own decode pool. */
async function firstIFrame(pool: FramePool, path: string, contentType: ImageContentType): Promise<Uint8Array> {
  for await (const { image, error } of extractImages(createReadStream(path), {
    pool,
    inferenceInterval: 1,
    output: { contentType },
  })) {
    if (error) throw error;
    return image.data;
  }
  throw new Error(`no I-frame in ${path}`);
}

t.test('detector backend', async (t) => {
  // One server, one model load, for every subtest.
  const loadStarted = performance.now();
  const server = await ModelServer.create({ backend: 'detector', endpointName: 'centernet' });
  t.comment(`model loaded in ${(performance.now() - loadStarted).toFixed(0)} ms`);
  t.teardown(() => server.close());
  const client = new SageMakerRuntimeClient({
    region: 'us-east-1',
    endpoint: server.url,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
  t.teardown(() => client.destroy());
  const detect = async (body: Uint8Array, contentType: string): Promise<Prediction[]> => {
    const answer = await client.send(
      new InvokeEndpointCommand({
        EndpointName: 'centernet',
        ContentType: contentType,
        Accept: 'application/json',
        Body: body,
      }),
    );
    t.equal(answer.ContentType, 'application/json');
    const { prediction } = JSON.parse(Buffer.from(answer.Body!).toString()) as { prediction: Prediction[] };
    return prediction;
  };
  const bestPerson = (predictions: Prediction[]) => predictions.find(([classId]) => classId === PERSON);

  t.test('finds a person scoring over 0.5 in human samples.jpg, boxes normalised, best first', async (t) => {
    // Prepare
    const jpeg = await readFile(SAMPLES);

    // Act
    const predictions = await detect(jpeg, 'image/jpeg');

    // Assess
    const person = bestPerson(predictions);
    t.ok(person && person[1] > 0.5, `best person ${JSON.stringify(person)}`);
    t.ok(predictions.length >= 5, `${predictions.length} detections`);
    for (const [classId, score, xmin, ymin, xmax, ymax] of predictions) {
      t.ok(
        Number.isInteger(classId) && classId >= 0 && classId < 80 && score > 0.2 && score <= 1,
        'class index and score',
      );
      t.ok(0 <= xmin && xmin <= xmax && xmax <= 1 && 0 <= ymin && ymin <= ymax && ymax <= 1, 'box inside the picture');
    }
    t.same(
      [...predictions].sort((a, b) => b[1] - a[1]),
      predictions,
      'best first',
    );
  });

  t.test(
    'writes every number as a float, class ids `0.0`, as the built-in Object Detection algorithm does',
    async (t) => {
      // Act
      const answer = await client.send(
        new InvokeEndpointCommand({
          EndpointName: 'centernet',
          ContentType: 'image/jpeg',
          Body: await readFile(SAMPLES),
        }),
      );

      // Assess
      const text = Buffer.from(answer.Body!).toString();
      const rows = [...text.matchAll(/\[([^[\]]+)\]/g)].map((match) => match[1]!.split(', '));
      t.equal(
        rows.length,
        (JSON.parse(text) as { prediction: Prediction[] }).prediction.length,
        `one row per detection: ${text.slice(0, 80)}...`,
      );
      t.ok(
        rows.every((row) => /^\d+\.0$/.test(row[0]!)),
        'every class id a whole float',
      );
      t.ok(
        rows.every((row) => row.length === 6 && row.every((value) => !/^-?\d+$/.test(value))),
        'no number written as an integer',
      );
    },
  );

  t.test('finds a person scoring over 0.5 in a frame of the demo clip', async (t) => {
    // Prepare: the clip `kvs-infer local` serves by default, cached across runs.
    const clip = await demoClip(join(tmpdir(), 'kvs-infer-test-cache'));
    const pool = await poolFor(t, { size: 1 });
    const image = await firstIFrame(pool, clip, 'image/jpeg');

    // Act
    const predictions = await detect(image, 'image/jpeg');

    // Assess
    const person = bestPerson(predictions);
    t.ok(person && person[1] > 0.5, `best person ${JSON.stringify(person)}`);
  });

  t.test(
    'finds a person scoring over 0.5 in the first I-frame of bezos_vogels.mkv, as JPEG, PNG and BMP',
    { skip: capturesSkip },
    async (t) => {
      const pool = await poolFor(t, { size: 1 });
      for (const contentType of ['image/jpeg', 'image/png', 'image/bmp'] as const) {
        // Prepare
        const image = await firstIFrame(pool, capture('bezos_vogels.mkv'), contentType);

        // Act
        const predictions = await detect(image, contentType);

        // Assess
        const person = bestPerson(predictions);
        t.ok(person && person[1] > 0.5, `${contentType}: best person ${JSON.stringify(person)}`);
        // The speaker fills most of the frame's height.
        t.ok(person && person[5] - person[3] > 0.5, `${contentType}: a tall box`);
      }
    },
  );

  t.test('an image it cannot decode is a ModelError with the container status 400', async (t) => {
    // Act
    const error = await client
      .send(
        new InvokeEndpointCommand({
          EndpointName: 'centernet',
          ContentType: 'image/jpeg',
          Body: Buffer.from([0xff, 0xd8, 0xff, 0, 0, 0]),
        }),
      )
      .then(
        () => null,
        (error: ModelError) => error,
      );

    // Assess
    t.match(error, { name: 'ModelError', OriginalStatusCode: 400, $metadata: { httpStatusCode: 424 } });
    t.match(JSON.parse(error!.OriginalMessage!), {
      code: 400,
      type: 'UNDECODABLE_INPUT',
      message: /cannot decode the image/,
    });
  });
});
