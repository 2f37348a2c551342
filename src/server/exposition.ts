/**
 * Joins Prometheus text expositions whose metric families repeat (BullMQ
 * exports the same families once per queue): each family's samples are
 * gathered under one HELP/TYPE header, as the format requires.
 */
export function mergeExposition(texts: string[]): string {
  const families = new Map<string, { meta: string[]; samples: string[] }>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { meta: [], samples: [] }));
    return f;
  };
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        const f = family(meta[2]!);
        if (!f.meta.some((m) => m.startsWith(`# ${meta[1]} `))) f.meta.push(line);
        continue;
      }
      if (line.startsWith('#')) continue;
      const name = /^[^{\s]+/.exec(line)![0];
      family(baseName(name, families)).samples.push(line);
    }
  }
  return [...families.values()].map((f) => [...f.meta, ...f.samples].join('\n')).join('\n') + '\n';
}

/** Histogram/summary samples (`x_bucket`, `x_sum`, `x_count`) belong to family `x`. */
function baseName(name: string, families: Map<string, unknown>): string {
  if (families.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count|total|created)$/.exec(name);
  return m && families.has(m[1]!) ? m[1]! : name;
}
