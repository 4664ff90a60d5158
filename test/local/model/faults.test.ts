// Fault specs from the CLI, and the seeded draws that pick each request's fault.

import t from 'tap';
import { FaultPlan, ModelServer, parseFaults, seededRandom } from '../../../src/local/model/index.js';

t.test('parseFaults reads rates, the latency spike length, and blanks', async (t) => {
  // Act
  const parsed = parseFaults(' 500=0.2, 429=0.1,hang=0.05,latency=0.1:2000 ');

  // Assess
  t.same(parsed, { '500': 0.2, '429': 0.1, hang: 0.05, latency: 0.1, latencyMs: 2000 });
  t.same(parseFaults(''), {});
  t.same(parseFaults('503=0,424=1'), { '503': 0, '424': 1 });
});

t.test('parseFaults names the bad token and says what is wrong', async (t) => {
  const cases: [string, RegExp][] = [
    [
      '500=0.2,boom=0.1',
      new RegExp(
        /bad fault token "boom=0\.1": unknown kind "boom" \(known: 500, 503, 424, 429, throttle, latency, /.source +
          /hang, malformed, blackhole\)/.source,
      ),
    ],
    ['500', /bad fault token "500": expected kind=rate/],
    ['500=0.2,,429=0.1', /bad fault token "": expected kind=rate/],
    ['500=abc', /bad fault token "500=abc": rate must be a number from 0 to 1, got "abc"/],
    ['500=1.5', /bad fault token "500=1\.5": rate must be a number from 0 to 1/],
    ['500=', /bad fault token "500=": rate must be a number/],
    ['hang=0.1:500', /bad fault token "hang=0\.1:500": only latency takes :ms/],
    ['latency=0.1:-3', /bad fault token "latency=0\.1:-3": latency ms must be a positive integer, got "-3"/],
    ['500=0.1,500=0.2', /bad fault token "500=0\.2": 500 given twice/],
    ['500=0.6,503=0.6', /fault rates add up to 1\.2, more than 1/],
  ];
  for (const [spec, message] of cases) {
    t.throws(() => parseFaults(spec), { code: 'BAD_FAULT_SPEC', message }, spec);
  }
});

t.test('setFaults and create reject bad rates from code with BAD_FAULT_SPEC', async (t) => {
  // Prepare
  const server = await ModelServer.create({ backend: 'fixed' });
  t.teardown(() => server.close());

  // Assess
  t.throws(() => server.setFaults({ '500': -1 }), {
    code: 'BAD_FAULT_SPEC',
    message: /rate of 500 must be a number from 0 to 1, got -1/,
  });
  t.throws(() => server.setFaults({ latency: 0.1, latencyMs: 0 }), {
    code: 'BAD_FAULT_SPEC',
    message: /latencyMs must be a positive integer/,
  });
  t.throws(() => server.setFaults({ oops: 0.1 } as never), {
    code: 'BAD_FAULT_SPEC',
    message: /unknown fault kind "oops"/,
  });
  await t.rejects(ModelServer.create({ backend: 'fixed', faults: 'x=1' }), { code: 'BAD_FAULT_SPEC' });
  t.same(server.faults, {}, 'a rejected config leaves the old one');
});

t.test('a seeded plan is deterministic and its frequencies follow the rates', async (t) => {
  // Prepare
  const config = { '500': 0.2, hang: 0.05, latency: 0.1 };
  const a = new FaultPlan(config, seededRandom(123));
  const b = new FaultPlan(config, seededRandom(123));
  const c = new FaultPlan(config, seededRandom(124));

  // Act
  const draws = (plan: FaultPlan) => Array.from({ length: 20_000 }, () => plan.next());
  const fromA = draws(a);
  const fromB = draws(b);
  const fromC = draws(c);

  // Assess
  t.same(fromA, fromB, 'same seed, same sequence');
  t.notSame(fromA.slice(0, 100), fromC.slice(0, 100), 'another seed, another sequence');
  const share = (kind: string | null) => fromA.filter((draw) => draw === kind).length / fromA.length;
  t.ok(Math.abs(share('500') - 0.2) < 0.015, `500: ${share('500')}`);
  t.ok(Math.abs(share('hang') - 0.05) < 0.01, `hang: ${share('hang')}`);
  t.ok(Math.abs(share('latency') - 0.1) < 0.01, `latency: ${share('latency')}`);
  t.ok(Math.abs(share(null) - 0.65) < 0.015, `none: ${share(null)}`);
  t.equal(new FaultPlan({}, seededRandom(1)).latencyMs, 1000, 'default spike length');
});
