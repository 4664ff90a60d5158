// The server side of `npm run bench:kvs`, run as a child process so that its CPU time is its own:
// a KvsServer replaying one shared 1080p file into N live streams, answering the driver over IPC.

import { FileSource, KvsServer } from '../src/local/kvs/index.js';

type Request = { streams: number } | { measureMs: number };

const source = await FileSource.open(process.argv[2]!);
const server = await KvsServer.create({ maxGetMediaConnections: 3 });
let streams = 0;

process.on('message', async (request: Request) => {
  if ('streams' in request) {
    for (; streams < request.streams; streams++)
      void server.replayFile(`stream-${streams}`, source, { rate: 1, loop: true });
    process.send!({ url: server.url, streams });
  } else {
    const before = process.cpuUsage();
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, request.measureMs));
    const used = process.cpuUsage(before);
    process.send!({
      cpuSeconds: (used.user + used.system) / 1e6,
      seconds: (performance.now() - started) / 1000,
      rssBytes: process.memoryUsage().rss,
    });
  }
});
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
process.send!({ ready: true });
