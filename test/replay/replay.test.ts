// The replay's reads when GetMediaForFragmentList breaks off: the batch is read again from its first
// fragment not read to its end, and a batch that keeps failing ends the replay with REPLAY_FAILED, its
// progress kept, an error answer that stalls included. Real SDK clients and the local stack, with a proxy in front of
// the archive that cuts bodies.

import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { LogRecord } from '../../src/actors/index.js';
import {
  kinesisClient,
  kinesisVideoArchivedMediaClient,
  kinesisVideoClient,
  sageMakerRuntimeClient,
} from '../../src/aws/clients.js';
import { parseConfig, systemEnvironment } from '../../src/config/index.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalStack } from '../../src/local/index.js';
import { ProgressFile } from '../../src/replay/progress-file.js';
import { replay } from '../../src/replay/replay.js';
import { producerTimestamps, RESULTS, replayStack, STREAM } from '../cli/replay-stack.js';
import { timed } from '../helpers/network.js';

/**
 * A proxy to `target` that destroys the first `cuts` GetMediaForFragmentList answers after `afterBytes` of body
 * (the connection drops mid-body), and notes the fragments each call asks for. `stall`: every such call is answered
 * 500 and half an error body instead, then nothing.
 */
async function cuttingProxy(t: Test, target: string, cuts: number, afterBytes: number, stall = false) {
  const calls = { archive: 0, fragments: [] as string[][] };
  const server = createServer((req, res) => {
    const archive = req.url === '/getMediaForFragmentList';
    const cut = archive && calls.archive++ < cuts;
    if (archive) {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk));
      req.on('end', () => calls.fragments.push((JSON.parse(body) as { Fragments: string[] }).Fragments));
    }
    if (archive && stall) {
      res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'ClientLimitExceededException' });
      res.write('{"message":');
      return;
    }
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      let sent = 0;
      let cutDone = false;
      answer.on('data', (chunk: Buffer) => {
        if (cutDone) return;
        if (cut && sent + chunk.length > afterBytes) {
          // Destroyed a second after the part is flushed (a reader drops what it has not taken when its connection
          // breaks; the second lets it take the part): the headers and part of the body, then a broken connection.
          res.write(chunk.subarray(0, Math.max(0, afterBytes - sent)), () => setTimeout(() => res.destroy(), 1000));
          answer.destroy();
          cutDone = true;
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      answer.on('end', () => {
        if (!cutDone) res.end();
      });
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

/** replay() over the whole stream, its archive reads through `archiveUrl`. */
async function replayThrough(
  t: Test,
  stack: LocalStack,
  archiveUrl: string,
  lines: LogRecord[],
  getMediaIdleTimeoutMillis?: number,
) {
  const { config } = parseConfig(
    {
      streamNames: [STREAM],
      sageMakerEndpoint: 'replay-test',
      kdsStreamName: RESULTS,
      decodeThreadPoolSize: 1,
      inferenceInterval: 1,
      getMediaReconnectBaseMillis: 10,
      getMediaReconnectMaxMillis: 50,
      ...(getMediaIdleTimeoutMillis === undefined ? {} : { getMediaIdleTimeoutMillis }),
    },
    { environment: systemEnvironment() },
  );
  const base = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const clients = {
    kinesisVideo: kinesisVideoClient({ ...base, endpoint: stack.kvs.url }),
    sageMakerRuntime: sageMakerRuntimeClient({ ...base, endpoint: stack.model.url }),
    kinesis: kinesisClient({ ...base, endpoint: stack.kinesis.url }),
  };
  const archived = kinesisVideoArchivedMediaClient({ ...base, endpoint: archiveUrl });
  t.teardown(() => {
    for (const client of [...Object.values(clients), archived]) client.destroy();
  });
  const times = producerTimestamps(stack);
  const range = { start: times[0]!, end: times.at(-1)! };
  const key = {
    stream: STREAM,
    selector: 'PRODUCER_TIMESTAMP',
    ...range,
    endpoint: config.sageMakerEndpoint,
    dataStream: RESULTS,
  };
  const progress = await ProgressFile.open(join(t.testdir(), 'progress.json'), key);
  const run = replay({
    config,
    streamName: STREAM,
    range,
    // Whatever endpoint GetDataEndpoint answers, the archive is read through the proxy.
    clients: { ...clients, archivedMedia: () => archived },
    progress,
    batch: { maxFragments: 10, maxBytes: 64 * 1024 * 1024 },
    log: (line) => lines.push(line),
  });
  return { run, progress };
}

t.test(
  'a body cut off mid-batch: the batch goes on from the fragment it was in, nothing lost or repeated',
  async (t) => {
    // Prepare: 20 fragments (3 kB each, the first larger), two batches; the first two answers cut after 12 kB
    const { stack, records } = await replayStack(t, 4);
    await stack.replayed;
    const proxy = await cuttingProxy(t, stack.kvs.url, 2, 12_000);
    const lines: LogRecord[] = [];

    // Act
    const { run } = await replayThrough(t, stack, proxy.url, lines);
    const outcome = await run;

    // Assess
    t.match(outcome, { complete: true, fragmentsDone: 20, fragments: 20 });
    const retries = lines.filter((line) => line.event === 'replay-read-retry');
    t.equal(retries.length, 2, 'two reads again');
    t.equal(proxy.calls.archive, 4, 'four calls: the first batch three times, the second once');
    const [first, second, third] = proxy.calls.fragments;
    t.ok(
      second!.length < first!.length && third!.length < second!.length,
      `each read again asks for the rest of the batch only (${first!.length}, ${second!.length}, ${third!.length})`,
    );
    t.same([second, third], [first!.slice(-second!.length), first!.slice(-third!.length)], 'from where it broke off');
    const published = await records();
    const keys = published.map((r) => r.idempotencyKey);
    t.equal(keys.length, 20, 'a record per fragment (1 in 1 I-frames)');
    t.equal(new Set(keys).size, 20, 'none twice');
    t.same(
      published.map((r) => r.keyframeIndex).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
  },
);

t.test('a batch that fails every time ends the replay with REPLAY_FAILED, what was done kept', async (t) => {
  // Prepare: every answer cut inside its first fragment
  const { stack } = await replayStack(t, 4);
  await stack.replayed;
  const proxy = await cuttingProxy(t, stack.kvs.url, Number.POSITIVE_INFINITY, 100);
  const lines: LogRecord[] = [];

  // Act
  const { run, progress } = await replayThrough(t, stack, proxy.url, lines);

  // Assess
  await t.rejects(run, {
    code: 'REPLAY_FAILED',
    message: new RegExp(`^GetMediaForFragmentList of stream ${STREAM} from fragment \\d+ \\(6 attempts\\) failed: `),
  });
  t.equal(proxy.calls.archive, 6, 'six attempts');
  t.match(progress.state, { lastFragment: null, fragmentsDone: 0, complete: false }, 'nothing done, nothing lost');
});

t.test('an error answer whose body stalls is cut after getMediaIdleTimeoutMillis and tried again', async (t) => {
  // Prepare: every GetMediaForFragmentList answered 500 and half a body, then nothing
  const { stack } = await replayStack(t, 4);
  await stack.replayed;
  const proxy = await cuttingProxy(t, stack.kvs.url, 0, 0, true);
  const lines: LogRecord[] = [];

  // Act
  const { run } = await replayThrough(t, stack, proxy.url, lines, 1000);
  const { error, ms } = await timed(run, 30_000);

  // Assess: six attempts of 1 s each, then the replay fails naming the deadline
  t.match(error, {
    code: 'REPLAY_FAILED',
    message: /\(6 attempts\) failed: TimeoutError: no complete answer in 1000 ms/,
  });
  t.equal(proxy.calls.archive, 6, 'six attempts');
  t.ok(ms >= 6000 && ms < 20_000, `failed after ${ms.toFixed(0)} ms`);
});
