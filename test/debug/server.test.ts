// The debug server over HTTP: probes, metrics a Prometheus parser accepts, the state as JSON and as
// server-sent events that follow a lease machine, and the page's own assets.

import { type IncomingMessage, request } from 'node:http';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import t, { type Test } from 'tap';
import { type FleetView, FleetWatch } from '../../src/debug/fleet.js';
import { describeDiagram } from '../../src/debug/machine-diagram.js';
import { toSvg } from '../../src/debug/machine-svg.js';
import { DebugServer, EVENT_STREAM_MAX_UNSENT_BYTES } from '../../src/debug/server.js';
import type { DebugSource, WorkerView } from '../../src/debug/types.js';
import { leaseMachine } from '../../src/machines/index.js';
import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE, prometheusText } from '../../src/metrics/index.js';
import { leaseStack } from '../actors/lease/lease-fixtures.js';
import { DrivenLease, drivenSource, settle } from './driven-leases.js';

async function serve(
  t: Test,
  source: DebugSource,
  metrics = new MetricsRegistry({ appName: 'debug-test', workerId: 'test-worker' }),
  fleet?: FleetWatch,
): Promise<DebugServer> {
  const server = await DebugServer.start({
    source,
    metrics: () => ({ body: prometheusText(metrics), contentType: PROMETHEUS_CONTENT_TYPE }),
    machineSvg: () => toSvg(describeDiagram(leaseMachine)),
    fleet,
  });
  t.teardown(() => server.close());
  return server;
}

/** A source whose readiness and health the test sets. */
function withProbes(source: DebugSource, state: { notReady: string | null; stuck: string | null }): DebugSource {
  return { ...source, view: (): WorkerView => ({ ...source.view(), ...state, ready: state.notReady === null }) };
}

t.test("probes: /readyz and /healthz answer 503 with the worker's reason, 200 without one", async (t) => {
  // Prepare
  const state: { notReady: string | null; stuck: string | null } = {
    notReady: 'the lease table has not been scanned yet',
    stuck: null,
  };
  const server = await serve(t, withProbes(drivenSource([]), state));
  const probe = async (path: string) => {
    const res = await fetch(`${server.url}${path}`);
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  };

  // Act, Assess
  t.same(await probe('/healthz'), { status: 200, body: { status: 'alive' } }, '/healthz is 200 while not stuck');
  t.same(
    await probe('/readyz'),
    { status: 503, body: { status: 'not ready', reason: 'the lease table has not been scanned yet' } },
    'not ready before the first scan',
  );
  state.notReady = null;
  t.same(await probe('/readyz'), { status: 200, body: { status: 'ready' } }, 'ready after it');
  state.notReady = 'data stream results does not exist';
  t.same(
    await probe('/readyz'),
    { status: 503, body: { status: 'not ready', reason: 'data stream results does not exist' } },
    'not ready without its data stream',
  );
  state.stuck = 'no progress for 60000 ms';
  t.same(
    await probe('/healthz'),
    { status: 503, body: { status: 'stuck', reason: 'no progress for 60000 ms' } },
    '/healthz is 503 once stuck',
  );
});

t.test('/metrics is Prometheus text that a Prometheus parser reads, with the stream as a label', async (t) => {
  // Prepare
  const metrics = new MetricsRegistry({ appName: 'debug-test', workerId: 'test-worker' });
  metrics.add('FramesPublished', 3, { stream: 'front-door' });
  for (const ms of [120, 180, 240]) metrics.observe('IngestToProcessLatency', ms, { stream: 'front-door' });
  const server = await serve(t, drivenSource([]), metrics);

  // Act
  const res = await fetch(`${server.url}/metrics`);
  const text = await res.text();
  const families = parsePrometheusTextFormat(text);

  // Assess
  t.equal(res.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE, 'the exposition format content type');
  const published = families.find((f) => f.name === 'kvs_infer_frames_published_total');
  t.equal(published?.type, 'COUNTER', 'a counter family');
  t.same(
    published?.metrics,
    [{ labels: { app: 'debug-test', worker: 'test-worker', stream: 'front-door' }, value: '3' }],
    'with its labels and value',
  );
  const latency = families.find((f) => f.name === 'kvs_infer_ingest_to_process_latency_ms');
  t.equal(latency?.type, 'SUMMARY', 'latency is a summary');
  const quantiles = (latency?.metrics[0] as { quantiles?: Record<string, string> } | undefined)?.quantiles ?? {};
  t.same(Object.keys(quantiles).sort(), ['0.5', '0.9', '0.99'], 'with the three quantiles');
  t.ok(Math.abs(Number(quantiles['0.5']) - 180) <= 1, `median ${quantiles['0.5']} of 120, 180, 240`);
  // This parser drops a summary's _sum and _count; they are checked on the text itself.
  t.match(
    text,
    /^kvs_infer_ingest_to_process_latency_ms_count\{[^}]*stream="front-door"[^}]*\} 3$/m,
    '_count of the three samples',
  );
  t.match(text, /^kvs_infer_ingest_to_process_latency_ms_sum\{[^}]*\} 540$/m, 'and their _sum');
});

t.test(
  '/debug/state and /debug/events follow the lease machines as they move, events sending only changes',
  async (t) => {
    // Prepare
    const lease = new DrivenLease('front-door');
    const idle = new DrivenLease('parking-lot');
    t.teardown(() => {
      lease.stop();
      idle.stop();
    });
    const server = await serve(t, drivenSource([lease, idle]));
    const controller = new AbortController();
    t.teardown(() => controller.abort());
    const events = await fetch(`${server.url}/debug/events`, { signal: controller.signal });
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    /** The next event: its type (`message` unless named) and its data. */
    const nextEvent = async (): Promise<{ event: string; data: WorkerView & { removed?: string[] } }> => {
      while (!buffered.includes('\n\n')) buffered += (await reader.read()).value ?? '';
      const [message, ...rest] = buffered.split('\n\n');
      buffered = rest.join('\n\n');
      const event = /^event: (.*)$/m.exec(message!)?.[1] ?? 'message';
      return { event, data: JSON.parse(/^data: (.*)$/m.exec(message!)![1]!) };
    };

    // Act, Assess
    t.equal(events.headers.get('content-type'), 'text/event-stream; charset=utf-8', 'an event stream');
    const first = await nextEvent();
    t.equal(first.event, 'message', 'the first event is the whole view');
    t.same(
      first.data.leases.map((l) => [l.stream, l.states]),
      [
        ['front-door', ['lease.acquiring']],
        ['parking-lot', ['lease.acquiring']],
      ],
      'as it is',
    );
    lease.acquire('9134');
    await settle();
    const next = await nextEvent();
    t.equal(next.event, 'changes', 'the next, only what changed');
    t.same(
      next.data.leases.map((l) => [l.stream, l.states]),
      [['front-door', ['lease.reading.media.streaming', 'lease.reading.checkpoints.idle']]],
      'front-door into reading; parking-lot, unchanged, is not sent',
    );
    t.same(next.data.removed, [], 'no lease gone');
    t.equal(next.data.workerId, 'test-worker', "with the worker's fields");
    const state = (await (await fetch(`${server.url}/debug/state`)).json()) as WorkerView;
    t.match(
      state.leases[0],
      { stream: 'front-door', checkpoint: '9134', status: 'active' },
      '/debug/state has the lease with its checkpoint',
    );
    t.same(
      state.leases[0]!.transitions.map((x) => x.event),
      ['xstate.init', 'xstate.done.actor.acquirer'],
      'and its transitions, with the events behind them',
    );
  },
);

/** Opens `/debug/events` with node:http over 127.0.0.1: the response, once its headers are in. */
function openEvents(t: Test, url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/debug/events`, resolve);
    req.on('error', reject);
    t.teardown(() => req.destroy());
    req.end();
  });
}

t.test('/debug/events drops a client that stops reading once the cap waits unsent for it; others go on', async (t) => {
  // Prepare: a source whose every change carries a large payload, so events pile up fast behind a stalled client
  const payload = 'x'.repeat(256 * 1024);
  const listeners = new Set<() => void>();
  let version = 0;
  const base = drivenSource([]);
  const source: DebugSource = {
    view: (): WorkerView => ({ ...base.view(), stats: { version, payload } }),
    subscribe(onChange) {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
  };
  const server = await serve(t, source);
  const stalled = await openEvents(t, server.url);
  // It never reads: its socket's buffers fill, then the server's.
  stalled.pause();
  // The server's destroying the socket may reach it as an aborted response.
  stalled.on('error', () => undefined);
  const reading = await openEvents(t, server.url);
  reading.setEncoding('utf8');
  let buffered = '';
  let readVersion = -1;
  reading.on('data', (chunk: string) => {
    buffered += chunk;
    const messages = buffered.split('\n\n');
    buffered = messages.pop()!;
    for (const message of messages) {
      const data = /^data: (.*)$/m.exec(message)?.[1];
      if (data !== undefined) readVersion = (JSON.parse(data) as WorkerView).stats.version as number;
    }
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, ...server.unsentEventBytes)), 5);
  t.teardown(() => clearInterval(sampler));
  /** Changes the view every 50 ms (the server coalesces them into four events a second) until `done`. */
  const changeUntil = async (done: () => boolean, what: string) => {
    const deadline = Date.now() + 30_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`not ${what} within 30 s`);
      version++;
      for (const onChange of [...listeners]) onChange();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  // Act
  t.equal(listeners.size, 2, 'both clients subscribed');
  await changeUntil(() => listeners.size < 2, 'dropped');
  const droppedAt = version;
  await changeUntil(() => readVersion > droppedAt, 'read after the drop');

  // Assess
  const event = `event: changes\ndata: ${JSON.stringify({ version, payload })}\n\n`.length;
  t.equal(listeners.size, 1, 'the stalled client is unsubscribed');
  t.equal(server.unsentEventBytes.length, 1, 'and its stream gone from the server');
  t.ok(peak <= EVENT_STREAM_MAX_UNSENT_BYTES + event, `at most the cap and one event waited unsent (${peak} bytes)`);
  t.ok(peak > EVENT_STREAM_MAX_UNSENT_BYTES - event, `it was dropped at the cap, not before (${peak} bytes)`);
  t.ok(readVersion > droppedAt, `the reading client still receives events (${readVersion} after ${droppedAt})`);
});

t.test('the page, its assets and the diagram are served by the worker; anything else is 404', async (t) => {
  // Prepare
  const server = await serve(t, drivenSource([]));
  const get = async (path: string) => {
    const res = await fetch(`${server.url}${path}`);
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
  };

  // Act, Assess
  t.match(await get('/debug'), { status: 200, type: /text\/html/, body: /lease inspector/ }, '/debug is the page');
  t.match(await get('/debug/app.js'), { status: 200, type: /javascript/ }, 'its script');
  t.match(await get('/debug/style.css'), { status: 200, type: /text\/css/ }, 'its style sheet');
  t.match(
    await get('/debug/machine.svg'),
    { status: 200, type: /image\/svg\+xml/, body: /data-state="lease\.reading\.media\.streaming"/ },
    'the lease machine diagram',
  );
  t.match(await get('/debug/../package.json'), { status: 404 }, 'no path escapes the assets');
  t.match(await get('/nope'), { status: 404 }, 'unknown paths are 404');
  t.equal((await fetch(`${server.url}/debug/state`, { method: 'POST' })).status, 405, 'only GET');
});

t.test('/debug/fleet: the lease table as JSON, scanned at most once per interval; 404 without a table', async (t) => {
  // Prepare: a real lease table, with a lease another worker holds
  const stack = await leaseStack(t);
  const table = await stack.table('served-fleet');
  await table.createLease('front-door');
  await table.take({ leaseKey: 'front-door', leaseCounter: 0, ownerSwitchesSinceCheckpoint: 0 }, 'other-worker');
  const server = await serve(t, drivenSource([]), undefined, new FleetWatch({ table, intervalMillis: 60_000 }));
  const without = await serve(t, drivenSource([]));

  // Act
  const res = await fetch(`${server.url}/debug/fleet`);
  const fleet = (await res.json()) as FleetView;
  await table.createLease('parking-lot');
  const again = (await (await fetch(`${server.url}/debug/fleet`)).json()) as FleetView;

  // Assess
  t.match(res.headers.get('content-type'), /application\/json/);
  t.match(fleet, {
    intervalMillis: 60_000,
    error: null,
    unowned: 0,
    leases: [{ leaseKey: 'front-door', owner: 'other-worker', leaseCounter: 1, ownerSwitchesSinceCheckpoint: 1 }],
    workers: [{ workerId: 'other-worker', leases: 1, expired: 0, holdsSyncLease: false }],
  });
  t.same(again, fleet, 'within the interval: the same scan, the new lease not yet seen');
  const missing = await fetch(`${without.url}/debug/fleet`);
  t.equal(missing.status, 404, 'no fleet view without a lease table');
  t.match(await missing.json(), { error: /no lease table/ });
});
