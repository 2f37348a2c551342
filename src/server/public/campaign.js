// The page of one campaign (/campaigns/:name): the report's charts, refreshed
// while the campaign runs; the rows table, paged by the server; call detail;
// dead letters with retry; rejected rows. Plain script, no build step; data is
// only ever written with textContent and DOM nodes (never as markup).
'use strict';

const TOKEN_KEY = 'dialer.token';
const OUTCOMES = ['completed', 'no-answer', 'busy', 'voicemail', 'failed', 'canceled', 'unknown', 'rejected', 'duplicate', 'dead-letter', 'suppressed', 'no-consent', 'expired', 'pending'];
const STATES = ['open', 'queued', 'waiting', 'sending', 'placed', 'ambiguous', 'redial-due', 'final'];
const PAGE_SIZE = 50;
const SVG = 'http://www.w3.org/2000/svg';

const $ = (sel, root = document) => root.querySelector(sel);
const token = () => localStorage.getItem(TOKEN_KEY) || '';
const campaign = decodeURIComponent(location.pathname.split('/')[2] || '');
const base = `/campaigns/${encodeURIComponent(campaign)}`;
let state = '';
let reportTimer;
// Rows paging: the stack of `after` values of the pages before this one.
// A masked-number search goes on with `cursor` instead.
const rowsNav = { after: 0, back: [], next: null, cursor: null };

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { error: text };
  }
  if (res.status === 401) notice('The API token was refused: enter it on the main page.', true);
  if (!res.ok) throw Object.assign(new Error(data.error || `HTTP ${res.status}`), { status: res.status });
  return data;
}

let noticeTimer;
function notice(text, isError = false) {
  const el = $('#notice');
  clearTimeout(noticeTimer);
  el.hidden = !text;
  el.textContent = text || '';
  el.classList.toggle('error', isError);
  if (text && !isError) noticeTimer = setTimeout(() => notice(''), 4000);
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'data') Object.assign(e.dataset, v);
    else e[k] = v;
  }
  e.append(...children.filter((c) => c !== null && c !== undefined).map((c) => (typeof c === 'object' ? c : String(c))));
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

const pct = (r) => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)}%`);
const money = (n) => (n === null || n === undefined ? '—' : n.toFixed(n < 1 ? 4 : 2));
const secs = (n) => (n === null || n === undefined ? '—' : `${Number(n).toFixed(1)} s`);
const dash = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));

// ---- charts (the same figures as the report file) -----------------------------

function figure(title, node) {
  const f = el('figure', { class: 'chart' }, el('figcaption', {}, title));
  f.append(node);
  return f;
}

function hbars(title, bars, max) {
  const rowH = 22, labelW = 150, barW = 260, w = labelW + barW + 120;
  const h = Math.max(1, bars.length) * rowH + 8;
  const top = max ?? Math.max(1e-9, ...bars.map((b) => b.value));
  const s = svg('svg', { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img', 'aria-label': title });
  bars.forEach((b, i) => {
    const y = i * rowH + 4;
    const bw = Math.max(0, Math.round((b.value / top) * barW));
    s.append(svg('text', { x: labelW - 8, y: y + 14, 'text-anchor': 'end' }, b.label));
    const r = svg('rect', { class: b.cls || 'fill', x: labelW, y: y + 3, width: bw, height: rowH - 8, rx: 3 });
    r.append(svg('title', {}, `${b.label}: ${b.note ?? b.value}`));
    s.append(r, svg('text', { x: labelW + bw + 6, y: y + 14, class: 'note' }, b.note ?? b.value));
  });
  if (!bars.length) s.append(svg('text', { x: 8, y: 18, class: 'note' }, 'nothing yet'));
  return figure(title, s);
}

function vbars(title, bars) {
  const colW = bars.length > 12 ? 18 : 50, plotH = 120, w = bars.length * colW + 40, h = plotH + 40;
  const s = svg('svg', { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img', 'aria-label': title });
  s.append(svg('line', { class: 'axis', x1: 30, y1: 10 + plotH, x2: w - 10, y2: 10 + plotH }));
  bars.forEach((b, i) => {
    const x = 30 + i * colW;
    const bh = Math.round(b.value * plotH);
    const r = svg('rect', { class: 'fill', x: x + 2, y: 10 + plotH - bh, width: colW - 4, height: bh, rx: 2 });
    r.append(svg('title', {}, `${b.label}: ${b.note}`));
    s.append(r, svg('text', { x: x + colW / 2, y: plotH + 26, 'text-anchor': 'middle' }, b.label));
  });
  return figure(title, s);
}

function timeline(title, t) {
  const w = 560, plotH = 120, h = plotH + 40;
  const n = Math.max(1, t.dials.length, t.answers.length);
  const max = Math.max(1, ...t.dials, ...t.answers);
  const x = (i) => 40 + (n === 1 ? 0 : (i / (n - 1)) * (w - 60));
  const y = (v) => 10 + plotH - (v / max) * plotH;
  const s = svg('svg', { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img', 'aria-label': title });
  s.append(svg('line', { class: 'axis', x1: 40, y1: 10 + plotH, x2: w - 20, y2: 10 + plotH }), svg('text', { x: 4, y: 18, class: 'note' }, max));
  for (const [name, values, cls] of [['dials', t.dials, 'dials'], ['answers', t.answers, 'answers']]) {
    const p = svg('polyline', { class: cls, points: values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ') });
    p.append(svg('title', {}, name));
    s.append(p);
  }
  s.append(svg('text', { x: 50, y: h - 4, class: 'dials' }, '— dials'), svg('text', { x: 150, y: h - 4, class: 'answers' }, '— answers'));
  return figure(title, s);
}

const rateBar = ([label, r]) => ({ label, value: r.rate ?? 0, note: `${pct(r.rate)} (${r.completed}/${r.dialed})` });

function renderReport(r) {
  const p = r.pickup;
  const kpi = (label, value) => el('div', { class: 'kpi' }, el('b', {}, value), el('span', {}, label));
  $('#kpis').replaceChildren(
    kpi('rows', r.rows), kpi('dialed', p.overall.dialed), kpi('completed', p.overall.completed), kpi('pickup rate', pct(p.overall.rate)),
    kpi('p50 duration', secs(r.duration.p50_seconds)), kpi('p90 duration', secs(r.duration.p90_seconds)), kpi('total minutes', r.duration.total_minutes.toFixed(1)),
    kpi('attempts per contact', r.attempts.mean === null ? '—' : r.attempts.mean.toFixed(2)),
    kpi(r.cost.source === 'estimate' ? 'cost (estimate)' : 'cost', money(r.cost.total)), kpi('cost per completed call', money(r.cost.per_completed_call)),
  );
  const per = r.timeline.bucket_seconds === 60 ? 'minute' : `${r.timeline.bucket_seconds / 60} min`;
  const charts = [
    hbars('Rows by outcome', Object.entries(r.by_outcome).map(([o, n]) => ({ label: o, value: n, cls: `o-${o}` }))),
    vbars('Pickup rate by local hour', Object.entries(p.by_local_hour).map(([h, x]) => rateBar([h.padStart(2, '0'), x]))),
    vbars('Pickup rate by weekday', Object.entries(p.by_weekday).map(rateBar)),
    timeline(`Dials and answers per ${per}`, r.timeline),
    hbars('Pickup rate by attempt', Object.entries(p.by_attempt).map(rateBar), 1),
    hbars('Pickup rate by time zone', Object.entries(p.by_timezone).map(rateBar), 1),
    hbars('Attempts per contact', Object.entries(r.attempts.histogram).map(([a, n]) => ({ label: `${a} attempt${a === '1' ? '' : 's'}`, value: n }))),
  ];
  if (p.by_assistant) charts.push(hbars('Pickup rate by assistant', Object.entries(p.by_assistant).map(rateBar), 1));
  $('#charts').replaceChildren(...charts);
  $('#rejects-count').textContent = `(${r.rejects.rows})`;
  $('#reject-reasons').replaceChildren(hbars('Rejects by reason', Object.entries(r.rejects.by_reason).map(([k, n]) => ({ label: k.slice(0, 28), value: n, note: `${n} · ${k}` }))));
}

async function refreshReport() {
  clearTimeout(reportTimer);
  try {
    const [status, report] = await Promise.all([api('GET', `${base}?format=json`), api('GET', `${base}/report?format=json&live=1`)]);
    state = status.state;
    renderState(status);
    renderReport(report);
    $('#report-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (e.status !== 401) notice(`Could not load the report: ${e.message}`, true);
    if (e.status === 401 || e.status === 404) return;
  }
  // Live while it runs; a finished campaign changes only by a retry.
  reportTimer = setTimeout(refreshReport, ['done', 'canceled'].includes(state) ? 30_000 : 3000);
}

function renderState(s) {
  const st = $('#state');
  st.textContent = s.state;
  st.className = `state ${s.state}`;
  $('#pause').hidden = !['running', 'loading'].includes(s.state);
  $('#resume').hidden = s.state !== 'paused';
  $('#cancel').hidden = ['done', 'canceled', 'canceling'].includes(s.state);
}

// ---- rows table ---------------------------------------------------------------

function rowsQuery(after, cursor) {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE), after: String(after) });
  if (cursor) q.set('cursor', cursor);
  if ($('#f-outcome').value) q.set('outcome', $('#f-outcome').value);
  if ($('#f-state').value) q.set('state', $('#f-state').value);
  if ($('#f-q').value.trim()) q.set('q', $('#f-q').value.trim());
  return q;
}

async function loadRows(after, cursor) {
  try {
    const page = await api('GET', `${base}/rows?${rowsQuery(after, cursor)}`);
    rowsNav.after = after;
    rowsNav.next = page.next_after;
    rowsNav.cursor = page.cursor;
    $('#rows-body').replaceChildren(...page.rows.map((r) => {
      const tr = el('tr', { class: 'clickable', data: { row: String(r.row) } },
        el('td', {}, r.row), el('td', {}, dash(r.name)), el('td', { class: 'mono' }, dash(r.phone)),
        el('td', { class: 'outcome' }, r.outcome ?? r.state), el('td', {}, dash(r.attempts)), el('td', {}, r.duration_seconds === null ? '—' : `${r.duration_seconds}s`),
        el('td', {}, r.cost === null ? '—' : money(r.cost)), el('td', {}, dash(r.ended_at)), el('td', {}, dash(r.error)));
      tr.addEventListener('click', () => showDetail(r.row, tr));
      return tr;
    }));
    const first = page.rows[0]?.row;
    const last = page.rows[page.rows.length - 1]?.row;
    $('#rows-info').textContent = page.rows.length
      ? `rows ${first}–${last}${page.total === null ? '' : ` · ${page.total} matching`}`
      : `no rows match${page.total === null ? '' : ` · ${page.total} matching`}`;
    $('#rows-ms').textContent = `server ${page.server_ms} ms`;
    $('#rows-prev').disabled = rowsNav.back.length === 0;
    $('#rows-next').disabled = page.next_after === null && !page.cursor;
    if (page.cursor) $('#rows-info').textContent += ' · more may match: Next searches further';
  } catch (e) {
    if (e.status !== 401) notice(`Rows: ${e.message}`, true);
  }
}

async function showDetail(row, tr) {
  for (const x of document.querySelectorAll('#rows-body tr.selected')) x.classList.remove('selected');
  tr?.classList.add('selected');
  try {
    const d = await api('GET', `${base}/rows/${row}`);
    const dl = el('dl');
    const fact = (k, v) => dl.append(el('dt', {}, k), el('dd', {}, dash(v)));
    fact('Row', d.row); fact('Name', d.name); fact('Number', d.phone); fact('Outcome', d.outcome ?? `(open: ${d.state})`);
    fact('Call id', d.call_id); fact('Attempts', d.attempts); fact('Status', d.status); fact('Started', d.started_at); fact('Ended', d.ended_at);
    fact('Duration', d.duration_seconds === null ? null : `${d.duration_seconds}s`); fact('Cost', d.cost === null ? null : money(d.cost));
    fact('Time zone', d.timezone); fact('Consent', d.consent); fact('Error', d.error); fact('HTTP status', d.http_status); fact('Next try', d.next_at);
    if (d.ledger) fact('Ledger', `${d.ledger.state}, ${d.ledger.attempts} POSTs, ${d.ledger.calls} calls${d.ledger.call_ids.length ? ` (${d.ledger.call_ids.join(', ')})` : ''}`);
    const rec = el('dd');
    // Only a web address becomes a link; anything else is shown as text.
    if (d.recording_url && /^https?:\/\//i.test(d.recording_url)) rec.append(el('a', { href: d.recording_url, target: '_blank', rel: 'noopener noreferrer', class: 'recording' }, 'recording ↗'));
    else rec.textContent = dash(d.recording_url);
    dl.append(el('dt', {}, 'Recording'), rec);
    const attempts = d.audit.filter((e) => e.type === 'dial');
    const auditTable = el('table', { class: 'rows audit' }, el('thead', {}, el('tr', {}, ...['when', 'event', 'attempt', 'detail'].map((h) => el('th', {}, h)))),
      el('tbody', {}, ...d.audit.map((e) => el('tr', {}, el('td', {}, dash(e.at)), el('td', {}, e.type), el('td', {}, dash(e.attempt)),
        el('td', {}, [e.outcome, e.result, e.http_status && `HTTP ${e.http_status}`, e.call_id, e.local_time && `local ${e.local_time}`, e.rule, e.error].filter(Boolean).join(' · '))))));
    $('#detail').replaceChildren(el('div', { class: 'detail', data: { row: String(d.row) } },
      dl,
      el('h3', {}, 'Summary'), el('p', { class: 'summary' }, dash(d.summary)),
      el('h3', {}, 'Transcript'), el('pre', { class: 'transcript' }, dash(d.transcript)),
      el('h3', {}, `Attempts (${attempts.length}) and audit trail${d.audit_complete ? '' : ' (latest part)'}`), auditTable));
  } catch (e) {
    if (e.status !== 401) notice(`Row ${row}: ${e.message}`, true);
  }
}

// ---- dead letters and rejects -------------------------------------------------

async function loadDeadLetters() {
  try {
    const d = await api('GET', `${base}/dead-letters`);
    $('#dlq-count').textContent = `(${d.total})`;
    $('#dlq-retry-all').hidden = d.dead_letters.every((x) => x.retried);
    $('#dlq-body').replaceChildren(...d.dead_letters.map((x) => {
      const b = el('button', { type: 'button', class: 'retry quiet', disabled: x.retried, data: { row: String(x.row) } }, x.retried ? 'retried' : 'Retry');
      b.addEventListener('click', () => retry([x.row]));
      return el('tr', { data: { row: String(x.row) } }, el('td', {}, x.row), el('td', {}, dash(x.phone)), el('td', {}, dash(x.reason)), el('td', {}, dash(x.http_status)), el('td', {}, dash(x.attempts)), el('td', {}, b));
    }));
  } catch (e) {
    if (e.status !== 401) notice(`Dead letters: ${e.message}`, true);
  }
}

async function retry(rows) {
  try {
    const r = await api('POST', `${base}/dead-letters/retry`, rows ? { rows } : {});
    const skipped = r.skipped.length ? `; skipped ${r.skipped.map((s) => `row ${s.row}: ${s.why}`).join('; ')}` : '';
    notice(`${r.retried.length} dead letter${r.retried.length === 1 ? '' : 's'} back in the queue${skipped}`, r.retried.length === 0);
  } catch (e) {
    if (e.status !== 401) notice(`Retry failed: ${e.message}`, true);
  }
  await loadDeadLetters();
  refreshReport();
}

async function loadRejects() {
  try {
    const page = await api('GET', `${base}/rows?outcome=rejected&limit=100`);
    $('#rejects-body').replaceChildren(...page.rows.map((r) => el('tr', {}, el('td', {}, r.row), el('td', {}, dash(r.phone)), el('td', {}, dash(r.error)))));
  } catch (e) {
    if (e.status !== 401) notice(`Rejected rows: ${e.message}`, true);
  }
}

// ---- controls -------------------------------------------------------------------

async function control(verb) {
  if (verb === 'cancel' && !confirm(`Cancel ${campaign}? Contacts not yet dialed will not be called.`)) return;
  try {
    const r = await api('POST', `${base}/${verb}`);
    notice(`${campaign}: ${r.state}`);
  } catch (e) {
    if (e.status !== 401) notice(`${verb} failed: ${e.message}`, true);
  }
  refreshReport();
}

/** A link can't send the bearer token: fetch the report, then hand it over as a download. */
async function downloadReport() {
  try {
    const res = await fetch(`${base}/report`, { headers: { authorization: `Bearer ${token()}` } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: `${campaign}-report.html` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    notice(`Report download failed: ${e.message}`, true);
  }
}

function init() {
  $('#campaign-name').textContent = campaign;
  document.title = `${campaign} · Callease dialer`;
  if (!token()) {
    notice('Enter the API token on the main page first.', true);
    return;
  }
  $('#f-outcome').append(...OUTCOMES.map((o) => el('option', { value: o }, o)));
  $('#f-state').append(...STATES.map((s) => el('option', { value: s }, s)));
  $('#rows-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    rowsNav.back = [];
    loadRows(0);
  });
  $('#rows-next').addEventListener('click', () => {
    if (rowsNav.cursor) return loadRows(0, rowsNav.cursor);
    if (rowsNav.next === null) return;
    rowsNav.back.push(rowsNav.after);
    loadRows(rowsNav.next);
  });
  $('#rows-prev').addEventListener('click', () => {
    if (rowsNav.back.length) loadRows(rowsNav.back.pop());
  });
  $('#pause').addEventListener('click', () => control('pause'));
  $('#resume').addEventListener('click', () => control('resume'));
  $('#cancel').addEventListener('click', () => control('cancel'));
  $('#download-report').addEventListener('click', downloadReport);
  $('#dlq-retry-all').addEventListener('click', () => retry(undefined));
  refreshReport();
  loadRows(0);
  loadDeadLetters();
  loadRejects();
}

document.addEventListener('DOMContentLoaded', init);
