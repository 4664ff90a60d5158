// `kvs-infer probe`: one JSON document, exit 0 for a clean input and 2 when errors were found.

import { readFile } from 'node:fs/promises';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { capture, capturesSkip } from '../helpers/fixtures.js';

t.test(
  'probes a GetMedia capture: tracks, fragments with their KVS metadata, no errors',
  { skip: capturesSkip },
  async (t) => {
    // Act
    const { code, stdout } = await runCli(['probe', capture('output_get_media.mkv')]);

    // Assess
    t.equal(code, 0);
    const report = JSON.parse(stdout);
    t.same(report.tracks, [{ number: 1, type: 'video', codecId: 'V_MPEG4/ISO/AVC', width: 640, height: 360 }]);
    t.equal(report.fragments.length, 5);
    t.same(Object.keys(report.fragments[0]), [
      'index',
      'fragmentNumber',
      'serverTimestamp',
      'producerTimestamp',
      'millisBehindNow',
      'continuationToken',
      'errorCode',
      'errorId',
      'tags',
      'frames',
      'keyframes',
      'offset',
    ]);
    t.match(report.fragments[1], {
      index: 1,
      fragmentNumber: '91343852333181432397633822764885441725874549018',
      serverTimestamp: 1511852110915,
      millisBehindNow: 14155,
      errorCode: null,
      keyframes: 1,
    });
    t.same(report.errors, []);
  },
);

t.test(
  'probes standard input; a truncated stream exits 2 with MKV_TRUNCATED and its offset',
  { skip: capturesSkip },
  async (t) => {
    const bytes = await readFile(capture('output_get_media.mkv'));
    const { code, stdout } = await runCli(['probe', '-'], bytes.subarray(0, 1_200_000));
    t.equal(code, 2);
    const report = JSON.parse(stdout);
    t.equal(report.fragments.length, 2, 'the two complete fragments');
    t.match(report.errors, [{ code: 'MKV_TRUNCATED', offset: Number, message: /input ended at byte 1200000/ }]);
  },
);

t.test('an empty input exits 2 with MKV_EMPTY; garbage with MKV_INVALID at offset 0', async (t) => {
  const empty = await runCli(['probe', '-'], Buffer.alloc(0));
  t.equal(empty.code, 2);
  t.match(JSON.parse(empty.stdout).errors, [{ code: 'MKV_EMPTY', offset: null }]);
  const garbage = await runCli(['probe', '-'], Buffer.from('GIF89a, not a video'));
  t.equal(garbage.code, 2);
  t.match(JSON.parse(garbage.stdout).errors, [{ code: 'MKV_INVALID', offset: 0 }]);
});

t.test('usage errors exit 1 and print the usage', async (t) => {
  const missing = await runCli(['probe']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /USAGE: missing input[\s\S]*usage: kvs-infer probe/);
  const unknown = await runCli(['nonsense']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /unknown command "nonsense"/);
});
