/**
 * Small inline-SVG charts for the report file: no script, no external
 * reference, every text escaped. Pure string builders.
 */

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Bar {
  label: string;
  value: number;
  /** What is written at the end of the bar (default: the value). */
  note?: string;
  /** CSS class of the bar (colour). */
  cls?: string;
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

/** Horizontal bars, one per line, scaled to `max` (default the largest value). */
export function hbars(title: string, bars: Bar[], o: { max?: number } = {}): string {
  const rowH = 22;
  const labelW = 190;
  const barW = 380;
  const w = labelW + barW + 110;
  const h = Math.max(1, bars.length) * rowH + 8;
  const max = o.max ?? Math.max(1e-9, ...bars.map((b) => b.value));
  const body = bars.map((b, i) => {
    const y = i * rowH + 4;
    const bw = Math.max(0, Math.round((b.value / max) * barW));
    return `<g class="bar"><text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${esc(b.label)}</text>`
      + `<rect class="${esc(b.cls ?? 'fill')}" x="${labelW}" y="${y + 3}" width="${bw}" height="${rowH - 8}" rx="3"><title>${esc(`${b.label}: ${b.note ?? fmt(b.value)}`)}</title></rect>`
      + `<text x="${labelW + bw + 6}" y="${y + 14}" class="note">${esc(b.note ?? fmt(b.value))}</text></g>`;
  });
  const empty = bars.length ? '' : `<text x="8" y="18" class="note">nothing to show</text>`;
  return `<figure class="chart"><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}">${body.join('')}${empty}</svg></figure>`;
}

/** Vertical bars over a category axis (hours, weekdays), values scaled to `max`. */
export function vbars(title: string, bars: Bar[], o: { max?: number } = {}): string {
  const colW = bars.length > 12 ? 26 : 56;
  const plotH = 150;
  const w = Math.max(1, bars.length) * colW + 40;
  const h = plotH + 46;
  const max = o.max ?? Math.max(1e-9, ...bars.map((b) => b.value));
  const body = bars.map((b, i) => {
    const x = 30 + i * colW;
    const bh = Math.round((b.value / max) * plotH);
    return `<g class="bar"><rect class="${esc(b.cls ?? 'fill')}" x="${x + 3}" y="${10 + plotH - bh}" width="${colW - 6}" height="${bh}" rx="2"><title>${esc(`${b.label}: ${b.note ?? fmt(b.value)}`)}</title></rect>`
      + `<text x="${x + colW / 2}" y="${plotH + 26}" text-anchor="middle">${esc(b.label)}</text></g>`;
  });
  return `<figure class="chart"><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}">`
    + `<line class="axis" x1="30" y1="${10 + plotH}" x2="${w - 10}" y2="${10 + plotH}"/>${body.join('')}</svg></figure>`;
}

/** Lines over evenly spaced buckets (dials and answers per minute). */
export function lines(title: string, series: { name: string; values: number[]; cls: string }[], xLabels: [string, string]): string {
  const w = 720;
  const plotH = 160;
  const h = plotH + 50;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i: number) => 40 + (n === 1 ? 0 : (i / (n - 1)) * (w - 60));
  const y = (v: number) => 10 + plotH - (v / max) * plotH;
  const paths = series.map((s) => {
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    return `<polyline class="${esc(s.cls)}" fill="none" points="${pts}"><title>${esc(s.name)}</title></polyline>`;
  });
  const legend = series.map((s, i) => `<text x="${50 + i * 160}" y="${h - 4}" class="${esc(s.cls)} legend">— ${esc(s.name)}</text>`).join('');
  return `<figure class="chart"><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}">`
    + `<line class="axis" x1="40" y1="${10 + plotH}" x2="${w - 20}" y2="${10 + plotH}"/><text x="4" y="18" class="note">${max}</text><text x="4" y="${10 + plotH}" class="note">0</text>`
    + `<text x="40" y="${plotH + 26}" class="note">${esc(xLabels[0])}</text><text x="${w - 20}" y="${plotH + 26}" text-anchor="end" class="note">${esc(xLabels[1])}</text>`
    + `${paths.join('')}${legend}</svg></figure>`;
}
