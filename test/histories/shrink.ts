/**
 * Shrinking a failing history: try smaller variants (fewer steps, fewer
 * rows, shorter sleeps, plainer configuration), re-run each, keep the first
 * that still breaks the same invariant, until nothing smaller fails or the
 * run budget is spent. Greedy, not minimal: each re-run costs seconds.
 */
import { NO_FAULTS, type History, type Step } from './generator.js';

/** Does the variant still fail the same way? */
export type StillFails = (h: History) => Promise<boolean>;

function* candidates(h: History): Generator<History> {
  const { steps, config } = h;
  const withSteps = (s: Step[]) => ({ ...h, steps: s });
  // Big cuts first: halves, then each non-sleep step (a step's preceding sleep goes with it).
  if (steps.length > 4) {
    const half = Math.ceil(steps.length / 2);
    yield withSteps(steps.slice(0, half));
    yield withSteps([steps[0]!, ...steps.slice(half)]);
  }
  for (let i = steps.length - 1; i >= 0; i--) {
    if (steps[i]!.op === 'sleep') continue;
    const from = i > 0 && steps[i - 1]!.op === 'sleep' ? i - 1 : i;
    yield withSteps([...steps.slice(0, from), ...steps.slice(i + 1)]);
  }
  if (config.contacts > 12) yield { ...h, config: { ...config, contacts: Math.max(12, Math.floor(config.contacts / 2)) } };
  const plainer: Partial<History['config']>[] = [
    { workers: 1 }, { faults: { ...NO_FAULTS } }, { lookupFailRate: 0 }, { suppressed: 0 }, { outcomeColumn: false },
    { redial: null }, { onAmbiguous: 'skip' }, { serve: false }, { archiveAfterMinutes: undefined }, { archiveCheck: undefined },
  ];
  for (const p of plainer) {
    const next = { ...config, ...p };
    if (JSON.stringify(next) === JSON.stringify(config)) continue;
    if (p.serve === false && steps.some((s) => s.op === 'webhooks' || (s.op === 'kill' && s.proc === 'serve'))) continue;
    yield { ...h, config: next };
  }
  const long = steps.findIndex((s) => s.op === 'sleep' && s.ms > 200);
  if (long >= 0) yield withSteps(steps.map((s, i) => (i === long && s.op === 'sleep' ? { ...s, ms: Math.floor(s.ms / 2) } : s)));
}

/** The smallest failing variant found within `budget` re-runs. */
export async function shrink(h: History, stillFails: StillFails, budget: number, say: (line: string) => void = () => undefined): Promise<{ history: History; runs: number }> {
  let best = h;
  let runs = 0;
  let improved = true;
  while (improved && runs < budget) {
    improved = false;
    for (const c of candidates(best)) {
      if (runs >= budget) break;
      runs++;
      if (await stillFails(c)) {
        say(`  shrink run ${runs}: still failing with ${c.steps.length} steps, ${c.config.contacts} rows`);
        best = c;
        improved = true;
        break;
      }
      say(`  shrink run ${runs}: passed; keeping the larger history`);
    }
  }
  return { history: best, runs };
}
