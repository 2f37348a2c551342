import { Duration } from 'luxon';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;

/**
 * A duration as written in a campaign file, in ms: `90m`, `2h`, `1d`, `45s`,
 * compounds such as `1h30m` (largest unit first), or ISO 8601 (`PT2H`,
 * `P1DT12H`). Undefined when the text is none of these, or zero.
 * Months and years are refused: their length depends on the date.
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^P/i.test(t)) {
    if (/^P(?:[^T]*[YM])/i.test(t)) return undefined; // years or months (M before T)
    const d = Duration.fromISO(t.toUpperCase());
    const ms = d.isValid ? d.as('milliseconds') : NaN;
    return Number.isFinite(ms) && ms > 0 ? ms : undefined;
  }
  const m = /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/i.exec(t.replace(/\s+/g, ''));
  if (!m || !m.slice(1).some((x) => x !== undefined)) return undefined;
  const [, d, h, min, s] = m;
  const ms = Number(d ?? 0) * UNIT_MS.d + Number(h ?? 0) * UNIT_MS.h + Number(min ?? 0) * UNIT_MS.m + Number(s ?? 0) * UNIT_MS.s;
  return ms > 0 ? ms : undefined;
}
