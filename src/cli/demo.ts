// `kvs-infer demo`: the main job on embedded defaults. Starts the local stack in this process (KVS
// server replaying the demo clip, or your files, the CenterNet detector, DynamoDB and Kinesis emulators),
// runs one worker end to end, and reads the published records back from Kinesis for a summary per stream.

import { parseArgs } from 'node:util';
import { AV_LOG_ERROR } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { Worker, type LogRecord } from '../actors/index.js';
import type { InferenceRecord } from '../actors/inference-record.js';
import { dynamoDbClient, kinesisClient, kinesisVideoClient, kinesisVideoMediaClient, sageMakerRuntimeClient } from '../aws/clients.js';
import { parseConfig, systemEnvironment } from '../config/index.js';
import { KvsInferError } from '../errors.js';
import { demoClip, LOCAL_CREDENTIALS, LOCAL_REGION, LocalStack, readAllRecords, type LocalStreamSpec } from '../local/index.js';
import { COCO_LABELS } from '../local/model/index.js';
import { debugPort, startDebugServer } from './debug-server.js';
import { renderSummary, summarize } from './demo-summary.js';
import { positiveInteger, replayRate, streamSpec } from './options.js';
import { progress } from './progress.js';

const RESULTS_STREAM = 'kvs-infer-demo-results';
const ENDPOINT = 'kvs-infer-demo-detector';
/** The demo clip twice, as two cameras, when no --stream is given. */
const DEMO_STREAMS = ['front-door', 'parking-lot'];

export async function demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      stream: { type: 'string', multiple: true, default: [] },
      every: { type: 'string', default: '1' },
      rate: { type: 'string', default: '1' },
      model: { type: 'string', default: 'detector' },
      threads: { type: 'string' },
      timeout: { type: 'string', default: '300' },
      'debug-port': { type: 'string' },
    },
  });
  if (values.model !== 'detector' && values.model !== 'fixed') throw new KvsInferError('USAGE', `--model must be detector or fixed, got "${values.model}"`);
  const every = positiveInteger('every', values.every)!;
  const timeoutMs = positiveInteger('timeout', values.timeout)! * 1000;
  const rate = replayRate(values.rate);
  const port = values['debug-port'] === undefined ? undefined : debugPort(values['debug-port']);
  Log.setLevel(AV_LOG_ERROR);
  const started = performance.now();
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);

  let streams: LocalStreamSpec[] = values.stream.map(streamSpec);
  if (streams.length === 0) {
    const clip = await demoClip(undefined, () => process.stderr.write('encoding the demo clip (once; it is cached)...\n'));
    streams = DEMO_STREAMS.map((name) => ({ name, file: clip }));
  }
  process.stderr.write(`starting the local stack: KVS server, ${values.model === 'detector' ? 'CenterNet COCO detector' : 'fixed'} model server, DynamoDB and Kinesis emulators...\n`);
  const stack = await LocalStack.start({ streams, loop: false, rate, model: values.model, dataStreams: [RESULTS_STREAM] });
  const client = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const clients = {
    dynamodb: dynamoDbClient({ ...client, endpoint: stack.dynamodb.url }),
    kinesisVideo: kinesisVideoClient({ ...client, endpoint: stack.kvs.url }),
    sageMakerRuntime: sageMakerRuntimeClient({ ...client, endpoint: stack.model.url }),
    kinesis: kinesisClient({ ...client, endpoint: stack.kinesis.url }),
  };
  const media = kinesisVideoMediaClient({ ...client, endpoint: stack.kvs.url });
  try {
    const { config } = parseConfig(
      {
        streamNames: streams.map((s) => s.name),
        sageMakerEndpoint: ENDPOINT,
        kdsStreamName: RESULTS_STREAM,
        inferenceInterval: every,
        appName: 'kvs-infer-demo',
        workerId: 'demo-worker',
        startSelectorType: 'EARLIEST',
        checkpointIntervalMillis: 1000,
        statsIntervalMillis: 0,
        // The summary says it better than metric lines would.
        metricsIntervalMillis: 0,
        ...(values.threads === undefined ? {} : { decodeThreadPoolSize: positiveInteger('threads', values.threads) }),
      },
      { environment: systemEnvironment() },
    );
    const logs: LogRecord[] = [];
    const log = (record: LogRecord) => {
      logs.push(record);
      if (record.level === 'warn' || record.level === 'error') process.stderr.write(`${record.level}: ${record.event} ${JSON.stringify({ ...record, level: undefined, event: undefined })}\n`);
    };
    // The local KVS server answers GetDataEndpoint with its own URL: one data-plane client serves every stream.
    const worker = await Worker.start({ config, ...clients, mediaClient: () => media, log });
    const debug = port === undefined ? undefined : await startDebugServer(worker, port, '127.0.0.1');
    if (debug) process.stderr.write(`lease inspector: ${debug.url}/debug\n`);
    process.stderr.write(`worker ${config.workerId} started (${config.decodeThreadPoolSize} decode threads); replaying ${streams.map((s) => s.name).join(', ')} at ${rate}x, inferring 1 of every ${every} I-frames\n`);

    const finished = await waitForAll(stack, worker, streams, every, timeoutMs, elapsed);
    await debug?.close();
    const live = worker.streamCounters();
    const counters = new Map(streams.flatMap((s) => (live.has(s.name) ? [[s.name, live.get(s.name)!] as const] : [])));
    await worker.shutdown();
    const records = (await readAllRecords(clients.kinesis, RESULTS_STREAM)).map((bytes) => JSON.parse(Buffer.from(bytes).toString('utf8')) as InferenceRecord);
    process.stdout.write(`\n${renderSummary(summarize(counters, records, COCO_LABELS))}`);
    const checkpoints = logs.filter((l) => l.event === 'checkpoint').length;
    process.stdout.write(`\n${records.length} records in Kinesis stream ${RESULTS_STREAM}, ${checkpoints} checkpoints written, in ${elapsed()} s\n`);
    if (!finished) process.stderr.write(`gave up waiting after --timeout ${values.timeout} s: the summary covers what was done by then\n`);
    return finished ? 0 : 2;
  } finally {
    for (const c of [...Object.values(clients), media]) c.destroy();
    await stack.close();
  }
}

/**
 * Shows progress (frames published of the I-frames served so far) until every stream's clip has been replayed and
 * every I-frame served has gone through the pipeline; false if `timeoutMs` passes first.
 */
async function waitForAll(stack: LocalStack, worker: Worker, streams: LocalStreamSpec[], every: number, timeoutMs: number, elapsed: () => string): Promise<boolean> {
  const bar = progress('published');
  let replayed = false;
  void stack.replayed.then(() => (replayed = true));
  const served = (name: string) => stack.kvs.streamLog(name).list({ type: 'SERVER_TIMESTAMP', start: 0, end: Number.MAX_SAFE_INTEGER }).reduce((n, f) => n + f.keyframes, 0);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const counters = worker.streamCounters();
      const done = replayed && worker.stats().inFlight === 0 && streams.every((s) => (counters.get(s.name)?.keyframes ?? -1) === served(s.name));
      const published = streams.reduce((n, s) => n + (counters.get(s.name)?.published ?? 0), 0);
      const expected = streams.reduce((n, s) => n + Math.ceil(served(s.name) / every), 0);
      const detail = streams.map((s) => {
        const c = counters.get(s.name);
        return `${s.name} ${c?.published ?? 0}/${c?.sampled ?? 0} published, ${c?.keyframes ?? 0}/${served(s.name)} I-frames read`;
      });
      bar.update(published, expected, `[${elapsed()} s] ${detail.join(' | ')}`);
      if (done) return true;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    bar.stop();
  }
}
