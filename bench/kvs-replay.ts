// `npm run bench:kvs`: how many real-time 1080p 4 Mbps streams the local KVS server replays on one
// core. The server runs in a child process replaying N looping streams at 1x, one GetMedia reader
// each; the server's own CPU time over a window gives the streams one core would carry. The readers,
// in this process, parse what they read with the worker's MkvParser: this process's main-thread CPU time
// over the same window is what reading and parsing N streams costs a worker, before anything is sampled.

import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { progress } from '../src/cli/progress.js';
import { cachedFixture } from '../src/local/fixtures/index.js';
import { MkvParser } from '../src/media/index.js';
import { cpuSecondsOf } from './proc.js';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '100,400,1600' },
    window: { type: 'string', default: '8' },
    json: { type: 'string', default: 'bench/results/kvs-replay.json' },
  },
});
const steps = values.streams.split(',').map(Number);
const windowMs = Number(values.window) * 1000;
const BITRATE = 4e6;

function ask<T>(child: ChildProcess, message: object): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (answer) => resolve(answer as T));
    child.send(message);
  });
}

/** A GetMedia reader that parses what it is sent, counts its bytes and frames, and throws them away. */
function reader(url: string, stream: string, counter: { bytes: number; frames: number }): void {
  const body = JSON.stringify({ StreamName: stream, StartSelector: { StartSelectorType: 'NOW' } });
  const parser = new MkvParser();
  const req = request(`${url}/getMedia`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
    res.on('data', (chunk: Buffer) => {
      counter.bytes += chunk.length;
      for (const event of parser.push(chunk)) if (event.type === 'frame') counter.frames++;
    });
  });
  req.on('error', () => undefined);
  req.end(body);
}

const server = fork(
  new URL('./kvs-replay-server.js', import.meta.url),
  [
    await cachedFixture('1080p-4M-gop1-20s.mkv', {
      width: 1920,
      height: 1080,
      fps: 30,
      gopSeconds: 1,
      durationSeconds: 20,
      bitrate: '4M',
      seed: 7,
    }),
  ],
  { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
);
await new Promise((resolve) => server.once('message', resolve));
const counter = { bytes: 0, frames: 0 };
const rows: {
  streams: number;
  cpuPercentOfOneCore: number;
  deliveredMbps: number;
  expectedMbps: number;
  rssMB: number;
  streamsPerCore: number;
  readersMainThreadPercentOfOneCore: number;
  framesPerSecond: number;
}[] = [];
let readers = 0;
const bar = progress('stream counts');
for (const [step, n] of steps.entries()) {
  bar.update(step, steps.length, `measuring ${n} streams`);
  const { url } = await ask<{ url: string }>(server, { streams: n });
  for (; readers < n; readers++) reader(url, `stream-${readers}`, counter);
  // Let every stream reach steady state (a fragment a second) before measuring.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const bytesBefore = counter.bytes;
  const framesBefore = counter.frames;
  // The readers run on this process's main thread (its tid is the pid); its GC threads are left out.
  const readersStart = cpuSecondsOf(process.pid, process.pid);
  const measured = await ask<{ cpuSeconds: number; seconds: number; rssBytes: number }>(server, {
    measureMs: windowMs,
  });
  const readersSeconds = cpuSecondsOf(process.pid, process.pid) - readersStart;
  const cpu = measured.cpuSeconds / measured.seconds;
  const row = {
    streams: n,
    cpuPercentOfOneCore: 100 * cpu,
    deliveredMbps: ((counter.bytes - bytesBefore) * 8) / measured.seconds / 1e6,
    expectedMbps: (n * BITRATE) / 1e6,
    rssMB: measured.rssBytes / 1048576,
    streamsPerCore: n / cpu,
    readersMainThreadPercentOfOneCore: (100 * readersSeconds) / measured.seconds,
    framesPerSecond: (counter.frames - framesBefore) / measured.seconds,
  };
  rows.push(row);
  console.log(
    `${String(n).padStart(4)} streams: server ${row.cpuPercentOfOneCore.toFixed(1)}% of one core, ` +
      `${row.deliveredMbps.toFixed(0)} of ${row.expectedMbps.toFixed(0)} Mbit/s delivered, RSS ` +
      `${row.rssMB.toFixed(0)} MB -> ${row.streamsPerCore.toFixed(0)} streams per core; readers' main thread ` +
      `(read + parse, ${row.framesPerSecond.toFixed(0)} frames/s) ` +
      `${row.readersMainThreadPercentOfOneCore.toFixed(1)}% of one core`,
  );
}
bar.update(steps.length, steps.length, 'done');
bar.stop();
server.disconnect();
const best = rows.at(-1)!;
console.log(
  `\none core replays about ${Math.floor(best.streamsPerCore)} real-time 1080p 4 Mbps streams, each with a GetMedia ` +
    `reader (at ${best.streams} streams)`,
);
await mkdir(join(values.json, '..'), { recursive: true });
await writeFile(values.json, `${JSON.stringify({ windowSeconds: windowMs / 1000, rows }, null, 2)}\n`);
process.exit(0);
