// Status page of `dialer serve`: plain script, no build step. Every request
// carries the API token from localStorage as a bearer token; the page itself
// holds no data until it has one.
'use strict';

const TOKEN_KEY = 'dialer.token';
const REFRESH_MS = 1000;
const OUTCOMES = ['completed', 'no-answer', 'busy', 'voicemail', 'failed', 'canceled', 'unknown', 'rejected', 'duplicate', 'dead-letter', 'suppressed', 'no-consent'];

const $ = (sel, root = document) => root.querySelector(sel);
const token = () => localStorage.getItem(TOKEN_KEY) || '';
let timer;

async function api(method, path, body, headers = {}) {
  const res = await fetch(path, { method, body, headers: { authorization: `Bearer ${token()}`, ...headers } });
  if (res.status === 401) {
    notice('The API token was refused: enter the value of DIALER_API_TOKEN.', true);
    throw Object.assign(new Error('unauthorized'), { status: 401 });
  }
  return res;
}

async function json(res) {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { error: text };
  }
}

let noticeTimer;
function notice(text, isError = false) {
  const el = $('#notice');
  clearTimeout(noticeTimer);
  el.hidden = !text;
  el.textContent = text || '';
  el.classList.toggle('error', isError);
  // Confirmations fade; errors stay until something replaces them.
  if (text && !isError) noticeTimer = setTimeout(() => notice(''), 4000);
}

function fmtDuration(s) {
  if (s === null || s === undefined) return '—';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

// ---- campaigns --------------------------------------------------------------

async function refresh() {
  clearTimeout(timer);
  if (!token()) return;
  try {
    const res = await api('GET', '/campaigns');
    const data = await json(res);
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    render(data.campaigns);
    $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    if ($('#notice').classList.contains('error') && $('#notice').dataset.kind === 'refresh') notice('');
  } catch (e) {
    // A refused token stops the refresh until another one is saved.
    if (e.status === 401) return;
    notice(`Could not load the campaigns: ${e.message}`, true);
    $('#notice').dataset.kind = 'refresh';
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

function render(list) {
  const root = $('#campaigns');
  if (!list.length) {
    root.replaceChildren(Object.assign(document.createElement('p'), { className: 'muted', textContent: 'No campaigns yet: create one below.' }));
    return;
  }
  const seen = new Set();
  for (const s of list) {
    seen.add(s.campaign);
    let card = root.querySelector(`.campaign[data-name="${CSS.escape(s.campaign)}"]`);
    if (!card) {
      card = $('#campaign-template').content.firstElementChild.cloneNode(true);
      card.dataset.name = s.campaign;
      wire(card, s.campaign);
      root.querySelector('p.muted')?.remove();
      root.append(card);
    }
    fill(card, s);
  }
  for (const card of root.querySelectorAll('.campaign')) if (!seen.has(card.dataset.name)) card.remove();
}

function fill(card, s) {
  const waiting = s.state === 'loading' && s.total === 0;
  const pct = s.total > 0 ? Math.floor((s.finished / s.total) * 100) : 0;
  $('.name', card).textContent = s.campaign;
  const state = $('.state', card);
  state.textContent = waiting ? 'waiting for contacts' : s.state;
  state.className = `state ${s.state}`;
  const bar = $('.progress', card);
  bar.setAttribute('aria-valuenow', String(pct));
  $('.fill', card).style.width = `${pct}%`;
  $('.progress-label', card).textContent = `${pct}%`;
  $('.rows', card).textContent = String(s.total);
  $('.finished', card).textContent = `${s.finished} / ${s.total}`;
  $('.in-flight', card).textContent = String(s.in_flight);
  $('.live', card).textContent = s.max_live_calls ? `${s.live_calls ?? 0} / ${s.max_live_calls}` : String(s.live_calls ?? 0);
  $('.queued', card).textContent = s.waiting_for_time ? `${s.queued} (${s.waiting_for_time} later)` : String(s.queued);
  $('.rate', card).textContent = `${s.dials_last_minute}/min`;
  $('.eta', card).textContent = s.state === 'done' ? 'done' : fmtDuration(s.eta_seconds);
  $('.dead', card).textContent = String(s.dead_letters);
  $('.pause', card).hidden = !['running', 'loading'].includes(s.state) || waiting;
  $('.resume', card).hidden = s.state !== 'paused';
  $('.cancel', card).hidden = ['done', 'canceled'].includes(s.state);
  renderOutcomes(card, s);
}

function renderOutcomes(card, s) {
  const bar = $('.outcomes .bar', card);
  const legend = $('.outcomes .legend', card);
  const parts = OUTCOMES.filter((o) => s.outcomes[o] > 0).map((o) => [o, s.outcomes[o]]);
  if (s.pending > 0) parts.push(['pending', s.pending]);
  const total = parts.reduce((a, [, n]) => a + n, 0) || 1;
  bar.replaceChildren(...parts.map(([o, n]) => {
    const seg = document.createElement('span');
    seg.className = `seg o-${o}`;
    seg.style.width = `${(n / total) * 100}%`;
    seg.title = `${o}: ${n}`;
    return seg;
  }));
  legend.replaceChildren(...parts.map(([o, n]) => {
    const li = document.createElement('li');
    const dot = document.createElement('span');
    dot.className = `dot o-${o}`;
    li.append(dot, `${o} ${n}`);
    li.dataset.outcome = o;
    return li;
  }));
}

function wire(card, name) {
  const control = (verb) => async () => {
    if (verb === 'cancel' && !confirm(`Cancel ${name}? Contacts not yet dialed will not be called.`)) return;
    try {
      const res = await api('POST', `/campaigns/${encodeURIComponent(name)}/${verb}`);
      const data = await json(res);
      if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
      notice(`${name}: ${data.state}`);
      refresh();
    } catch (e) {
      if (e.status !== 401) notice(`${verb} failed: ${e.message}`, true);
    }
  };
  $('.pause', card).addEventListener('click', control('pause'));
  $('.resume', card).addEventListener('click', control('resume'));
  $('.cancel', card).addEventListener('click', control('cancel'));
  $('.download-csv', card).addEventListener('click', () => download(name, 'csv'));
  $('.download-jsonl', card).addEventListener('click', () => download(name, 'jsonl'));
}

/** A plain link can't send the bearer token: fetch the file, then hand it to the browser as a download. */
async function download(name, format) {
  try {
    const res = await api('GET', `/campaigns/${encodeURIComponent(name)}/results?format=${format}`);
    if (!res.ok) throw new Error((await json(res)).error || `HTTP ${res.status}`);
    const url = URL.createObjectURL(await res.blob());
    const a = Object.assign(document.createElement('a'), { href: url, download: `${name}-results.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    if (e.status !== 401) notice(`Download failed: ${e.message}`, true);
  }
}

// ---- upload -------------------------------------------------------------------

function showResult(text, isError) {
  const el = $('#upload-result');
  el.hidden = false;
  el.textContent = text;
  el.classList.toggle('error', isError);
}

async function upload(ev) {
  ev.preventDefault();
  const button = $('#upload-btn');
  const csv = $('#csv-file').files[0];
  if (!csv) return showResult('Choose a CSV file with the contacts.', true);
  const yamlFile = $('#campaign-file').files[0];
  const campaign = yamlFile ? await yamlFile.text() : $('#campaign-yaml').value;
  button.disabled = true;
  showResult('Creating the campaign…', false);
  try {
    let res = await api('POST', '/campaigns', campaign, { 'content-type': yamlFile?.name.endsWith('.json') ? 'application/json' : 'application/yaml' });
    let data = await json(res);
    if (!res.ok) return showResult(`Campaign refused: ${data.error}`, true);
    const name = data.campaign;
    showResult(`Uploading ${csv.name} into ${name}…`, false);
    const form = new FormData();
    form.append('file', csv, csv.name);
    res = await api('POST', `/campaigns/${encodeURIComponent(name)}/contacts`, form);
    data = await json(res);
    // The campaign stays, waiting for a corrected list (its message names the line and the reason).
    if (!res.ok) return showResult(`Upload refused, nothing was loaded: ${data.error}`, true);
    showResult(`Loaded ${name}: ${data.rows} rows, ${data.accepted} to dial, ${data.rejected} rejected, ${data.duplicates} duplicates.`, false);
    refresh();
  } catch (e) {
    if (e.status !== 401) showResult(`Upload failed: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// ---- token and board ----------------------------------------------------------

async function openBoard() {
  if (!token()) return notice('Enter the API token first.', true);
  // The board is a page of its own: it gets an HttpOnly cookie scoped to /admin/queues.
  const res = await api('POST', '/session').catch(() => undefined);
  if (res?.ok) window.open('/admin/queues', '_blank', 'noopener');
}

function init() {
  $('#token').value = token();
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    localStorage.setItem(TOKEN_KEY, $('#token').value.trim());
    notice('');
    refresh();
  });
  $('#forget-token').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    $('#token').value = '';
    fetch('/session', { method: 'DELETE' });
    $('#campaigns').replaceChildren(Object.assign(document.createElement('p'), { className: 'muted', textContent: 'Enter the API token to see the campaigns.' }));
  });
  $('#open-board').addEventListener('click', openBoard);
  $('#upload-form').addEventListener('submit', upload);
  refresh();
}

document.addEventListener('DOMContentLoaded', init);
