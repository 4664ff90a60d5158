// `kvs-infer bench`: a smoke run of the media scenario writes its JSON, Markdown and plot; bad options are usage
// errors.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseBenchArgs } from '../../bench/cli.js';
import { runCli } from '../helpers/cli.js';

t.test('--scenario media --smoke writes media.json, media.md and media-pool.svg, and --json a copy', async (t) => {
  // Prepare
  const out = t.testdir();
  const json = join(out, 'elsewhere', 'report.json');

  // Act
  const { code, stdout, stderr } = await runCli([
    'bench',
    '--scenario',
    'media',
    '--smoke',
    '--out',
    out,
    '--json',
    json,
  ]);

  // Assess
  t.equal(code, 0, `exits 0\n${stderr}`);
  const report = JSON.parse(readFileSync(join(out, 'media.json'), 'utf8'));
  t.equal(report.scenario, 'media');
  t.ok(
    report.machine.cpu && report.machine.cores >= 1 && report.machine.memoryBytes > 0 && report.machine.os,
    'machine: cpu, cores, memory, os',
  );
  t.equal(report.versions.node, process.version, 'versions: node');
  t.match(
    report.versions,
    { 'kvs-infer': String, 'node-av': String, sharp: String, 'jpeg-turbo': String, piscina: String },
    'versions: kvs-infer and its key dependencies',
  );
  t.match(report.settings, { smoke: true, runs: 1, resolution: '720p' }, 'settings with defaults filled in');
  t.ok(report.figures.parserMBps.median > 0, 'parser figure');
  t.ok(report.figures.framesPerSecond['1'].median > 0, 'pool of 1 figure');
  t.equal(report.figures.framesPerSecond['1'].runs, 1, 'one run in a smoke run');
  t.ok(
    report.conclusions.length > 0 && typeof report.startedAt === 'string' && report.seconds > 0,
    'conclusions, start and duration',
  );
  const markdown = readFileSync(join(out, 'media.md'), 'utf8');
  t.match(markdown, /\| figure \| median \| min \| max \|/, 'media.md holds the table');
  t.match(markdown, /pool of 1/, 'with the pool rows');
  t.match(
    readFileSync(join(out, 'media-pool.svg'), 'utf8'),
    /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/,
    'media-pool.svg is an SVG',
  );
  t.equal(
    readFileSync(json, 'utf8'),
    readFileSync(join(out, 'media.json'), 'utf8'),
    '--json FILE: the same JSON at exactly that path',
  );
  t.match(stdout, /\| parse \+ decode \+ JPEG, pool of 1, I-frames\/s \|/, 'the table on stdout');
  t.match(stdout, /^- The parser reads/m, 'and the conclusions');
});

t.test('a bad --scenario is a usage error naming the option', async (t) => {
  const { code, stderr } = await runCli(['bench', '--scenario', 'x']);
  t.equal(code, 1, 'exits 1');
  t.match(
    stderr,
    /USAGE: --scenario must be media, live, capacity, sweep or fleet, got "x"/,
    'names --scenario and the value',
  );
  t.match(stderr, /usage: kvs-infer bench --scenario/, 'with the usage line');
});

t.test('other bad values are USAGE errors naming their option', async (t) => {
  // Prepare
  const out = t.testdir();
  const cases: [string[], RegExp][] = [
    [['--scenario', 'media', '--runs', '0'], /--runs must be a positive integer, got "0"/],
    [['--scenario', 'media', '--resolution', '4k'], /--resolution must be 1080p or 720p, got "4k"/],
    [['--scenario', 'media', '--bitrate', 'fast'], /--bitrate must be/],
    [['--scenario', 'live', '--duration=-3'], /--duration must be a positive number, got "-3"/],
    [['--scenario', 'live', '--warmup', 'soon'], /--warmup must be a non-negative number, got "soon"/],
    [['--scenario', 'capacity', '--bound', '0'], /--bound must be a positive number, got "0"/],
    [
      ['--scenario', 'sweep', '--inference-interval', '1.5'],
      /--inference-interval must be a positive integer, got "1.5"/,
    ],
    [['--scenario', 'media', '--streams', '4'], /--streams does not apply to --scenario media/],
    [['--scenario', 'live', '--sampling-interval', '0'], /--sampling-interval must be an integer from 1 to 86400000/],
    [
      ['--scenario', 'live', '--sampling-interval', '2000', '--inference-interval', '6'],
      /--sampling-interval replaces --inference-interval: give one of them/,
    ],
    [['--scenario', 'media', '--sampling-interval', '2000'], /--sampling-interval does not apply to --scenario media/],
    [['--scenario', 'live', '--width', '512px'], /--width must be an integer from 1 to 16384, got "512px"/],
    [['--scenario', 'capacity', '--height', '20000'], /--height must be an integer from 1 to 16384, got "20000"/],
    [['--scenario', 'live', '--price-per-gb=-1'], /--price-per-gb must be a non-negative number, got "-1"/],
    [['--scenario', 'media', '--price-per-gb', '0.01'], /--price-per-gb does not apply to --scenario media/],
    [['--scenario', 'media', '--cpu-prof', 'p'], /--cpu-prof does not apply to --scenario media/],
    [['--scenario', 'live', '--cpu-prof', ''], /--cpu-prof must name a directory/],
    [['--scenario', 'fleet', '--no-stagger'], /--no-stagger does not apply to --scenario fleet/],
    [['--scenario', 'media', '--failover', '20000'], /--failover does not apply to --scenario media/],
    [
      ['--scenario', 'fleet', '--checkpoint-interval', '7000'],
      /--checkpoint-interval does not apply to --scenario fleet/,
    ],
    [
      ['--scenario', 'live', '--checkpoint-interval', '5s'],
      /--checkpoint-interval must be a non-negative integer, got "5s"/,
    ],
    [
      ['--scenario', 'capacity', '--failover', '500'],
      /--failover: failoverTimeMillis must be an integer from 1000 to 3600000, got 500/,
    ],
    [
      ['--scenario', 'live', '--checkpoint-interval', '3600001'],
      /--checkpoint-interval: checkpointIntervalMillis must be an integer from 0 to 3600000, got 3600001/,
    ],
    [['--scenario', 'media', '--file', join(out, 'missing.mkv')], /--file .*missing\.mkv: no such file/],
    [['--scenario', 'media', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['--streams', '4'], /--scenario is required/],
  ];

  for (const [args, message] of cases) {
    // Act + Assess
    t.throws(() => parseBenchArgs(args), { code: 'USAGE', message }, args.join(' '));
  }
});

t.test("options become scenario options, absent ones left to the scenario's defaults", async (t) => {
  // Act
  const parsed = parseBenchArgs([
    '--scenario',
    'live',
    '--streams',
    '8',
    '--duration',
    '30',
    '--warmup',
    '0',
    '--inference-interval',
    '6',
    '--resolution',
    '720p',
    '--bitrate',
    '2M',
    '--gop',
    '2',
    '--runs',
    '3',
    '--bound',
    '500',
    '--width',
    '512',
    '--height',
    '288',
    '--price-per-gb',
    '0.0109',
    '--cpu-prof',
    'profiles',
    '--no-stagger',
    '--failover',
    '20000',
    '--checkpoint-interval',
    '7000',
    '--smoke',
  ]);

  // Assess
  t.same(parsed, {
    scenario: 'live',
    out: 'bench/results',
    options: {
      streams: 8,
      durationSeconds: 30,
      warmupSeconds: 0,
      inferenceInterval: 6,
      resolution: '720p',
      bitrate: '2M',
      gopSeconds: 2,
      runs: 3,
      boundMs: 500,
      imageWidth: 512,
      imageHeight: 288,
      pricePerGB: 0.0109,
      cpuProfileDir: 'profiles',
      staggerStreams: false,
      failoverTimeMillis: 20_000,
      checkpointIntervalMillis: 7000,
      smoke: true,
    },
  });
  t.match(
    parseBenchArgs(['--scenario', 'capacity', '--sampling-interval', '2000', '--width', '512']).options,
    { samplingIntervalMillis: 2000, imageWidth: 512 },
    '--sampling-interval and a single side',
  );
  t.same(
    parseBenchArgs(['--scenario', 'sweep', '--checkpoint-interval', '0']).options,
    { checkpointIntervalMillis: 0 },
    '--checkpoint-interval 0: eager checkpoints, as the worker takes it',
  );
  t.same(
    parseBenchArgs(['--scenario', 'media']),
    { scenario: 'media', out: 'bench/results', options: {} },
    'nothing given, nothing set',
  );
});
