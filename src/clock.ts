/**
 * The one source of "now". With DIALER_NOW=<ISO time> every process acts as if
 * it started at that moment; time then moves on as usual.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock offset so that it read `startIso` when created. */
export function offsetClock(startIso: string): Clock {
  const start = Date.parse(startIso);
  if (Number.isNaN(start)) throw new Error(`DIALER_NOW is not an ISO time: ${startIso}`);
  const offset = start - Date.now();
  return { now: () => Date.now() + offset };
}
