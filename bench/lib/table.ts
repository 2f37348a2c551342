/** One line of the bench table: our figure, the raw stack's figure measured in the same run, their ratio. */
export interface Row {
  bench: string;
  metric: string;
  unit: string;
  ours: number | null;
  /** Raw-stack baseline measured in the same run; null when there is none. */
  raw: number | null;
  /** Human target, e.g. "ratio ≥ 0.6" or "≤ 200 MB". */
  target: string;
  /** Whether the target is met; null when the row has no target. */
  met: boolean | null;
  note?: string;
}

export function ratio(r: Pick<Row, 'ours' | 'raw'>): number | null {
  return r.ours === null || r.raw === null || r.raw === 0 ? null : r.ours / r.raw;
}

export function fmt(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  if (Number.isInteger(n) || a >= 1000) return Math.round(n).toLocaleString('en');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

const HEAD = ['bench', 'metric', 'ours', 'raw', 'ratio', 'target', 'met'];

function cells(r: Row): string[] {
  const unit = r.unit ? ` ${r.unit}` : '';
  return [r.bench, r.metric, fmt(r.ours) + unit, r.raw === null ? '—' : fmt(r.raw) + unit, fmt(ratio(r)), r.target, r.met === null ? '' : r.met ? 'yes' : 'NO'];
}

/** A Markdown table (readable as plain text too), notes listed under it. */
export function formatTable(rows: Row[]): string {
  const body = rows.map(cells);
  const width = HEAD.map((h, i) => Math.max(h.length, ...body.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((s, i) => s.padEnd(width[i]!)).join(' | ')} |`;
  const out = [line(HEAD), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)];
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.bench} / ${r.metric}: ${r.note}`);
  if (notes.length) out.push('', ...notes);
  return out.join('\n');
}
