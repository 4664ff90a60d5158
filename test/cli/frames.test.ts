// `kvs-infer frames`: sampled I-frames written as images, one JSON line each.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { generateFixture } from '../../src/local/fixtures/index.js';
import { runCli } from '../helpers/cli.js';

t.test('writes every 2nd I-frame as a resized PNG and describes each on a JSON line', async (t) => {
  // Prepare: 6 I-frames (one every 0.5 s for 3 s).
  const dir = t.testdir();
  const fixture = await generateFixture({
    path: join(dir, 'in.mkv'),
    width: 320,
    height: 240,
    fps: 10,
    gopSeconds: 0.5,
    durationSeconds: 3,
  });
  const out = join(dir, 'out');

  // Act
  const { code, stdout, stderr } = await runCli([
    'frames',
    fixture.path,
    '--every',
    '2',
    '--type',
    'image/png',
    '--width',
    '160',
    '--out',
    out,
  ]);

  // Assess
  t.equal(code, 0, stderr);
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  t.equal(fixture.keyframes, 6);
  t.same(
    lines.map((l) => l.keyframeIndex),
    [0, 2, 4],
  );
  t.same(
    lines.map((l) => l.timecodeMs),
    [0, 1000, 2000],
  );
  t.same(await readdir(out), ['frame-000000.png', 'frame-000002.png', 'frame-000004.png']);
  for (const line of lines) {
    t.same(Object.keys(line), [
      'fragmentNumber',
      'producerTimestamp',
      'serverTimestamp',
      'timecodeMs',
      'keyframeIndex',
      'file',
      'width',
      'height',
      'bytes',
    ]);
    t.match(line, { fragmentNumber: null, width: 160, height: 120 });
    t.equal(line.bytes, (await stat(line.file)).size);
    const meta = await sharp(await readFile(line.file)).metadata();
    t.match(meta, { format: 'png', width: 160, height: 120 });
  }
});

t.test('--sampling-interval writes the first I-frame at or after each tick of the timecodes', async (t) => {
  // Prepare: I-frames every 0.5 s for 3 s; a plain file has no producer timestamps, so its timecodes date the frames.
  const dir = t.testdir();
  const fixture = await generateFixture({
    path: join(dir, 'in.mkv'),
    width: 64,
    height: 48,
    fps: 10,
    gopSeconds: 0.5,
    durationSeconds: 3,
  });

  // Act
  const { code, stdout, stderr } = await runCli([
    'frames',
    fixture.path,
    '--sampling-interval',
    '1200',
    '--out',
    join(dir, 'out'),
  ]);

  // Assess: ticks at 1.2 and 2.4 s.
  t.equal(code, 0, stderr);
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  t.same(
    lines.map((l) => [l.keyframeIndex, l.timecodeMs]),
    [
      [0, 0],
      [3, 1500],
      [5, 2500],
    ],
  );
});

t.test('bad input exits 2 with the error code on stderr', async (t) => {
  const dir = t.testdir();
  const audioOnly = await generateFixture({
    path: join(dir, 'audio.mkv'),
    width: 0,
    height: 0,
    durationSeconds: 1,
    videoless: true,
    audio: true,
  });
  const noVideo = await runCli(['frames', audioOnly.path, '--out', join(dir, 'a')]);
  t.equal(noVideo.code, 2);
  t.match(noVideo.stderr, /^NO_VIDEO_TRACK: /);

  const garbage = await runCli(['frames', '-', '--out', join(dir, 'b')], Buffer.from('not matroska at all'));
  t.equal(garbage.code, 2);
  t.match(garbage.stderr, /^MKV_INVALID: .*byte 0/);
});

t.test('bad options exit 1 naming the option', async (t) => {
  const dir = t.testdir();
  const type = await runCli(['frames', '-', '--out', dir, '--type', 'image/tiff']);
  t.equal(type.code, 1);
  t.match(
    type.stderr,
    new RegExp(
      /BAD_IMAGE_REQUEST: unsupported content type "image\/tiff": use one of image\/jpeg, /.source +
        /application\/x-image, image\/png, image\/bmp, image\/gif/.source,
    ),
  );
  const quality = await runCli(['frames', '-', '--out', dir, '--quality', '101']);
  t.equal(quality.code, 1);
  t.match(quality.stderr, /quality must be an integer from 1 to 100, got 101/);
  const every = await runCli(['frames', '-', '--out', dir, '--every', '0']);
  t.equal(every.code, 1);
  t.match(every.stderr, /--every must be a positive integer, got "0"/);
  const interval = await runCli(['frames', '-', '--out', dir, '--sampling-interval', '1.5']);
  t.equal(interval.code, 1);
  t.match(interval.stderr, /--sampling-interval must be a positive integer, got "1.5"/);
  const both = await runCli(['frames', '-', '--out', dir, '--every', '2', '--sampling-interval', '1000']);
  t.equal(both.code, 1);
  t.match(both.stderr, /--every and --sampling-interval exclude each other: give one/);
  const out = await runCli(['frames', '-']);
  t.equal(out.code, 1);
  t.match(out.stderr, /--out DIR is required/);
});
