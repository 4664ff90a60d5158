// The lease inspector: one table of every lease (this worker's, from its server-sent events, merged with the fleet's,
// from the lease table), sortable and filterable, and the state diagram of the one lease selected. Events are
// coalesced and the page renders at most every RENDER_EVERY_MS, touching only the cells that changed: with hundreds
// of leases, drawing every lease's diagram on every change kept the browser busy.

const RENDER_EVERY_MS = 250;
/** Rows drawn beyond the view on either side, so that a scroll shows drawn rows before the next frame. */
const OVERSCAN = 5;
const COUNTERS = ['sampled', 'published', 'failed', 'dropped', 'reconnects'];

const el = (tag, { dataset = {}, ...props } = {}, children = []) => {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
};
const short = (fragment) => (fragment ? `…${fragment.slice(-8)}` : '—');
const ms = (value) =>
  value === null || value === undefined
    ? '—'
    : value < 1000
      ? `${Math.round(value)} ms`
      : `${(value / 1000).toFixed(1)} s`;
const leaf = (state) => state.split('.').slice(1).join('.');
const age = (millis, atLeast = false) => {
  if (millis === null || millis === undefined) return '—';
  const s = Math.max(0, Math.round(millis / 1000));
  const text = s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
  return atLeast ? `≥ ${text}` : text;
};
const dollars = (value) => (value === null || value === undefined ? '—' : `$${value.toFixed(4)}`);
const gigabytes = (bytes) => (bytes === undefined ? '—' : `${(bytes / 1e9).toFixed(3)} GB`);

/** What a lease's row shows, from this worker's view of it (`own`) and the lease table's (`fleet`), either absent. */
function rowOf(stream, own, fleet, workerId) {
  const states = own ? own.states.map(leaf) : [];
  // The state to filter by: the reader's state while reading, the machine's otherwise; the table's for the others.
  const group = own
    ? (states.find((s) => s.startsWith('reading.media.')) ?? states[0] ?? '').split('.').pop()
    : fleet?.expired
      ? 'expired'
      : fleet?.owner
        ? 'other worker'
        : 'unowned';
  return {
    stream,
    own,
    fleet,
    group,
    owner: fleet ? fleet.owner : own?.status === 'active' ? workerId : null,
    // The leaves' own names (`streaming + idle`); the full paths are in the selected lease's panel.
    state: own
      ? `${states.map((s) => s.split('.').pop()).join(' + ')}${own.status === 'done' ? ' (ended)' : ''}`
      : group,
    behind: own?.millisBehindNow ?? null,
    error: own?.lastError ? `${own.lastError.source}: ${own.lastError.code ?? own.lastError.message}` : '',
    hasError: Boolean(own?.lastError || fleet?.expired),
  };
}

/** Every column: its heading, how it sorts (`value`) and what it shows (`text`). */
const BASE_COLUMNS = [
  { key: 'stream', width: 10, label: 'stream', value: (r) => r.stream },
  { key: 'owner', width: 8, label: 'owner', value: (r) => r.owner ?? '' },
  { key: 'state', width: 10, label: 'state', value: (r) => r.state },
  { key: 'behind', width: 6.5, label: 'behind now', num: true, value: (r) => r.behind, text: (r) => ms(r.behind) },
  {
    key: 'checkpoint',
    width: 7,
    label: 'checkpoint',
    value: (r) => r.fleet?.checkpoint ?? r.own?.checkpoint ?? '',
    text: (r) => short(r.fleet?.checkpoint ?? r.own?.checkpoint),
  },
  {
    key: 'checkpointBehind',
    width: 6.5,
    label: 'ckpt behind',
    title: "the scan's time minus the checkpointed fragment's server timestamp",
    num: true,
    value: (r) => r.fleet?.checkpointBehindMillis ?? null,
    text: (r) => age(r.fleet?.checkpointBehindMillis),
  },
  {
    key: 'checkpointAge',
    width: 5.5,
    label: 'ckpt age',
    title: 'since this worker saw the checkpoint change; ≥: unchanged since its first read',
    num: true,
    value: (r) => r.fleet?.checkpointAgeMillis ?? null,
    text: (r) => age(r.fleet?.checkpointAgeMillis, r.fleet?.checkpointAgeAtLeast),
  },
  {
    key: 'counterAge',
    width: 6.5,
    label: 'counter age',
    title: 'since this worker saw leaseCounter move: how long the owner has not renewed',
    num: true,
    value: (r) => r.fleet?.counterAgeMillis ?? null,
    text: (r) => age(r.fleet?.counterAgeMillis, r.fleet?.counterAgeAtLeast),
  },
  {
    key: 'switches',
    width: 5.5,
    label: 'switches',
    title: 'owner switches since the checkpoint',
    num: true,
    value: (r) => r.fleet?.ownerSwitchesSinceCheckpoint ?? null,
  },
  { key: 'error', width: 9, label: 'error', value: (r) => r.error },
  ...COUNTERS.map((key) => ({ key, label: key, width: 6.5, num: true, value: (r) => r.own?.counters[key] ?? null })),
];
const COST_COLUMNS = [
  {
    key: 'bytesRead',
    width: 6.5,
    label: 'read',
    num: true,
    value: (r) => r.own?.cost?.bytesRead ?? null,
    text: (r) => (r.own?.cost ? gigabytes(r.own.cost.bytesRead) : '—'),
  },
  {
    key: 'dollars',
    width: 5.5,
    label: 'cost',
    num: true,
    value: (r) => r.own?.cost?.dollars ?? null,
    text: (r) => dollars(r.own?.cost?.dollars),
  },
  {
    key: 'per1000',
    width: 7.5,
    label: '$ / 1000 inf.',
    title: 'GetMedia dollars per 1000 frames inferred',
    num: true,
    value: (r) => r.own?.cost?.dollarsPer1000Inferences ?? null,
    text: (r) => dollars(r.own?.cost?.dollarsPer1000Inferences),
  },
];
const ALL_COLUMNS = [...BASE_COLUMNS, ...COST_COLUMNS];
const cellText = (column, row) => {
  if (column.text) return column.text(row);
  const value = column.value(row);
  return value === null || value === undefined || value === '' ? (column.num ? '—' : '') : String(value);
};

const page = {
  /** The worker's view, as its events have built it. */
  view: null,
  fleet: null,
  columns: null,
  /** Every lease's row, by stream. */
  rows: new Map(),
  /** The rows the filters let through, in the chosen order. */
  list: [],
  /** The table rows on screen: { tr, cells, texts }, reused as the window moves. */
  slots: [],
  sort: { key: 'stream', descending: false },
  selected: decodeURIComponent(location.hash.replace(/^#lease=/, '')) || null,
  renderTimer: null,
  lastRender: 0,
  scrollFrame: null,
  rowPx: null,
};

function scheduleRender() {
  if (page.renderTimer !== null) return;
  const wait = Math.max(0, page.lastRender + RENDER_EVERY_MS - performance.now());
  page.renderTimer = setTimeout(() => {
    page.renderTimer = null;
    page.lastRender = performance.now();
    render();
  }, wait);
}

function render() {
  const view = page.view;
  if (view === null) return;
  renderWorker(view);
  renderWorkers(view);
  renderTable(view);
  renderDetail();
  document.body.dataset.updated = String(view.now);
}

/** Sets `node`'s text only when it changed: an unchanged page is neither laid out nor painted again. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Replaces `node`'s children with `build()` only when `signature` differs from the one they were built from. */
function replaceIfChanged(node, signature, build) {
  if (node.dataset.signature === signature) return;
  node.dataset.signature = signature;
  node.replaceChildren(...build());
}

function renderWorker(view) {
  const uptime = Math.round((view.now - view.startedAt) / 1000);
  const { workerId, appName, ready, draining, holdsSyncLease, cost } = view;
  replaceIfChanged(
    document.getElementById('worker'),
    JSON.stringify([workerId, appName, ready, draining, holdsSyncLease, uptime]),
    () => [
      el('span', { textContent: `worker ${workerId}` }),
      el('span', { className: 'muted', textContent: `app ${appName}` }),
      el('span', { className: `badge ${ready ? 'on' : 'off'}`, textContent: ready ? 'ready' : 'not ready' }),
      ...(draining ? [el('span', { className: 'badge off', textContent: 'draining' })] : []),
      ...(holdsSyncLease ? [el('span', { className: 'badge', textContent: 'runs discovery' })] : []),
      el('span', { className: 'muted', textContent: `up ${uptime} s` }),
    ],
  );
  replaceIfChanged(document.getElementById('totals'), JSON.stringify(cost ?? null), () =>
    cost
      ? [
          el('span', { textContent: `this worker: ${gigabytes(cost.bytesRead)} read` }),
          el('span', { textContent: `${dollars(cost.dollars)} GetMedia` }),
          el('span', { textContent: `${cost.framesInferred} inferred` }),
          el('span', { textContent: `${dollars(cost.dollarsPer1000Inferences)} per 1000 inferences` }),
        ]
      : [],
  );
}

/** The lease table's workers with their lease counts; before a scan (or without one), the worker's own list. */
function renderWorkers(view) {
  const fleet = page.fleet;
  const scanned = fleet?.scannedAt ? `${age(Date.now() - fleet.scannedAt)} ago` : 'not yet';
  setText(
    document.getElementById('fleet-status'),
    fleet === null
      ? 'from the last lease scan of this worker'
      : `lease table scanned ${scanned} (every ${age(fleet.intervalMillis)} while viewed)` +
          `${fleet.unowned > 0 ? `, ${fleet.unowned} leases unowned` : ''}` +
          `${fleet.error ? ` — scan failed: ${fleet.error}` : ''}`,
  );
  const items =
    fleet === null || fleet.scannedAt === null
      ? view.workers.map((workerId) => ({ workerId, leases: null, expired: 0, holdsSyncLease: false }))
      : fleet.workers;
  replaceIfChanged(document.getElementById('workers'), JSON.stringify([view.workerId, items]), () =>
    items.map((w) =>
      el('li', { className: w.workerId === view.workerId ? 'self' : '', dataset: { worker: w.workerId } }, [
        el('span', { textContent: w.workerId }),
        ...(w.leases === null ? [] : [el('span', { className: 'count', textContent: String(w.leases) })]),
        ...(w.expired > 0 ? [el('span', { className: 'badge off', textContent: `${w.expired} expired` })] : []),
        ...(w.holdsSyncLease ? [el('span', { className: 'badge', textContent: 'sync' })] : []),
      ]),
    ),
  );
}

function renderHead() {
  const cells = page.columns.map((c) => {
    const sorted = page.sort.key === c.key;
    return el('th', {
      className: `${c.num ? 'num ' : ''}${sorted ? (page.sort.descending ? 'sorted desc' : 'sorted') : ''}`,
      textContent: c.label,
      title: c.title ?? `sort by ${c.label}`,
      dataset: { key: c.key },
    });
  });
  document.querySelector('#leases thead tr').replaceChildren(...cells);
  // Fixed widths: the table lays out without measuring its cells, and columns keep their width as rows scroll by.
  document
    .querySelector('#leases colgroup')
    .replaceChildren(...page.columns.map((c) => el('col', { style: `width: ${c.width}em` })));
  for (const spacer of document.querySelectorAll('#leases .spacer td')) spacer.colSpan = page.columns.length;
}

function renderTable(view) {
  const own = new Map(view.leases.map((l) => [l.stream, l]));
  const fleet = new Map((page.fleet?.leases ?? []).map((l) => [l.leaseKey, l]));
  const columns = view.leases.some((l) => l.cost) ? ALL_COLUMNS : BASE_COLUMNS;
  if (columns !== page.columns) {
    page.columns = columns;
    for (const slot of page.slots) slot.tr.remove();
    page.slots = [];
    renderHead();
  }
  page.rows.clear();
  const groups = new Set();
  for (const stream of new Set([...own.keys(), ...fleet.keys()])) {
    const row = rowOf(stream, own.get(stream), fleet.get(stream), view.workerId);
    groups.add(row.group);
    page.rows.set(stream, row);
  }
  renderStateFilter(groups);
  refreshList();
}

function renderStateFilter(groups) {
  const select = document.getElementById('filter-state');
  const wanted = [...groups].filter(Boolean).sort();
  const present = [...select.options].slice(1).map((o) => o.value);
  if (wanted.join() === present.join()) return;
  const chosen = select.value;
  select.replaceChildren(
    el('option', { value: '', textContent: 'every state' }),
    ...wanted.map((g) => el('option', { value: g, textContent: g })),
  );
  select.value = wanted.includes(chosen) ? chosen : '';
}

/** Filters and sorts every row, then draws the rows in view. Empty values sort last either way. */
function refreshList() {
  if (page.columns === null) return;
  const text = document.getElementById('filter-text').value.trim().toLowerCase();
  const state = document.getElementById('filter-state').value;
  const minLag = Number(document.getElementById('filter-lag').value || 0) * 1000;
  const errorsOnly = document.getElementById('filter-errors').checked;
  const column = page.columns.find((c) => c.key === page.sort.key) ?? page.columns[0];
  const sign = page.sort.descending ? -1 : 1;
  const keyed = [];
  for (const row of page.rows.values()) {
    // Lag: MillisBehindNow for this worker's leases, how far the checkpoint is behind for the others'.
    const lag = row.behind ?? row.fleet?.checkpointBehindMillis ?? 0;
    const visible =
      (text === '' || row.stream.toLowerCase().includes(text) || (row.owner ?? '').toLowerCase().includes(text)) &&
      (state === '' || row.group === state) &&
      lag >= minLag &&
      (!errorsOnly || row.hasError);
    if (visible) keyed.push({ row, key: column.value(row) });
  }
  const empty = (v) => v === null || v === undefined || v === '';
  keyed.sort((a, b) => {
    if (empty(a.key) || empty(b.key))
      return empty(a.key) === empty(b.key) ? a.row.stream.localeCompare(b.row.stream) : empty(a.key) ? 1 : -1;
    const order = typeof a.key === 'number' ? a.key - b.key : String(a.key).localeCompare(String(b.key));
    return order === 0 ? a.row.stream.localeCompare(b.row.stream) : sign * order;
  });
  page.list = keyed.map((k) => k.row);
  setText(document.getElementById('shown'), `${page.list.length} of ${page.rows.size}`);
  renderWindow();
}

/**
 * Draws only the rows in view and a few around them, reusing the same table rows and writing only the cells whose
 * text changed: the page's work per update stays the same whether the fleet has fifty leases or ten thousand.
 */
function renderWindow() {
  const scroll = document.getElementById('lease-scroll');
  // Measured once, from the first row drawn (all are one line high); before one, a fair guess.
  page.rowPx ??= page.slots[0]?.tr.getBoundingClientRect().height || null;
  const rowPx = page.rowPx ?? 26;
  const first = Math.max(0, Math.floor(scroll.scrollTop / rowPx) - OVERSCAN);
  const count = Math.min(page.list.length - first, Math.ceil(scroll.clientHeight / rowPx) + 2 * OVERSCAN);
  const tbody = document.querySelector('#leases tbody');
  const [above, below] = tbody.querySelectorAll('.spacer');
  above.style.height = `${first * rowPx}px`;
  below.style.height = `${Math.max(0, page.list.length - first - count) * rowPx}px`;
  while (page.slots.length < count) {
    const cells = page.columns.map((c) => el('td', { className: c.num ? 'num' : '', dataset: { key: c.key } }));
    const slot = { tr: el('tr', {}, cells), cells, texts: [] };
    page.slots.push(slot);
    below.before(slot.tr);
  }
  while (page.slots.length > count) page.slots.pop().tr.remove();
  for (const [i, slot] of page.slots.entries()) updateSlot(slot, page.list[first + i]);
}

function updateSlot(slot, row) {
  const { tr, cells, texts } = slot;
  if (tr.dataset.stream !== row.stream) tr.dataset.stream = row.stream;
  for (const [i, column] of page.columns.entries()) {
    const text = cellText(column, row);
    if (texts[i] !== text) {
      texts[i] = text;
      cells[i].textContent = text;
      if (column.key === 'stream' || column.key === 'error') cells[i].title = text;
    }
  }
  const className = [
    row.own?.status === 'active' ? 'own' : '',
    row.own?.status === 'done' ? 'done' : '',
    row.hasError ? 'has-error' : '',
    row.stream === page.selected ? 'selected' : '',
  ]
    .filter(Boolean)
    .join(' ');
  if (tr.className !== className) tr.className = className;
}

// The diagram of the selected lease: the worker's drawing of the machine, fetched once, highlighted per update.
let diagram = null;
/** The one fetch of the diagram under way; renders meanwhile wait for it rather than fetch it again. */
let diagramLoading = null;
async function loadDiagram() {
  try {
    const svg = await (await fetch('/debug/machine.svg')).text();
    const holder = document.getElementById('diagram');
    holder.innerHTML = svg;
    diagram = [...holder.querySelectorAll('[data-state]')];
    renderDetail();
  } finally {
    // After a failure (the worker restarting) the next render tries again.
    diagramLoading = null;
  }
}

function renderDetail() {
  const section = document.getElementById('detail');
  const row = page.selected === null ? undefined : page.rows.get(page.selected);
  section.hidden = row === undefined;
  if (row === undefined) return;
  const { own, fleet } = row;
  const states = own?.states ?? [];
  const signature = JSON.stringify([page.selected, own, fleet, diagram !== null]);
  if (section.dataset.signature === signature) return;
  section.dataset.signature = signature;
  section.dataset.stream = page.selected;
  section.dataset.states = states.join(' ');
  section.classList.toggle('done', own?.status === 'done');
  document.getElementById('detail-stream').textContent = page.selected;
  document.getElementById('detail-states').textContent = own
    ? states.map(leaf).join(' + ')
    : `held by ${fleet?.owner ?? 'nobody'}: its machine runs on that worker`;
  const error = own?.lastError;
  document.getElementById('detail-error').textContent = error
    ? `last error (${error.source}): ${error.code ?? ''} ${error.message}`
    : '';
  document.getElementById('diagram').hidden = !own;
  if (own && diagram === null && diagramLoading === null) diagramLoading = loadDiagram().catch(() => undefined);
  // A state is active when it or one of its descendants is (the machine itself always is, so it is left plain);
  // the leaves are the current states.
  for (const node of diagram ?? []) {
    const id = node.dataset.state;
    node.classList.toggle('current', states.includes(id));
    node.classList.toggle('active', id.includes('.') && states.some((s) => s === id || s.startsWith(`${id}.`)));
  }
  renderStages(own?.stages ?? []);
  const lines = [...(own?.transitions ?? [])]
    .reverse()
    .map((t) =>
      el('li', {}, [
        el('span', { className: 'time', textContent: `${new Date(t.at).toISOString().slice(11, 23)} ` }),
        el('span', { className: 'event', textContent: t.event }),
        el('span', { textContent: ` ${t.from.map(leaf).join('+') || '∅'} → ${t.to.map(leaf).join('+')}` }),
      ]),
    );
  document.getElementById('history').replaceChildren(...lines);
}

/** One row per stage of a frame's path, in order, named by its metric: p50 / p99 ms since this worker took it. */
function renderStages(stages) {
  document
    .querySelector('#stages thead')
    .replaceChildren(
      el('tr', {}, [
        el('th', { textContent: 'stage' }),
        el('th', { className: 'num', textContent: 'p50 / p99 ms' }),
        el('th', { className: 'num', textContent: 'frames' }),
      ]),
    );
  document
    .querySelector('#stages tbody')
    .replaceChildren(
      ...stages.map((s) =>
        el('tr', { dataset: { metric: s.metric } }, [
          el('td', {}, [`${s.from} → ${s.to} `, el('code', { textContent: s.metric })]),
          el('td', { className: 'num', textContent: s.count === 0 ? '—' : `${s.p50} / ${s.p99}` }),
          el('td', { className: 'num', textContent: String(s.count) }),
        ]),
      ),
    );
}

function select(stream) {
  page.selected = page.selected === stream ? null : stream;
  history.replaceState(null, '', page.selected === null ? location.pathname : `#lease=${encodeURIComponent(stream)}`);
  renderWindow();
  renderDetail();
}

document.querySelector('#leases thead').addEventListener('click', (event) => {
  const key = event.target.closest('th')?.dataset.key;
  if (key === undefined) return;
  page.sort = { key, descending: page.sort.key === key ? !page.sort.descending : false };
  renderHead();
  refreshList();
});
document.querySelector('#leases tbody').addEventListener('click', (event) => {
  const stream = event.target.closest('tr')?.dataset.stream;
  if (stream !== undefined) select(stream);
});
document.getElementById('lease-scroll').addEventListener('scroll', () => {
  page.scrollFrame ??= requestAnimationFrame(() => {
    page.scrollFrame = null;
    renderWindow();
  });
});
const filters = document.getElementById('filters');
filters.addEventListener('input', () => refreshList());
filters.addEventListener('submit', (event) => event.preventDefault());

// The fleet: read while the page is visible, as often as the worker scans (it scans at most that often, for all
// viewers, and only when asked).
async function pollFleet() {
  let wait = page.fleet?.intervalMillis ?? 5000;
  try {
    const res = await fetch('/debug/fleet', { signal: AbortSignal.timeout(30_000) });
    if (res.status === 404) return; // this worker serves no fleet view
    page.fleet = await res.json();
    wait = page.fleet.intervalMillis;
    scheduleRender();
  } catch {
    // The worker is restarting or unreachable: the event stream's badge says so; try again later.
  }
  setTimeout(
    () => (document.hidden ? document.addEventListener('visibilitychange', pollFleet, { once: true }) : pollFleet()),
    wait,
  );
}
void pollFleet();

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
// The first event is the whole view; `changes` events carry the leases that changed and the streams gone.
events.onmessage = (message) => {
  page.view = JSON.parse(message.data);
  scheduleRender();
};
events.addEventListener('changes', (message) => {
  if (page.view === null) return;
  const { leases, removed, ...rest } = JSON.parse(message.data);
  const byStream = new Map(page.view.leases.map((l) => [l.stream, l]));
  for (const stream of removed) byStream.delete(stream);
  for (const lease of leases) byStream.set(lease.stream, lease);
  page.view = { ...rest, leases: [...byStream.values()] };
  scheduleRender();
});
