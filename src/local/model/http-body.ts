// Request bodies read whole but bounded: past `limit` bytes the rest is counted and dropped, so an
// oversize request still gets its error answer instead of a reset connection.

import type { IncomingMessage } from 'node:http';

export interface ReadBody {
  /** The body, or null when it was longer than the limit. */
  body: Buffer | null;
  bytes: number;
}

/** Past this, even counting stops: the connection is cut. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

export function readBody(request: IncomingMessage, limit: number): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= limit) chunks.push(chunk);
      else chunks.length = 0;
      if (bytes > DRAIN_LIMIT) request.destroy(new Error(`request body over ${DRAIN_LIMIT} bytes`));
    });
    request.on('end', () => resolve({ body: bytes <= limit ? Buffer.concat(chunks, bytes) : null, bytes }));
    request.on('error', reject);
  });
}
