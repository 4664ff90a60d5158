// The parser on real Kinesis Video Streams captures, checked against libavformat and a byte scan.

import { readFile } from 'node:fs/promises';
import t from 'tap';
import { capture, capturesSkip } from '../helpers/fixtures.js';
import { errorsOf, fragmentsOf, framesOf, parseChunks, summarize } from '../helpers/parse.js';
import { libavCounts, scanTagValues, splitDocuments } from '../helpers/reference-reader.js';

t.test(
  'GetMedia output: one fragment per EBML document, with the KVS tags and frame counts an independent reader finds',
  { skip: capturesSkip },
  async (t) => {
    // Prepare
    const bytes = await readFile(capture('output_get_media.mkv'));
    const documents = await splitDocuments(bytes, t.testdir());

    // Act
    const events = parseChunks(bytes);
    const fragments = fragmentsOf(events);

    // Assess
    t.same(errorsOf(events), [], 'no errors');
    t.equal(fragments.length, documents.length, 'as many fragments as EBML documents');
    t.same(
      fragments.map((f) => f.fragmentNumber),
      scanTagValues(bytes, 'AWS_KINESISVIDEO_FRAGMENT_NUMBER'),
    );
    t.same(
      fragments.map((f) => f.continuationToken),
      scanTagValues(bytes, 'AWS_KINESISVIDEO_CONTINUATION_TOKEN'),
    );
    t.same(
      fragments.map((f) => String(f.millisBehindNow)),
      scanTagValues(bytes, 'AWS_KINESISVIDEO_MILLIS_BEHIND_NOW'),
    );
    t.same(
      fragments.map((f) => f.serverTimestamp),
      scanTagValues(bytes, 'AWS_KINESISVIDEO_SERVER_TIMESTAMP').map((s) => Math.round(Number(s) * 1000)),
    );
    t.same(
      fragments.map((f) => f.producerTimestamp),
      scanTagValues(bytes, 'AWS_KINESISVIDEO_PRODUCER_TIMESTAMP').map((s) => Math.round(Number(s) * 1000)),
    );
    t.equal(fragments[0]!.serverTimestamp, 1511852109126, 'seconds.millis read as epoch milliseconds');
    t.equal(fragments[0]!.tags.MAJOR_BRAND, 'M4V ', "the producer's own tags are kept");
    for (const [i, path] of documents.entries()) {
      const reference = await libavCounts(path);
      t.same(
        { frames: fragments[i]!.frames, keyframes: fragments[i]!.keyframes },
        reference,
        `fragment ${i} frame counts`,
      );
    }
    const frames = framesOf(events);
    t.ok(frames.every((f) => f.track.codecId === 'V_MPEG4/ISO/AVC' && f.track.width === 640 && f.track.height === 360));
    t.same(
      frames.filter((f) => f.keyframe).map((f) => f.timecodeMs),
      [0, 2000, 4000, 6000, 8000],
      'keyframe timecodes',
    );
  },
);

for (const name of ['vogels_480.mkv', 'bezos_vogels.mkv']) {
  t.test(
    `${name}: a plain Matroska file is a stream whose fragments are its clusters`,
    { skip: capturesSkip },
    async (t) => {
      // Prepare
      const path = capture(name);
      const bytes = await readFile(path);
      const reference = await libavCounts(path);

      // Act
      const events = parseChunks(bytes);
      const fragments = fragmentsOf(events);
      const clusters = bytes.toString('latin1').split('\x1f\x43\xb6\x75').length - 1;

      // Assess
      t.same(errorsOf(events), []);
      t.equal(fragments.length, clusters, 'one fragment per cluster');
      t.ok(
        fragments.every((f) => f.fragmentNumber === null),
        'no KVS fragment numbers',
      );
      t.equal(framesOf(events).length, reference.frames, 'video frames as libavformat counts them');
      t.equal(
        framesOf(events).filter((f) => f.keyframe).length,
        reference.keyframes,
        'keyframes as libavformat counts them',
      );
      t.equal(
        fragments.reduce((n, f) => n + f.frames, 0),
        reference.frames,
        'fragment frame counts add up',
      );
    },
  );
}

t.test('vogels_480.mkv: with H.264 and AAC tracks, only video frames come out', { skip: capturesSkip }, async (t) => {
  const events = parseChunks(await readFile(capture('vogels_480.mkv')));
  const tracks = events.find((e) => e.type === 'tracks');
  t.same(tracks?.type === 'tracks' && tracks.tracks.map((x) => x.codecId), ['V_MPEG4/ISO/AVC', 'A_AAC']);
  t.ok(framesOf(events).every((f) => f.track.number === 1));
});

t.test('a fragment with tags and no cluster is still a fragment', { skip: capturesSkip }, async (t) => {
  const events = parseChunks(await readFile(capture('empty-mkv-with-tags.mkv')));
  t.same(errorsOf(events), []);
  t.match(fragmentsOf(events), [
    {
      index: 0,
      fragmentNumber: '91343852338378294813695855977007281634605393997',
      serverTimestamp: 1516124526822,
      frames: 0,
    },
  ]);
});

t.test('tags inside and after a known-size segment all land on the fragment', { skip: capturesSkip }, async (t) => {
  const events = parseChunks(await readFile(capture('test_tags_empty_cluster.mkv')));
  t.same(errorsOf(events), []);
  const fragments = fragmentsOf(events);
  t.equal(fragments.length, 1);
  t.same(Object.keys(fragments[0]!.tags), ['testTag_0', 'testTag_1', 'testTag_2', 'testTag_3', 'testTag_4']);
});

t.test('every way of cutting a real capture into chunks gives the same events', { skip: capturesSkip }, async (t) => {
  const bytes = await readFile(capture('output_get_media.mkv'));
  const whole = summarize(parseChunks(bytes));
  for (const sizes of [[1], [2, 3, 5, 7], [4096], [65536, 1, 13]]) {
    t.same(summarize(parseChunks(bytes, sizes)), whole, `chunks of ${sizes.join(',')}`);
  }
});

t.test('frames are views into the pushed chunk, not copies', { skip: capturesSkip }, async (t) => {
  const bytes = await readFile(capture('output_get_media.mkv'));
  const frames = framesOf(parseChunks(bytes));
  t.ok(frames.length > 0);
  t.ok(
    frames.every((f) => f.data.buffer === bytes.buffer),
    'every frame shares the input ArrayBuffer',
  );
});

t.test(
  'a truncated capture delivers every complete fragment, then MKV_TRUNCATED with the offset',
  { skip: capturesSkip },
  async (t) => {
    const bytes = await readFile(capture('output_get_media.mkv'));
    const complete = fragmentsOf(parseChunks(bytes));
    for (const cut of [1_000_000, 1_523_300, 2_400_000, 60]) {
      const events = parseChunks(bytes.subarray(0, cut), [8192]);
      const errors = errorsOf(events);
      t.equal(errors.length, 1, `cut at ${cut}: one error`);
      t.equal(errors[0]!.code, 'MKV_TRUNCATED');
      t.ok(errors[0]!.offset! <= cut && errors[0]!.offset! >= 0, `offset ${errors[0]!.offset} within the input`);
      const fragments = fragmentsOf(events);
      t.same(
        fragments,
        complete.filter((f) => f.index < fragments.length),
        'the complete fragments, unchanged',
      );
      const present = complete.filter((_, i) => (complete[i + 1]?.offset ?? Infinity) <= cut).length;
      t.equal(fragments.length, present, 'every fragment that ended before the cut');
    }
  },
);
