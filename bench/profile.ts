/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --profile`, which runs
 * our side under `node --cpu-prof`): self time by function and by package/file.
 *
 *   npx tsx bench/profile.ts bench/profiles/<name>.cpuprofile [top=25] [under]
 *
 * `under` (a function name, e.g. processJob) keeps only the samples whose
 * stack holds it, with the idle and GC samples between the first and the last
 * of them: the dial phase alone, so ours (`dial-ours`) and raw (`dial-raw`)
 * compare on the same work, without our loader.
 */
import { readFile } from 'node:fs/promises';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** node_modules/<pkg> or src/<dir>/<file>, else the URL's last two parts. */
function where(url: string): string {
  if (!url) return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/(src|bench)\/(.+)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  if (url.startsWith('node:')) return url;
  return url.split('/').slice(-2).join('/');
}

/** [first, last] sample index whose stack holds a function named `fn` (the whole profile without one). */
function span(p: Profile, byId: Map<number, Node>, fn?: string): [number, number] {
  if (!fn) return [0, p.samples.length - 1];
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const holds = (id: number | undefined): boolean => id !== undefined && (byId.get(id)!.callFrame.functionName === fn || holds(parent.get(id)));
  let first = -1;
  let last = -1;
  p.samples.forEach((id, i) => {
    if (!holds(id)) return;
    if (first < 0) first = i;
    last = i;
  });
  if (first < 0) throw new Error(`no sample under ${fn}`);
  return [first, last];
}

export async function summarise(file: string, top = 25, under?: string): Promise<string> {
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const [from, to] = span(p, byId, under);
  for (let i = from; i <= to; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const file_ = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const w = where(n.callFrame.url);
    const name = `${n.callFrame.functionName || '(anonymous)'} ${w}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    file_.set(w, (file_.get(w) ?? 0) + us);
  }
  const list = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  return [`${file}: ${(total / 1e6).toFixed(1)} s sampled${under ? ` (from the first to the last sample under ${under})` : ''}`, '', 'self time by package/file:', ...list(file_), '', 'self time by function:', ...list(fn)].join('\n');
}

if (process.argv[1]?.endsWith('profile.ts')) {
  const [file, top, under] = process.argv.slice(2);
  if (!file) throw new Error('usage: tsx bench/profile.ts <file.cpuprofile> [top] [under]');
  process.stdout.write((await summarise(file, Number(top ?? 25), under)) + '\n');
}
