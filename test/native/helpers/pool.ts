// A FramePool that lives for one tap test (and its subtests), destroyed in teardown.

import { AV_LOG_QUIET } from 'node-av/constants';
import { Log } from 'node-av/lib';
import type { Test } from 'tap';
import { FramePool, type FramePoolOptions } from '../../../src/native/index.js';

// libavcodec logs every corrupt access unit the error tests feed it; the assertions say what matters.
Log.setLevel(AV_LOG_QUIET);

export async function poolFor(t: Test, options: FramePoolOptions = { size: 2 }): Promise<FramePool> {
  const pool = await FramePool.create(options);
  t.teardown(() => pool.destroy());
  return pool;
}
