// Runs the parser over bytes cut into chunks, and reduces its events to comparable values.

import { createHash } from 'node:crypto';
import { type MkvEvent, MkvParser, type MkvParserOptions } from '../../src/media/index.js';

/** Parses `bytes` fed in chunks of the given sizes (cycled), or whole when none are given. */
export function parseChunks(bytes: Uint8Array, chunkSizes: number[] = [], options?: MkvParserOptions): MkvEvent[] {
  const parser = new MkvParser(options);
  const events: MkvEvent[] = [];
  if (chunkSizes.length === 0) {
    events.push(...parser.push(bytes));
  } else {
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const size = Math.max(1, chunkSizes[i % chunkSizes.length]!);
      events.push(...parser.push(bytes.subarray(at, at + size)));
      at += size;
    }
  }
  events.push(...parser.end());
  return events;
}

/** A JSON-able summary: every event, frames with a digest of their bytes. */
export function summarize(events: MkvEvent[]): unknown[] {
  return events.map((event) => {
    switch (event.type) {
      case 'frame': {
        const { fragment, track, data, ...rest } = event.frame;
        return {
          type: 'frame',
          fragment: fragment.index,
          track: track.number,
          ...rest,
          digest: createHash('sha1').update(data).digest('hex'),
        };
      }
      case 'fragment':
        return { type: 'fragment', ...event.fragment };
      case 'tracks':
        return {
          type: 'tracks',
          tracks: event.tracks.map((t) => ({
            ...t,
            codecPrivate: t.codecPrivate && Buffer.from(t.codecPrivate).toString('hex'),
          })),
        };
    }
    return { type: 'error', code: event.error.code, offset: event.error.offset, message: event.error.message };
  });
}

export const fragmentsOf = (events: MkvEvent[]) => events.flatMap((e) => (e.type === 'fragment' ? [e.fragment] : []));
export const framesOf = (events: MkvEvent[]) => events.flatMap((e) => (e.type === 'frame' ? [e.frame] : []));
export const errorsOf = (events: MkvEvent[]) => events.flatMap((e) => (e.type === 'error' ? [e.error] : []));
