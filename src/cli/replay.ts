// `kvs-infer replay`: runs a past range of one stream through the model, from the archive, with the
// live worker's configuration (sampling, image, endpoint, data stream). JSON log lines on stdout, progress
// on stderr. Run it again to go on where it stopped: what is done is kept in a progress file.

import { parseArgs } from 'node:util';
import { jsonLinesLogger } from '../actors/index.js';
import { kinesisVideoArchivedMediaClient, ssmClient } from '../aws/clients.js';
import { workerClients } from '../aws/worker-clients.js';
import { loadConfig, systemEnvironment } from '../config/index.js';
import { KvsInferError } from '../errors.js';
import { mediaCost } from '../metrics/index.js';
import { type BatchLimits, FRAGMENT_SELECTOR } from '../replay/fragments.js';
import { defaultProgressPath, ProgressFile, type ReplayKey } from '../replay/progress-file.js';
import { type ReplayProgress, replay as runReplay } from '../replay/replay.js';
import { parseRange } from '../replay/time-range.js';
import { positiveInteger } from './options.js';
import { progress } from './progress.js';

/** GetMediaForFragmentList takes at most 1000 fragments. */
const MAX_BATCH_FRAGMENTS = 1000;
/**
 * Media per GetMediaForFragmentList call, by the fragments' listed sizes: what a failed call reads again. The body
 * streams through the pipeline, so memory is bounded by the pipeline's slots, not by this.
 */
const BATCH_BYTES = 64 * 1024 * 1024;
const DEFAULT_BATCH_FRAGMENTS = 100;
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export async function replay(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string' },
      'ssm-parameter': { type: 'string' },
      stream: { type: 'string' },
      start: { type: 'string' },
      end: { type: 'string' },
      endpoint: { type: 'string' },
      'data-stream': { type: 'string' },
      progress: { type: 'string' },
      'batch-fragments': { type: 'string' },
    },
  });
  const streamName = required('stream', values.stream);
  const range = parseRange(required('start', values.start), required('end', values.end));
  const maxFragments = positiveInteger('batch-fragments', values['batch-fragments'], DEFAULT_BATCH_FRAGMENTS)!;
  if (maxFragments > MAX_BATCH_FRAGMENTS)
    throw new KvsInferError('USAGE', `--batch-fragments must be at most ${MAX_BATCH_FRAGMENTS}, got ${maxFragments}`);
  const batch: BatchLimits = { maxFragments, maxBytes: BATCH_BYTES };

  // The same sources as `kvs-infer run`, so that a one-off task of the worker's task definition finds its config.
  const ssmParameter =
    values['ssm-parameter'] ?? (values.config === undefined ? process.env.KVS_INFER_SSM_PARAMETER : undefined);
  if (values.config === undefined && ssmParameter === undefined)
    throw new KvsInferError('USAGE', 'give the worker configuration with --config FILE or --ssm-parameter NAME');
  const ssm = ssmParameter === undefined ? undefined : ssmClient();
  const { config } = await loadConfig({
    file: values.config,
    ssmParameter,
    ssmClient: ssm,
    overrides: { sageMakerEndpoint: values.endpoint, kdsStreamName: values['data-stream'] },
    environment: systemEnvironment(),
  }).finally(() => ssm?.destroy());

  const key: ReplayKey = {
    stream: streamName,
    selector: FRAGMENT_SELECTOR,
    start: range.start,
    end: range.end,
    endpoint: config.sageMakerEndpoint,
    dataStream: config.kdsStreamName,
  };
  const file = await ProgressFile.open(values.progress ?? defaultProgressPath(key, process.cwd()), key);

  const log = jsonLinesLogger(config.logLevel);
  // No lease table: a replay holds no lease, so the DynamoDB client is never used.
  const { destroy, dynamodb: _, mediaClient: __, ...clients } = workerClients(config);
  const archived = new Map<string, ReturnType<typeof kinesisVideoArchivedMediaClient>>();
  const archivedMedia = (endpoint: string) => {
    let client = archived.get(endpoint);
    if (client === undefined) {
      const deadlines = {
        connectTimeoutMs: config.awsConnectTimeoutMillis,
        requestTimeoutMs: config.awsRequestTimeoutMillis,
      };
      client = kinesisVideoArchivedMediaClient({ endpoint, ...deadlines });
      archived.set(endpoint, client);
    }
    return client;
  };
  const stop = new AbortController();
  let stoppedBy: keyof typeof SIGNAL_EXIT_CODES | null = null;
  const onSignal = (signal: keyof typeof SIGNAL_EXIT_CODES) => () => {
    stoppedBy ??= signal;
    stop.abort();
  };
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  const bar = progress(`replay ${streamName}`);
  try {
    const outcome = await runReplay({
      config,
      streamName,
      range,
      clients: { ...clients, archivedMedia },
      progress: file,
      batch,
      log,
      onProgress: (p) => bar.update(p.fragmentsDone, p.fragments, detail(p)),
      signal: stop.signal,
    });
    // Before the last log line, which a terminal shows below the bar.
    bar.stop();
    const { counters, ...totals } = outcome;
    log({
      level: 'info',
      event: 'replay-done',
      stream: streamName,
      ...totals,
      inferred: counters.inferred,
      failed: counters.failed,
      estimatedMediaCostUSD: mediaCost(
        { bytesRead: outcome.bytesRead, inferred: counters.inferred },
        config.getMediaPricePerGB,
      ).dollars,
      progressFile: file.path,
    });
    if (outcome.complete) return 0;
    if (stoppedBy !== null) return SIGNAL_EXIT_CODES[stoppedBy];
    process.stderr.write(
      `replay of ${streamName} ended with ${outcome.fragmentsDone} of ${outcome.fragments} fragments done: ` +
        `run it again to go on\n`,
    );
    return 1;
  } finally {
    bar.stop();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    destroy();
    for (const client of archived.values()) client.destroy();
  }
}

function required(name: string, value: string | undefined): string {
  if (value === undefined) throw new KvsInferError('USAGE', `--${name} is required`);
  return value;
}

function detail(p: ReplayProgress): string {
  return `fragments, ${p.published} records, ${(p.bytesRead / 1e6).toFixed(1)} MB read`;
}
