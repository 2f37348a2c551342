/** Calling-hours windows: presets, holidays, open/next-opening per contact. Pure functions: time is a parameter. */
export { checkWindow, nextOpening } from './window.js';
export { US_STATE_WEEKS } from './rules.js';

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** The campaign file's `calling_hours` (src/config/campaign.ts). */
export interface CallingHours {
  preset: 'au-telemarketing' | 'us-tcpa' | 'uk' | 'none';
  /** Only these days (intersected with the preset's). */
  days?: Weekday[];
  /** "HH:MM" local; a later start than the preset's narrows it, an earlier one is ignored. */
  start?: string;
  /** "HH:MM" or "24:00" local; likewise can only narrow. */
  end?: string;
  /** true: also skip the public holidays of the contact's country (and state when known). */
  holidays?: boolean;
}

export interface WindowDecision {
  open: boolean;
  /** When closed: the earliest moment ≥ at when every candidate zone is open; undefined if none within 30 days. */
  nextOpen?: Date;
  /** Human description of the rule that allowed or blocked, e.g. 'au-telemarketing Sat 09:00-17:00 Australia/Sydney'. */
  rule: string;
  /** When open: the first moment after `at` when some candidate zone closes; undefined if it never does within 30 days. */
  closesAt?: Date;
}
