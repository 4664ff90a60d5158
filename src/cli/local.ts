// `kvs-infer local`: starts the local stack and prints its endpoints as `export` lines to eval;
// runs until SIGINT or SIGTERM.

import { parseArgs } from 'node:util';
import { AV_LOG_ERROR } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { KvsInferError } from '../errors.js';
import type { LocalStreamSpec } from '../local/index.js';
import { checkLocalStackInstalled } from './local-stack-check.js';
import { modelLabel, modelSpec, positiveInteger, replayRate, streamSpec } from './options.js';

export async function local(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      stream: { type: 'string', multiple: true, default: [] },
      tag: { type: 'string', multiple: true, default: [] },
      loop: { type: 'boolean', default: false },
      rate: { type: 'string', default: '1' },
      'kvs-port': { type: 'string' },
      'model-port': { type: 'string' },
      'dynamodb-port': { type: 'string' },
      'kinesis-port': { type: 'string' },
      model: { type: 'string', default: 'detector' },
      'fixed-latency': { type: 'string' },
      faults: { type: 'string' },
      'kinesis-faults': { type: 'string' },
      'data-stream': { type: 'string', multiple: true, default: [] },
      'data-dir': { type: 'string' },
    },
  });
  const streams = values.stream.map(streamSpec);
  for (const tag of values.tag) addTag(streams, tag);
  const model = modelSpec(values.model);
  // Imported once checked: a production install leaves out the local stack's packages.
  checkLocalStackInstalled('local');
  const { LocalStack } = await import('../local/index.js');
  Log.setLevel(AV_LOG_ERROR);

  process.stderr.write(streams.length === 0 ? 'preparing the demo clip (encoded once, then cached)...\n' : '');
  const stack = await LocalStack.start({
    streams,
    loop: values.loop,
    rate: replayRate(values.rate),
    ports: {
      kvs: port('kvs-port', values['kvs-port']),
      model: port('model-port', values['model-port']),
      dynamodb: port('dynamodb-port', values['dynamodb-port']),
      kinesis: port('kinesis-port', values['kinesis-port']),
    },
    model,
    fixedLatencyMs:
      values['fixed-latency'] === undefined
        ? undefined
        : Number(positiveInteger('fixed-latency', values['fixed-latency'])),
    faults: values.faults,
    kinesisPutRecordsFailureRate:
      values['kinesis-faults'] === undefined ? undefined : parseFailureRate('kinesis-faults', values['kinesis-faults']),
    dataStreams: values['data-stream'],
    dataDir: values['data-dir'],
    onReplayError: (stream, error) =>
      process.stderr.write(`stream ${stream}: ${(error as { code?: string }).code ?? 'ERROR'}: ${error.message}\n`),
  });
  for (const [name, value] of Object.entries(stack.env)) process.stdout.write(`export ${name}=${value}\n`);
  const described = stack.streams.map((s) => `${s.name} (${s.file})`).join(', ');
  const rejecting =
    values['kinesis-faults'] === undefined ? '' : ` (rejecting ${values['kinesis-faults']} of PutRecords records)`;
  const servers =
    `KVS ${stack.kvs.url}, model ${stack.model.url} (${modelLabel(model)}), DynamoDB ` +
    `${stack.dynamodb.url}, Kinesis ${stack.kinesis.url}${rejecting}`;
  process.stderr.write(`local stack ready: ${servers}\nstreams: ${described}\nCtrl-C to stop\n`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stack.close();
  return 0;
}

function addTag(streams: LocalStreamSpec[], spec: string): void {
  const match = /^([^:]+):([^=]+)=(.*)$/.exec(spec);
  if (!match) throw new KvsInferError('USAGE', `--tag must be NAME:KEY=VALUE, got "${spec}"`);
  const stream = streams.find((s) => s.name === match[1]);
  if (!stream) throw new KvsInferError('USAGE', `--tag ${spec} names stream "${match[1]}", which no --stream gives`);
  stream.tags![match[2]!] = match[3]!;
}

function parseFailureRate(name: string, value: string): number {
  const rate = Number(value);
  if (value.trim() === '' || !(rate >= 0 && rate < 1))
    throw new KvsInferError('USAGE', `--${name} must be a rate in [0, 1), such as 0.2, got "${value}"`);
  return rate;
}

function port(name: string, value: string | undefined): number | undefined {
  const parsed = positiveInteger(name, value);
  if (parsed !== undefined && parsed > 65535)
    throw new KvsInferError('USAGE', `--${name} must be a port number, got ${parsed}`);
  return parsed;
}
