// One worker in this process against a local stack: what `kvs-infer demo` runs, and what tests use
// when they need a real worker's output (records, logs) without starting a process.

import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { type Logger, Worker } from '../actors/index.js';
import { workerClients } from '../aws/worker-clients.js';
import { parseConfig, systemEnvironment } from '../config/index.js';
import type { StreamCounters } from '../metrics/index.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalStack } from './local-stack.js';

export interface LocalWorker {
  readonly worker: Worker;
  /** A client of the stack's Kinesis, for reading the results back (until close). */
  readonly kinesis: KinesisClient;
  /** Destroys the worker's clients, after `worker.shutdown()`; the stack stays up. */
  close(): void;
}

/**
 * The in-process worker's failover time unless the document sets one. It is alone, so there is no one to fail over
 * to, and the emulators that answer its renewals share its event loop with the pool's callers and the detector,
 * which a busy machine can starve for seconds: a long failover keeps its leases through that.
 */
const IN_PROCESS_FAILOVER_MS = 30_000;

/** Starts a worker on the stack with the configuration `document` (KIT's keys and kvs-infer's). */
export async function startLocalWorker(
  stack: LocalStack,
  document: Record<string, unknown>,
  log: Logger,
): Promise<LocalWorker> {
  const { config } = parseConfig(
    { failoverTimeMillis: IN_PROCESS_FAILOVER_MS, ...document },
    { environment: systemEnvironment() },
  );
  const { destroy, ...clients } = workerClients(
    config,
    { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS },
    {
      dynamodb: stack.dynamodb.url,
      kinesisVideo: stack.kvs.url,
      sageMakerRuntime: stack.model.url,
      kinesis: stack.kinesis.url,
    },
  );
  try {
    const worker = await Worker.start({ config, ...clients, log });
    return { worker, kinesis: clients.kinesis, close: destroy };
  } catch (error) {
    destroy();
    throw error;
  }
}

/** I-frames the stack has served on `stream` so far. */
export function servedKeyframes(stack: LocalStack, stream: string): number {
  return stack.kvs
    .streamLog(stream)
    .list({ type: 'SERVER_TIMESTAMP', start: 0, end: Number.MAX_SAFE_INTEGER })
    .reduce((n, f) => n + f.keyframes, 0);
}

/**
 * Resolves true once every replay has ended and every I-frame served on `streams` has gone through the worker's
 * pipeline (read, and if sampled, published or settled); false if `timeoutMs` passes first. `onTick` sees the
 * counters of each stream every 250 ms.
 */
export async function untilAllProcessed(
  stack: LocalStack,
  worker: Worker,
  streams: string[],
  timeoutMs: number,
  onTick?: (counters: Map<string, StreamCounters>) => void,
): Promise<boolean> {
  let replayed = false;
  void stack.replayed.then(() => (replayed = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counters = worker.streamCounters();
    onTick?.(counters);
    if (
      replayed &&
      worker.stats().inFlight === 0 &&
      streams.every((s) => counters.get(s)?.keyframes === servedKeyframes(stack, s))
    )
      return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
