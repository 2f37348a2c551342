// The "Check" step of the status page's create-and-upload form: sends the
// campaign and the list to POST /campaigns/check (which loads nothing) and
// shows what a load would do. Text only: every value goes in as textContent.
'use strict';

(() => {
  const $ = (sel) => document.querySelector(sel);

  function show(text, isError) {
    const el = $('#check-result');
    el.hidden = false;
    el.textContent = text;
    el.classList.toggle('error', isError);
  }

  function duration(s) {
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  }

  function describe(r) {
    const lines = [
      `${r.rows} rows: ${r.dialable} dialable, ${r.rejected} rejected, ${r.duplicates} duplicates, ${r.suppressed} suppressed, ${r.no_consent} without consent.`,
    ];
    if (r.rejects.length) {
      lines.push('', `Rejected${r.rejected > r.rejects.length ? ` (first ${r.rejects.length})` : ''}:`);
      for (const x of r.rejects) lines.push(`  line ${x.line}: ${x.reason}`);
    }
    if (r.zones.length) {
      lines.push('', 'Time zones:');
      for (const z of r.zones) {
        const when = z.open_now ? 'open now' : z.next_open ? `opens ${new Date(z.next_open).toLocaleString()}` : 'no opening within 30 days';
        lines.push(`  ${z.rows} in ${z.zone}${z.subdivision ? ` (${z.subdivision})` : ''}: ${when}`);
      }
    }
    const d = r.drain;
    if (d.calls > 0) lines.push('', `Time to drain: about ${duration(d.seconds)} at ${d.calls_per_second} calls/s (limited by ${d.limited_by}, ${d.avg_call_seconds}s a call).`);
    else lines.push('', 'Nothing in this list can be dialed.');
    return lines.join('\n');
  }

  async function check() {
    const csv = $('#csv-file').files[0];
    if (!csv) return show('Choose a CSV file with the contacts.', true);
    const yamlFile = $('#campaign-file').files[0];
    const campaign = yamlFile ? await yamlFile.text() : $('#campaign-yaml').value;
    const button = $('#check-btn');
    button.disabled = true;
    show(`Checking ${csv.name}…`, false);
    try {
      const form = new FormData();
      // The campaign goes first: the server reads the list as it streams in.
      form.append('campaign', campaign);
      form.append('file', csv, csv.name);
      const token = localStorage.getItem('dialer.token') || '';
      const res = await fetch('/campaigns/check', { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      let data;
      try {
        data = text ? JSON.parse(text) : {};
      } catch {
        data = { error: text };
      }
      if (res.status === 401) return show('The API token was refused: enter the value of DIALER_API_TOKEN.', true);
      if (!res.ok) return show(`Check failed: ${data.error}`, true);
      show(describe(data), data.dialable === 0);
    } catch (e) {
      show(`Check failed: ${e.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener('DOMContentLoaded', () => $('#check-btn').addEventListener('click', check));
})();
