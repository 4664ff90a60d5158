// FramePool failures: each reaches the caller as a FrameError with a stable code, and the pool carries on.

import t from 'tap';
import { generateFixture } from '../../src/local/fixtures/index.js';
import { FrameError, type FrameErrorCode, FramePool, type FrameTask } from '../../src/native/index.js';
import { poolFor } from './helpers/pool.js';
import { referenceKeyframes } from './helpers/reference-decode.js';

/** Resolves to the FrameError code `promise` rejects with (and fails the test if it does not). */
async function codeOf(promise: Promise<unknown>): Promise<FrameErrorCode | 'resolved' | 'other'> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof FrameError ? error.code : 'other';
  }
}

t.test('FramePool errors', async (t) => {
  const pool = await poolFor(t);
  const info = await generateFixture({ path: `${t.testdir()}/clip.mkv`, width: 320, height: 240, durationSeconds: 1 });
  const { codecPrivate, keyframes } = await referenceKeyframes(info.path, 1);
  const good: FrameTask = {
    codecId: 'V_MPEG4/ISO/AVC',
    codecPrivate,
    data: keyframes[0]!.data,
    output: { contentType: 'image/jpeg' },
  };

  t.test('an unknown codec id is UNSUPPORTED_CODEC, naming the id', async (t) => {
    // Act
    const error = await pool.process({ ...good, codecId: 'V_MS/VFW/FOURCC' }).catch((e: unknown) => e);

    // Assess
    t.ok(error instanceof FrameError, 'a FrameError');
    t.match(error, { code: 'UNSUPPORTED_CODEC', message: /V_MS\/VFW\/FOURCC/ }, 'UNSUPPORTED_CODEC naming the id');
  });

  t.test('a garbage access unit is DECODE_FAILED from the worker, and the pool keeps working', async (t) => {
    // Prepare
    const garbage = Buffer.from('not an H.264 access unit '.repeat(40));

    // Act
    const error = await pool.process({ ...good, data: garbage }).catch((e: unknown) => e);
    const after = await Promise.all([pool.process(good), pool.process(good), pool.process(good)]);

    // Assess
    t.ok(error instanceof FrameError, 'a FrameError, though raised on another thread');
    t.match(
      error,
      { code: 'DECODE_FAILED', message: /V_MPEG4\/ISO\/AVC: .*Invalid data/ },
      "DECODE_FAILED with FFmpeg's reason",
    );
    t.same(
      after.map((image) => [image.width, image.height]),
      [
        [320, 240],
        [320, 240],
        [320, 240],
      ],
      'later frames decode',
    );
  });

  t.test('other undecodable input is DECODE_FAILED too', async (t) => {
    // Prepare
    const hevcPrivate = Buffer.from([
      1, 1, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5d, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 1, 0x20, 0, 1, 0, 0,
    ]);

    // Act
    const codes = await Promise.all([
      codeOf(pool.process({ ...good, data: new Uint8Array(0) })),
      codeOf(pool.process({ ...good, data: keyframes[0]!.data.subarray(0, 500) })),
      codeOf(pool.process({ ...good, codecId: 'V_MPEGH/ISO/HEVC', codecPrivate: hevcPrivate })),
    ]);

    // Assess
    t.same(
      codes,
      ['DECODE_FAILED', 'DECODE_FAILED', 'DECODE_FAILED'],
      'empty, truncated, H.264 bytes under an HEVC CodecPrivate',
    );
  });

  t.test('a frame that is not a keyframe decodes to no picture: DECODE_FAILED', async (t) => {
    // Prepare
    const { Demuxer } = await import('node-av/api');
    const demuxer = await Demuxer.open(info.path);
    let delta: Buffer | undefined;
    for (const packet of demuxer.packetsSync(demuxer.video()!.index)) {
      if (!packet) break;
      if (!packet.isKeyframe) delta ??= packet.data!;
      packet.free();
    }
    await demuxer.close();

    // Act
    const error = await pool.process({ ...good, data: delta! }).catch((e: unknown) => e);

    // Assess
    t.match(error, { code: 'DECODE_FAILED', message: /no picture/ }, 'DECODE_FAILED: no picture');
  });

  t.test('a bad image request is BAD_IMAGE_REQUEST', async (t) => {
    // Act
    const codes = await Promise.all(
      [
        { contentType: 'image/jpeg', width: 0 },
        { contentType: 'image/jpeg', height: 1.5 },
        { contentType: 'image/jpeg', width: 100_000 },
        { contentType: 'image/jpeg', quality: 101 },
        { contentType: 'image/webp' },
      ].map((output) => codeOf(pool.process({ ...good, output: output as FrameTask['output'] }))),
    );

    // Assess
    t.same(
      codes,
      Array(5).fill('BAD_IMAGE_REQUEST'),
      'width 0, fractional height, width too large, quality 101, unknown type',
    );
  });

  t.test('an already aborted signal is ABORTED', async (t) => {
    // Act
    const code = await codeOf(pool.process(good, AbortSignal.abort()));

    // Assess
    t.equal(code, 'ABORTED', 'ABORTED');
  });
});

t.test('the pool holds at most size + maxQueue tasks; more is POOL_QUEUE_FULL until some settle', async (t) => {
  // Prepare
  const info = await generateFixture({ path: `${t.testdir()}/clip.mkv`, width: 640, height: 480, durationSeconds: 1 });
  const { codecPrivate, keyframes } = await referenceKeyframes(info.path, 1);
  const pool = await poolFor(t, { size: 1, maxQueue: 2 });
  const task: FrameTask = {
    codecId: 'V_MPEG4/ISO/AVC',
    codecPrivate,
    data: keyframes[0]!.data,
    output: { contentType: 'image/png' },
  };

  // Act
  const first = [1, 2, 3, 4, 5].map(() => codeOf(pool.process(task)));
  const queued = pool.queueSize;
  const firstCodes = await Promise.all(first);
  const later = await codeOf(pool.process(task));

  // Assess
  t.same(
    firstCodes,
    ['resolved', 'resolved', 'resolved', 'POOL_QUEUE_FULL', 'POOL_QUEUE_FULL'],
    'one running and two queued accepted, the rest refused',
  );
  t.equal(queued, 2, 'two waiting behind the running one');
  t.equal(later, 'resolved', 'room again once they settled');
  t.ok(
    pool.utilization > 0.2 && pool.utilization <= 1,
    `utilization ${pool.utilization.toFixed(2)}: the one thread was kept busy`,
  );
});

t.test('a destroyed pool is POOL_CLOSED, for tasks in flight and for new ones', async (t) => {
  // Prepare
  const pool = await FramePool.create({ size: 1 });
  const info = await generateFixture({ path: `${t.testdir()}/clip.mkv`, width: 320, height: 240, durationSeconds: 1 });
  const { codecPrivate, keyframes } = await referenceKeyframes(info.path, 1);
  const task: FrameTask = {
    codecId: 'V_MPEG4/ISO/AVC',
    codecPrivate,
    data: keyframes[0]!.data,
    output: { contentType: 'image/png' },
  };
  const inFlight = [codeOf(pool.process(task)), codeOf(pool.process(task))];

  // Act
  await pool.destroy();

  // Assess
  t.same(await Promise.all(inFlight), ['POOL_CLOSED', 'POOL_CLOSED'], 'tasks in flight');
  t.equal(await codeOf(pool.process(task)), 'POOL_CLOSED', 'a new task');
});

t.test('a pool size or queue bound that is not a usable integer is BAD_POOL_OPTIONS', async (t) => {
  for (const options of [{ size: 0 }, { size: 1.5 }, { size: 1, maxQueue: -1 }]) {
    t.equal(await codeOf(FramePool.create(options)), 'BAD_POOL_OPTIONS', JSON.stringify(options));
  }
});
