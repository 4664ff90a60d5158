// PutMedia over HTTP, as KVS producers call it (no SDK v3 client exists): a chunked MKV request
// body in, a chunked body of JSON acknowledgements out, one per line, as fragments land in the log.
// One connection per stream at a time, as on KVS.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { KvsApiError } from './errors.js';
import { startStream, writeChunks } from './http-io.js';
import { ingestPutMedia } from './put-media.js';
import type { ApiContext, Route } from './route.js';

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function putMedia(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): Promise<void> {
  const stream = ctx.registry.resolve(header(req, 'x-amzn-stream-name'), header(req, 'x-amzn-stream-arn'));
  const timecodeType = header(req, 'x-amzn-fragment-timecode-type');
  if (timecodeType !== 'ABSOLUTE' && timecodeType !== 'RELATIVE') {
    throw new KvsApiError(
      'InvalidArgumentException',
      `x-amzn-fragment-timecode-type must be ABSOLUTE or RELATIVE, got ${timecodeType ?? 'nothing'}`,
    );
  }
  const start = header(req, 'x-amzn-producer-start-timestamp');
  // Producers send seconds with a fraction; the log counts milliseconds.
  const producerStartTimestamp = start === undefined ? undefined : Math.round(Number(start) * 1000);
  if (
    producerStartTimestamp !== undefined &&
    !(Number.isFinite(producerStartTimestamp) && producerStartTimestamp >= 0)
  ) {
    throw new KvsApiError(
      'InvalidArgumentException',
      `x-amzn-producer-start-timestamp must be epoch seconds, got ${start}`,
    );
  }
  // KVS throttles the latest of concurrent PutMedia connections to a stream (service quotas: 1 per stream).
  if (stream.producing) {
    throw new KvsApiError(
      'ConnectionLimitExceededException',
      `The stream ${stream.name} already has a PutMedia connection; KVS allows one per stream`,
    );
  }
  stream.producing = true;
  try {
    startStream(res, ctx.requestId, 'application/json');
    const clock = ctx.clock;
    const options = {
      timecodeType,
      producerStartTimestamp,
      persisted: stream.archived,
      clock: () => clock.now(),
    } as const;
    for await (const ack of ingestPutMedia(req, stream.log, options)) {
      if (!(await writeChunks(res, [Buffer.from(`${JSON.stringify(ack)}\n`)]))) return;
    }
    res.end();
  } finally {
    stream.producing = false;
  }
}

export const putMediaRoutes: Route[] = [{ path: '/putMedia', kind: 'raw', handle: putMedia }];
