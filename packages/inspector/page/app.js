// The inspector page: renders the frames of /api/feed (server-sent events).
// Plain DOM, no framework, nothing loaded from elsewhere. Every value from the
// system (paths, error messages, section cells) goes in as text, never as HTML.

const state = {
  frame: undefined,
  points: [],
  sortKey: 'depth',
  sortDesc: true,
  filter: '',
  collapsed: new Set(['/system']),
  ended: false,
};

const $ = (id) => document.getElementById(id);

// Each panel is redrawn only when what it shows has changed: an idle system costs the browser next to nothing.
const drawn = new Map();
function changed(panel, value) {
  const sig = JSON.stringify(value);
  if (drawn.get(panel) === sig) return false;
  drawn.set(panel, sig);
  return true;
}
/** Rows of the actor table drawn so far, by path, with what they showed. */
const rowCache = new Map();
const MAX_ROWS = 200;

/** Create an element: h('td', { class: 'num' }, 'text', child...). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      // Through the CSSOM: the page's CSP refuses style attributes.
      else if (k === 'style') el.style.cssText = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) el.setAttribute(k, String(v));
  return el;
}

// ------------------------------------------------------------------ formatting

const nf = new Intl.NumberFormat('en-US');
function num(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return nf.format(Math.round(n));
}
function compact(n) {
  if (n === null || n === undefined) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  if (a >= 10 || Number.isInteger(n)) return nf.format(Math.round(n));
  return n.toFixed(1);
}
function ms(v) {
  if (v === null || v === undefined) return '–';
  if (v === 0) return '0';
  if (v < 0.01) return `${(v * 1000).toFixed(1)} µs`;
  if (v < 1) return `${(v * 1000).toFixed(0)} µs`;
  if (v < 100) return `${v.toFixed(1)} ms`;
  if (v < 10_000) return `${v.toFixed(0)} ms`;
  return `${(v / 1000).toFixed(1)} s`;
}
function bytes(v) {
  if (v === null || v === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = v;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(x >= 100 ? 0 : 1)} ${units[i]}`;
}
function duration(msTotal) {
  const t = Math.max(0, Math.floor(msTotal / 1000));
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = t % 60;
  if (hh > 0) return `${hh}h ${mm}m`;
  if (mm > 0) return `${mm}m ${ss}s`;
  return `${ss}s`;
}
function age(v) {
  if (v === null || v === undefined) return '–';
  if (v < 1000) return `${Math.round(v)} ms ago`;
  return `${duration(v)} ago`;
}
function clock(epochMs) {
  if (!epochMs) return '–';
  return new Date(epochMs).toLocaleTimeString([], { hour12: false });
}
function format(value, kind) {
  if (value === null || value === undefined) return '–';
  switch (kind) {
    case 'number':
      return typeof value === 'number' ? (Number.isInteger(value) ? num(value) : value.toFixed(2)) : String(value);
    case 'bytes':
      return bytes(value);
    case 'rate':
      return `${compact(value)}/s`;
    case 'ms':
      return ms(value);
    case 'age':
      return age(value);
    case 'time':
      return clock(value);
    default:
      return String(value);
  }
}

// ------------------------------------------------------------------ header, KPIs

function renderHeader(f) {
  $('system-name').textContent = f.system.name;
  const pill = $('state');
  const st = f.system.state;
  pill.textContent = st.replace('stopping.', 'stopping · ');
  pill.dataset.state = st.startsWith('stopping') ? 'stopping' : st;
  $('uptime').textContent = `up ${duration(f.system.uptimeMs)}`;
  document.title = `${f.system.name} · Troupe inspector`;
  const t = f.totals;
  $('kpi-actors').textContent = num(t.actors);
  $('kpi-rate').textContent = compact(t.msgsPerSec);
  $('kpi-depth').textContent = num(t.mailboxDepth);
  $('kpi-depth').className = `kpi-value${t.mailboxDepth > 10_000 ? ' warn' : ''}`;
  $('kpi-restarts').textContent = num(t.restarts);
  $('kpi-restarts').className = `kpi-value${t.restarts > 0 ? ' warn' : ''}`;
  $('kpi-dead').textContent = num(t.deadLetters);
  $('kpi-dead').className = `kpi-value${t.deadLettersPerSec > 0 ? ' bad' : ''}`;
  $('kpi-dead-rate').textContent = t.deadLettersPerSec > 0 ? `${compact(t.deadLettersPerSec)}/s now` : '';
  $('kpi-workers').textContent = num(t.workerThreads);
  $('kpi-asks').textContent = num(t.outstandingAsks);
  const token = $('token');
  token.disabled = !f.actions;
  token.placeholder = f.actions ? 'for actions' : 'read-only';
  token.title = f.actions ? 'actions need the token' : 'this inspector was started without a token: actions are off';
}

// ------------------------------------------------------------------ charts

function chart(el, series, opts) {
  const w = Math.max(200, el.clientWidth);
  const hgt = el.clientHeight || 130;
  const padL = 44;
  const padB = 16;
  const padT = 6;
  const iw = w - padL - 6;
  const ih = hgt - padB - padT;
  const svg = s('svg', { viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': opts.label });
  const pts = state.points;
  let max = 0;
  for (const p of pts) for (const sr of series) max = Math.max(max, p[sr.key]);
  max = niceMax(max);
  for (const frac of [0, 0.5, 1]) {
    const y = padT + ih - frac * ih;
    svg.append(s('line', { x1: padL, x2: w - 6, y1: y, y2: y, class: 'grid-line' }));
    const label = s('text', { x: padL - 6, y: y + 3.5, 'text-anchor': 'end', class: 'axis' });
    label.textContent = compact(max * frac);
    svg.append(label);
  }
  const span = opts.spanMs;
  const now = pts.length > 0 ? pts[pts.length - 1].at : Date.now();
  const x = (at) => padL + iw - ((now - at) / span) * iw;
  const y = (v) => padT + ih - (max === 0 ? 0 : (v / max) * ih);
  for (const [i, text] of [
    [0, `-${Math.round(span / 60000)} min`],
    [0.5, `-${(span / 120000).toFixed(1).replace('.0', '')} min`],
    [1, 'now'],
  ]) {
    const t = s('text', {
      x: padL + i * iw,
      y: hgt - 2,
      'text-anchor': i === 0 ? 'start' : i === 1 ? 'end' : 'middle',
      class: 'axis',
    });
    t.textContent = text;
    svg.append(t);
  }
  const visible = pts.filter((p) => now - p.at <= span);
  for (const sr of series) {
    if (visible.length < 2) break;
    const line = visible.map((p) => `${x(p.at).toFixed(1)},${y(p[sr.key]).toFixed(1)}`).join(' ');
    if (sr.fill) {
      const first = visible[0];
      const last = visible[visible.length - 1];
      const area = `${x(first.at).toFixed(1)},${y(0)} ${line} ${x(last.at).toFixed(1)},${y(0)}`;
      svg.append(s('polygon', { points: area, fill: sr.color, 'fill-opacity': 0.12, stroke: 'none' }));
    }
    svg.append(
      s('polyline', {
        points: line,
        fill: 'none',
        stroke: sr.color,
        'stroke-width': sr.width ?? 1.8,
        'stroke-linejoin': 'round',
        'stroke-dasharray': sr.dash ?? '',
      }),
    );
  }
  const last = pts[pts.length - 1];
  const legend = document.getElementById(`${el.id}-now`);
  if (legend && last !== undefined) {
    legend.replaceChildren(
      ...series.map((sr) =>
        h(
          'span',
          { class: 'legend' },
          h('i', { style: `background:${sr.color}` }),
          `${sr.name ? `${sr.name} ` : ''}${compact(last[sr.key])}`,
        ),
      ),
    );
  }
  el.replaceChildren(svg);
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function renderCharts(f) {
  const span = Math.max(60_000, (state.points.length > 1 ? f.at - state.points[0].at : 0) || 60_000);
  const spanMs = Math.min(Math.max(span, 60_000), 600_000);
  chart($('chart-rate'), [{ key: 'msgsPerSec', color: '#2563eb', fill: true }], {
    label: 'messages per second',
    spanMs,
  });
  chart(
    $('chart-depth'),
    [
      { key: 'mailboxDepth', color: '#0891b2', fill: true, name: 'all' },
      { key: 'maxDepth', color: '#d97706', dash: '4 3', name: 'deepest actor' },
    ],
    { label: 'mailbox depth', spanMs },
  );
  chart($('chart-dead'), [{ key: 'deadLettersPerSec', color: '#dc2626', fill: true }], {
    label: 'dead letters per second',
    spanMs,
  });
}

// ------------------------------------------------------------------ tree

function renderTree(f) {
  const shape = f.actors.map((a) => [
    a.path,
    a.status,
    a.kind,
    a.host,
    a.depth > 0 ? compact(a.depth) : 0,
    a.restarts,
    a.lastError?.at ?? 0,
    a.busy,
  ]);
  if (!changed('tree', [shape, [...state.collapsed], f.hiddenActors, f.totals.actors])) return;
  const byParent = new Map();
  for (const a of f.actors) {
    let list = byParent.get(a.parent);
    if (!list) byParent.set(a.parent, (list = []));
    list.push(a);
  }
  const build = (parentPath) => {
    const kids = byParent.get(parentPath);
    if (!kids || kids.length === 0) return null;
    const ul = h('ul');
    for (const a of kids) ul.append(treeNode(a, build));
    return ul;
  };
  const root = h('ul');
  for (const top of ['/user', '/system']) {
    const kids = build(top);
    const n = (byParent.get(top) ?? []).length;
    if (top === '/system' && n === 0) continue;
    const open = !state.collapsed.has(top);
    const li = h(
      'li',
      { 'data-path': top },
      h(
        'div',
        { class: 'node' },
        h('span', { class: 'caret', onclick: () => toggle(top), text: kids ? (open ? '▾' : '▸') : '' }),
        h('span', { class: 'root-name', text: top }),
        h('span', { class: 'muted', text: `${n} ${n === 1 ? 'child' : 'children'}` }),
      ),
    );
    if (kids && open) li.append(kids);
    root.append(li);
  }
  const tree = $('tree');
  const scroll = tree.scrollTop;
  tree.replaceChildren(root);
  tree.scrollTop = scroll;
  $('tree-count').textContent =
    `${num(f.totals.actors)} live${f.hiddenActors > 0 ? `, ${num(f.hiddenActors)} not listed` : ''}`;
}

function treeNode(a, build) {
  const kids = build(a.path);
  const open = !state.collapsed.has(a.path);
  const worker = a.kind?.startsWith('worker:');
  const row = h(
    'div',
    { class: 'node', title: a.path },
    h('span', { class: 'caret', onclick: () => toggle(a.path), text: kids ? (open ? '▾' : '▸') : '' }),
    h('span', { class: `sdot${a.busy ? ' busy' : ''}`, 'data-status': a.status, title: a.status }),
    h('span', { class: 'nname', text: a.name }),
    a.kind
      ? h('span', {
          class: `chip${worker ? ' worker' : ''}`,
          text: worker ? `${a.kind} · thread ${a.host ?? '–'}` : a.kind,
        })
      : null,
    a.status !== 'running' ? h('span', { class: 'pill', 'data-state': a.status, text: a.status }) : null,
    a.depth > 0
      ? h('span', {
          class: `badge q${a.depth >= 1000 ? ' hot' : ''}`,
          title: 'queued messages',
          text: `✉ ${compact(a.depth)}`,
        })
      : null,
    a.restarts > 0 ? h('span', { class: 'badge r', title: 'restarts', text: `↻ ${a.restarts}` }) : null,
  );
  const li = h('li', { 'data-path': a.path, 'data-status': a.status }, row);
  if (a.lastError) {
    li.append(
      h('div', {
        class: 'err',
        title: `${a.lastError.name}: ${a.lastError.message}`,
        text: `${clock(a.lastError.at)} ${a.lastError.name}: ${a.lastError.message} → ${a.lastError.directive}`,
      }),
    );
  }
  if (kids && open) li.append(kids);
  return li;
}

function toggle(path) {
  if (state.collapsed.has(path)) state.collapsed.delete(path);
  else state.collapsed.add(path);
  if (state.frame) renderTree(state.frame);
}

// ------------------------------------------------------------------ actor table

const COLUMNS = [
  { key: 'path', label: 'actor', cls: 'path' },
  { key: 'msgsPerSec', label: 'msgs/s', num: true, fmt: (v) => compact(v) },
  { key: 'processed', label: 'handled', num: true, fmt: (v) => compact(v) },
  { key: 'depth', label: 'mailbox', num: true, fmt: num },
  { key: 'highWater', label: 'peak', num: true, fmt: num },
  { key: 'p50', label: 'p50', num: true, fmt: ms, sampled: true },
  { key: 'p99', label: 'p99', num: true, fmt: ms, sampled: true },
  { key: 'restarts', label: 'restarts', num: true, fmt: num },
  { key: 'lastError', label: 'last error', cls: 'error' },
];

function renderTable(f) {
  const table = $('actors');
  const headRow = h('tr');
  for (const c of COLUMNS) {
    const sorted = state.sortKey === c.key;
    headRow.append(
      h('th', {
        class: `sortable${c.num ? ' num' : ''}${sorted ? ' sorted' : ''}`,
        'data-key': c.key,
        onclick: () => {
          if (state.sortKey === c.key) state.sortDesc = !state.sortDesc;
          else {
            state.sortKey = c.key;
            state.sortDesc = c.num === true;
          }
          renderTable(state.frame);
        },
        text: `${c.label}${sorted ? (state.sortDesc ? ' ↓' : ' ↑') : ''}`,
      }),
    );
  }
  headRow.append(h('th', { class: 'actions', text: '' }));
  if (changed('table-head', [state.sortKey, state.sortDesc])) table.tHead.replaceChildren(headRow);

  const filter = state.filter.toLowerCase();
  const rows = f.actors.filter((a) => filter === '' || a.path.toLowerCase().includes(filter));
  const key = state.sortKey;
  const dir = state.sortDesc ? -1 : 1;
  rows.sort((a, b) => {
    let va = a[key];
    let vb = b[key];
    if (key === 'lastError') {
      va = a.lastError?.at ?? 0;
      vb = b.lastError?.at ?? 0;
    }
    if (typeof va === 'string') return dir * va.localeCompare(vb);
    return dir * ((va ?? 0) - (vb ?? 0)) || a.path.localeCompare(b.path);
  });
  const canAct = f.actions && state.frame === f && !state.ended;
  const trs = [];
  const seen = new Set();
  for (const a of rows.slice(0, MAX_ROWS)) {
    seen.add(a.path);
    const sig = JSON.stringify([
      a.status,
      a.busy,
      compact(a.msgsPerSec),
      compact(a.processed),
      a.depth,
      a.highWater,
      a.samples === 0 ? 0 : ms(a.p50),
      a.samples === 0 ? 0 : ms(a.p99),
      a.restarts,
      a.lastError?.at ?? 0,
      canAct,
    ]);
    const cached = rowCache.get(a.path);
    if (cached !== undefined && cached.sig === sig) {
      trs.push(cached.tr);
      continue;
    }
    const tr = h('tr', { 'data-path': a.path });
    rowCache.set(a.path, { sig, tr });
    trs.push(tr);
    for (const c of COLUMNS) {
      if (c.key === 'path') {
        // The status is the dot (and a pill when it is not plain running), so the path keeps the room.
        tr.append(
          h(
            'td',
            { class: 'path', title: `${a.path} (${a.status})` },
            h('span', { class: `sdot${a.busy ? ' busy' : ''}`, 'data-status': a.status }),
            // Under /user is the common case: the rest of the path is what tells actors apart.
            h('span', { class: 'ptext', text: a.path.startsWith('/user/') ? a.path.slice(6) : a.path }),
            a.status === 'running' ? null : h('span', { class: 'pill', 'data-state': a.status, text: a.status }),
          ),
        );
      } else if (c.key === 'lastError') {
        const e = a.lastError;
        tr.append(
          h('td', {
            class: 'error',
            title: e ? `${e.name}: ${e.message}` : '',
            text: e ? `${e.name}: ${e.message}` : '',
          }),
        );
      } else {
        const v = a[c.key];
        // No sample yet (one message in N is timed): say so rather than show 0.
        const shown = c.sampled && a.samples === 0 ? '–' : c.fmt ? c.fmt(v) : v;
        tr.append(
          h('td', {
            class: `${c.num ? 'num' : ''} ${c.cls ?? ''}`.trim(),
            title: c.key === 'path' ? a.path : undefined,
            text: shown,
          }),
        );
      }
    }
    const live = a.status !== 'stopping';
    tr.append(
      h(
        'td',
        { class: 'actions' },
        h('button', {
          'data-action': 'restart',
          disabled: !canAct || !live,
          title: f.actions ? 'restart this actor (needs the token)' : 'the inspector was started without a token',
          'aria-label': `restart ${a.path}`,
          onclick: () => act(`/api/actors/restart`, { path: a.path }, `restart ${a.path}`),
          text: '↻',
        }),
        ' ',
        h('button', {
          class: 'danger',
          'data-action': 'stop',
          disabled: !canAct || !live,
          title: f.actions
            ? 'stop this actor and its children (needs the token)'
            : 'the inspector was started without a token',
          'aria-label': `stop ${a.path}`,
          onclick: () => act(`/api/actors/stop`, { path: a.path }, `stop ${a.path}`),
          text: '■',
        }),
      ),
    );
  }
  for (const path of rowCache.keys()) if (!seen.has(path)) rowCache.delete(path);
  const body = table.tBodies[0];
  const same = trs.length === body.children.length && trs.every((tr, i) => body.children[i] === tr);
  if (!same) body.replaceChildren(...trs);
  const notes = [];
  if (rows.length > MAX_ROWS)
    notes.push(`showing ${MAX_ROWS} of ${num(rows.length)} matching actors: filter or sort to see others`);
  if (f.hiddenActors > 0) notes.push(`${num(f.hiddenActors)} more actors are not listed (maxActors)`);
  if (rows.length === 0) notes.push(filter ? 'no actor matches the filter' : 'no actors');
  $('actors-note').textContent = notes.join(' · ');
}

// ------------------------------------------------------------------ workers

function renderWorkers(f) {
  if (!changed('workers', f.workers)) return;
  const w = f.workers;
  const el = $('workers');
  $('workers-count').textContent = w.size > 0 ? `${f.totals.workerThreads} of ${w.size} slots running` : '';
  if (w.size === 0) {
    el.replaceChildren(
      h('div', { class: 'empty', text: 'no worker actors yet (threads start on the first spawnWorker)' }),
    );
    return;
  }
  const table = h(
    'table',
    { class: 'table', id: 'workers-table' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...['slot', 'thread', 'status', 'actors', 'asks in flight', 'event-loop load', 'restarts'].map((t, i) =>
          h('th', { class: i >= 3 && i !== 5 ? 'num' : '', text: t }),
        ),
      ),
    ),
  );
  const body = h('tbody');
  for (const slot of w.slots) {
    const load = slot.utilization ?? 0;
    body.append(
      h(
        'tr',
        { 'data-slot': slot.index },
        h('td', { class: 'num', text: `#${slot.index}` }),
        h('td', { class: 'mono', text: slot.threadId ?? '–' }),
        h(
          'td',
          null,
          h('span', {
            class: 'pill',
            'data-state': slot.alive ? 'alive' : 'stopped',
            text: slot.alive ? 'running' : slot.threadsStarted > 0 ? 'down' : 'not started',
          }),
        ),
        h('td', { class: 'num', text: num(slot.actors) }),
        h('td', { class: 'num', text: num(slot.pendingAsks) }),
        h(
          'td',
          null,
          slot.utilization === undefined
            ? '–'
            : h(
                'div',
                { class: 'progress' },
                h(
                  'div',
                  { class: `bar${load > 0.85 ? ' hot' : ''}` },
                  h('span', { style: `width:${(load * 100).toFixed(0)}%` }),
                ),
                h('span', { class: 'num', text: `${(load * 100).toFixed(0)}%` }),
              ),
        ),
        h('td', { class: 'num', text: num(Math.max(0, slot.threadsStarted - 1)) }),
      ),
    );
  }
  table.append(body);
  const parts = [table];
  if (w.exits.length > 0) {
    const list = h('table', { class: 'table', id: 'worker-exits' });
    list.append(
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { text: 'when' }),
          h('th', { text: 'thread' }),
          h('th', { text: 'exit' }),
          h('th', { text: 'cause' }),
        ),
      ),
    );
    const lb = h('tbody');
    for (const e of [...w.exits].reverse().slice(0, 8)) {
      lb.append(
        h(
          'tr',
          null,
          h('td', { class: 'mono', text: clock(e.at) }),
          h('td', { class: 'mono', text: `${e.threadId} (slot #${e.hostIndex})` }),
          h('td', { class: 'num', text: e.exitCode ?? '–' }),
          h('td', {
            class: 'error',
            title: e.cause ? `${e.cause.name}: ${e.cause.message}` : '',
            text: e.cause ? `${e.cause.name}: ${e.cause.message}` : 'none reported',
          }),
        ),
      );
    }
    list.append(lb);
    parts.push(h('h2', { style: 'margin-top:12px' }, 'Thread exits'), list);
  }
  el.replaceChildren(...parts);
}

// ------------------------------------------------------------------ dead letters

function renderDead(f) {
  if (!changed('dead', f.deadLetters)) return;
  const d = f.deadLetters;
  const el = $('dead');
  if (d.total === 0) {
    el.replaceChildren(h('div', { class: 'empty', text: 'no dead letters: every message was delivered' }));
    return;
  }
  const reasons = h('div', { class: 'reasons' });
  for (const r of d.byReason) {
    reasons.append(
      h(
        'div',
        { class: 'reason', 'data-reason': r.reason },
        h('span', { class: 'mono', text: r.reason }),
        ' ',
        h('b', { text: num(r.count) }),
        ' ',
        h('span', { class: 'muted', text: r.perSec > 0 ? `${compact(r.perSec)}/s` : '' }),
      ),
    );
  }
  const table = h('table', { class: 'table', id: 'dead-recent' });
  table.append(
    h('thead', null, h('tr', null, ...['when', 'to', 'reason', 'message type'].map((t) => h('th', { text: t })))),
  );
  const body = h('tbody');
  for (const l of d.recent) {
    body.append(
      h(
        'tr',
        null,
        h('td', { class: 'mono', text: clock(l.at) }),
        h('td', { class: 'path', title: l.recipient, text: l.recipient }),
        h('td', { class: 'mono', text: l.reason }),
        h('td', { class: 'mono', text: l.payload === undefined ? l.type : `${l.type} ${l.payload}` }),
      ),
    );
  }
  table.append(body);
  el.replaceChildren(reasons, table);
}

// ------------------------------------------------------------------ shutdown

const PHASES = [
  ['stopping.stopIntake', 'stop-intake', 'stop intake'],
  ['stopping.drain', 'drain', 'drain'],
  ['stopping.stopActors', 'stop-actors', 'stop actors'],
  ['stopping.beforeExit', 'before-exit', 'before exit'],
];

function renderShutdown(f) {
  const st = f.system.state;
  const live = st.startsWith('stopping') ? [f.at, f.totals.mailboxDepth, f.actors.filter((a) => a.busy).length] : 0;
  if (!changed('shutdown', [st, f.shutdown, live])) return;
  const el = $('shutdown');
  const tr = f.shutdown.transitions;
  const report = f.shutdown.report;
  if (!st.startsWith('stopping') && st !== 'stopped' && st !== 'failed') {
    el.replaceChildren(
      h('div', {
        class: 'empty',
        text: `not shutting down (${st}). On SIGTERM or shutdown() the phases appear here as they run.`,
      }),
      h(
        'div',
        { class: 'phases' },
        ...PHASES.map(([, , label]) =>
          h(
            'div',
            { class: 'phase', 'data-phase': 'pending' },
            h('div', { class: 'pname', text: label }),
            h('div', { class: 'pdur', text: 'pending' }),
          ),
        ),
      ),
    );
    return;
  }
  const entered = new Map(tr.map((t) => [t.state, t.at]));
  const order = PHASES.map((p) => p[0]).concat(['stopped']);
  const phases = h('div', { class: 'phases' });
  PHASES.forEach(([stateName, phaseName, label], i) => {
    const rep = report?.phases.find((p) => p.phase === phaseName);
    const start = entered.get(stateName);
    const next = entered.get(order[i + 1]);
    let status = 'pending';
    let text = 'pending';
    if (rep) {
      status = rep.timedOut ? 'timeout' : 'done';
      text = `${ms(rep.durationMs)}${rep.timedOut ? ' · timed out' : ''}`;
    } else if (st === stateName) {
      status = 'active';
      text = start !== undefined ? `running ${ms(f.at - start)}` : 'running';
    } else if (start !== undefined && next !== undefined) {
      status = 'done';
      text = ms(next - start);
    }
    phases.append(
      h(
        'div',
        { class: 'phase', 'data-phase': status, 'data-name': phaseName },
        h('div', { class: 'pname', text: label }),
        h('div', { class: 'pdur', text }),
      ),
    );
  });
  const parts = [phases];
  if (st === 'stopping.drain') {
    const busy = f.actors.filter((a) => a.depth > 0 || a.busy || a.inFlight > 0);
    parts.push(
      h('div', {
        class: 'note',
        text:
          busy.length === 0
            ? 'draining: every mailbox is empty'
            : `draining: ${busy.length} actor(s) still busy, ${num(f.totals.mailboxDepth)} messages queued`,
      }),
    );
  }
  if (report) {
    const hung = report.phases.flatMap((p) => p.hung);
    parts.push(
      h(
        'dl',
        { class: 'kv', id: 'shutdown-report' },
        h('dt', { text: 'cause' }),
        h('dd', { text: report.cause }),
        h('dt', { text: 'exit code' }),
        h('dd', { text: report.exitCode }),
        h('dt', { text: 'took' }),
        h('dd', { text: ms(report.durationMs) }),
        h('dt', { text: 'handled during shutdown' }),
        h('dd', { text: num(report.processed) }),
        h('dt', { text: 'dead letters / refused' }),
        h('dd', { text: `${num(report.deadLettered)} / ${num(report.rejected)}` }),
        h('dt', { text: 'asks rejected at the end' }),
        h('dd', { text: num(report.pendingAsksRejected) }),
        hung.length > 0 ? h('dt', { text: 'hung' }) : null,
        hung.length > 0 ? h('dd', { class: 'error', text: hung.join('; ') }) : null,
        report.abandoned.length > 0 ? h('dt', { text: 'abandoned' }) : null,
        report.abandoned.length > 0 ? h('dd', { class: 'error', text: report.abandoned.join(', ') }) : null,
      ),
    );
  }
  el.replaceChildren(...parts);
}

// ------------------------------------------------------------------ contributed sections

function renderSection(container, section, f) {
  const v = section.view;
  if (v.kind === 'error') {
    container.replaceChildren(h('div', { class: 'error', text: v.message }));
    return;
  }
  const parts = [];
  if (v.kind === 'stats') {
    parts.push(
      h(
        'div',
        { class: 'stats' },
        ...v.items.map((it) =>
          h(
            'div',
            { class: 'stat' },
            h('div', { class: 'kpi-label', text: it.label }),
            h('div', { class: 'kpi-value', text: format(it.value, it.format) }),
          ),
        ),
      ),
    );
  } else if (v.kind === 'table') {
    if (v.rows.length === 0) {
      parts.push(h('div', { class: 'empty', text: v.empty ?? 'nothing yet' }));
    } else {
      const hasActions = v.rows.some((r) => r.actions && r.actions.length > 0);
      const table = h('table', { class: 'table', 'data-section': section.id });
      const numeric = (c) => ['number', 'bytes', 'rate', 'ms', 'age'].includes(c.format);
      table.append(
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ...v.columns.map((c) => h('th', { class: numeric(c) ? 'num' : '', text: c.label })),
            hasActions ? h('th', { class: 'actions' }) : null,
          ),
        ),
      );
      const body = h('tbody');
      for (const r of v.rows) {
        const tr = h('tr', { 'data-row': r.id });
        for (const c of v.columns) {
          const value = r.cells[c.key];
          if (c.format === 'status') {
            tr.append(
              h(
                'td',
                null,
                value === null || value === undefined
                  ? '–'
                  : h('span', { class: 'pill', 'data-state': String(value), text: String(value) }),
              ),
            );
          } else if (c.format === 'progress') {
            const p = typeof value === 'number' ? Math.max(0, Math.min(1, value)) : 0;
            tr.append(
              h(
                'td',
                { style: 'min-width:160px' },
                h(
                  'div',
                  { class: 'progress' },
                  h('div', { class: 'bar' }, h('span', { style: `width:${(p * 100).toFixed(1)}%` })),
                  h('span', {
                    class: 'num',
                    text: value === null || value === undefined ? '–' : `${(p * 100).toFixed(0)}%`,
                  }),
                ),
              ),
            );
          } else {
            tr.append(
              h('td', { class: numeric(c) ? 'num' : c.key === 'id' ? 'mono' : '', text: format(value, c.format) }),
            );
          }
        }
        if (hasActions) {
          const td = h('td', { class: 'actions' });
          for (const a of r.actions ?? []) {
            td.append(
              h('button', {
                class: a === 'cancel' || a === 'stop' ? 'danger' : '',
                'data-action': a,
                disabled: !f.actions || state.ended,
                title: f.actions ? `${a} (needs the token)` : 'the inspector was started without a token',
                onclick: () =>
                  act(
                    `/api/sections/${encodeURIComponent(section.id)}/actions/${encodeURIComponent(a)}`,
                    { row: r.id },
                    `${a} ${r.id}`,
                  ),
                text: a,
              }),
              ' ',
            );
          }
          tr.append(td);
        }
        body.append(tr);
      }
      table.append(body);
      parts.push(h('div', { class: 'scroll' }, table));
    }
  }
  if (v.note) parts.push(h('p', { class: 'note', text: v.note }));
  container.replaceChildren(...parts);
}

function renderSections(f) {
  if (!changed('sections', [f.sections, f.actions, state.ended])) return;
  const nodes = f.sections.find((x) => x.id === 'nodes');
  const nodesEl = $('nodes');
  if (nodes) {
    $('nodes-title').textContent = nodes.title;
    renderSection(nodesEl, nodes, f);
  } else {
    nodesEl.replaceChildren(
      h('div', {
        class: 'empty',
        text: 'single node: this process. A cluster transport (@troupe/remote) lists its nodes and their heartbeat age here.',
      }),
    );
  }
  const box = $('sections');
  const keep = new Set();
  for (const sec of f.sections) {
    if (sec.id === 'nodes') continue;
    keep.add(sec.id);
    let card = box.querySelector(`[data-section-card="${CSS.escape(sec.id)}"]`);
    if (!card) {
      card = h('article', { class: 'card', 'data-section-card': sec.id }, h('h2', { text: sec.title }), h('div'));
      box.append(card);
    }
    card.firstChild.textContent = sec.title;
    renderSection(card.lastChild, sec, f);
  }
  for (const card of [...box.children]) if (!keep.has(card.dataset.sectionCard)) card.remove();
}

// ------------------------------------------------------------------ actions

async function act(url, body, what) {
  const token = $('token').value.trim();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    if (res.ok) toast(`${what}: done`, false);
    else toast(`${what}: refused (${res.status}) ${answer.error ?? ''}`, true);
  } catch (error) {
    toast(`${what}: ${error.message}`, true);
  }
}

let toastTimer;
function toast(text, bad) {
  const el = $('toast');
  el.textContent = text;
  el.className = `toast show${bad ? ' bad' : ''}`;
  el.dataset.kind = bad ? 'refused' : 'ok';
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.className = 'toast';
  }, 5000);
}

// ------------------------------------------------------------------ feed

function render() {
  const f = state.frame;
  if (!f) return;
  renderHeader(f);
  renderCharts(f);
  renderTree(f);
  renderTable(f);
  renderWorkers(f);
  renderDead(f);
  renderShutdown(f);
  renderSections(f);
  document.body.dataset.frames = String((Number(document.body.dataset.frames) || 0) + 1);
}

function live(mode, text) {
  $('live').dataset.live = mode;
  $('live-text').textContent = text;
}

function connect() {
  const es = new EventSource('/api/feed');
  es.addEventListener('history', (e) => {
    state.points = JSON.parse(e.data);
  });
  es.addEventListener('frame', (e) => {
    const f = JSON.parse(e.data);
    const last = state.points[state.points.length - 1];
    if (!last || last.at !== f.point.at) state.points.push(f.point);
    if (state.points.length > 1200) state.points.shift();
    state.frame = f;
    live('live', 'live');
    render();
  });
  es.addEventListener('end', () => {
    state.ended = true;
    es.close();
    live('ended', 'feed ended: the system has stopped');
    render();
  });
  es.onerror = () => {
    if (!state.ended) live('lost', 'reconnecting…');
  };
}

$('token').value = sessionStorage.getItem('troupe-inspector-token') ?? '';
$('token').addEventListener('input', (e) => sessionStorage.setItem('troupe-inspector-token', e.target.value));
$('filter').addEventListener('input', (e) => {
  state.filter = e.target.value;
  if (state.frame) renderTable(state.frame);
});
window.addEventListener('resize', () => state.frame && renderCharts(state.frame));
connect();
