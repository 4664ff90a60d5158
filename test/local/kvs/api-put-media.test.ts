// PutMedia over plain HTTP (as producers send it) and file replay, read back with the real GetMedia
// client; ffprobe, where installed, must accept what GetMedia sends.

import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { type ClientRequest, request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateStreamCommand } from '@aws-sdk/client-kinesis-video';
import { GetMediaCommand } from '@aws-sdk/client-kinesis-video-media';
import t from 'tap';
import { generateFixture } from '../../../src/local/fixtures/index.js';
import {
  controlClient,
  dataEndpoint,
  eventually,
  mediaClient,
  producerMkv,
  readBody,
  startServer,
} from './api-helpers.js';

type Body = AsyncIterable<Uint8Array> & { destroy(): void };

const run = promisify(execFile);

/** A skip message when ffprobe is not on the PATH, false when it is. */
async function ffprobeSkip(): Promise<string | false> {
  try {
    await run('ffprobe', ['-version']);
    return false;
  } catch {
    return 'ffprobe is not on the PATH: not checking that it accepts a GetMedia body';
  }
}

interface PutMediaResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body's lines parsed as JSON (acks), or the error document. */
  lines: unknown[];
}

/**
 * Opens a chunked PutMedia request, the way the KVS producer SDK streams one: the caller writes the body and ends it.
 */
function openPutMedia(
  endpoint: string,
  headers: Record<string, string>,
): { req: ClientRequest; response: Promise<PutMediaResponse> } {
  const req = request(`${endpoint}/putMedia`, {
    method: 'POST',
    headers: { ...headers, 'transfer-encoding': 'chunked' },
  });
  const response = new Promise<PutMediaResponse>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          lines: text
            .split('\n')
            .filter((line) => line.trim() !== '')
            .map((line) => JSON.parse(line)),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  return { req, response };
}

/** POSTs a file as a chunked PutMedia body. */
function putMedia(endpoint: string, headers: Record<string, string>, path: string): Promise<PutMediaResponse> {
  const { req, response } = openPutMedia(endpoint, headers);
  createReadStream(path, { highWaterMark: 16 * 1024 }).pipe(req);
  return response;
}

t.test(
  'PutMedia of an H.264 file acks each fragment; GetMedia EARLIEST returns its frames, and ffprobe accepts them',
  async (t) => {
    // Prepare: 3 s at 10 fps, a keyframe every second: 3 fragments of 10 frames.
    const dir = t.testdir();
    const fixture = await generateFixture({
      path: join(dir, 'in.mkv'),
      width: 160,
      height: 120,
      fps: 10,
      gopSeconds: 1,
      durationSeconds: 3,
    });
    const server = await startServer(t);
    const control = controlClient(t, server);
    server.createStream('cam', { retentionHours: 24 });
    const endpoint = await dataEndpoint(control, 'cam', 'PUT_MEDIA');
    const producerStart = 1_700_000_000_000;

    // Act
    const put = await putMedia(
      endpoint,
      {
        'x-amzn-stream-name': 'cam',
        'x-amzn-fragment-timecode-type': 'RELATIVE',
        'x-amzn-producer-start-timestamp': String(producerStart / 1000),
      },
      fixture.path,
    );
    const media = await mediaClient(t, control, 'cam');
    const output = await media.send(
      new GetMediaCommand({ StreamName: 'cam', StartSelector: { StartSelectorType: 'EARLIEST' } }),
    );
    const chunks: Uint8Array[] = [];
    const payload = output.Payload as unknown as Body;
    const tee = (async function* () {
      for await (const chunk of payload) {
        chunks.push(chunk);
        yield chunk;
      }
    })();
    const read = await readBody(
      Object.assign(tee, { destroy: () => payload.destroy() }),
      (r) => r.frames.length === fixture.frames,
    );

    // Assess: the acks
    t.equal(put.status, 200);
    t.equal(put.headers['content-type'], 'application/json');
    const acks = put.lines as { EventType: string; FragmentNumber?: string; FragmentTimecode: number }[];
    t.same(
      acks.filter((a) => a.EventType === 'PERSISTED').map((a) => a.FragmentTimecode),
      [0, 1000, 2000],
    );
    t.notOk(
      acks.some((a) => a.EventType === 'ERROR'),
      'no ERROR ack',
    );
    // ... GetMedia's view of them
    t.equal(fixture.frames, 30);
    t.equal(read.frames.length, 30);
    t.equal(read.frames.filter((f) => f.keyframe).length, fixture.keyframes);
    t.same(
      read.fragmentNumbers,
      acks.filter((a) => a.EventType === 'PERSISTED').map((a) => a.FragmentNumber),
    );
    t.same(
      read.fragments.map((f) => f.producerTimestamp),
      [producerStart, producerStart + 1000],
    );
    t.same(
      read.tracks[0]?.map((track) => [track.codecId, track.width, track.height]),
      [['V_MPEG4/ISO/AVC', 160, 120]],
    );
    // ... and ffprobe's
    await t.test('ffprobe decodes every frame of the GetMedia body', { skip: await ffprobeSkip() }, async (t) => {
      const saved = join(dir, 'getmedia.webm');
      await writeFile(saved, Buffer.concat(chunks));
      const args = [
        '-v',
        'error',
        '-count_frames',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=codec_name,width,height,nb_read_frames',
        '-of',
        'json',
        saved,
      ];
      const probe = await run('ffprobe', args);
      const stream = (JSON.parse(probe.stdout) as { streams: Record<string, unknown>[] }).streams[0];
      // ffprobe says this of every document after the first, as of real KVS captures (output_get_media.mkv): each
      // fragment is its own EBML document with an unknown-size Segment. Anything else would be a real complaint.
      const complaints = probe.stderr
        .split('\n')
        .filter((line) => line !== '' && !/unknown-length element with ID 0x18538067/.test(line));
      t.same(complaints, [], 'ffprobe complains of nothing real KVS output does not also cause');
      t.match(stream, { codec_name: 'h264', width: 160, height: 120, nb_read_frames: '30' });
    });
  },
);

t.test('PutMedia refuses an unknown stream and a missing timecode type with AWS errors', async (t) => {
  // Prepare
  const dir = t.testdir({ 'empty.mkv': '' });
  const server = await startServer(t);
  server.createStream('cam');

  // Act
  const unknown = await putMedia(
    server.url,
    { 'x-amzn-stream-name': 'ghost', 'x-amzn-fragment-timecode-type': 'ABSOLUTE' },
    join(dir, 'empty.mkv'),
  );
  const noType = await putMedia(server.url, { 'x-amzn-stream-name': 'cam' }, join(dir, 'empty.mkv'));

  // Assess
  t.equal(unknown.status, 404);
  t.equal(unknown.headers['x-amzn-errortype'], 'ResourceNotFoundException');
  t.match(unknown.lines, [{ message: /ghost/ }]);
  t.equal(noType.status, 400);
  t.equal(noType.headers['x-amzn-errortype'], 'InvalidArgumentException');
  t.match(noType.lines, [{ message: /x-amzn-fragment-timecode-type/ }]);
});

/** PutMedia headers for `stream`, RELATIVE timecodes from a fixed producer start. */
const producerHeaders = (stream: string): Record<string, string> => ({
  'x-amzn-stream-name': stream,
  'x-amzn-fragment-timecode-type': 'RELATIVE',
  'x-amzn-producer-start-timestamp': '1700000000',
});

const ackTypes = (response: PutMediaResponse): unknown[] =>
  (response.lines as { EventType: string }[]).map((ack) => ack.EventType);

t.test(
  'a second concurrent PutMedia on a stream is ConnectionLimitExceededException; the next one after the first ends ' +
    'is taken',
  async (t) => {
    // Prepare: a producer holds `cam` open, its whole clip sent but the body not ended; `other` has no producer.
    const clip = producerMkv(1, [
      { timecode: 0, offsets: [0, 40] },
      { timecode: 1000, offsets: [0, 40] },
    ]);
    const path = join(t.testdir({ 'clip.mkv': clip }), 'clip.mkv');
    const server = await startServer(t);
    server.createStream('cam', { retentionHours: 24 });
    server.createStream('other', { retentionHours: 24 });
    const first = openPutMedia(server.url, producerHeaders('cam'));
    first.req.write(clip);
    await eventually(() => server.registry.get('cam')!.producing);

    // Act
    const second = await putMedia(server.url, producerHeaders('cam'), path);
    const elsewhere = await putMedia(server.url, producerHeaders('other'), path);
    first.req.end();
    const firstDone = await first.response;
    const next = await putMedia(server.url, producerHeaders('cam'), path);

    // Assess
    t.equal(second.status, 400);
    t.equal(second.headers['x-amzn-errortype'], 'ConnectionLimitExceededException');
    t.match(second.lines, [{ message: /stream cam already has a PutMedia connection/ }]);
    const persistedTwice = ['BUFFERING', 'RECEIVED', 'PERSISTED', 'BUFFERING', 'RECEIVED', 'PERSISTED'];
    t.same(ackTypes(elsewhere), persistedTwice, 'another stream takes its own producer meanwhile');
    t.same(ackTypes(firstDone), persistedTwice, 'the first connection is unaffected');
    t.same(ackTypes(next), persistedTwice);
    t.equal(server.streamLog('cam').count, 4, 'the refused connection added nothing');
  },
);

t.test(
  'PutMedia to a stream with DataRetentionInHours 0 acks RECEIVED, never PERSISTED; GetMedia still reads the fragments',
  async (t) => {
    // Prepare: the stream created through the SDK without a retention, as KVS defaults it.
    const clip = producerMkv(1, [
      { timecode: 0, offsets: [0, 40] },
      { timecode: 1000, offsets: [0, 40] },
    ]);
    const path = join(t.testdir({ 'clip.mkv': clip }), 'clip.mkv');
    const server = await startServer(t);
    const control = controlClient(t, server);
    await control.send(new CreateStreamCommand({ StreamName: 'live-only' }));

    // Act
    const put = await putMedia(
      await dataEndpoint(control, 'live-only', 'PUT_MEDIA'),
      producerHeaders('live-only'),
      path,
    );
    const media = await mediaClient(t, control, 'live-only');
    const output = await media.send(
      new GetMediaCommand({ StreamName: 'live-only', StartSelector: { StartSelectorType: 'EARLIEST' } }),
    );
    const read = await readBody(output.Payload as unknown as Body, (r) => r.frames.length === 4);

    // Assess
    t.same(ackTypes(put), ['BUFFERING', 'RECEIVED', 'BUFFERING', 'RECEIVED']);
    t.same(read.payloads, ['frame 0', 'frame 40', 'frame 1000', 'frame 1040']);
  },
);

t.test(
  'a fragment spanning more than 10 s is answered with the ERROR ack KVS sends: ErrorCode ' +
    'MAX_FRAGMENT_DURATION_REACHED, ErrorId 4002',
  async (t) => {
    // Prepare: the second fragment's frames span 10.5 s.
    const clip = producerMkv(1, [
      { timecode: 0, offsets: [0, 1000] },
      { timecode: 2000, offsets: [0, 10_500] },
    ]);
    const path = join(t.testdir({ 'clip.mkv': clip }), 'clip.mkv');
    const server = await startServer(t);
    server.createStream('cam', { retentionHours: 24 });

    // Act
    const put = await putMedia(server.url, producerHeaders('cam'), path);

    // Assess
    t.equal(put.status, 200);
    t.same(put.lines.at(-1), {
      EventType: 'ERROR',
      FragmentTimecode: 2000,
      ErrorCode: 'MAX_FRAGMENT_DURATION_REACHED',
      ErrorId: 4002,
    });
    t.equal(server.streamLog('cam').count, 1, 'the fragment before it is kept');
  },
);

t.test('replayFile feeds a stream from a file; a live GetMedia sees its fragments as they are appended', async (t) => {
  // Prepare
  const dir = t.testdir();
  const fixture = await generateFixture({
    path: join(dir, 'in.mkv'),
    width: 160,
    height: 120,
    fps: 10,
    gopSeconds: 1,
    durationSeconds: 2,
  });
  const server = await startServer(t);
  const control = controlClient(t, server);
  server.createStream('replayed');
  const media = await mediaClient(t, control, 'replayed');
  const output = await media.send(
    new GetMediaCommand({ StreamName: 'replayed', StartSelector: { StartSelectorType: 'NOW' } }),
  );
  const reading = readBody(output.Payload as unknown as Body, (r) => r.frames.length === fixture.frames);

  // Act
  await server.replayFile('replayed', fixture.path, { rate: 'max' });

  // Assess
  const read = await reading;
  t.equal(read.frames.length, 20);
  t.equal(read.fragmentNumbers.length, 2);
  t.same(
    read.fragmentNumbers,
    server
      .streamLog('replayed')
      .list({ type: 'SERVER_TIMESTAMP', start: 0, end: Number.MAX_SAFE_INTEGER })
      .map((f) => f.fragmentNumber),
  );
});
