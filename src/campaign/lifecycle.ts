/**
 * The lifecycle of a campaign and of each of its rows, written once.
 *
 * The tables below are the only statement of which moves are allowed. The Lua
 * scripts in `store/` that change a row or a campaign embed them (see
 * `luaTables()`), so Redis refuses an illegal move atomically and no caller
 * decides a row's fate by reading text out of stored JSON.
 *
 * Every open row has exactly one owner, named by its state:
 *   queued, waiting, redial-due → a dial job (BullMQ), recorded in the row's `job`;
 *   sending                     → the worker holding that job, during one POST;
 *   placed, ambiguous           → the poll schedule;
 *   final                       → nobody.
 * Each open row also sits in the campaign's open index with a lease; when the
 * lease runs out the reaper checks that the owner still exists and, if not,
 * gives the row a new one.
 */

export const CAMPAIGN_STATES = ['loading', 'running', 'paused', 'canceling', 'canceled', 'done'] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

export const ROW_STATES = ['queued', 'waiting', 'sending', 'placed', 'ambiguous', 'redial-due', 'final'] as const;
export type RowState = (typeof ROW_STATES)[number];

/**
 * Campaign moves. `done` and `canceled` are reached when the last open row
 * ends (from running/paused and from canceling); `done → running` is a dead
 * letter sent back. A canceled campaign never runs again.
 */
export const CAMPAIGN_MOVES: Record<CampaignState, readonly CampaignState[]> = {
  loading: ['running', 'paused', 'canceling', 'done'],
  running: ['paused', 'canceling', 'done'],
  paused: ['running', 'canceling', 'done'],
  canceling: ['canceled'],
  canceled: [],
  done: ['running'],
};

/**
 * Row moves. A state may also stay itself (a status update, a retry that
 * keeps its job). `final → queued` is only a dead letter sent back.
 */
export const ROW_MOVES: Record<RowState, readonly RowState[]> = {
  // A job that finds its number already dialed hands the row to reconciliation (ambiguous).
  queued: ['waiting', 'sending', 'ambiguous', 'final'],
  waiting: ['queued', 'sending', 'ambiguous', 'final'],
  'redial-due': ['waiting', 'sending', 'queued', 'ambiguous', 'final'],
  // A definite failure or a 429 gives the row back to its job (queued); a POST
  // whose result is unknown goes to reconciliation (ambiguous).
  sending: ['queued', 'placed', 'ambiguous', 'final'],
  placed: ['redial-due', 'ambiguous', 'final'],
  ambiguous: ['placed', 'redial-due', 'final'],
  final: ['queued'],
};

/** Campaign states in which a worker may start a POST. */
export const DIALING_STATES: readonly CampaignState[] = ['running'];
/** Campaign states in which a row may get a new call (redial, dead-letter retry). */
export const NEW_CALL_STATES: readonly CampaignState[] = ['loading', 'running', 'paused', 'done'];
/** Row states owned by a dial job. */
export const JOB_OWNED: readonly RowState[] = ['queued', 'waiting', 'redial-due'];
/** Row states owned by the poll schedule. */
export const POLL_OWNED: readonly RowState[] = ['placed', 'ambiguous'];

export function canMoveCampaign(from: CampaignState, to: CampaignState): boolean {
  return from === to || CAMPAIGN_MOVES[from].includes(to);
}

export function canMoveRow(from: RowState, to: RowState): boolean {
  return (from === to && from !== 'final') || ROW_MOVES[from].includes(to);
}

/** Once every row is final, where the campaign goes; undefined when it stays. */
export function settledState(state: CampaignState): CampaignState | undefined {
  if (state === 'canceling') return 'canceled';
  if (state === 'running' || state === 'paused') return 'done';
  return undefined;
}

/** The state of a row record written before rows carried one. */
export function rowStateOf(rec: { state?: string; outcome?: string }): RowState {
  if (rec.outcome) return 'final';
  return (ROW_STATES as readonly string[]).includes(rec.state ?? '') ? (rec.state as RowState) : 'queued';
}

const luaSet = (xs: readonly string[]) => `{${xs.map((x) => `['${x}']=true`).join(',')}}`;

/**
 * The tables as Lua, prepended to every script that moves a row or a
 * campaign: `ROW_MOVES[from][to]`, `campaign_moves()[from][to]`, `SETTLED[state]`,
 * `DIALING[state]`, `NEW_CALL[state]`, `JOB_OWNED[state]`, `POLL_OWNED[state]`,
 * and `row_state(rec)`.
 */
export function luaTables(): string {
  const table = (t: Record<string, readonly string[]>) => `{${Object.entries(t).map(([k, v]) => `['${k}']=${luaSet(v)}`).join(',')}}`;
  const settled = CAMPAIGN_STATES.flatMap((s) => { const to = settledState(s); return to ? [[s, to] as const] : []; });
  return [
    `local ROW_MOVES = ${table(ROW_MOVES)}`,
    // Built when first used: most scripts that carry these tables never move a campaign.
    `local CAMPAIGN_MOVES_`,
    `local function campaign_moves() CAMPAIGN_MOVES_ = CAMPAIGN_MOVES_ or ${table(CAMPAIGN_MOVES)} return CAMPAIGN_MOVES_ end`,
    `local SETTLED = {${settled.map(([k, v]) => `['${k}']='${v}'`).join(',')}}`,
    `local DIALING = ${luaSet(DIALING_STATES)}`,
    `local NEW_CALL = ${luaSet(NEW_CALL_STATES)}`,
    `local JOB_OWNED = ${luaSet(JOB_OWNED)}`,
    `local POLL_OWNED = ${luaSet(POLL_OWNED)}`,
    `local function row_state(rec) if rec.outcome then return 'final' end if rec.state and ROW_MOVES[rec.state] then return rec.state end return 'queued' end`,
    `local function can_move_row(from, to) return (from == to and from ~= 'final') or ROW_MOVES[from][to] == true end`,
    `local function can_move_campaign(from, to) return from == to or campaign_moves()[from][to] == true end`,
    '',
  ].join('\n');
}
