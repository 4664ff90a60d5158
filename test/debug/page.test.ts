/// <reference lib="dom" />
// The lease inspector in headless Chromium: the page loads with no network beyond the worker, draws a
// state machine per lease, and follows a lease live as the test drives it through acquiring, reading,
// draining, checkpointing and released, while another lease stays where it is; its stage latency table
// shows p50 / p99 of every stage from the worker's metrics, and follows them. Saves a screenshot.

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { chromium, type Page } from 'playwright-core';
import t from 'tap';
import { describeDiagram } from '../../src/debug/machine-diagram.js';
import { toSvg } from '../../src/debug/machine-svg.js';
import { DebugServer } from '../../src/debug/server.js';
import { leaseMachine } from '../../src/machines/index.js';
import { MetricsRegistry, PIPELINE_STAGES, PROMETHEUS_CONTENT_TYPE, prometheusText } from '../../src/metrics/index.js';
import { DrivenLease, drivenSource, settle } from './driven-leases.js';

const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT = '.tap/artifacts/debug-page.png';

/** The states the page shows for `stream`, once they are `expected`. */
async function pageShows(page: Page, stream: string, expected: string[]): Promise<string[]> {
  const card = page.locator(`.lease[data-stream="${stream}"]`);
  await page.waitForFunction(
    ([s, want]) => document.querySelector(`.lease[data-stream="${s}"]`)?.getAttribute('data-states') === want,
    [stream, expected.join(' ')] as const,
    { timeout: 5000 },
  );
  return (
    await card
      .locator('svg [data-state].current')
      .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-state')!))
  ).sort();
}

/** The stage latency cells the page shows for `stream`, by metric, once the first stage's cell reads `first`. */
async function stagesShown(page: Page, stream: string, first: string): Promise<Record<string, string>> {
  const row = `#stages tbody tr[data-stream="${stream}"]`;
  await page.waitForFunction(
    ([r, want]) => document.querySelector(`${r} td[data-metric]`)?.textContent === want,
    [row, first] as const,
    { timeout: 5000 },
  );
  const cells = await page
    .locator(`${row} td[data-metric]`)
    .evaluateAll((nodes) => nodes.map((n) => [n.getAttribute('data-metric')!, n.textContent!]));
  return Object.fromEntries(cells);
}

t.test(
  'the page follows a lease through its states, live and offline',
  { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)` },
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
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    t.teardown(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const requested: string[] = [];
    // Offline: anything not served by the worker itself is refused, and recorded.
    await page.route('**/*', (route) => {
      requested.push(route.request().url());
      return route.request().url().startsWith(server.url) ? route.continue() : route.abort();
    });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));

    // Act, Assess: the page loads and shows both leases acquiring
    await page.goto(`${server.url}/debug`);
    t.same(
      await pageShows(page, 'front-door', ['lease.acquiring']),
      ['lease.acquiring'],
      'front-door: acquiring, highlighted in its diagram',
    );
    t.same(await pageShows(page, 'parking-lot', ['lease.acquiring']), ['lease.acquiring'], 'parking-lot: acquiring');
    t.equal(await page.locator('.lease').count(), 2, 'one diagram per lease');

    // Assess: the stage latency table, one column per stage in a frame's order, named by its metric
    const heads = await page.locator('#stages thead th').allTextContents();
    t.same(
      heads,
      ['stream', ...PIPELINE_STAGES.map((s) => `${s.from} → ${s.to}${s.metric}`)],
      'a column per stage, in order, with its metric',
    );
    t.same(
      await stagesShown(page, 'front-door', '20 / 30'),
      Object.fromEntries(PIPELINE_STAGES.map(({ metric }, i) => [metric, `${20 * (i + 1)} / ${30 * (i + 1)}`])),
      'front-door: p50 / p99 of every stage',
    );
    t.same(
      Object.values(await stagesShown(page, 'parking-lot', '—')),
      PIPELINE_STAGES.map(() => '—'),
      'parking-lot: no frame yet, no values',
    );

    // Act, Assess: reading (a parallel state: both regions' states are current, the parent active); meanwhile ten
    // frames took 5 s from ingest to the worker, which the table shows with the lease's next change
    for (let i = 0; i < 10; i++) metrics.observe('IngestToProcessLatency', 5000, { stream: 'front-door' });
    followed.acquire();
    await settle();
    t.same(
      await pageShows(page, 'front-door', ['lease.reading.media.streaming', 'lease.reading.checkpoints.idle']),
      ['lease.reading.checkpoints.idle', 'lease.reading.media.streaming'],
      'reading: streaming and idle',
    );
    t.ok(
      await page
        .locator('.lease[data-stream="front-door"] svg [data-state="lease.reading"]')
        .evaluate((n) => n.classList.contains('active')),
      'reading itself is marked active',
    );
    const followedStages = await stagesShown(page, 'front-door', '5000 / 5000');
    t.match(
      followedStages,
      { IngestToProcessLatency: '5000 / 5000', ReceivedToDecodedLatency: '40 / 60' },
      'the table follows the metrics',
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
    t.ok(
      await page.locator('.lease[data-stream="front-door"]').evaluate((n) => n.classList.contains('done')),
      'the ended lease is marked done',
    );

    // Assess: the other lease never moved; the history and the table say what happened
    t.same(other.states, ['lease.acquiring'], 'parking-lot is still acquiring');
    t.same(
      await pageShows(page, 'parking-lot', ['lease.acquiring']),
      ['lease.acquiring'],
      'and the page still shows it so',
    );
    const history = await page.locator('.lease[data-stream="front-door"] .history li').allTextContents();
    for (const event of ['SHUTDOWN', 'DRAINED', 'xstate.done.actor.finalCheckpoint'])
      t.ok(
        history.some((line) => line.includes(event)),
        `history shows ${event}`,
      );
    t.match(
      await page.locator('#streams tbody tr[data-stream="front-door"]').textContent(),
      /released/,
      'the streams table shows front-door released',
    );
    t.match(
      await page.locator('.lease[data-stream="front-door"] .lease-states').textContent(),
      'released',
      'the card heading says released',
    );
    t.match(await page.locator('#workers').textContent(), /test-worker.*other-worker/, 'the workers are listed');
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
