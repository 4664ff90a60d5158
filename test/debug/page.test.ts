/// <reference lib="dom" />
// The lease inspector in headless Chromium: the page loads with no network beyond the worker, lists every lease
// in its table, draws the selected lease's state machine and follows it live as the test drives it through
// acquiring, reading, draining, checkpointing and released, while another lease stays where it is; the selected
// lease's stage latency table shows p50 / p99 of every stage from the worker's metrics, and follows them.

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import t from 'tap';
import { FleetWatch } from '../../src/debug/fleet.js';
import { describeDiagram } from '../../src/debug/machine-diagram.js';
import { toSvg } from '../../src/debug/machine-svg.js';
import { DebugServer } from '../../src/debug/server.js';
import { leaseMachine } from '../../src/machines/index.js';
import { MetricsRegistry, PIPELINE_STAGES, PROMETHEUS_CONTENT_TYPE, prometheusText } from '../../src/metrics/index.js';
import { leaseStack } from '../actors/lease/lease-fixtures.js';
import { offlinePage, withoutChromium } from './browser.js';
import { DrivenLease, drivenSource, settle } from './driven-leases.js';

const SCREENSHOT = '.tap/artifacts/debug-page.png';

/** The states the selected lease's diagram highlights, once its panel shows `expected` for `stream`. */
async function pageShows(page: Page, stream: string, expected: string[]): Promise<string[]> {
  await page.waitForFunction(
    ([s, want]) => {
      const detail = document.querySelector(`#detail[data-stream="${s}"]`);
      return detail?.getAttribute('data-states') === want && document.querySelector('#diagram svg') !== null;
    },
    [stream, expected.join(' ')] as const,
    { timeout: 5000 },
  );
  return (
    await page
      .locator('#diagram svg [data-state].current')
      .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-state')!))
  ).sort();
}

/** The state column of `stream`'s row, once it reads `expected`. */
async function rowState(page: Page, stream: string, expected: string): Promise<string> {
  const cell = `#leases tbody tr[data-stream="${stream}"] td[data-key="state"]`;
  await page.waitForFunction(
    ([c, want]) => document.querySelector(c)?.textContent === want,
    [cell, expected] as const,
    { timeout: 5000 },
  );
  return (await page.locator(cell).textContent())!;
}

/** The selected lease's stage latency cells, by metric, once the first stage's reads `first`. */
async function stagesShown(page: Page, first: string): Promise<Record<string, string>> {
  await page.waitForFunction(
    (want) => document.querySelector('#stages tbody tr td:nth-child(2)')?.textContent === want,
    first,
    { timeout: 5000 },
  );
  const cells = await page
    .locator('#stages tbody tr')
    .evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-metric')!, r.children[1]!.textContent!]));
  return Object.fromEntries(cells);
}

t.test(
  'the page lists the leases and follows the selected one through its states, live and offline',
  { skip: withoutChromium },
  async (t) => {
    // Prepare: two leases the test drives, served as a worker's view; front-door's frames went through every stage
    // (stage i: 10i, 20i and 30i ms), parking-lot's through none
    const followed = new DrivenLease('front-door');
    const other = new DrivenLease('parking-lot');
    t.teardown(() => {
      for (const lease of [followed, other]) lease.stop();
    });
    const metrics = new MetricsRegistry({ appName: 'debug-test', workerId: 'test-worker' });
    t.teardown(() => metrics.destroy());
    for (const [i, { metric }] of PIPELINE_STAGES.entries()) {
      for (const ms of [10, 20, 30]) metrics.observe(metric, ms * (i + 1), { stream: 'front-door' });
    }
    const svg = toSvg(describeDiagram(leaseMachine));
    const server = await DebugServer.start({
      source: drivenSource([followed, other], metrics),
      metrics: () => ({ body: prometheusText(metrics), contentType: PROMETHEUS_CONTENT_TYPE }),
      machineSvg: () => svg,
    });
    t.teardown(() => server.close());
    const { page, requested, errors } = await offlinePage(t, server.url);

    // Act, Assess: the page loads and lists both leases acquiring; no diagram until one is selected
    await page.goto(`${server.url}/debug`);
    t.equal(await rowState(page, 'front-door', 'acquiring'), 'acquiring', 'front-door: acquiring');
    t.equal(await rowState(page, 'parking-lot', 'acquiring'), 'acquiring', 'parking-lot: acquiring');
    t.equal(await page.locator('svg').count(), 0, 'no diagram drawn before a lease is selected');
    await page.click('#leases tbody tr[data-stream="front-door"]');
    t.same(
      await pageShows(page, 'front-door', ['lease.acquiring']),
      ['lease.acquiring'],
      'selected, front-door is drawn, acquiring highlighted',
    );
    t.equal(await page.locator('svg').count(), 1, 'one diagram: the selected lease');

    // Assess: the stage latency table, one row per stage in a frame's order, named by its metric
    t.same(
      await page.locator('#stages tbody td:first-child').allTextContents(),
      PIPELINE_STAGES.map((s) => `${s.from} → ${s.to} ${s.metric}`),
      'a row per stage, in order, with its metric',
    );
    t.same(
      await stagesShown(page, '20 / 30'),
      Object.fromEntries(PIPELINE_STAGES.map(({ metric }, i) => [metric, `${20 * (i + 1)} / ${30 * (i + 1)}`])),
      'front-door: p50 / p99 of every stage',
    );

    // Act, Assess: reading (a parallel state: both regions' states are current, the parent active); meanwhile ten
    // frames took 5 s from ingest to the worker, which the panel shows with the lease's next change
    for (let i = 0; i < 10; i++) metrics.observe('IngestToProcessLatency', 5000, { stream: 'front-door' });
    followed.acquire();
    await settle();
    t.same(
      await pageShows(page, 'front-door', ['lease.reading.media.streaming', 'lease.reading.checkpoints.idle']),
      ['lease.reading.checkpoints.idle', 'lease.reading.media.streaming'],
      'reading: streaming and idle',
    );
    t.ok(
      await page.locator('#diagram svg [data-state="lease.reading"]').evaluate((n) => n.classList.contains('active')),
      'reading itself is marked active',
    );
    t.match(
      await stagesShown(page, '5000 / 5000'),
      { IngestToProcessLatency: '5000 / 5000', ReceivedToDecodedLatency: '40 / 60' },
      'the stage table follows the metrics',
    );

    // Act, Assess: draining, checkpointing, released
    followed.send({
      type: 'FRAGMENT_COMPLETE',
      fragmentNumber: '91343852333181432392682062607743920146159169392',
      serverTimestamp: Date.now(),
    });
    followed.send({ type: 'SHUTDOWN' });
    t.same(await pageShows(page, 'front-door', ['lease.draining']), ['lease.draining'], 'draining');
    followed.send({ type: 'DRAINED' });
    t.same(await pageShows(page, 'front-door', ['lease.checkpointing']), ['lease.checkpointing'], 'checkpointing');
    followed.finishWrite();
    await settle();
    t.same(await pageShows(page, 'front-door', ['lease.released']), ['lease.released'], 'released');
    t.ok(await page.locator('#detail').evaluate((n) => n.classList.contains('done')), 'the ended lease is marked done');

    // Assess: the other lease never moved; the history and the table say what happened
    t.same(other.states, ['lease.acquiring'], 'parking-lot is still acquiring');
    t.equal(await rowState(page, 'parking-lot', 'acquiring'), 'acquiring', 'and the table still shows it so');
    const history = await page.locator('#history li').allTextContents();
    for (const event of ['SHUTDOWN', 'DRAINED', 'xstate.done.actor.finalCheckpoint'])
      t.ok(
        history.some((line) => line.includes(event)),
        `history shows ${event}`,
      );
    t.equal(await rowState(page, 'front-door', 'released (ended)'), 'released (ended)', 'the table: released');
    t.match(await page.locator('#detail-states').textContent(), 'released', 'the panel heading says released');
    t.match(await page.locator('#workers').textContent(), /test-worker.*other-worker/, 'the workers are listed');

    // Act, Assess: selecting parking-lot draws its diagram instead
    await page.click('#leases tbody tr[data-stream="parking-lot"]');
    t.same(await pageShows(page, 'parking-lot', ['lease.acquiring']), ['lease.acquiring'], 'parking-lot drawn');
    t.equal(await page.locator('#history li').count(), 1, 'with its own history: its start');
    t.same(errors, [], 'no script errors');
    t.ok(
      requested.length >= 4 && requested.every((url) => url.startsWith(server.url)),
      `all ${requested.length} requests went to the worker itself`,
    );

    await mkdir('.tap/artifacts', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    t.ok(existsSync(SCREENSHOT), `screenshot saved to ${SCREENSHOT}`);
  },
);

t.test(
  "the fleet: another worker's leases beside this worker's, and those it stopped renewing",
  { skip: withoutChromium },
  async (t) => {
    // Prepare: this worker holds front-door and renews it; gone-worker held garage and stopped renewing it
    const stack = await leaseStack(t);
    const table = await stack.table('page-fleet');
    for (const key of ['front-door', 'garage']) await table.createLease(key);
    const fresh = { leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 };
    let held = await table.take({ leaseKey: 'front-door', ...fresh }, 'test-worker');
    await table.take({ leaseKey: 'garage', ...fresh }, 'gone-worker');
    // This worker renews its lease, as its coordinator would.
    const renewals = setInterval(() => {
      table.renew(held, 'test-worker').then(
        (renewed) => (held = renewed),
        () => undefined,
      );
    }, 250);
    t.teardown(() => clearInterval(renewals));
    const lease = new DrivenLease('front-door');
    t.teardown(() => lease.stop());
    const server = await DebugServer.start({
      source: drivenSource([lease]),
      metrics: () => ({ body: '', contentType: PROMETHEUS_CONTENT_TYPE }),
      machineSvg: () => toSvg(describeDiagram(leaseMachine)),
      fleet: new FleetWatch({ table, intervalMillis: 200, failoverTimeMillis: 1_000 }),
    });
    t.teardown(() => server.close());
    const { page, errors } = await offlinePage(t, server.url);

    // Act
    await page.goto(`${server.url}/debug`);

    // Assess: garage is listed as the other worker's, then as expired once its counter stood still past failover
    t.equal(await rowState(page, 'garage', 'other worker'), 'other worker', "garage: the other worker's");
    t.equal(await rowState(page, 'garage', 'expired'), 'expired', 'then expired');
    t.equal(await rowState(page, 'front-door', 'acquiring'), 'acquiring', "front-door: this worker's machine");
    await page.waitForFunction(() => document.querySelector('#workers li[data-worker="gone-worker"] .badge.off'));
    t.same(
      await page.locator('#workers li').allTextContents(),
      ['gone-worker11 expired', 'test-worker1'],
      'each worker with its lease count, and how many expired',
    );
    await page.selectOption('#filter-state', 'expired');
    await page.waitForFunction(() => document.getElementById('shown')?.textContent === '1 of 2');
    t.same(
      await page
        .locator('#leases tbody tr[data-stream]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-stream'))),
      ['garage'],
      'the state filter shows the expired lease alone',
    );
    await page.selectOption('#filter-state', '');
    await page.check('#filter-errors');
    await page.waitForFunction(() => document.getElementById('shown')?.textContent === '1 of 2');
    t.ok(
      await page.locator('#leases tbody tr[data-stream="garage"]').evaluate((n) => n.classList.contains('has-error')),
      'an expired lease counts as an error',
    );
    t.same(errors, [], 'no script errors');
  },
);
