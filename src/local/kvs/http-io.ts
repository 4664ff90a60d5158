// The HTTP plumbing every route shares: reading a JSON request, answering JSON or an AWS-shaped
// error, and writing a streamed body at the pace the client reads it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { KvsApiError } from './errors.js';

export type JsonObject = Record<string, unknown>;

/** KVS requests are small; a cap keeps a misbehaving client from filling memory. */
const MAX_JSON_BODY = 1024 * 1024;

export async function readJsonBody(req: IncomingMessage): Promise<JsonObject> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BODY)
      throw new KvsApiError('InvalidArgumentException', `request body exceeds ${MAX_JSON_BODY} bytes`);
    chunks.push(chunk);
  }
  // The SDK sends no body (or "{}") for operations without members.
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
  } catch (error) {
    throw new KvsApiError('InvalidArgumentException', 'the request body is not valid JSON', { cause: error });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new KvsApiError('InvalidArgumentException', 'the request body must be a JSON object');
  }
  return parsed as JsonObject;
}

export function sendJson(res: ServerResponse, requestId: string, body: unknown): void {
  const text = JSON.stringify(body ?? {});
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
  });
  res.end(text);
}

/** Answers an error as KVS does; anything that is not a KvsApiError is a 500 that names no internals. */
export function sendError(res: ServerResponse, requestId: string, error: unknown): void {
  const known = error instanceof KvsApiError;
  const type = known ? error.code : 'InternalFailure';
  const status = known ? error.status : 500;
  const text = JSON.stringify({ message: known ? error.message : 'internal server error' });
  if (res.headersSent) {
    // Mid-body there is no way to signal an error but to cut the stream short.
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-errortype': type,
    'x-amzn-requestid': requestId,
  });
  res.end(text);
}

/** Starts a streamed (chunked) response: the client learns of success before the first byte of media. */
export function startStream(res: ServerResponse, requestId: string, contentType: string): void {
  res.writeHead(200, { 'content-type': contentType, 'x-amzn-requestid': requestId });
  res.flushHeaders();
}

/**
 * Writes chunks as one unit, then waits until the socket has taken them when it is behind, so that a
 * slow reader holds at most about one fragment in memory. Resolves false when the client has gone.
 */
export async function writeChunks(res: ServerResponse, chunks: readonly Uint8Array[]): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  // Corked, a fragment's buffers leave in one writev (one HTTP chunk) rather than one syscall each.
  res.cork();
  for (const chunk of chunks) res.write(chunk);
  res.uncork();
  if (!res.writableNeedDrain) return !res.destroyed;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
