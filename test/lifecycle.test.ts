import { describe, expect, it } from 'vitest';
import { CAMPAIGN_STATES, ROW_STATES, canMoveCampaign, canMoveRow, luaTables, rowStateOf, settledState, type CampaignState, type RowState } from '../src/campaign/lifecycle.js';
import { MAX_REAPS, decideReap, type ReapInput } from '../src/campaign/reap.js';
import { ambiguousRedials, decideAfterCall, decideReconcile, type ReconcileInput } from '../src/poller/decide.js';
import type { LedgerEntry } from '../src/store/store.js';
import { decidePurge, type PurgeFacts } from '../src/privacy/retention.js';

describe('row lifecycle table', () => {
  // Every pair, decided here once more by hand: a change to the table must change this test.
  const allowed: Record<RowState, RowState[]> = {
    queued: ['queued', 'waiting', 'sending', 'ambiguous', 'final'],
    waiting: ['waiting', 'queued', 'sending', 'ambiguous', 'final'],
    'redial-due': ['redial-due', 'waiting', 'sending', 'queued', 'ambiguous', 'final'],
    sending: ['sending', 'queued', 'placed', 'ambiguous', 'final'],
    placed: ['placed', 'redial-due', 'ambiguous', 'final'],
    ambiguous: ['ambiguous', 'placed', 'redial-due', 'final'],
    final: ['queued'],
  };
  for (const from of ROW_STATES) {
    for (const to of ROW_STATES) {
      it(`${from} → ${to}: ${allowed[from].includes(to) ? 'allowed' : 'refused'}`, () => {
        expect(canMoveRow(from, to)).toBe(allowed[from].includes(to));
      });
    }
  }
  it('never from placed or ambiguous back to a state that would POST without a redial', () => {
    for (const from of ['placed', 'ambiguous'] as const) for (const to of ['queued', 'waiting', 'sending'] as const) expect(canMoveRow(from, to)).toBe(false);
  });
  it('reads the state of rows written before rows carried one', () => {
    expect(rowStateOf({})).toBe('queued');
    expect(rowStateOf({ outcome: 'completed', state: 'placed' })).toBe('final');
    expect(rowStateOf({ state: 'placed' })).toBe('placed');
    expect(rowStateOf({ state: 'bogus' })).toBe('queued');
  });
});

describe('campaign lifecycle table', () => {
  const allowed: Record<CampaignState, CampaignState[]> = {
    loading: ['loading', 'running', 'paused', 'canceling', 'done'],
    running: ['running', 'paused', 'canceling', 'done'],
    paused: ['paused', 'running', 'canceling', 'done'],
    canceling: ['canceling', 'canceled'],
    canceled: ['canceled'],
    done: ['done', 'running'],
  };
  for (const from of CAMPAIGN_STATES) {
    it(`${from} → ${allowed[from].join(', ')}`, () => {
      for (const to of CAMPAIGN_STATES) expect(canMoveCampaign(from, to), `${from} → ${to}`).toBe(allowed[from].includes(to));
    });
  }
  it('settles when the last row ends', () => {
    expect(CAMPAIGN_STATES.map((s) => settledState(s) ?? '-')).toEqual(['-', 'done', 'done', 'canceled', '-', '-']);
  });
  it('is the same table in Lua', () => {
    const lua = luaTables();
    expect(lua).toContain("['canceling']={['canceled']=true}");
    expect(lua).toContain("['placed']={['redial-due']=true,['ambiguous']=true,['final']=true}");
    expect(lua).toContain("local DIALING = {['running']=true}");
  });
});

const entry = (s: LedgerEntry['s'], extra: Partial<LedgerEntry> = {}): LedgerEntry => ({ s, r: 1, a: 1, t: 1000, sent: 1000, ...extra });

describe('reaper decisions', () => {
  const base: ReapInput = { state: 'queued', campaign: 'running', now: 100_000, lockMs: 60_000, reaped: 0 };
  const cases: [string, Partial<ReapInput>, ReturnType<typeof decideReap>['action']][] = [
    ['final row still in the index', { state: 'final' }, 'drop'],
    ['queued, job alive', { jobAlive: true }, 'extend'],
    ['queued, job gone', { jobAlive: false }, 'requeue'],
    ['queued, job gone too often', { jobAlive: false, reaped: MAX_REAPS }, 'dead-letter'],
    ['waiting, campaign canceling', { state: 'waiting', campaign: 'canceling', jobAlive: true }, 'cancel'],
    ['redial due, job gone', { state: 'redial-due', jobAlive: false }, 'requeue'],
    ['placed, poll scheduled', { state: 'placed', pollScheduled: true }, 'extend'],
    ['placed, poll lost', { state: 'placed', pollScheduled: false }, 'poll'],
    ['ambiguous, poll lost, campaign canceled', { state: 'ambiguous', campaign: 'canceling', pollScheduled: false }, 'poll'],
    ['sending, request may still be live', { state: 'sending', entry: entry('sending', { t: 90_000 }) }, 'extend'],
    ['sending, worker died mid-POST', { state: 'sending', entry: entry('sending', { t: 1000 }) }, 'to-ambiguous'],
    ['sending, ledger placed (row step lost)', { state: 'sending', entry: entry('placed', { id: 'c1' }) }, 'to-placed'],
    ['sending, ledger pending (a 429 whose row step was lost)', { state: 'sending', entry: entry('pending') }, 'requeue'],
    ['sending, ledger failed, campaign canceling', { state: 'sending', campaign: 'canceling', entry: entry('failed') }, 'cancel'],
  ];
  for (const [name, input, action] of cases) {
    it(`${name} → ${action}`, () => expect(decideReap({ ...base, ...input }).action).toBe(action));
  }
});

describe('reconcile decisions', () => {
  const base: ReconcileInput = { now: 100_000, lockMs: 60_000, graceMs: 10_000, timeoutMs: 600_000, maxAmbiguousRedials: 1, entry: entry('ambiguous', { t: 50_000, sent: 50_000 }) };
  const cases: [string, Partial<ReconcileInput>, string][] = [
    ['never sent', { entry: entry('pending') }, 'not-sent'],
    ['sending, maybe live', { entry: entry('sending', { t: 90_000 }) }, 'wait'],
    ['placed with its id', { entry: entry('placed', { id: 'c9' }) }, 'adopt'],
    ['ambiguous, first look', {}, 'lookup'],
    ['ambiguous, call found', { lookup: { found: { id: 'c1' } } }, 'adopt'],
    ['ambiguous, lookup failing, within the timeout', { lookup: { failed: 'HTTP 503' } }, 'wait'],
    ['ambiguous, lookup failing past the timeout', { now: 700_000, lookup: { failed: 'HTTP 503' } }, 'unknown'],
    ['ambiguous, none found within the grace', { now: 55_000, lookup: {} }, 'wait'],
    ['ambiguous, none found after the grace: evidence, one redial', { lookup: {} }, 'redial'],
    ['ambiguous, none found, already redialed once', { entry: entry('ambiguous', { t: 50_000, sent: 50_000, amb: 1 }), lookup: {} }, 'unknown'],
    ['ambiguous, none found, on_ambiguous skip', { maxAmbiguousRedials: 0, lookup: {} }, 'unknown'],
    ['placed without id, none found', { entry: entry('placed', { t: 50_000, sent: 50_000 }), lookup: {} }, 'unknown'],
  ];
  for (const [name, input, action] of cases) {
    it(`${name} → ${action}`, () => expect(decideReconcile({ ...base, ...input }).action).toBe(action));
  }
  it('on_ambiguous: skip none, redial-once one, redial up to the retry attempts', () => {
    expect([ambiguousRedials('skip', 5), ambiguousRedials('redial-once', 5), ambiguousRedials('redial', 5)]).toEqual([0, 1, 4]);
  });
  it('an adopted call found by lookup counts as a call placed; a known one does not count twice', () => {
    expect(decideReconcile({ ...base, lookup: { found: { id: 'c1' } } })).toMatchObject({ countCall: true });
    expect(decideReconcile({ ...base, entry: entry('placed', { id: 'c9' }) })).toMatchObject({ countCall: false });
  });
});

describe('after a call', () => {
  const redial = { outcomes: ['no-answer', 'busy'] as ('no-answer' | 'busy')[], max: 2, after_minutes: 5 };
  it.each([
    ['no redial configured', undefined, 'no-answer', 1, 'finish'],
    ['outcome not redialed', redial, 'completed', 1, 'finish'],
    ['first call, no-answer', redial, 'no-answer', 1, 'redial'],
    ['second call, busy', redial, 'busy', 2, 'redial'],
    ['max redials made', redial, 'no-answer', 3, 'finish'],
  ] as const)('%s → %s', (_name, cfg, outcome, calls, action) => {
    expect(decideAfterCall(cfg as never, outcome, calls).action).toBe(action);
  });
  it('names the redial job by the calls so far and waits after_minutes', () => {
    expect(decideAfterCall(redial as never, 'busy', 2)).toEqual({ action: 'redial', delayMs: 300_000, jobSuffix: 'redial2' });
  });
});

describe('purge decisions (retention)', () => {
  const DAY = 86_400_000;
  const now = Date.parse('2026-12-01T00:00:00Z');
  const ago = (days: number) => new Date(now - days * DAY).toISOString();
  const base: PurgeFacts = { state: 'done', purged: false, days: 30, total: 10, finished: 10, endedAt: ago(40) };
  const cases: [string, Partial<PurgeFacts>, string | undefined][] = [
    ['done, past retention', {}, undefined],
    ['done, within retention', { endedAt: ago(10) }, 'kept until 2026-12-21T00:00:00.000Z (30 days)'],
    ['already purged', { purged: true }, 'already purged'],
    ['running', { state: 'running' }, 'not finished (running)'],
    ['canceling (calls still going)', { state: 'canceling' }, 'not finished (canceling)'],
    ['canceled with open rows', { state: 'canceled', finished: 8 }, 'canceled, but calls are still in progress'],
    ['canceled, every row final, past retention', { state: 'canceled' }, undefined],
    ['no retention configured', { days: undefined }, 'no retention_days and no DIALER_RETENTION_DAYS'],
    ['end time unknown', { endedAt: undefined }, 'finish time unknown'],
  ];
  for (const [name, f, keep] of cases) {
    it(`${name} → ${keep ?? 'purge'}`, () => expect(decidePurge({ ...base, ...f }, now).keep).toBe(keep));
  }
});
