// What the `kvs-infer replay` tests share: a local stack holding a known clip in an archived stream,
// the command run as a child process against it, and the records it published read back.

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type KinesisVideoArchivedMediaClient,
  ListFragmentsCommand,
} from '@aws-sdk/client-kinesis-video-archived-media';
import type { Test } from 'tap';
import type { InferenceRecord } from '../../src/actors/pipeline/inference-record.js';
import { kinesisClient, kinesisVideoArchivedMediaClient } from '../../src/aws/clients.js';
import { smallClip } from '../../src/local/fixtures/index.js';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  LocalStack,
  type LocalStackOptions,
  parseRecords,
  readAllRecords,
} from '../../src/local/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const RESULTS = 'results';
export const STREAM = 'cam-0';

export interface ReplayStack {
  stack: LocalStack;
  /** The stack's archived-media API through the real SDK client. */
  archived: KinesisVideoArchivedMediaClient;
  /** A config file for the stack (`fixed` model, results stream) with `extra` keys. */
  config(extra?: Record<string, unknown>): Promise<string>;
  /** Every record in the results stream. */
  records(): Promise<InferenceRecord[]>;
  /** The range's fragment numbers as ListFragments lists them (by producer timestamp), sorted. */
  listed(start: number, end: number): Promise<string[]>;
  dir: string;
}

/**
 * A stack whose stream cam-0 holds a clip of `seconds` (64x48, a keyframe every 200 ms: one per fragment), put in at
 * full speed and kept (DataRetentionInHours 1).
 */
export async function replayStack(t: Test, seconds: number, options: Partial<LocalStackOptions> = {}) {
  const file = await smallClip(seconds);
  const stack = await LocalStack.start({
    streams: [{ name: STREAM, file }],
    rate: 'max',
    model: 'fixed',
    dataStreams: [RESULTS],
    ...options,
  });
  t.teardown(() => stack.close());
  const base = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const archived = kinesisVideoArchivedMediaClient({ ...base, endpoint: stack.kvs.url });
  const kinesis = kinesisClient({ ...base, endpoint: stack.kinesis.url });
  t.teardown(() => {
    archived.destroy();
    kinesis.destroy();
  });
  const dir = t.testdir();
  const result: ReplayStack = {
    stack,
    archived,
    dir,
    async config(extra = {}) {
      const path = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
      const document = {
        streamNames: [STREAM],
        sageMakerEndpoint: 'replay-test',
        kdsStreamName: RESULTS,
        decodeThreadPoolSize: 1,
        logLevel: 'info',
        ...extra,
      };
      await writeFile(path, JSON.stringify(document));
      return path;
    },
    async records() {
      return parseRecords<InferenceRecord>(await readAllRecords(kinesis, RESULTS));
    },
    async listed(start, end) {
      const out = await archived.send(
        new ListFragmentsCommand({
          StreamName: STREAM,
          FragmentSelector: {
            FragmentSelectorType: 'PRODUCER_TIMESTAMP',
            TimestampRange: { StartTimestamp: new Date(start), EndTimestamp: new Date(end) },
          },
        }),
      );
      return (out.Fragments ?? [])
        .map((f) => f.FragmentNumber!)
        .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
    },
  };
  return result;
}

/** The producer timestamps of the stream's fragments, oldest first (from the server's own log). */
export function producerTimestamps(stack: LocalStack): number[] {
  return stack.kvs
    .streamLog(STREAM)
    .list({ type: 'SERVER_TIMESTAMP', start: 0, end: Number.MAX_SAFE_INTEGER })
    .map((f) => f.producerTimestamp);
}

export interface Run {
  child: ChildProcess;
  /** Resolves with the exit code (or the signal that ended it) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** `kvs-infer args` from the sources, in `cwd`, with the stack's endpoints and `env`. */
export function runReplayCli(stack: LocalStack, args: string[], cwd: string, env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [...process.execArgv, MAIN, ...args], {
    cwd,
    env: { ...process.env, ...stack.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    },
  );
  return { child, exited };
}

/** The JSON log lines of `stdout` with this `event`. */
export function logLines(stdout: string, event: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === event);
}
