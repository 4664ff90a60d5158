// One thread of the decode ceiling (ceiling.ts): opens the worker's own FrameDecoder, says it is ready, then decodes
// the I-frames it was given, round after round, until the time it is told, and answers how many it decoded.

import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { FrameDecoder } from '../src/native/frame-decoder.js';
import type { WorkerTask } from '../src/native/worker-protocol.js';

export interface CeilingThreadData {
  frames: Pick<WorkerTask, 'codecId' | 'avCodecId' | 'codecPrivate' | 'data'>[];
}

/** From the thread: ready (its decoder open), then the count. To the thread: decode until `until` (Date.now()). */
export type CeilingThreadMessage = { ready: true } | { decoded: number };
export interface CeilingGo {
  until: number;
}

const { frames } = workerData as CeilingThreadData;
const output = { contentType: 'image/jpeg' } as const;
const decoder = new FrameDecoder();
decoder.decode({ ...frames[0]!, output }).free();
parentPort!.postMessage({ ready: true } satisfies CeilingThreadMessage);
const [{ until }] = (await once(parentPort!, 'message')) as [CeilingGo];
let decoded = 0;
while (Date.now() < until) {
  for (const frame of frames) {
    decoder.decode({ ...frame, output }).free();
    decoded++;
    if (Date.now() >= until) break;
  }
}
parentPort!.postMessage({ decoded } satisfies CeilingThreadMessage);
