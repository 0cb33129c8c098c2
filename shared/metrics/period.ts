import { z } from 'zod';

const DAY_MS = 86_400_000;

/** The longest period one metrics call covers: a year (a leap year included). */
export const MAX_PERIOD_DAYS = 366;
export const DEFAULT_PERIOD_DAYS = 30;

export interface Period {
  from: Date;
  to: Date;
}

export type PeriodResult = { ok: true; period: Period } | { ok: false; field: 'from' | 'to'; message: string };

const dateOnly = z.iso.date();
const dateTime = z.iso.datetime({ offset: true });

/**
 * A time bound as people type it: a date (`2026-01-31`, UTC) or an ISO 8601 date-time with offset.
 * A date as `to` means the end of that day, so `--from 2026-01-01 --to 2026-01-31` is all of January.
 */
export function parseBound(raw: string, bound: 'from' | 'to'): Date | undefined {
  const text = raw.trim();
  if (dateOnly.safeParse(text).success) {
    const start = new Date(`${text}T00:00:00.000Z`);
    if (Number.isNaN(start.getTime())) return undefined;
    return bound === 'to' ? new Date(start.getTime() + DAY_MS) : start;
  }
  if (!dateTime.safeParse(text).success) return undefined;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/**
 * The period [from, to) of a metrics query. Missing bounds default to the last 30 days up to now;
 * a bad date names its field, and so does a reversed or over-long period (always `to`).
 */
export function parsePeriod(input: { from?: string | null; to?: string | null }, now: Date): PeriodResult {
  const to = input.to ? parseBound(input.to, 'to') : now;
  if (!to) return { ok: false, field: 'to', message: 'to must be a date (2026-01-31) or an ISO 8601 date-time (2026-01-31T12:00:00Z)' };
  const from = input.from ? parseBound(input.from, 'from') : new Date(to.getTime() - DEFAULT_PERIOD_DAYS * DAY_MS);
  if (!from) return { ok: false, field: 'from', message: 'from must be a date (2026-01-01) or an ISO 8601 date-time (2026-01-01T00:00:00Z)' };
  if (from.getTime() >= to.getTime()) return { ok: false, field: 'to', message: 'to must be after from' };
  if (to.getTime() - from.getTime() > MAX_PERIOD_DAYS * DAY_MS) {
    return { ok: false, field: 'to', message: `the period from..to must be at most ${MAX_PERIOD_DAYS} days` };
  }
  return { ok: true, period: { from, to } };
}
