// `kvs-infer demo`: the main job on embedded defaults. Starts the local stack in this process (KVS
// server replaying the demo clip, or your files, the CenterNet detector, DynamoDB and Kinesis emulators),
// runs one worker end to end, and reads the published records back from Kinesis for a summary per stream.

import { parseArgs } from 'node:util';
import { AV_LOG_ERROR } from 'node-av/constants';
import { Log } from 'node-av/lib';
import type { LogRecord } from '../actors/index.js';
import type { InferenceRecord } from '../actors/pipeline/inference-record.js';
import type { LocalStreamSpec } from '../local/index.js';
import { debugPort, startDebugServer } from './debug-server.js';
import { renderSummary, summarize } from './demo-summary.js';
import { checkLocalStackInstalled } from './local-stack-check.js';
import { modelLabel, modelSpec, positiveInteger, replayRate, streamSpec } from './options.js';
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
  const model = modelSpec(values.model);
  const every = positiveInteger('every', values.every)!;
  const timeoutMs = positiveInteger('timeout', values.timeout)! * 1000;
  const rate = replayRate(values.rate);
  const port = values['debug-port'] === undefined ? undefined : debugPort(values['debug-port']);
  // Imported once checked: a production install leaves out the local stack's packages.
  checkLocalStackInstalled('demo');
  const { demoClip, LocalStack, parseRecords, readAllRecords, servedKeyframes, startLocalWorker, untilAllProcessed } =
    await import('../local/index.js');
  const { COCO_LABELS } = await import('../local/model/index.js');
  Log.setLevel(AV_LOG_ERROR);
  const started = performance.now();
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);

  let streams: LocalStreamSpec[] = values.stream.map(streamSpec);
  if (streams.length === 0) {
    const clip = await demoClip(undefined, () =>
      process.stderr.write('encoding the demo clip (once; it is cached)...\n'),
    );
    streams = DEMO_STREAMS.map((name) => ({ name, file: clip }));
  }
  const modelServer =
    model === 'detector' ? 'CenterNet COCO detector model server' : `model server (${modelLabel(model)})`;
  process.stderr.write(`starting the local stack: KVS server, ${modelServer}, DynamoDB and Kinesis emulators...\n`);
  const stack = await LocalStack.start({ streams, loop: false, rate, model, dataStreams: [RESULTS_STREAM] });
  try {
    const logs: LogRecord[] = [];
    const log = (record: LogRecord) => {
      logs.push(record);
      if (record.level === 'warn' || record.level === 'error')
        process.stderr.write(
          `${record.level}: ${record.event} ${JSON.stringify({ ...record, level: undefined, event: undefined })}\n`,
        );
    };
    const local = await startLocalWorker(
      stack,
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
      log,
    );
    try {
      const { worker } = local;
      const debug = port === undefined ? undefined : await startDebugServer(worker, port, '127.0.0.1');
      if (debug) process.stderr.write(`lease inspector: ${debug.url}/debug\n`);
      process.stderr.write(
        `worker ${worker.workerId} started; replaying ${streams.map((s) => s.name).join(', ')} at ${rate}x, ` +
          `inferring 1 of every ${every} I-frames\n`,
      );

      const bar = progress('published');
      const finished = await untilAllProcessed(
        stack,
        worker,
        streams.map((s) => s.name),
        timeoutMs,
        (counters) => {
          const count = (key: 'published' | 'sampled' | 'keyframes', name: string) => counters.get(name)?.[key] ?? 0;
          const published = streams.reduce((n, s) => n + count('published', s.name), 0);
          const expected = streams.reduce((n, s) => n + Math.ceil(servedKeyframes(stack, s.name) / every), 0);
          const detail = streams.map(
            (s) =>
              `${s.name} ${count('published', s.name)}/${count('sampled', s.name)} published, ` +
              `${count('keyframes', s.name)}/${servedKeyframes(stack, s.name)} I-frames read`,
          );
          bar.update(published, expected, `[${elapsed()} s] ${detail.join(' | ')}`);
        },
      );
      bar.stop();
      await debug?.close();
      const live = worker.streamCounters();
      const counters = new Map(
        streams.flatMap((s) => (live.has(s.name) ? [[s.name, live.get(s.name)!] as const] : [])),
      );
      await worker.shutdown();
      const records = parseRecords<InferenceRecord>(await readAllRecords(local.kinesis, RESULTS_STREAM));
      const summaries = summarize(counters, records, COCO_LABELS, worker.metrics.getMediaPricePerGB);
      process.stdout.write(`\n${renderSummary(summaries)}`);
      const checkpoints = logs.filter((l) => l.event === 'checkpoint').length;
      process.stdout.write(
        `\n${records.length} records in Kinesis stream ${RESULTS_STREAM}, ` +
          `${checkpoints} checkpoints written, in ${elapsed()} s\n`,
      );
      if (!finished)
        process.stderr.write(
          `gave up waiting after --timeout ${values.timeout} s: the summary covers what was done by then\n`,
        );
      return finished ? 0 : 2;
    } finally {
      // Idempotent: already done on the way out, unless something failed first.
      await local.worker.shutdown();
      local.close();
    }
  } finally {
    await stack.close();
  }
}
