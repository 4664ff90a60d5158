// The lease inspector: draws each lease's state machine (the diagram the worker renders from the machine
// definition) and follows the worker's state through server-sent events, highlighting every lease's states.

const svgText = await (await fetch('/debug/machine.svg')).text();
const cards = new Map();

const el = (tag, { dataset = {}, ...props } = {}, children = []) => {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
};
const short = (fragment) => (fragment ? `…${fragment.slice(-8)}` : '—');
const ms = (value) => (value === null || value === undefined ? '—' : `${Math.round(value)} ms`);
const leaf = (state) => state.split('.').slice(1).join('.');

function renderWorker(view) {
  const uptime = Math.round((view.now - view.startedAt) / 1000);
  document
    .getElementById('worker')
    .replaceChildren(
      el('span', { textContent: `worker ${view.workerId}` }),
      el('span', { className: 'muted', textContent: `app ${view.appName}` }),
      el('span', { className: `badge ${view.ready ? 'on' : 'off'}`, textContent: view.ready ? 'ready' : 'not ready' }),
      ...(view.draining ? [el('span', { className: 'badge off', textContent: 'draining' })] : []),
      ...(view.holdsSyncLease ? [el('span', { className: 'badge', textContent: 'runs discovery' })] : []),
      el('span', { className: 'muted', textContent: `up ${uptime} s` }),
    );
  document
    .getElementById('workers')
    .replaceChildren(
      ...view.workers.map((w) => el('li', { className: w === view.workerId ? 'self' : '', textContent: w })),
    );
}

function renderStreams(view) {
  const rows = view.leases.map((lease) => {
    const c = lease.counters;
    const cells = [
      el('td', { textContent: lease.stream }),
      el('td', { textContent: lease.states.map(leaf).join(', ') }),
      el('td', { textContent: short(lease.checkpoint), title: lease.checkpoint ?? '' }),
      el('td', { className: 'num', textContent: ms(lease.millisBehindNow) }),
      ...['sampled', 'published', 'failed', 'dropped', 'reconnects'].map((key) =>
        el('td', { className: 'num', textContent: String(c[key] ?? 0) }),
      ),
    ];
    return el('tr', { dataset: { stream: lease.stream } }, cells);
  });
  document.querySelector('#streams tbody').replaceChildren(...rows);
}

// One column per stage of a frame's path, as the worker lists them (every lease lists the same), named by its metric.
function renderStages(view) {
  const stages = view.leases[0]?.stages ?? [];
  const heads = stages.map((s) =>
    el('th', { className: 'num' }, [`${s.from} → ${s.to}`, el('br'), el('code', { textContent: s.metric })]),
  );
  document
    .querySelector('#stages thead')
    .replaceChildren(el('tr', {}, [el('th', { textContent: 'stream' }), ...heads]));
  const rows = view.leases.map((lease) =>
    el('tr', { dataset: { stream: lease.stream } }, [
      el('td', { textContent: lease.stream }),
      ...lease.stages.map((s) =>
        el('td', {
          className: 'num',
          dataset: { metric: s.metric },
          title: `${s.count} frames`,
          textContent: s.count === 0 ? '—' : `${s.p50} / ${s.p99}`,
        }),
      ),
    ]),
  );
  document.querySelector('#stages tbody').replaceChildren(...rows);
}

function card(stream) {
  let entry = cards.get(stream);
  if (entry) return entry;
  const diagram = el('div', { innerHTML: svgText });
  entry = {
    root: el('article', { className: 'lease', dataset: { stream } }, [
      el('h3', {}, [el('span', { textContent: stream }), el('span', { className: 'lease-states' })]),
      diagram,
      el('div', { className: 'error' }),
      el('ul', { className: 'history' }),
    ]),
    nodes: [...diagram.querySelectorAll('[data-state]')],
  };
  cards.set(stream, entry);
  document.getElementById('leases').append(entry.root);
  return entry;
}

function renderLease(lease) {
  const { root, nodes } = card(lease.stream);
  root.dataset.states = lease.states.join(' ');
  root.classList.toggle('done', lease.status === 'done');
  root.querySelector('.lease-states').textContent = lease.states.map(leaf).join(' + ');
  // A state is active when it or one of its descendants is (the machine itself always is, so it is left plain);
  // the leaves are the current states.
  for (const node of nodes) {
    const id = node.dataset.state;
    node.classList.toggle('current', lease.states.includes(id));
    node.classList.toggle('active', id.includes('.') && lease.states.some((s) => s === id || s.startsWith(`${id}.`)));
  }
  const error = lease.lastError;
  root.querySelector('.error').textContent = error
    ? `last error (${error.source}): ${error.code ?? ''} ${error.message}`
    : '';
  const history = [...lease.transitions]
    .reverse()
    .map((t) =>
      el('li', {}, [
        el('span', { className: 'time', textContent: `${new Date(t.at).toISOString().slice(11, 23)} ` }),
        el('span', { className: 'event', textContent: t.event }),
        el('span', { textContent: ` ${t.from.map(leaf).join('+') || '∅'} → ${t.to.map(leaf).join('+')}` }),
      ]),
    );
  root.querySelector('.history').replaceChildren(...history);
}

function render(view) {
  renderWorker(view);
  renderStreams(view);
  renderStages(view);
  const streams = new Set(view.leases.map((l) => l.stream));
  for (const [stream, entry] of cards) {
    if (!streams.has(stream)) {
      entry.root.remove();
      cards.delete(stream);
    }
  }
  for (const lease of view.leases) renderLease(lease);
  document.body.dataset.updated = String(view.now);
}

const connection = document.getElementById('connection');
const events = new EventSource('/debug/events');
events.onopen = () => {
  connection.textContent = 'live';
  connection.className = 'badge on';
};
events.onerror = () => {
  connection.textContent = 'reconnecting';
  connection.className = 'badge off';
};
events.onmessage = (message) => render(JSON.parse(message.data));
