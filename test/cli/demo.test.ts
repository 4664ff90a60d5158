// `kvs-infer demo` as the README runs it: the local stack and a worker in one process, the real
// detector on the demo clip, and a summary built from the records read back from Kinesis.

import t from 'tap';
import { smallClip } from '../../src/local/fixtures/index.js';
import { runCli } from '../helpers/cli.js';
import { TestContainer } from '../helpers/model-container.js';

t.test(
  'the demo infers every I-frame of both demo cameras with the detector and finds the people in the clip',
  async (t) => {
    // Act
    const started = Date.now();
    const result = await runCli(['demo']);

    // Assess
    t.equal(result.code, 0, `exits 0 (${result.stderr.split('\n').slice(-3).join(' | ')})`);
    t.ok(Date.now() - started < 120_000, `done in ${Math.round((Date.now() - started) / 1000)} s, under 2 minutes`);
    for (const stream of ['front-door', 'parking-lot']) {
      // This stream's part of the summary only: up to the next stream's, or the closing line.
      const from = result.stdout.indexOf(`stream ${stream}\n`);
      const next = result.stdout.slice(from + 1).search(/^stream |^\n/m);
      const section = result.stdout.slice(from, next === -1 ? undefined : from + 1 + next);
      // The demo clip: 12 s at a keyframe a second, every I-frame inferred.
      t.match(
        section,
        /I-frames seen 12, sampled 12, inferred 12, failed 0/,
        `${stream}: all 12 I-frames sampled and inferred`,
      );
      t.match(section, /published 12 records for 12 frames/, `${stream}: 12 records read back from Kinesis`);
      t.match(
        section,
        /^ {4}person +\d+ +best 0\.\d\d at \[[\d., ]+\]/m,
        `${stream}: people detected, with an example box`,
      );
      t.match(section, /inference ms: +p50 \d+ +p90 \d+ +p99 \d+ +max \d+/, `${stream}: inference latency percentiles`);
    }
    t.match(
      result.stdout,
      /24 records in Kinesis stream kvs-infer-demo-results, \d+ checkpoints written/,
      'the closing line counts the records',
    );
    t.match(
      result.stderr,
      /front-door 12\/12 published, 12\/12 I-frames read/,
      'progress ends with every frame published',
    );
  },
);

t.test('the demo runs your own files: --stream NAME=FILE, --every, --rate max, the fixed model', async (t) => {
  // Prepare: 4 s at a keyframe every 200 ms: 20 I-frames, 1 in 3 sampled
  const file = await smallClip();

  // Act
  const result = await runCli([
    'demo',
    '--stream',
    `lobby=${file}`,
    '--every',
    '3',
    '--rate',
    'max',
    '--model',
    'fixed',
  ]);

  // Assess
  t.equal(result.code, 0, 'exits 0');
  t.match(
    result.stdout,
    new RegExp(
      /stream lobby\n {2}fragments read \d+, I-frames seen 20, sampled 7, inferred 7, failed 0\n/.source +
        / {2}published 7 records for 7 frames/.source,
    ),
    'I-frames 0, 3, ..., 18 inferred and published',
  );
});

t.test(
  'the demo runs your own model container: --model URL, its answers counted, ' +
    'Object Detection ones with float class ids',
  async (t) => {
    // Prepare: 20 I-frames, 1 in 3 sampled: 7 calls; every other one answered in the built-in algorithm's format.
    const file = await smallClip();
    const container = await TestContainer.start({
      answer: (call) => ({
        contentType: 'application/json',
        body:
          container.calls.indexOf(call) % 2 === 0
            ? '{"prediction": [[0.0, 0.9, 0.1, 0.2, 0.5, 0.6]]}'
            : '{"label": "someone"}',
      }),
    });
    t.teardown(() => container.close());

    // Act
    const result = await runCli([
      'demo',
      '--stream',
      `lobby=${file}`,
      '--every',
      '3',
      '--rate',
      'max',
      '--model',
      container.url,
    ]);

    // Assess
    t.equal(result.code, 0, `exits 0 (${result.stderr.split('\n').slice(-3).join(' | ')})`);
    t.match(result.stderr, `model server (your container at ${container.url})`);
    t.equal(container.calls.length, 7, 'every sampled frame went to the container');
    t.ok(
      container.calls.every((call) => call.headers['content-type'] === 'image/jpeg'),
      'as JPEG',
    );
    t.match(result.stdout, /inferred 7, failed 0\n {2}published 7 records for 7 frames/);
    t.match(
      result.stdout,
      /^ {4}person +4 +best 0\.90 at \[0\.10, 0\.20, 0\.50, 0\.60\]/m,
      'class id 0.0 read as person',
    );
    t.match(result.stdout, /^ {2}answers not in the Object Detection format \(\{"prediction": \[\.\.\.\]\}\): 3$/m);
  },
);

t.test('a --stream whose file cannot be read fails with its name, before anything starts', async (t) => {
  // Act
  const result = await runCli(['demo', '--stream', 'lobby=/nonexistent/clip.mkv']);

  // Assess
  t.not(result.code, 0, 'exits non-zero');
  t.match(result.stderr, /\/nonexistent\/clip\.mkv/, 'the message names the file');
});
