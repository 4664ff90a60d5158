// `kvs-infer bench --scenario media|live|capacity|sweep|fleet`: runs one benchmark scenario, writes its JSON,
// Markdown and plots (bench/output.ts) and prints its table and conclusions. Runs from a checkout only.

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Progress, progress } from '../src/cli/progress.js';
import { ConfigError, parseConfig } from '../src/config/index.js';
import { KvsInferError } from '../src/errors.js';
import { MAX_IMAGE_DIMENSION } from '../src/native/image-request.js';
import { markdownBody, type WrittenReport, writeReport } from './output.js';
import type { BenchReport, Resolution, ScenarioOptions } from './report.js';
import type { OnProgress } from './scenarios/media.js';

export type { ScenarioOptions } from './report.js';
export type { OnProgress } from './scenarios/media.js';

/** The README suite's scenarios (bench/readme.ts). */
export const SCENARIOS = ['media', 'live', 'capacity', 'sweep'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** Every scenario: `fleet` (W worker processes, minutes long) runs on its own, outside the README suite. */
export type BenchScenario = ScenarioName | 'fleet';
const ALL_SCENARIOS: readonly string[] = [...SCENARIOS, 'fleet'];

export interface BenchArguments {
  scenario: BenchScenario;
  options: ScenarioOptions;
  /** Where the JSON, Markdown and SVGs go; default bench/results. */
  out: string;
  /** An extra copy of the JSON, at exactly this path. */
  json?: string;
}

/** Options the media scenario has no use for: refused rather than silently ignored. */
const NOT_FOR_MEDIA = [
  'streams',
  'cpu-prof',
  'no-stagger',
  'warmup',
  'inference-interval',
  'sampling-interval',
  'bound',
  'price-per-gb',
  'failover',
  'checkpoint-interval',
] as const;

/** Options only the fleet scenario takes, and those it has no use for (it reads no media). */
const FLEET_ONLY = ['workers', 'lease-assignment'] as const;
const NOT_FOR_FLEET = [
  'warmup',
  'inference-interval',
  'sampling-interval',
  'width',
  'height',
  'price-per-gb',
  'resolution',
  'bitrate',
  'gop',
  'runs',
  'bound',
  'file',
  'cpu-prof',
  'no-stagger',
  'checkpoint-interval',
] as const;
const LEASE_ASSIGNMENTS = ['leader', 'every-worker'] as const;

const usage = (message: string) => new KvsInferError('USAGE', message);

function integer(
  name: string,
  value: string | undefined,
  max?: number,
  options: { zero?: boolean } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  const min = options.zero ? 0 : 1;
  if (/^\d+$/.test(value) && parsed >= min && parsed <= (max ?? Number.MAX_SAFE_INTEGER)) return parsed;
  const what =
    max !== undefined ? `an integer from ${min} to ${max}` : `a ${min ? 'positive' : 'non-negative'} integer`;
  throw usage(`--${name} must be ${what}, got "${value}"`);
}

function decimal(name: string, value: string | undefined, options: { zero?: boolean } = {}): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  const valid = value.trim() !== '' && Number.isFinite(parsed) && (options.zero ? parsed >= 0 : parsed > 0);
  if (!valid) throw usage(`--${name} must be a ${options.zero ? 'non-negative' : 'positive'} number, got "${value}"`);
  return parsed;
}

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        scenario: { type: 'string' },
        streams: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        'inference-interval': { type: 'string' },
        'sampling-interval': { type: 'string' },
        width: { type: 'string' },
        height: { type: 'string' },
        'price-per-gb': { type: 'string' },
        resolution: { type: 'string' },
        bitrate: { type: 'string' },
        gop: { type: 'string' },
        runs: { type: 'string' },
        bound: { type: 'string' },
        file: { type: 'string', multiple: true },
        json: { type: 'string' },
        out: { type: 'string', default: 'bench/results' },
        smoke: { type: 'boolean', default: false },
        workers: { type: 'string' },
        'lease-assignment': { type: 'string' },
        failover: { type: 'string' },
        'checkpoint-interval': { type: 'string' },
        'cpu-prof': { type: 'string' },
        'no-stagger': { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new KvsInferError('USAGE', (error as Error).message, { cause: error });
  }
}

/** Options that go to the worker's configuration as they are, with the key each becomes there. */
const WORKER_KEYS = { failover: 'failoverTimeMillis', 'checkpoint-interval': 'checkpointIntervalMillis' } as const;

/**
 * The workers' lease timing, checked by the worker's own rules: a value the worker would refuse is a USAGE error
 * now, not a run that fails once the stack is up.
 */
function leaseTiming(values: Partial<Record<keyof typeof WORKER_KEYS, string>>) {
  const timing = {
    failoverTimeMillis: integer('failover', values.failover),
    // 0: every completed fragment checkpointed at once (the worker's eager checkpoints).
    checkpointIntervalMillis: integer('checkpoint-interval', values['checkpoint-interval'], undefined, { zero: true }),
  };
  try {
    parseConfig(timing);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const [option, key] of Object.entries(WORKER_KEYS)) {
      const issue = error.issues.find((i) => i.key === key);
      if (issue) throw usage(`--${option}: ${issue.message}`);
    }
  }
  return timing;
}

/** Parses and checks the command line; every bad value is a USAGE error naming its option. */
export function parseBenchArgs(argv: string[]): BenchArguments {
  const values = parseOptions(argv);
  const scenario = values.scenario;
  if (scenario === undefined) throw usage('--scenario is required: media, live, capacity, sweep or fleet');
  if (!ALL_SCENARIOS.includes(scenario))
    throw usage(`--scenario must be media, live, capacity, sweep or fleet, got "${scenario}"`);
  const leaseAssignment = values['lease-assignment'];
  if (leaseAssignment !== undefined && !(LEASE_ASSIGNMENTS as readonly string[]).includes(leaseAssignment))
    throw usage(`--lease-assignment must be leader or every-worker, got "${leaseAssignment}"`);
  if (values.resolution !== undefined && values.resolution !== '1080p' && values.resolution !== '720p') {
    throw usage(`--resolution must be 1080p or 720p, got "${values.resolution}"`);
  }
  if (values.bitrate !== undefined && !/^\d+(\.\d+)?[kM]?$/.test(values.bitrate))
    throw usage(`--bitrate must be bits per second with an optional k or M suffix (4M), got "${values.bitrate}"`);
  for (const file of values.file ?? []) if (!existsSync(file)) throw usage(`--file ${file}: no such file`);
  if (values.out === '') throw usage('--out must name a directory');
  if (values.json === '') throw usage('--json must name a file');
  if (values['cpu-prof'] === '') throw usage('--cpu-prof must name a directory');
  if (values['sampling-interval'] !== undefined && values['inference-interval'] !== undefined)
    throw usage('--sampling-interval replaces --inference-interval: give one of them');
  const notFor = (names: readonly (keyof typeof values)[], what: string) => {
    const given = names.filter((name) => values[name] !== undefined);
    if (given.length > 0)
      throw usage(
        `${given.map((name) => `--${name}`).join(', ')} do${given.length === 1 ? 'es' : ''} not apply to --scenario ` +
          what,
      );
  };
  if (scenario === 'media') notFor(NOT_FOR_MEDIA, 'media');
  if (scenario === 'fleet') notFor(NOT_FOR_FLEET, 'fleet');
  else notFor(FLEET_ONLY, scenario);

  const options: ScenarioOptions = {
    streams: integer('streams', values.streams),
    durationSeconds: decimal('duration', values.duration),
    warmupSeconds: decimal('warmup', values.warmup, { zero: true }),
    inferenceInterval: integer('inference-interval', values['inference-interval']),
    // A day at most, as the worker's samplingIntervalMillis.
    samplingIntervalMillis: integer('sampling-interval', values['sampling-interval'], 86_400_000),
    imageWidth: integer('width', values.width, MAX_IMAGE_DIMENSION),
    imageHeight: integer('height', values.height, MAX_IMAGE_DIMENSION),
    pricePerGB: decimal('price-per-gb', values['price-per-gb'], { zero: true }),
    resolution: values.resolution as Resolution | undefined,
    bitrate: values.bitrate,
    gopSeconds: decimal('gop', values.gop),
    files: values.file,
    runs: integer('runs', values.runs),
    boundMs: decimal('bound', values.bound),
    smoke: values.smoke || undefined,
    workers: integer('workers', values.workers),
    leaseAssignment: leaseAssignment as ScenarioOptions['leaseAssignment'],
    ...leaseTiming(values),
    cpuProfileDir: values['cpu-prof'],
    staggerStreams: values['no-stagger'] ? false : undefined,
  };
  // Absent options stay absent, so that each scenario's defaults apply and the JSON shows only what was asked.
  for (const key of Object.keys(options) as (keyof ScenarioOptions)[])
    if (options[key] === undefined) delete options[key];
  return {
    scenario: scenario as BenchScenario,
    options,
    out: values.out,
    ...(values.json === undefined ? {} : { json: values.json }),
  };
}

/** Runs one scenario. live, capacity and sweep come from bench/live/, fleet from bench/fleet.ts, loaded if asked. */
export async function runScenario(
  scenario: BenchScenario,
  options: ScenarioOptions,
  onProgress: OnProgress,
): Promise<BenchReport> {
  if (scenario === 'media') {
    const { mediaScenario } = await import('./scenarios/media.js');
    return mediaScenario(options, onProgress);
  }
  if (scenario === 'fleet') {
    const { fleetScenario } = await import('./fleet.js');
    return fleetScenario(options, onProgress);
  }
  const live = await import('./live/scenarios.js');
  if (scenario === 'live') return live.liveScenario(options, onProgress);
  if (scenario === 'capacity') return live.capacityScenario(options, onProgress);
  return live.sweepScenario(options, onProgress);
}

/** One progress() bar per label, the previous one ended when the label changes; a label alone is a line on stderr. */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): {
  onProgress: OnProgress;
  stop(): void;
} {
  let current: { label: string; bar: Progress } | null = null;
  return {
    onProgress(label, done, total, detail) {
      if (done === undefined || total === undefined) {
        current?.bar.stop();
        current = null;
        stream.write(`${label}\n`);
        return;
      }
      if (current?.label !== label) {
        current?.bar.stop();
        current = { label, bar: progress(label, { stream }) };
      }
      current.bar.update(done, total, detail);
    },
    stop() {
      current?.bar.stop();
      current = null;
    },
  };
}

export interface BenchRun {
  report: BenchReport;
  written: WrittenReport;
  startedAt: Date;
  seconds: number;
}

/** Parses `argv`, runs the scenario with progress on stderr and writes its files. */
export async function runBench(argv: string[]): Promise<BenchRun> {
  const args = parseBenchArgs(argv);
  const reporter = progressReporter();
  const startedAt = new Date();
  const start = performance.now();
  let report: BenchReport;
  try {
    report = await runScenario(args.scenario, args.options, reporter.onProgress);
  } finally {
    reporter.stop();
  }
  const seconds = (performance.now() - start) / 1000;
  const written = await writeReport(
    report,
    { startedAt, seconds },
    { dir: args.out, ...(args.json === undefined ? {} : { json: args.json }) },
  );
  return { report, written, startedAt, seconds };
}

export async function bench(argv: string[]): Promise<number> {
  const { report, written } = await runBench(argv);
  process.stdout.write(`\n${markdownBody(report)}`);
  for (const path of [
    written.json,
    written.markdown,
    ...written.plots,
    ...(written.extraJson ? [written.extraJson] : []),
  ])
    process.stderr.write(`wrote ${path}\n`);
  return 0;
}
