import type { CampaignReport, Rate } from './figures.js';
import { esc, hbars, lines, vbars, type Bar } from './svg.js';

/**
 * The report as one self-contained HTML file: inline CSS and SVG, no script,
 * no request to anything (it opens from a mail attachment or a file share).
 * The figures are embedded too, as JSON in a non-executable block.
 */

/** CSP of the served report: it needs its own inline style and nothing else. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const pct = (r: number | null) => (r === null ? '—' : `${(r * 100).toFixed(1)}%`);
const money = (n: number | null) => (n === null ? '—' : n.toFixed(n < 1 ? 4 : 2));
const secs = (n: number | null) => (n === null ? '—' : `${n.toFixed(1)} s`);

function rateBars(m: Record<string, Rate>, skipEmpty = true): Bar[] {
  return Object.entries(m)
    .filter(([, r]) => !skipEmpty || r.dialed > 0)
    .map(([label, r]) => ({ label, value: r.rate ?? 0, note: `${pct(r.rate)} (${r.completed}/${r.dialed})` }));
}

function table(head: string[], rows: (string | number)[][]): string {
  if (rows.length === 0) return '<p class="muted">none</p>';
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const STYLE = `
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;background:#f6f7f9}
header{padding:14px 24px;background:#1d2430;color:#fff}h1{margin:0;font-size:19px}header p{margin:4px 0 0;color:#c9ced6;font-size:12px}
main{padding:16px 24px;display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
section{background:#fff;border:1px solid #e2e5ea;border-radius:10px;padding:12px 16px;overflow-x:auto}h2{font-size:15px;margin:0 0 8px}
.kpis{display:flex;flex-wrap:wrap;gap:18px}.kpi b{display:block;font-size:20px}.kpi span{font-size:11px;color:#6b7480;text-transform:uppercase}
figure{margin:8px 0}svg{max-width:100%;height:auto}figcaption{font-size:12px;color:#6b7480;margin-bottom:4px}svg text{font-size:11px;fill:#1d2430}svg .note{fill:#6b7480}
.fill{fill:#2f6fde}.answers{stroke:#2e9d5b;fill:#2e9d5b}.dials{stroke:#2f6fde;fill:#2f6fde}polyline{stroke-width:2;fill:none}.axis{stroke:#c9ced6}polyline.dials,polyline.answers{fill:none}
.o-completed{fill:#2e9d5b}.o-no-answer{fill:#e0a526}.o-busy{fill:#d9782d}.o-voicemail{fill:#8a63d2}.o-failed{fill:#d64545}.o-canceled{fill:#9aa1ab}
.o-unknown{fill:#5d6673}.o-rejected{fill:#b23a6b}.o-duplicate{fill:#c9a7b8}.o-dead-letter{fill:#7a1f1f}.o-suppressed{fill:#4d8fa8}.o-no-consent{fill:#a0b8c4}
table{border-collapse:collapse;font-size:12.5px}th,td{text-align:left;padding:3px 10px 3px 0;border-bottom:1px solid #eef0f3}.muted{color:#6b7480}
`;

/** The report as HTML. `generatedAt` is written in the header (ISO). */
export function renderReportHtml(r: CampaignReport, generatedAt: string): string {
  const p = r.pickup;
  const outcomeBars = Object.entries(r.by_outcome).map(([o, n]) => ({ label: o, value: n, cls: `o-${o}` }));
  const verdictBars = Object.entries(r.by_verdict).map(([v, n]) => ({ label: v, value: n }));
  const hourBars = Object.entries(p.by_local_hour).map(([h, x]) => ({ label: h.padStart(2, '0'), value: x.rate ?? 0, note: `${pct(x.rate)} (${x.completed}/${x.dialed})` }));
  const dayBars = Object.entries(p.by_weekday).map(([d, x]) => ({ label: d, value: x.rate ?? 0, note: `${pct(x.rate)} (${x.completed}/${x.dialed})` }));
  const tl = r.timeline;
  const tlEnd = tl.start ? new Date(Date.parse(tl.start) + tl.dials.length * tl.bucket_seconds * 1000).toISOString() : '';
  const per = tl.bucket_seconds === 60 ? 'minute' : `${tl.bucket_seconds / 60} minutes`;
  const kpi = (label: string, value: string) => `<div class="kpi"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
  const costLabel = r.cost.source === 'calls' ? 'cost (from the calls)' : r.cost.source === 'estimate' ? `cost (estimate at ${r.cost.price_per_minute}/min)` : 'cost (unknown)';

  const sections = [
    `<section><h2>Summary</h2><div class="kpis">${[
      kpi('rows', String(r.rows)), kpi('dialed', String(p.overall.dialed)), kpi('completed', String(p.overall.completed)),
      kpi('pickup rate', pct(p.overall.rate)), kpi('p50 duration', secs(r.duration.p50_seconds)), kpi('p90 duration', secs(r.duration.p90_seconds)),
      kpi('total minutes', r.duration.total_minutes.toFixed(1)), kpi('attempts per contact', r.attempts.mean === null ? '—' : r.attempts.mean.toFixed(2)),
      kpi(costLabel, money(r.cost.total)), kpi('cost per completed call', money(r.cost.per_completed_call)),
    ].join('')}</div></section>`,
    `<section><h2>Rows</h2>${hbars('Rows by outcome', outcomeBars)}${hbars('Rows by verdict at load', verdictBars)}</section>`,
    `<section><h2>Pickup rate by the contact's local time</h2>${vbars('By local hour (of the call)', hourBars, { max: 1 })}${vbars('By weekday', dayBars, { max: 1 })}</section>`,
    `<section><h2>Pickup rate</h2>${hbars('By attempt', rateBars(p.by_attempt), { max: 1 })}${hbars('By time zone', rateBars(p.by_timezone), { max: 1 })}${
      p.by_assistant ? hbars('By assistant', rateBars(p.by_assistant), { max: 1 }) : '<p class="muted">No assistant column in the results.</p>'}</section>`,
    `<section><h2>Activity over the campaign</h2>${lines(`Dials and answers per ${per}${tl.dials_from === 'results' ? ' (last call of each row)' : ''}`, [
      { name: 'dials', values: tl.dials, cls: 'dials' }, { name: 'answers', values: tl.answers, cls: 'answers' },
    ], [tl.start ?? '', tlEnd])}${hbars('Attempts per contact', Object.entries(r.attempts.histogram).map(([a, n]) => ({ label: `${a} attempt${a === '1' ? '' : 's'}`, value: n })))}</section>`,
    `<section><h2>Dead letters (${r.dead_letters.rows})</h2><p class="muted">${r.dead_letters.listed} in the dead-letter list, ${r.dead_letters.retried} already retried.</p>${
      table(['reason', 'rows'], Object.entries(r.dead_letters.by_reason))}<h2>Rejected rows (${r.rejects.rows})</h2>${table(['reason', 'rows'], Object.entries(r.rejects.by_reason))}</section>`,
    `<section><h2>Durations and cost</h2>${table(['figure', 'value'], [
      ['completed calls with a duration', r.duration.calls], ['p50', secs(r.duration.p50_seconds)], ['p90', secs(r.duration.p90_seconds)],
      ['total minutes (all calls)', r.duration.total_minutes.toFixed(2)], ['cost source', r.cost.source], ['calls carrying a cost', r.cost.calls_with_cost],
      ['total cost', money(r.cost.total)], ['cost per completed call', money(r.cost.per_completed_call)],
    ])}</section>`,
  ];
  // JSON inside a non-executable script type; "<" escaped so no text can close the element.
  const data = JSON.stringify(r).replace(/</g, '\\u003c');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`
    + `<title>Report: ${esc(r.campaign)}</title><style>${STYLE}</style></head><body>`
    + `<header><h1>Campaign report: ${esc(r.campaign)}</h1><p>generated ${esc(generatedAt)}</p></header>`
    + `<main>${sections.join('')}</main><script type="application/json" id="report-data">${data}</script></body></html>\n`;
}
