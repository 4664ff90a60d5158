// `kvs-infer bench --scenario fleet`: the unit and call rates it computes, its options, and a smoke run of real
// lease-only worker processes (the built CLI) at 20 streams on 3 workers whose report has every figure, plausible.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseBenchArgs, runBench } from '../../bench/cli.js';
import type { FleetFigures } from '../../bench/fleet.js';
import { defaultFailoverMillis, fleetScenario } from '../../bench/fleet.js';
import { callRates, unitRates } from '../../bench/fleet-figures.js';

t.test('unit rates count only the EMF intervals wholly inside the window, per worker, then add up', async (t) => {
  // Prepare: worker a reports every second from t=0, b every two seconds from t=1000.
  const a = [0, 1000, 2000, 3000, 4000].map((at) => ({ at, read: 2, write: 10, syncs: 0 }));
  const b = [1000, 3000, 5000].map((at) => ({ at, read: 8, write: 4, syncs: 1 }));

  // Act: [1000, 4000] holds a's intervals ending at 2000, 3000, 4000 and b's ending at 3000.
  const rates = unitRates([a, b], 1000, 4000);

  // Assess: a 6 read units over 3 s, b 8 over 2 s.
  t.same(rates, { read: 2 + 4, write: 10 + 2, syncs: 0.5, workers: 2 });
  t.same(unitRates([a], 4500, 9000), { read: 0, write: 0, syncs: 0, workers: 0 }, 'no whole interval: nothing');
});

t.test('call rates are the differences of two counts over the seconds between them', async (t) => {
  // Act
  const rates = callRates(
    { ListStreams: { admitted: 2, throttled: 0 } },
    { ListStreams: { admitted: 6, throttled: 0 }, ListTagsForStream: { admitted: 100, throttled: 10 } },
    4,
  );

  // Assess
  t.same(rates, { ListStreams: { admitted: 1, throttled: 0 }, ListTagsForStream: { admitted: 25, throttled: 2.5 } });
});

t.test('failoverTimeMillis defaults to what keeps renewals at 150 writes a second, 10 s at least', async (t) => {
  t.equal(defaultFailoverMillis(20), 10_000);
  t.equal(defaultFailoverMillis(1000), 20_000);
  t.equal(defaultFailoverMillis(2000), 40_000);
});

t.test('fleet options parse, and are refused for other scenarios or with bad values', async (t) => {
  // Act
  const parsed = parseBenchArgs([
    '--scenario',
    'fleet',
    '--streams',
    '100',
    '--workers',
    '4',
    '--lease-assignment',
    'every-worker',
    '--failover',
    '5000',
  ]);

  // Assess
  t.same(parsed.options, { streams: 100, workers: 4, leaseAssignment: 'every-worker', failoverTimeMillis: 5000 });
  const cases: [string[], RegExp][] = [
    [['--scenario', 'fleet', '--workers', '0'], /--workers must be a positive integer, got "0"/],
    [['--scenario', 'fleet', '--lease-assignment', 'any'], /--lease-assignment must be leader or every-worker/],
    [['--scenario', 'fleet', '--failover', '1s'], /--failover must be a positive integer, got "1s"/],
    [['--scenario', 'live', '--workers', '3'], /--workers does not apply to --scenario live/],
    [['--scenario', 'fleet', '--runs', '3', '--gop', '2'], /--gop, --runs do not apply to --scenario fleet/],
  ];
  for (const [args, message] of cases) t.throws(() => parseBenchArgs(args), { code: 'USAGE', message }, args.join(' '));
  // One worker is killed at the end, and not the sync-lease holder: a fleet of one cannot run.
  await t.rejects(
    fleetScenario({ workers: 1 }, () => undefined),
    {
      code: 'USAGE',
      message: '--workers must be at least 2 for --scenario fleet, got 1',
    },
  );
});

t.test('a smoke run reports every figure, and they are plausible', async (t) => {
  // Prepare
  const out = t.testdir();

  // Act
  const run = await runBench(['--scenario', 'fleet', '--smoke', '--out', out]);

  // Assess
  const file = JSON.parse(readFileSync(join(out, 'fleet.json'), 'utf8')) as { figures: FleetFigures };
  t.same(file.figures, run.report.figures, 'fleet.json holds the figures');
  t.match(readFileSync(join(out, 'fleet.md'), 'utf8'), /\| lease table RCU\/s \(steady\) \|/, 'fleet.md the table');
  const f = file.figures;
  t.match(f, { streams: 20, workers: 3, failoverTimeMillis: 3000 });
  for (const phase of ['coldStart', 'scaleOut', 'scaleIn', 'killed'] as const) {
    t.type(f[phase].balancedMs, 'number', `${phase}: balanced`);
    t.ok(f[phase].peakHeld >= 1, `${phase}: some worker took a lease (${f[phase].peakHeld})`);
  }
  t.ok(f.coldStart.allHeldMs! <= f.coldStart.balancedMs!, 'all held no later than balanced');
  t.match(f.scaleOut, { added: 1, workers: 4, share: 5 });
  t.match(f.scaleIn, { stopped: 1, workers: 3, share: 7, exitCodes: [0] });
  t.match(f.killed, { workers: 2, share: 10 });
  t.ok(f.killed.leases >= 1, `the killed worker held leases (${f.killed.leases})`);
  // Its leases expire no sooner than a renewal interval short of failoverTimeMillis after its last renewal.
  t.ok(f.killed.failoverMs! >= 2000 && f.killed.failoverMs! < 60_000, `failover in ${f.killed.failoverMs} ms`);
  // Every lease renewed once per failoverTimeMillis / 3 (1 s): at least 20 write units a second, and reads > 0.
  t.ok(f.steady.wcuPerSecond >= 16, `${f.steady.wcuPerSecond} WCU/s`);
  t.ok(f.steady.rcuPerSecond > 0, `${f.steady.rcuPerSecond} RCU/s`);
  t.equal(f.steady.leaseMoves, 0, 'no lease moved in steady state');
  t.ok(f.kvsCalls.ListTagsForStream!.admitted >= 20, 'every stream tagged looked up');
  t.ok(f.kvsCalls.ListStreams!.admitted >= 1, 'streams listed');
  t.same(
    Object.values(f.kvsCalls).map((c) => c.throttled),
    Object.values(f.kvsCalls).map(() => 0),
    'KVS throttled nothing',
  );
});
