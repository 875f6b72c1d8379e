// The orch web UI: one ES module, no framework, no build step.
//
// - Pages are chosen by the URL's hash (#/jobs/web), so the UI works from
//   any master's /ui/.
// - Every request carries the ACL token kept in localStorage (X-Orch-Token).
// - Live updates: GET /v1/event/stream (newline-delimited JSON) read with a
//   fetch() body reader; relevant events re-render the current page.
// - Text from the server only ever reaches the page through text nodes
//   (h() below never parses HTML).

const TOKEN_KEY = 'orch.token';
const REFRESH_DEBOUNCE_MS = 400;
const LEADER_POLL_MS = 15000;
const STREAM_STALL_MS = 35000; // the masters send a heartbeat line every 10 s
const LOG_MAX_CHARS = 512 * 1024;

const state = {
  token: readToken(),
  index: 0, // the newest X-Orch-Index seen
  clusterId: '',
  page: null, // the current page object
  renderGen: 0,
  pending: new Set(), // actions in flight, e.g. "promote:<id>"
  membersDenied: false,
  confirm: {}, // {key, until}: a button waiting for its second click
};

// ---------------------------------------------------------------- utilities

function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

function writeToken(token) {
  state.token = token;
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token lasts for this page only.
  }
}

// h('a', {href: '#/', class: 'x', 'data-test': 'y', onclick: fn}, 'text', node)
// builds an element. Strings become text nodes: never HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  appendChildren(el, children);
  return el;
}

function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const num = (v) => Number(v || 0);
const shortId = (id) => (id ? String(id).slice(0, 8) : '');
const enc = encodeURIComponent;
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

function fmtCpu(millicores) {
  return `${(num(millicores) / 1000).toFixed(2)} cores`;
}

function fmtMem(mib) {
  const m = num(mib);
  return m >= 1024 ? `${(m / 1024).toFixed(1)} GiB` : `${Math.round(m)} MiB`;
}

function ago(ms) {
  const t = num(ms);
  if (!t) return '';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function timeCell(ms) {
  const t = num(ms);
  if (!t) return h('span', {class: 'muted'}, '–');
  return h('time', {datetime: new Date(t).toISOString(), title: new Date(t).toLocaleString()}, ago(t));
}

function lower(s) {
  return String(s || '').toLowerCase().replace(/_/g, ' ');
}

// ------------------------------------------------------------------ the API

class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code || '';
  }
}

function authHeaders(extra) {
  const headers = {...(extra || {})};
  if (state.token) headers['X-Orch-Token'] = state.token;
  return headers;
}

function noteIndex(res) {
  const idx = Number(res.headers.get('X-Orch-Index') || 0);
  if (idx > state.index) state.index = idx;
}

async function errorOf(res) {
  let message = `${res.status} ${res.statusText}`;
  let code = '';
  try {
    const body = await res.json();
    if (body && body.error) {
      message = body.error.message || message;
      code = body.error.code || '';
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(res.status, message, code);
}

// Calls the API; answers the parsed JSON or throws an ApiError (status 0
// when the master could not be reached). A 403 opens the token panel unless
// quiet (a read the page can do without).
async function api(path, {method = 'GET', body, signal, quiet = false} = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      signal,
      headers: authHeaders(body === undefined ? {} : {'Content-Type': 'application/json'}),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, `cannot reach the master (${err && err.message ? err.message : err})`);
  }
  noteIndex(res);
  if (!res.ok) {
    const error = await errorOf(res);
    if (error.status === 403 && !quiet) noteForbidden();
    throw error;
  }
  const text = await res.text();
  return text ? JSON.parse(text) : {};
}

// Runs several reads at once; each result is {ok, data} or {ok: false, error}.
async function fetchAll(paths) {
  const names = Object.keys(paths);
  const settled = await Promise.allSettled(names.map((n) => api(paths[n])));
  const out = {};
  names.forEach((n, i) => {
    const r = settled[i];
    out[n] = r.status === 'fulfilled' ? {ok: true, data: r.value} : {ok: false, error: r.reason};
  });
  return out;
}

// ---------------------------------------------------------- status badges

const BADGE_KIND = {
  ok: ['running', 'ready', 'successful', 'healthy', 'voter', 'leader', 'stable', 'promoted', 'run', 'passing'],
  warn: ['pending', 'draining', 'paused', 'blocked', 'canary', 'learner', 'waiting for promotion'],
  bad: ['failed', 'lost', 'down', 'unhealthy', 'failing'],
  info: ['complete', 'dead', 'stop', 'cancelled', 'unknown'],
};

function badgeKind(text) {
  const t = lower(text);
  for (const [kind, words] of Object.entries(BADGE_KIND)) {
    if (words.includes(t)) return kind;
  }
  return 'info';
}

function badge(text, kind, test) {
  const label = lower(text) || 'unknown';
  return h('span', {class: `badge badge-${kind || badgeKind(label)}`, 'data-test': test}, label);
}

// ------------------------------------------------------------- UI pieces

function link(href, text, test, extra) {
  return h('a', {href, 'data-test': test, ...(extra || {})}, text);
}

const jobHref = (id) => `#/jobs/${enc(id)}`;
const nodeHref = (id) => `#/nodes/${enc(id)}`;
const allocHref = (id) => `#/allocations/${enc(id)}`;
const serviceHref = (name) => `#/services/${enc(name)}`;

function table(headers, rows, {test, empty = 'Nothing here yet.'} = {}) {
  if (!rows.length) return h('p', {class: 'empty', 'data-test': test ? `${test}-empty` : undefined}, empty);
  return h('div', {class: 'table-wrap'},
    h('table', {'data-test': test},
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))),
      h('tbody', {}, rows)));
}

function row(cells, attrs) {
  return h('tr', attrs || {}, cells.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c))));
}

function section(title, content, {test, actions} = {}) {
  return h('section', {class: 'card', 'data-test': test},
    h('div', {class: 'card-head'}, h('h2', {}, title), actions || null),
    content);
}

// A bar of used / total with a label, e.g. allocated CPU of a node (full
// is bad), or healthy endpoints of a service (fullIsGood).
function bar(used, total, label, {test, layers, fullIsGood} = {}) {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  let level = pct >= 95 ? 'bad' : pct >= 80 ? 'warn' : 'ok';
  if (fullIsGood) level = pct >= 100 ? 'ok' : pct > 0 ? 'warn' : 'bad';
  const track = h('div', {
    class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': used,
  });
  for (const layer of layers || [{value: used, cls: `bar-fill bar-${level}`}]) {
    const fill = h('div', {class: layer.cls});
    fill.style.width = `${total > 0 ? Math.min(100, (layer.value / total) * 100) : 0}%`;
    track.append(fill);
  }
  return h('div', {class: 'bar-box', 'data-test': test}, track, h('div', {class: 'bar-label'}, label));
}

function keyValues(pairs, test) {
  return h('dl', {class: 'kv', 'data-test': test},
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function stat(label, value, sub, test) {
  return h('div', {class: 'stat', 'data-test': test},
    h('div', {class: 'stat-value'}, value),
    h('div', {class: 'stat-label'}, label),
    sub ? h('div', {class: 'stat-sub'}, sub) : null);
}

function errorBox(err, what) {
  if (err && err.status === 403) {
    return h('div', {class: 'alert alert-forbidden', 'data-test': 'forbidden'},
      h('div', {class: 'alert-row'},
        h('div', {},
          h('strong', {}, state.token ? 'Permission denied for this token' : 'Permission denied: ACLs are on, enter a token'),
          h('p', {class: 'small'}, err.message)),
        h('button', {type: 'button', class: 'primary', 'data-test': 'forbidden-enter-token', onclick: openTokenPanel},
          state.token ? 'Change token' : 'Enter token')));
  }
  const msg = err && err.message ? err.message : String(err);
  return h('div', {class: 'alert alert-error', 'data-test': 'error'},
    h('strong', {}, what ? `Could not load ${what}` : 'Error'), h('p', {}, msg));
}

// A section from one result of fetchAll: its content, or why it failed.
function sectionFrom(title, result, render, opts) {
  return section(title, result.ok ? render(result.data) : errorBox(result.error, title.toLowerCase()), opts);
}

function pageHead(title, {sub, badges, actions, crumbs} = {}) {
  return h('div', {class: 'page-head'},
    crumbs ? h('div', {class: 'crumbs'}, crumbs.map((c, i) => [i ? ' / ' : '', c])) : null,
    h('div', {class: 'page-title-row'},
      h('h1', {'data-test': 'page-title'}, title, badges ? h('span', {class: 'badges'}, badges) : null),
      actions ? h('div', {class: 'actions'}, actions) : null),
    sub ? h('div', {class: 'page-sub'}, sub) : null);
}

// --------------------------------------------------------------- toasts

function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts');
  const el = h('div', {class: `toast toast-${kind}`, 'data-test': `toast-${kind}`, role: 'status'}, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 9000 : 5000);
}

// Runs a button's action once at a time: the button reads `busy` meanwhile
// (also across re-renders), then the page refreshes.
async function runAction(key, action, okMessage) {
  if (state.pending.has(key)) return;
  state.pending.add(key);
  scheduleRefresh(0);
  try {
    await action();
    toast(okMessage, 'ok');
  } catch (err) {
    toast(err && err.message ? err.message : String(err), 'error');
  } finally {
    state.pending.delete(key);
    scheduleRefresh(0);
  }
}

const CONFIRM_MS = 5000;

function confirming(key) {
  return state.confirm.key === key && Date.now() < state.confirm.until;
}

// A button for a change. With `confirm`, the first click only asks (the
// button reads `confirm` for a few seconds, also across re-renders) and the
// second one acts.
function actionButton(key, label, busyLabel, action, okMessage, {test, cls, disabled, title, confirm} = {}) {
  const busy = state.pending.has(key);
  const asking = Boolean(confirm) && confirming(key);
  return h('button', {
    type: 'button',
    class: `${cls || ''}${asking ? ' confirming' : ''}`,
    'data-test': test,
    'data-confirming': asking ? 'true' : undefined,
    disabled: busy || disabled,
    title,
    onclick: (e) => {
      if (confirm && !confirming(key)) {
        askConfirmation(e.currentTarget, key, confirm);
        return;
      }
      state.confirm = {};
      runAction(key, action, okMessage);
    },
  }, busy ? busyLabel : asking ? confirm : label);
}

function askConfirmation(button, key, question) {
  state.confirm = {key, until: Date.now() + CONFIRM_MS};
  button.textContent = question;
  button.classList.add('confirming');
  button.dataset.confirming = 'true';
  setTimeout(() => {
    if (state.confirm.key === key && !confirming(key)) {
      state.confirm = {};
      scheduleRefresh(0); // back to the plain button
    }
  }, CONFIRM_MS + 50);
}

// ------------------------------------------------------------ the header

function setLive(stateName, title) {
  const el = document.querySelector('[data-test=live]');
  if (!el) return;
  el.dataset.state = stateName;
  el.title = title;
}

async function refreshHeader() {
  const leaderEl = document.querySelector('[data-test=leader]');
  try {
    const leader = await api('/v1/cluster/leader');
    leaderEl.replaceChildren('leader ', h('strong', {'data-test': 'leader-id'}, leader.leader_id || '?'),
      leader.term ? h('span', {class: 'muted'}, ` · term ${leader.term}`) : null);
    leaderEl.title = leader.address || '';
  } catch (err) {
    leaderEl.replaceChildren(h('span', {class: 'warn-text'}, err.status === 503 ? 'no leader' : 'master unreachable'));
  }
  if (!state.clusterId && !state.membersDenied) {
    try {
      state.clusterId = (await api('/v1/cluster/members', {quiet: true})).cluster_id || '';
    } catch (err) {
      state.membersDenied = err.status === 403; // without operator read: asked once
    }
  }
  showClusterId();
}

function showClusterId() {
  const idEl = document.querySelector('[data-test=cluster-id]');
  idEl.textContent = state.clusterId ? `cluster ${state.clusterId}` : '';
}

function markNav(name) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === name);
  }
}

// ------------------------------------------------------- the token panel

let forbiddenShown = false;

function noteForbidden() {
  document.querySelector('[data-test=token-button]')?.classList.add('attention');
  if (!forbiddenShown && !state.token) {
    forbiddenShown = true;
    openTokenPanel();
  }
}

function openTokenPanel() {
  const panel = document.getElementById('token-panel');
  panel.hidden = false;
  document.querySelector('[data-test=token-button]').setAttribute('aria-expanded', 'true');
  document.getElementById('token-input').focus();
}

function toggleTokenPanel() {
  const panel = document.getElementById('token-panel');
  if (panel.hidden) openTokenPanel();
  else closeTokenPanel();
}

function closeTokenPanel() {
  document.getElementById('token-panel').hidden = true;
  document.querySelector('[data-test=token-button]').setAttribute('aria-expanded', 'false');
}

function showTokenState() {
  const btn = document.querySelector('[data-test=token-button]');
  btn.textContent = state.token ? 'Token ✓' : 'Token';
  btn.classList.toggle('has-token', Boolean(state.token));
  if (state.token) btn.classList.remove('attention');
}

async function checkToken() {
  const status = document.querySelector('[data-test=token-status]');
  try {
    const self = await api('/v1/acl/token/self');
    const policies = (self.policies || []).join(', ');
    status.textContent = `Token "${self.name || shortId(self.accessor_id)}" (${self.type || 'client'}` +
      `${policies ? `: ${policies}` : ''}) is in use.`;
    status.className = 'hint ok-text';
    closeTokenPanel();
  } catch (err) {
    status.textContent = err.status === 409 ? `Saved; ${err.message}` : `This token was not accepted: ${err.message}`;
    status.className = err.status === 409 ? 'hint' : 'hint warn-text';
  }
}

function saveToken() {
  const input = document.getElementById('token-input');
  const token = input.value.trim();
  if (!/^[\x21-\x7e]*$/.test(token)) {
    const status = document.querySelector('[data-test=token-status]');
    status.textContent = 'A token is printable ASCII without spaces: check what was pasted.';
    status.className = 'hint warn-text';
    return;
  }
  writeToken(token);
  input.value = '';
  forbiddenShown = false;
  state.membersDenied = false;
  showTokenState();
  restartEvents();
  scheduleRefresh(0);
  refreshHeader();
  if (state.token) checkToken();
}

function clearToken() {
  writeToken('');
  document.getElementById('token-input').value = '';
  document.querySelector('[data-test=token-status]').textContent = 'Token cleared.';
  showTokenState();
  restartEvents();
  scheduleRefresh(0);
}

function setupTokenPanel() {
  document.querySelector('[data-test=token-button]').addEventListener('click', toggleTokenPanel);
  document.querySelector('[data-test=token-save]').addEventListener('click', saveToken);
  document.querySelector('[data-test=token-clear]').addEventListener('click', clearToken);
  document.getElementById('token-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') saveToken();
    if (e.key === 'Escape') closeTokenPanel();
  });
  showTokenState();
}

// ---------------------------------------------------- shared renderings

function nodeCapacity(node) {
  const cap = node.capacity || {};
  const alloc = node.allocated || {};
  return [
    bar(num(alloc.cpu), num(cap.cpu), `CPU ${fmtCpu(alloc.cpu)} / ${fmtCpu(cap.cpu)}`, {test: 'cpu-bar'}),
    bar(num(alloc.memory), num(cap.memory), `memory ${fmtMem(alloc.memory)} / ${fmtMem(cap.memory)}`, {test: 'mem-bar'}),
  ];
}

function nodesTable(nodes) {
  const rows = nodes.map((n) => {
    const [cpu, mem] = nodeCapacity(n);
    return row([
      link(nodeHref(n.id), n.name || shortId(n.id), 'node-link', {'data-node': n.name || n.id}),
      badge(n.status, undefined, 'node-status'),
      h('span', {class: 'mono small'}, n.address || ''),
      ((n.attributes && n.attributes.drivers) || []).join(', '),
      cpu,
      mem,
      timeCell(n.last_heartbeat_ms),
    ], {'data-test': 'node-row'});
  });
  return table(['Node', 'Status', 'Address', 'Drivers', 'CPU allocated', 'Memory allocated', 'Heartbeat'], rows,
    {test: 'nodes-table', empty: 'No nodes have registered yet: start an orch-agent.'});
}

function sortedAllocs(allocs) {
  const live = (a) => (['RUNNING', 'PENDING'].includes(a.client_status) ? 0 : 1);
  return [...allocs].sort((a, b) => live(a) - live(b) || num(b.create_index) - num(a.create_index));
}

const TERMINAL = ['COMPLETE', 'FAILED', 'LOST'];

function allocHealth(a) {
  if (TERMINAL.includes(a.client_status)) return h('span', {class: 'muted'}, '–');
  const ds = a.deployment_status || {};
  const out = [];
  if (ds.canary) out.push(badge('canary', 'warn', 'alloc-canary'));
  if (ds.health === 'HEALTHY' || (a.healthy && !ds.health)) out.push(badge('healthy', 'ok', 'alloc-health'));
  else if (ds.health === 'UNHEALTHY') out.push(badge('unhealthy', 'bad', 'alloc-health'));
  else if (a.client_status === 'RUNNING') out.push(badge('checking', 'warn', 'alloc-health'));
  return out.length ? out : h('span', {class: 'muted'}, '–');
}

function restartsOf(a) {
  return (a.task_states || []).reduce((sum, t) => sum + num(t.restarts), 0);
}

function allocsTable(allocs, {showJob = false, showNode = true, nodeNames = {}} = {}) {
  const rows = sortedAllocs(allocs).map((a) => row([
    link(allocHref(a.id), shortId(a.id), 'alloc-link', {class: 'mono', 'data-alloc': a.id}),
    a.name || '',
    showJob ? link(jobHref(a.job_id), a.job_id, 'alloc-job-link') : null,
    showNode ? link(nodeHref(a.node_id), nodeNames[a.node_id] || shortId(a.node_id), 'alloc-node-link') : null,
    `v${num(a.job_version)}`,
    badge(a.client_status, undefined, 'alloc-status'),
    badge(a.desired_status),
    allocHealth(a),
    String(restartsOf(a)),
    timeCell(a.modify_time_ms),
  ].filter((c) => c !== null), {'data-test': 'alloc-row', 'data-status': a.client_status || ''}));
  const headers = ['Allocation', 'Name', showJob ? 'Job' : null, showNode ? 'Node' : null, 'Version',
    'Status', 'Desired', 'Health', 'Restarts', 'Modified'].filter((c) => c !== null);
  return table(headers, rows, {test: 'allocs-table', empty: 'No allocations.'});
}

function nodeNameMap(result) {
  const names = {};
  if (result && result.ok) for (const n of result.data.nodes || []) names[n.id] = n.name;
  return names;
}

function countBy(items, key) {
  const out = {};
  for (const it of items) out[it[key] || 'UNKNOWN'] = (out[it[key] || 'UNKNOWN'] || 0) + 1;
  return out;
}

// --------------------------------------------------------------- overview

function mastersTable(data) {
  if (data.cluster_id) state.clusterId = data.cluster_id;
  const rows = (data.members || []).map((m) => row([
    h('strong', {}, m.id),
    m.leader ? badge('leader', 'ok', 'leader-badge') : badge('follower', 'info'),
    badge(m.role),
    h('span', {class: 'mono small'}, m.http_address || ''),
    h('span', {class: 'mono small'}, m.raft_address || ''),
    m.match_index ? String(m.match_index) : h('span', {class: 'muted'}, '–'),
  ], {'data-test': 'master-row', 'data-leader': m.leader ? 'true' : 'false'}));
  return table(['Master', 'Leadership', 'Role', 'REST', 'Raft', 'Match index'], rows, {test: 'masters-table'});
}

function blockedEvals(evals) {
  const stuck = evals.filter((e) => e.status === 'BLOCKED' || e.status === 'FAILED')
    .sort((a, b) => num(b.create_index) - num(a.create_index)).slice(0, 10);
  const rows = stuck.map((e) => row([
    link(jobHref(e.job_id), e.job_id, 'eval-job-link'),
    badge(e.status),
    lower(e.triggered_by),
    h('span', {class: 'explain'}, e.status_description || ''),
    timeCell(e.modify_time_ms),
  ], {'data-test': 'blocked-eval-row'}));
  return table(['Job', 'Status', 'Trigger', 'Why', 'When'], rows,
    {test: 'blocked-evals', empty: 'All work is placed.'});
}

function overviewStats(r) {
  const stats = [];
  if (r.members.ok) {
    const members = r.members.data.members || [];
    const leader = members.find((m) => m.leader);
    stats.push(stat('masters', String(members.length), leader ? `leader ${leader.id}` : 'no leader', 'stat-masters'));
  }
  if (r.nodes.ok) {
    const nodes = r.nodes.data.nodes || [];
    const ready = nodes.filter((n) => n.status === 'READY').length;
    stats.push(stat('nodes ready', `${ready} / ${nodes.length}`, null, 'stat-nodes'));
  }
  if (r.jobs.ok) {
    const jobs = r.jobs.data.jobs || [];
    const running = jobs.filter((j) => j.status === 'RUNNING').length;
    stats.push(stat('jobs running', `${running} / ${jobs.length}`, null, 'stat-jobs'));
  }
  if (r.allocs.ok) {
    const allocs = r.allocs.data.allocations || [];
    const by = countBy(allocs, 'client_status');
    stats.push(stat('allocations running', `${by.RUNNING || 0} / ${allocs.length}`,
      Object.entries(by).filter(([k]) => k !== 'RUNNING').map(([k, v]) => `${v} ${lower(k)}`).join(', '),
      'stat-allocs'));
  }
  return h('div', {class: 'stats', 'data-test': 'overview-stats'}, stats);
}

function overviewPage() {
  return {
    nav: 'overview',
    title: 'Overview',
    relevant: (ev) => ['Node', 'Job', 'Allocation', 'Evaluation'].includes(ev.topic),
    async load() {
      const r = await fetchAll({
        members: '/v1/cluster/members',
        nodes: '/v1/nodes',
        jobs: '/v1/jobs',
        allocs: '/v1/allocations',
        evals: '/v1/evaluations',
      });
      const masters = sectionFrom('Masters', r.members, mastersTable, {test: 'masters'});
      showClusterId();
      return h('div', {},
        pageHead('Cluster overview'),
        overviewStats(r),
        masters,
        sectionFrom('Nodes', r.nodes, (d) => nodesTable(d.nodes || []), {test: 'nodes'}),
        sectionFrom('Unplaced work', r.evals, (d) => blockedEvals(d.evaluations || []), {test: 'unplaced'}));
    },
  };
}

// ------------------------------------------------------------------ jobs

function jobsTable(jobs, allocs) {
  const byJob = {};
  for (const a of allocs) (byJob[a.job_id] ||= []).push(a);
  const rows = [...jobs].sort((a, b) => a.id.localeCompare(b.id)).map((j) => {
    const mine = byJob[j.id] || [];
    const running = mine.filter((a) => a.client_status === 'RUNNING').length;
    const wanted = (j.groups || []).reduce((s, g) => s + num(g.count), 0);
    return row([
      link(jobHref(j.id), j.id, 'job-link', {'data-job': j.id}),
      badge(j.type, 'info'),
      badge(j.stop ? 'stopped' : j.status, j.stop ? 'info' : undefined, 'job-status'),
      `v${num(j.version)}`,
      String(j.priority || ''),
      (j.groups || []).map((g) => g.name).join(', '),
      j.type === 'BATCH' ? `${running} running`
        : bar(running, wanted, `${running} running / ${wanted} wanted`, {fullIsGood: true, test: 'job-allocs-bar'}),
      timeCell(j.submit_time_ms),
    ], {'data-test': 'job-row'});
  });
  return table(['Job', 'Type', 'Status', 'Version', 'Priority', 'Groups', 'Allocations', 'Submitted'], rows,
    {test: 'jobs-table', empty: 'No jobs. Submit one with orchctl run -f job.yaml.'});
}

function jobsPage() {
  return {
    nav: 'jobs',
    title: 'Jobs',
    relevant: (ev) => ev.topic === 'Job' || ev.topic === 'Allocation',
    async load() {
      const r = await fetchAll({jobs: '/v1/jobs', allocs: '/v1/allocations'});
      const allocs = r.allocs.ok ? r.allocs.data.allocations || [] : [];
      const jobs = r.jobs.ok ? r.jobs.data.jobs || [] : [];
      const running = jobs.filter((j) => j.status === 'RUNNING').length;
      return h('div', {},
        pageHead('Jobs', {sub: r.jobs.ok ? `${plural(jobs.length, 'job')}, ${running} running` : null}),
        sectionFrom('Jobs', r.jobs, (d) => jobsTable(d.jobs || [], allocs), {test: 'jobs'}));
    },
  };
}

const STATUS_ORDER = ['RUNNING', 'PENDING', 'FAILED', 'LOST', 'COMPLETE'];

function summaryStats(summary) {
  const rank = (s) => (STATUS_ORDER.includes(s) ? STATUS_ORDER.indexOf(s) : STATUS_ORDER.length);
  const entries = Object.entries(summary || {}).sort(([a], [b]) => rank(a) - rank(b));
  if (!entries.length) return h('p', {class: 'empty'}, 'No allocations yet.');
  return h('div', {class: 'stats', 'data-test': 'job-summary'},
    entries.map(([status, n]) => stat(lower(status), String(n), null, `summary-${status.toLowerCase()}`)));
}

function groupsTable(groups) {
  const rows = (groups || []).map((g) => {
    const tasks = (g.tasks || []).map((t) => h('div', {class: 'task-line'},
      h('strong', {}, t.name), ' ', badge(t.driver || 'exec', 'info'), ' ',
      h('span', {class: 'mono small'}, t.image || t.command || ''),
      t.resources ? h('span', {class: 'muted small'}, ` · ${fmtCpu(t.resources.cpu)}, ${fmtMem(t.resources.memory)}`) : null,
      t.service ? h('span', {class: 'small'}, ' · service ', link(serviceHref(t.service.name), t.service.name, 'group-service-link'),
        t.service.listen ? ` :${t.service.listen}` : '') : null));
    const u = g.update;
    const update = u ? [
      `max ${num(u.max_parallel) || 1} at a time`,
      u.canary ? `, ${plural(num(u.canary), 'canary')}` : '',
      u.auto_promote ? ', auto-promote' : '',
      u.auto_revert ? ', auto-revert' : '',
    ].join('') : h('span', {class: 'muted'}, 'all at once');
    return row([h('strong', {}, g.name), String(num(g.count)), h('div', {}, tasks), update], {'data-test': 'group-row'});
  });
  return table(['Group', 'Count', 'Tasks', 'Update'], rows, {test: 'groups-table'});
}

function deploymentNeedsPromotion(d) {
  return (d.status === 'RUNNING' || d.status === 'PAUSED') &&
    (d.groups || []).some((g) => num(g.desired_canaries) > 0 && !g.promoted);
}

function canariesHealthy(d) {
  return (d.groups || []).every((g) => !num(g.desired_canaries) || g.promoted ||
    num(g.healthy_canaries) >= num(g.desired_canaries));
}

const isActive = (d) => d.status === 'RUNNING' || d.status === 'PAUSED';

function canaryLine(g, active) {
  const canaries = num(g.desired_canaries);
  if (!canaries) return null;
  const text = g.promoted ? `${plural(canaries, 'canary')}, promoted`
    : active ? `canaries: ${num(g.healthy_canaries)} healthy / ${num(g.placed_canaries)} placed / ${canaries} wanted`
      : `${plural(canaries, 'canary')}, not promoted`;
  return h('div', {class: 'small', 'data-test': 'deployment-canaries'}, text);
}

function deploymentGroup(g, d) {
  const desired = num(g.desired_total);
  const active = isActive(d);
  return h('div', {class: 'dep-group', 'data-test': 'deployment-group'},
    h('div', {class: 'dep-group-name'}, h('strong', {}, g.name),
      g.promoted ? badge('promoted', 'ok') : null,
      active && num(g.desired_canaries) && !g.promoted ? badge('waiting for promotion', 'warn') : null),
    bar(num(g.healthy), desired,
      `${num(g.healthy)} healthy · ${num(g.placed)} placed · ${desired} desired` +
      (num(g.unhealthy) ? ` · ${num(g.unhealthy)} unhealthy` : ''),
      {test: 'deployment-progress', layers: [
        {value: num(g.placed), cls: 'bar-fill bar-placed'},
        {value: num(g.healthy), cls: 'bar-fill bar-ok'},
      ]}),
    canaryLine(g, active));
}

function deploymentActions(d) {
  const out = [];
  if (deploymentNeedsPromotion(d)) {
    const ready = canariesHealthy(d);
    out.push(actionButton(`promote:${d.id}`, 'Promote', 'Promoting…',
      () => api(`/v1/deployments/${enc(d.id)}/promote`, {method: 'POST'}),
      `Deployment ${shortId(d.id)} promoted`,
      {test: 'deployment-promote', cls: 'primary', disabled: !ready,
        title: ready ? 'Promote the canaries: replace the rest' : 'Waiting for the canaries to be healthy'}));
  }
  if (isActive(d)) {
    out.push(actionButton(`fail:${d.id}`, 'Fail', 'Failing…',
      () => api(`/v1/deployments/${enc(d.id)}/fail`, {method: 'POST'}),
      `Deployment ${shortId(d.id)} marked failed`, {test: 'deployment-fail', cls: 'danger', confirm: 'Fail it?'}));
  }
  return out;
}

// The newest deployment, and any still rolling out, show their progress;
// older ones only how they ended.
function deploymentCard(d, newest) {
  const detailed = newest || isActive(d);
  return h('div', {class: `deployment${detailed ? '' : ' deployment-old'}`, 'data-test': 'deployment',
    'data-id': d.id, 'data-status': d.status || ''},
    h('div', {class: 'dep-head'},
      h('span', {class: 'mono'}, shortId(d.id)),
      h('span', {}, ` version ${num(d.job_version)}`),
      badge(d.status, d.status === 'RUNNING' ? 'accent' : undefined, 'deployment-status'),
      d.reverts_to ? h('span', {class: 'small muted'}, ` reverts to v${d.reverts_to}`) : null,
      h('span', {class: 'spacer'}),
      timeCell(d.modify_time_ms),
      h('span', {class: 'actions'}, deploymentActions(d))),
    d.status_description ? h('div', {class: 'dep-desc', 'data-test': 'deployment-description'}, d.status_description) : null,
    detailed ? (d.groups || []).map((g) => deploymentGroup(g, d)) : null);
}

function deploymentsList(deployments) {
  const list = [...deployments].sort((a, b) => num(b.create_index) - num(a.create_index)).slice(0, 5);
  if (!list.length) return h('p', {class: 'empty'}, 'No deployments (groups without an update block roll out at once).');
  return h('div', {class: 'deployments', 'data-test': 'deployments-list'}, list.map((d, i) => deploymentCard(d, i === 0)));
}

function evaluationsTable(evals) {
  const list = [...evals].sort((a, b) => num(b.create_index) - num(a.create_index)).slice(0, 15);
  const rows = list.map((e) => row([
    h('span', {class: 'mono'}, shortId(e.id)),
    lower(e.triggered_by),
    badge(e.status, undefined, 'eval-status'),
    h('span', {class: e.status === 'BLOCKED' || e.status === 'FAILED' ? 'explain' : ''}, e.status_description || ''),
    e.node_id ? link(nodeHref(e.node_id), shortId(e.node_id)) : '',
    timeCell(e.modify_time_ms),
  ], {'data-test': 'eval-row', 'data-status': e.status || ''}));
  return table(['Evaluation', 'Trigger', 'Status', 'Scheduler says', 'Node', 'When'], rows, {test: 'evals-table'});
}

function versionsTable(data) {
  const depByVersion = {};
  for (const d of data.deployments || []) {
    const v = num(d.job_version);
    if (!depByVersion[v] || num(d.create_index) > num(depByVersion[v].create_index)) depByVersion[v] = d;
  }
  const rows = (data.versions || []).map((v) => {
    const dep = depByVersion[num(v.version)];
    return row([
      h('strong', {}, `v${num(v.version)}`),
      v.stable ? badge('stable', 'ok') : h('span', {class: 'muted'}, '–'),
      dep ? badge(dep.status, undefined, 'version-deployment-status') : h('span', {class: 'muted'}, '–'),
      (v.groups || []).map((g) => `${g.name}×${num(g.count)}`).join(', '),
      timeCell(v.submit_time_ms),
    ], {'data-test': 'version-row'});
  });
  return table(['Version', 'Stable', 'Deployment', 'Groups', 'Submitted'], rows, {test: 'versions-table'});
}

function jobBelongs(ev, id) {
  if (ev.topic === 'Job') return ev.key === id;
  if (!ev.payload) return true; // a deletion: whose, we cannot tell
  return ev.payload.job_id === id;
}

function jobPage(id) {
  return {
    nav: 'jobs',
    title: `Job ${id}`,
    relevant: (ev) => ev.topic !== 'Node' && jobBelongs(ev, id),
    async load() {
      const r = await fetchAll({
        job: `/v1/jobs/${enc(id)}`,
        allocs: `/v1/jobs/${enc(id)}/allocations`,
        versions: `/v1/jobs/${enc(id)}/versions`,
        deployments: `/v1/deployments?job=${enc(id)}`,
        evals: `/v1/evaluations?job=${enc(id)}`,
        nodes: '/v1/nodes',
      });
      const crumbs = [link('#/jobs', 'Jobs', 'crumb-jobs')];
      if (!r.job.ok) return h('div', {}, pageHead(`Job ${id}`, {crumbs}), errorBox(r.job.error, `job ${id}`));
      const job = r.job.data.job || {};
      const nodeNames = nodeNameMap(r.nodes);
      return h('div', {'data-test': 'job-page', 'data-job': id},
        pageHead(job.id || id, {
          crumbs,
          badges: [badge(job.type, 'info'), badge(job.stop ? 'stopped' : job.status, undefined, 'job-status'),
            badge(`v${num(job.version)}`, 'info'), job.stable ? badge('stable', 'ok') : null],
          sub: `priority ${job.priority || 50} · submitted ${ago(job.submit_time_ms)}`,
        }),
        section('Summary', summaryStats(r.job.data.summary), {test: 'summary'}),
        sectionFrom('Deployments', r.deployments, (d) => deploymentsList(d.deployments || []), {test: 'deployments'}),
        sectionFrom('Allocations', r.allocs, (d) => allocsTable(d.allocations || [], {nodeNames}), {test: 'allocations'}),
        section('Task groups', groupsTable(job.groups), {test: 'groups'}),
        sectionFrom('Evaluations', r.evals, (d) => evaluationsTable(d.evaluations || []), {test: 'evaluations'}),
        sectionFrom('Versions', r.versions, versionsTable, {test: 'versions'}));
    },
  };
}

// ----------------------------------------------------------------- nodes

function nodesPage() {
  return {
    nav: 'nodes',
    title: 'Nodes',
    relevant: (ev) => ev.topic === 'Node' || ev.topic === 'Allocation',
    async load() {
      const r = await fetchAll({nodes: '/v1/nodes'});
      return h('div', {}, pageHead('Nodes'),
        sectionFrom('Nodes', r.nodes, (d) => nodesTable(d.nodes || []), {test: 'nodes'}));
    },
  };
}

function drainButtons(node) {
  const path = `/v1/nodes/${enc(node.id)}/drain`;
  if (node.status === 'DRAINING') {
    return actionButton(`drain:${node.id}`, 'Undo drain', 'Undoing…',
      () => api(path, {method: 'POST', body: {enable: false}}),
      `Node ${node.name} takes work again`, {test: 'node-undrain'});
  }
  return actionButton(`drain:${node.id}`, 'Drain', 'Draining…',
    () => api(path, {method: 'POST', body: {enable: true}}),
    `Node ${node.name} is draining: its allocations move elsewhere`,
    {test: 'node-drain', cls: 'danger', disabled: node.status === 'DOWN', confirm: 'Drain it?',
      title: 'Take no new work and move the allocations elsewhere'});
}

function nodeDetails(node) {
  const attrs = node.attributes || {};
  const labels = Object.entries(attrs.labels || {}).map(([k, v]) => h('span', {class: 'chip'}, `${k}=${v}`));
  const load = node.load || {};
  const cap = node.capacity || {};
  const [cpu, mem] = nodeCapacity(node);
  return h('div', {class: 'grid-2'},
    keyValues([
      ['id', h('span', {class: 'mono small'}, node.id)],
      ['address', h('span', {class: 'mono small'}, node.address)],
      ['os / arch', `${attrs.os || '?'} / ${attrs.arch || '?'}`],
      ['kernel', attrs.kernel],
      ['drivers', (attrs.drivers || []).join(', ')],
      ['labels', labels.length ? labels : null],
      ['last heartbeat', timeCell(node.last_heartbeat_ms)],
    ], 'node-attributes'),
    h('div', {class: 'capacity'},
      h('h3', {}, 'Allocated'), cpu, mem,
      h('h3', {}, 'Measured load'),
      bar(num(load.cpu), num(cap.cpu), `CPU ${fmtCpu(load.cpu)} / ${fmtCpu(cap.cpu)}`, {test: 'load-cpu-bar'}),
      bar(num(load.memory), num(cap.memory), `memory ${fmtMem(load.memory)} / ${fmtMem(cap.memory)}`, {test: 'load-mem-bar'})));
}

function nodePage(id) {
  return {
    nav: 'nodes',
    title: 'Node',
    relevant: (ev) => (ev.topic === 'Node' && ev.key === id) ||
      (ev.topic === 'Allocation' && (!ev.payload || ev.payload.node_id === id)),
    async load() {
      const r = await fetchAll({node: `/v1/nodes/${enc(id)}`, allocs: `/v1/allocations?node=${enc(id)}`});
      const crumbs = [link('#/nodes', 'Nodes', 'crumb-nodes')];
      if (!r.node.ok) return h('div', {}, pageHead('Node', {crumbs}), errorBox(r.node.error, 'the node'));
      const node = r.node.data;
      return h('div', {'data-test': 'node-page'},
        pageHead(node.name || shortId(node.id), {
          crumbs, badges: [badge(node.status, undefined, 'node-status')], actions: [drainButtons(node)],
        }),
        section('Node', nodeDetails(node), {test: 'node-details'}),
        sectionFrom('Allocations', r.allocs, (d) => allocsTable(d.allocations || [], {showJob: true, showNode: false}),
          {test: 'allocations'}));
    },
  };
}

// ----------------------------------------------------------- allocations

function taskStatesTable(alloc) {
  const rows = (alloc.task_states || []).map((t) => row([
    h('strong', {}, t.name),
    badge(t.failed ? 'failed' : t.state, undefined, 'task-state'),
    t.healthy === undefined && !t.health_message ? h('span', {class: 'muted'}, '–')
      : h('span', {}, badge(t.healthy ? 'passing' : 'failing'), ' ', h('span', {class: 'small muted'}, t.health_message || '')),
    String(num(t.restarts)),
    t.exit_code !== undefined || t.state === 'DEAD' ? String(num(t.exit_code)) + (t.signal ? ` (signal ${t.signal})` : '') : '',
    t.pid ? String(t.pid) : '',
    timeCell(t.started_at_ms),
    t.finished_at_ms ? timeCell(t.finished_at_ms) : '',
    h('span', {class: 'small'}, t.message || ''),
  ], {'data-test': 'task-row'}));
  return table(['Task', 'State', 'Check', 'Restarts', 'Exit', 'PID', 'Started', 'Finished', 'Message'], rows,
    {test: 'tasks-table', empty: 'The agent has not reported the tasks yet.'});
}

function allocEvents(alloc) {
  const events = [];
  const add = (ms, text) => events.push({ms: num(ms), text});
  add(alloc.create_time_ms, `placed on the node${alloc.previous_allocation ? ` (replacing ${shortId(alloc.previous_allocation)})` : ''}`);
  for (const t of alloc.task_states || []) {
    if (t.started_at_ms) add(t.started_at_ms, `task ${t.name} started${num(t.restarts) ? ` (restart ${t.restarts})` : ''}`);
    if (t.finished_at_ms) add(t.finished_at_ms, `task ${t.name} finished, exit code ${num(t.exit_code)}${t.message ? `: ${t.message}` : ''}`);
  }
  for (const e of alloc.reschedule_events || []) add(e.time_ms, `rescheduled from ${shortId(e.prev_alloc_id)}`);
  const ds = alloc.deployment_status || {};
  if (ds.decided_ms) add(ds.decided_ms, `deployment health: ${lower(ds.health)}${ds.description ? ` (${ds.description})` : ''}`);
  if (alloc.client_description) add(alloc.modify_time_ms, `agent: ${alloc.client_description}`);
  if (alloc.desired_description) add(alloc.modify_time_ms, `scheduler: ${alloc.desired_description}`);
  const rows = events.filter((e) => e.ms).sort((a, b) => b.ms - a.ms)
    .map((e) => row([timeCell(e.ms), e.text], {'data-test': 'alloc-event'}));
  return table(['When', 'Event'], rows, {test: 'alloc-events', empty: 'No events.'});
}

function allocDetails(alloc, nodeName) {
  const ports = (alloc.ports || []).map((p) => `${p.name}=${p.value}`).join(', ');
  const res = alloc.resources || {};
  return keyValues([
    ['id', h('span', {class: 'mono small'}, alloc.id)],
    ['job', link(jobHref(alloc.job_id), `${alloc.job_id} (v${num(alloc.job_version)})`, 'alloc-job-link')],
    ['group', alloc.group],
    ['node', link(nodeHref(alloc.node_id), nodeName || shortId(alloc.node_id), 'alloc-node-link')],
    ['ports', ports],
    ['resources', res.cpu || res.memory ? `${fmtCpu(res.cpu)}, ${fmtMem(res.memory)}` : ''],
    ['deployment', alloc.deployment_id ? h('span', {class: 'mono small'}, shortId(alloc.deployment_id)) : ''],
    ['status', alloc.client_description],
    ['desired', alloc.desired_description],
  ], 'alloc-details');
}

function allocTabs(alloc, active) {
  return h('div', {class: 'tabs'},
    h('a', {href: allocHref(alloc.id), class: active === 'overview' ? 'active' : '', 'data-test': 'alloc-overview-tab'}, 'Overview'),
    h('a', {href: `${allocHref(alloc.id)}/logs`, class: active === 'logs' ? 'active' : '', 'data-test': 'alloc-logs-tab'}, 'Logs'));
}

function allocHead(alloc, tab, nodeName) {
  const crumbs = [link('#/jobs', 'Jobs'), link(jobHref(alloc.job_id), alloc.job_id, 'crumb-job'),
    h('span', {class: 'mono'}, shortId(alloc.id))];
  return [
    pageHead(alloc.name || shortId(alloc.id), {
      crumbs,
      badges: [badge(alloc.client_status, undefined, 'alloc-status'), allocHealth(alloc)],
      sub: h('span', {}, 'on ', link(nodeHref(alloc.node_id), nodeName || shortId(alloc.node_id)),
        ` · desired ${lower(alloc.desired_status)} · modified ${ago(alloc.modify_time_ms)}`),
    }),
    allocTabs(alloc, tab),
  ];
}

async function loadAlloc(id) {
  const r = await fetchAll({alloc: `/v1/allocations/${enc(id)}`});
  if (!r.alloc.ok) return {error: r.alloc.error};
  const alloc = r.alloc.data;
  let nodeName = '';
  try {
    nodeName = (await api(`/v1/nodes/${enc(alloc.node_id)}`)).name || '';
  } catch {
    // Without node read the id is shown instead.
  }
  return {alloc, nodeName};
}

const allocRelevant = (id) => (ev) => ev.topic === 'Allocation' && ev.key === id;

function allocPage(id) {
  return {
    nav: 'jobs',
    title: 'Allocation',
    relevant: allocRelevant(id),
    async load() {
      const {alloc, nodeName, error} = await loadAlloc(id);
      if (error) return h('div', {}, pageHead(`Allocation ${shortId(id)}`), errorBox(error, 'the allocation'));
      return h('div', {'data-test': 'alloc-page'},
        allocHead(alloc, 'overview', nodeName),
        section('Tasks', taskStatesTable(alloc), {test: 'tasks'}),
        section('Details', allocDetails(alloc, nodeName), {test: 'details'}),
        section('Events', allocEvents(alloc), {test: 'events'}));
    },
  };
}

// ------------------------------------------------------------------ logs

// Follows one task's output: GET .../logs?follow=true read as a stream.
class LogViewer {
  constructor(allocId) {
    this.allocId = allocId;
    this.task = '';
    this.stream = 'stdout';
    this.tasks = [];
    this.controller = null;
    this.output = h('pre', {class: 'log', 'data-test': 'log-output', tabindex: 0});
    this.status = h('span', {class: 'log-status small muted', 'data-test': 'log-status'}, '');
    this.taskBox = h('span', {class: 'seg', 'data-test': 'log-tasks'});
    this.streamBox = h('span', {class: 'seg'},
      this.streamButton('stdout'), this.streamButton('stderr'));
    this.el = section('Logs', h('div', {},
      h('div', {class: 'log-toolbar'}, this.taskBox, this.streamBox, this.status),
      this.output), {test: 'logs'});
  }

  streamButton(name) {
    return h('button', {type: 'button', 'data-test': `log-${name}`, 'data-stream': name,
      onclick: () => this.select(this.task, name)}, name);
  }

  // Called with the allocation on every refresh: the task list may change.
  setTasks(names) {
    if (names.join('\n') === this.tasks.join('\n')) return;
    this.tasks = names;
    this.taskBox.replaceChildren(...names.map((t) => h('button', {type: 'button', 'data-test': 'log-task',
      'data-task': t, onclick: () => this.select(t, this.stream)}, t)));
    if (!this.task && names.length) this.select(names[0], this.stream);
    this.markSelection();
  }

  markSelection() {
    for (const b of this.el.querySelectorAll('button[data-task]')) b.classList.toggle('active', b.dataset.task === this.task);
    for (const b of this.el.querySelectorAll('button[data-stream]')) b.classList.toggle('active', b.dataset.stream === this.stream);
  }

  select(task, stream) {
    this.task = task;
    this.stream = stream;
    this.markSelection();
    this.follow();
  }

  stop() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  setStatus(text, cls) {
    this.status.textContent = text;
    this.status.className = `log-status small ${cls || 'muted'}`;
  }

  append(text) {
    const atBottom = this.output.scrollTop + this.output.clientHeight >= this.output.scrollHeight - 8;
    this.output.append(text);
    if (this.output.textContent.length > LOG_MAX_CHARS) {
      this.output.textContent = this.output.textContent.slice(-LOG_MAX_CHARS * 0.75);
    }
    if (atBottom) this.output.scrollTop = this.output.scrollHeight;
  }

  follow() {
    this.stop();
    this.output.textContent = '';
    this.output.dataset.stream = this.stream;
    const controller = new AbortController();
    this.controller = controller;
    this.read(controller).catch((err) => {
      if (controller.signal.aborted) return;
      this.setStatus(`stream failed: ${err && err.message ? err.message : err}`, 'warn-text');
    });
  }

  async read(controller) {
    const url = `/v1/allocations/${enc(this.allocId)}/logs?task=${enc(this.task)}` +
      `&stream=${this.stream}&follow=true&tail=1000`;
    this.setStatus(`following ${this.task} ${this.stream}…`);
    const res = await fetch(url, {headers: authHeaders(), signal: controller.signal, cache: 'no-store'});
    if (!res.ok) {
      const err = await errorOf(res);
      if (err.status === 403) noteForbidden();
      this.setStatus('', '');
      this.output.replaceChildren(errorBox(err, 'the logs'));
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let received = 0;
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      const text = decoder.decode(value, {stream: true});
      received += text.length;
      if (text) this.append(text);
    }
    this.append(decoder.decode());
    if (this.controller === controller) {
      this.setStatus(received ? 'end of output (the task is not running)' : 'no output', 'muted');
    }
  }
}

function logsPage(id) {
  const viewer = new LogViewer(id);
  return {
    nav: 'jobs',
    title: 'Logs',
    extra: viewer.el,
    relevant: allocRelevant(id),
    dispose: () => viewer.stop(),
    async load() {
      const {alloc, nodeName, error} = await loadAlloc(id);
      if (error) return h('div', {}, pageHead(`Allocation ${shortId(id)}`), errorBox(error, 'the allocation'));
      const tasks = (alloc.task_group && alloc.task_group.tasks ? alloc.task_group.tasks : alloc.task_states || [])
        .map((t) => t.name);
      viewer.setTasks(tasks);
      return h('div', {'data-test': 'logs-page'}, allocHead(alloc, 'logs', nodeName));
    },
  };
}

// -------------------------------------------------------------- services

function endpointsBar(endpoints) {
  const healthy = endpoints.filter((e) => e.healthy).length;
  return bar(healthy, endpoints.length, `${healthy} / ${endpoints.length} healthy`, {test: 'endpoints-bar', fullIsGood: true});
}

function servicesTable(services) {
  const rows = [...services].sort((a, b) => a.name.localeCompare(b.name)).map((s) => row([
    link(serviceHref(s.name), s.name, 'service-link', {'data-service': s.name}),
    link(jobHref(s.job_id), s.job_id, 'service-job-link'),
    lower(s.strategy),
    s.listen ? `:${s.listen}` : '',
    endpointsBar(s.endpoints || []),
  ], {'data-test': 'service-row'}));
  return table(['Service', 'Job', 'Strategy', 'Listen', 'Endpoints'], rows,
    {test: 'services-table', empty: 'No services: a task with a service block registers one.'});
}

function servicesPage() {
  return {
    nav: 'services',
    title: 'Services',
    relevant: (ev) => ev.topic === 'Allocation' || ev.topic === 'Job',
    async load() {
      const r = await fetchAll({services: '/v1/services'});
      return h('div', {}, pageHead('Services'),
        sectionFrom('Services', r.services, (d) => servicesTable(d.services || []), {test: 'services'}));
    },
  };
}

function endpointsTable(endpoints, nodeNames) {
  const rows = endpoints.map((e) => row([
    link(allocHref(e.alloc_id), shortId(e.alloc_id), 'endpoint-alloc-link', {class: 'mono'}),
    e.task || '',
    link(nodeHref(e.node_id), nodeNames[e.node_id] || shortId(e.node_id)),
    h('span', {class: 'mono'}, `${e.address}:${e.port}`),
    String(e.weight || 1),
    badge(e.healthy ? 'healthy' : 'unhealthy', undefined, 'endpoint-health'),
  ], {'data-test': 'endpoint-row'}));
  return table(['Allocation', 'Task', 'Node', 'Address', 'Weight', 'Health'], rows,
    {test: 'endpoints-table', empty: 'No endpoints: no allocation of the job runs.'});
}

function servicePage(name) {
  return {
    nav: 'services',
    title: `Service ${name}`,
    relevant: (ev) => ev.topic === 'Allocation' || ev.topic === 'Job',
    async load() {
      const r = await fetchAll({svc: `/v1/services/${enc(name)}`, nodes: '/v1/nodes'});
      const crumbs = [link('#/services', 'Services', 'crumb-services')];
      if (!r.svc.ok) return h('div', {}, pageHead(name, {crumbs}), errorBox(r.svc.error, `service ${name}`));
      const s = r.svc.data;
      const endpoints = s.endpoints || [];
      return h('div', {'data-test': 'service-page'},
        pageHead(s.name, {crumbs, badges: [badge(s.strategy, 'info')],
          sub: h('span', {}, 'job ', link(jobHref(s.job_id), s.job_id), s.listen ? ` · every agent's balancer listens on :${s.listen}` : '')}),
        section('Health', endpointsBar(endpoints), {test: 'service-health'}),
        section('Endpoints', endpointsTable(endpoints, nodeNameMap(r.nodes)), {test: 'endpoints'}));
    },
  };
}

function notFoundPage(path) {
  return {
    nav: '',
    title: 'Not found',
    relevant: () => false,
    async load() {
      return h('div', {}, pageHead('Not found'),
        h('p', {}, `No page at ${path}. `, link('#/', 'Back to the overview')));
    },
  };
}

// ---------------------------------------------------------------- router

const ROUTES = [
  [/^\/?$/, overviewPage],
  [/^\/jobs$/, jobsPage],
  [/^\/jobs\/([^/]+)$/, jobPage],
  [/^\/nodes$/, nodesPage],
  [/^\/nodes\/([^/]+)$/, nodePage],
  [/^\/allocations\/([^/]+)$/, allocPage],
  [/^\/allocations\/([^/]+)\/logs$/, logsPage],
  [/^\/services$/, servicesPage],
  [/^\/services\/([^/]+)$/, servicePage],
];

function pageFor(hash) {
  const path = hash.replace(/^#/, '') || '/';
  for (const [pattern, make] of ROUTES) {
    const m = path.match(pattern);
    if (m) return make(...m.slice(1).map(decodeURIComponent));
  }
  return notFoundPage(path);
}

function showRoute() {
  if (state.page && state.page.dispose) state.page.dispose();
  let page;
  try {
    page = pageFor(location.hash);
  } catch {
    page = notFoundPage(location.hash); // a malformed %-escape
  }
  state.page = page;
  markNav(page.nav);
  document.title = `${page.title} · orch`;
  document.getElementById('page-data').replaceChildren(h('p', {class: 'loading', 'data-test': 'loading'}, 'Loading…'));
  document.getElementById('page-extra').replaceChildren(...(page.extra ? [page.extra] : []));
  window.scrollTo(0, 0);
  scheduleRefresh(0);
}

// Re-renders the current page: at most one load at a time; what is asked
// meanwhile (events, a route change) runs once it is done.
let refreshTimer = null;
let refreshing = false;
let againDelay = null; // asked while refreshing: the shortest delay asked

function scheduleRefresh(delay = REFRESH_DEBOUNCE_MS) {
  if (refreshing) {
    againDelay = againDelay === null ? delay : Math.min(againDelay, delay);
    return;
  }
  if (refreshTimer !== null) {
    if (delay > 0) return; // one already comes soon: events are debounced
    clearTimeout(refreshTimer);
  }
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, delay);
}

async function refresh() {
  const page = state.page;
  if (!page) return;
  refreshing = true;
  try {
    const node = await page.load();
    if (page === state.page) {
      const target = document.getElementById('page-data');
      target.replaceChildren(node);
      target.dataset.loaded = String(++state.renderGen);
    }
  } catch (err) {
    if (page === state.page) {
      document.getElementById('page-data').replaceChildren(errorBox(err));
    }
  } finally {
    refreshing = false;
    const again = againDelay;
    againDelay = null;
    if (again !== null) scheduleRefresh(again);
    if (!eventsStarted) startEvents();
  }
}

// --------------------------------------------------------- live updates

let eventsStarted = false;
let eventsController = null;
let eventsRetry = 0;
let eventsIndex = 0;

function restartEvents() {
  if (eventsController) eventsController.abort();
  eventsController = null;
  eventsStarted = false;
  startEvents();
}

function startEvents() {
  if (eventsStarted || !state.index) return; // no index yet: after the first read
  eventsStarted = true;
  eventsIndex = Math.max(eventsIndex, state.index);
  followEvents();
}

function followEvents() {
  const controller = new AbortController();
  eventsController = controller;
  readEvents(controller)
    .then((how) => (how === 'gone' ? resyncEvents(controller) : retryEvents(controller, 'stream ended')))
    .catch((err) => {
      if (controller.signal.aborted && eventsController !== controller) return; // replaced on purpose
      retryEvents(controller, err && err.message ? err.message : String(err));
    });
}

function retryEvents(controller, why) {
  if (eventsController !== controller) return;
  eventsRetry = Math.min(eventsRetry + 1, 6);
  const delay = Math.min(10000, 500 * 2 ** eventsRetry);
  setLive('retry', `live updates interrupted (${why}); retrying in ${Math.round(delay / 1000)} s`);
  setTimeout(() => {
    if (eventsController === controller) followEvents();
  }, delay);
}

// A 410 or a "gone" line: the master no longer has our index; read the state
// again and follow from where that read stands.
async function resyncEvents(controller) {
  if (eventsController !== controller) return;
  try {
    await api('/v1/jobs');
    eventsIndex = state.index;
  } catch {
    // retryEvents below tries again later
  }
  scheduleRefresh(0);
  retryEvents(controller, 'resynchronizing');
}

// Reads the stream until it ends: answers 'gone' when the index is too old.
async function readEvents(controller) {
  const res = await fetch(`/v1/event/stream?index=${eventsIndex}`, {
    headers: authHeaders(), signal: controller.signal, cache: 'no-store',
  });
  if (res.status === 410) return 'gone';
  if (!res.ok) {
    const err = await errorOf(res);
    throw new Error(err.message);
  }
  setLive('on', `live updates on (from index ${eventsIndex})`);
  eventsRetry = 0;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let watchdog = setTimeout(() => controller.abort(), STREAM_STALL_MS);
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return 'ended';
      clearTimeout(watchdog);
      watchdog = setTimeout(() => controller.abort(), STREAM_STALL_MS);
      buffered += decoder.decode(value, {stream: true});
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        if (handleEventLine(line) === 'gone') return 'gone';
      }
    }
  } finally {
    clearTimeout(watchdog);
  }
}

function handleEventLine(line) {
  if (!line.trim()) return '';
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return '';
  }
  if (msg.error) return msg.error.code === 'gone' ? 'gone' : '';
  if (!msg.index) return ''; // the heartbeat: {}
  eventsIndex = Math.max(eventsIndex, Number(msg.index));
  const page = state.page;
  if (page && (msg.events || []).some((ev) => page.relevant(ev))) scheduleRefresh();
  return '';
}

// ------------------------------------------------------------------ start

function start() {
  setupTokenPanel();
  window.addEventListener('hashchange', showRoute);
  window.addEventListener('unhandledrejection', (e) => {
    toast(`Unexpected error: ${e.reason && e.reason.message ? e.reason.message : e.reason}`, 'error');
  });
  refreshHeader();
  setInterval(refreshHeader, LEADER_POLL_MS);
  // Relative times ("12s ago") stay fresh without events.
  setInterval(() => {
    if (!refreshing && !document.hidden) scheduleRefresh();
  }, 30000);
  setLive('off', 'live updates start after the first read');
  showRoute();
}

start();
