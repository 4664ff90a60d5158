// `kvs-infer local`: starts the local stack and prints its endpoints as `export` lines to eval;
// runs until SIGINT or SIGTERM.

import { parseArgs } from 'node:util';
import { AV_LOG_ERROR } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { KvsInferError } from '../errors.js';
import { LocalStack, type LocalStreamSpec } from '../local/index.js';
import { positiveInteger } from './options.js';

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
      'data-stream': { type: 'string', multiple: true, default: [] },
      'data-dir': { type: 'string' },
    },
  });
  const streams = values.stream.map(parseStream);
  for (const tag of values.tag) addTag(streams, tag);
  if (values.model !== 'detector' && values.model !== 'fixed') throw new KvsInferError('USAGE', `--model must be detector or fixed, got "${values.model}"`);
  Log.setLevel(AV_LOG_ERROR);

  process.stderr.write(streams.length === 0 ? 'preparing the demo clip (encoded once, then cached)...\n' : '');
  const stack = await LocalStack.start({
    streams,
    loop: values.loop,
    rate: parseRate(values.rate),
    ports: {
      kvs: port('kvs-port', values['kvs-port']),
      model: port('model-port', values['model-port']),
      dynamodb: port('dynamodb-port', values['dynamodb-port']),
      kinesis: port('kinesis-port', values['kinesis-port']),
    },
    model: values.model,
    fixedLatencyMs: values['fixed-latency'] === undefined ? undefined : Number(positiveInteger('fixed-latency', values['fixed-latency'])),
    faults: values.faults,
    dataStreams: values['data-stream'],
    dataDir: values['data-dir'],
    onReplayError: (stream, error) => process.stderr.write(`stream ${stream}: ${(error as { code?: string }).code ?? 'ERROR'}: ${error.message}\n`),
  });
  for (const [name, value] of Object.entries(stack.env)) process.stdout.write(`export ${name}=${value}\n`);
  const described = stack.streams.map((s) => `${s.name} (${s.file})`).join(', ');
  process.stderr.write(`local stack ready: KVS ${stack.kvs.url}, model ${stack.model.url} (${values.model}), DynamoDB ${stack.dynamodb.url}, Kinesis ${stack.kinesis.url}\nstreams: ${described}\nCtrl-C to stop\n`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stack.close();
  return 0;
}

function parseStream(spec: string): LocalStreamSpec {
  const at = spec.indexOf('=');
  if (at <= 0 || at === spec.length - 1) throw new KvsInferError('USAGE', `--stream must be NAME=FILE, got "${spec}"`);
  return { name: spec.slice(0, at), file: spec.slice(at + 1), tags: {} };
}

function addTag(streams: LocalStreamSpec[], spec: string): void {
  const match = /^([^:]+):([^=]+)=(.*)$/.exec(spec);
  if (!match) throw new KvsInferError('USAGE', `--tag must be NAME:KEY=VALUE, got "${spec}"`);
  const stream = streams.find((s) => s.name === match[1]);
  if (!stream) throw new KvsInferError('USAGE', `--tag ${spec} names stream "${match[1]}", which no --stream gives`);
  stream.tags![match[2]!] = match[3]!;
}

function parseRate(value: string): number | 'max' {
  if (value === 'max') return 'max';
  const rate = Number(value);
  if (!(rate > 0 && Number.isFinite(rate))) throw new KvsInferError('USAGE', `--rate must be a positive number or max, got "${value}"`);
  return rate;
}

function port(name: string, value: string | undefined): number | undefined {
  const parsed = positiveInteger(name, value);
  if (parsed !== undefined && parsed > 65535) throw new KvsInferError('USAGE', `--${name} must be a port number, got ${parsed}`);
  return parsed;
}
