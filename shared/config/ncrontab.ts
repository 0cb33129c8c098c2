import { Cron } from 'croner';

/**
 * Timer schedules read as the Functions host reads them. Microsoft's "Timer trigger for Azure
 * Functions", section "NCRONTAB expressions" (learn.microsoft.com/azure/azure-functions/functions-bindings-timer):
 * the host interprets schedules with the NCrontab library, six fields
 *
 *     {second} {minute} {hour} {day} {month} {day-of-week}
 *
 * each a value (`0 5 * * * *`), all values (`*`), a range (`5-7`), a set (`5,8,10`) or an interval
 * (`*\/5`); months and days as numbers, English names or their abbreviations, case-insensitive (`Jan`,
 * `MON-FRI`, `Monday`); days 0-6 with 0 = Sunday; in UTC (Linux plans do not support WEBSITE_TIME_ZONE).
 *
 * The parsing of values, ranges, lists and steps, their bounds and the next occurrence are croner's
 * (a maintained, dependency-free cron library) in its six-field mode, with day-of-month AND day-of-week
 * as NCrontab combines them, and `a/n` as NCrontab reads it (from a to the end, every n). Around it, what
 * NCrontab reads differently from croner: names are matched as NCrontab does (any prefix of the English
 * name, the first match winning), day-of-week stops at 6, and croner's extensions that NCrontab rejects
 * (`?`, `L`, `W`, `#`, `@daily`, a seventh field) are refused.
 *
 * Six fields are required. NCrontab also reads five (no seconds), but Flowkeeper's settings are documented
 * as six-field, and a five-field schedule here is far more often a field missing by mistake than a choice.
 */
export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

export interface Schedule {
  /** The expression as given, trimmed. */
  expression: string;
  /** The first occurrence strictly after `after` (UTC). */
  next(after: Date): Date;
}

const FIELDS = [
  { name: 'second', range: '0-59' },
  { name: 'minute', range: '0-59' },
  { name: 'hour', range: '0-23' },
  { name: 'day', range: '1-31' },
  { name: 'month', range: '1-12 or January-December' },
  { name: 'day-of-week', range: '0-6 (0 = Sunday) or Sunday-Saturday' },
] as const;

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export const SIX_FIELDS_MESSAGE = 'must be a six-field NCRONTAB expression (seconds first, UTC)';

/** Parses an NCRONTAB schedule; throws a ScheduleError that says which field is wrong (never echoing the value). */
export function parseNcrontab(expression: string): Schedule {
  const trimmed = expression.trim();
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 6) throw new ScheduleError(SIX_FIELDS_MESSAGE);
  const normalised = fields.map((field, i) => normaliseField(field, i));
  const cron = croner(normalised.join(' '));
  if (!cron) throw fieldError(firstBadField(normalised));
  const schedule: Schedule = {
    expression: trimmed,
    next: (after) => {
      const next = cron.nextRun(after);
      if (!next) throw new ScheduleError('never fires');
      return next;
    },
  };
  // `0 0 0 30 2 *` parses, but NCrontab would never fire it: a schedule that cannot run is a mistake.
  if (!cron.nextRun(new Date(Date.UTC(2000, 0, 1)))) throw new ScheduleError('must be a valid NCRONTAB expression: it never fires (no such date)');
  return schedule;
}

/** What is wrong with a schedule, in words for a settings message; undefined when it is valid. */
export function ncrontabProblem(expression: string): string | undefined {
  try {
    parseNcrontab(expression);
    return undefined;
  } catch (error) {
    if (error instanceof ScheduleError) return error.message;
    throw error;
  }
}

function fieldError(index: number): ScheduleError {
  const { name, range } = FIELDS[index] ?? FIELDS[0];
  return new ScheduleError(`must be a valid NCRONTAB expression: its ${name} field is not (${range}; *, a-b, a,b, */n)`);
}

function normaliseField(field: string, index: number): string {
  const invalid = () => fieldError(index);
  if (!/^[0-9A-Za-z*,/-]+$/.test(field)) throw invalid();
  const names = index === 4 ? MONTHS : index === 5 ? DAYS : undefined;
  const numbered = field.replace(/[A-Za-z]+/g, (word) => {
    const found = names?.findIndex((n) => n.toLowerCase().startsWith(word.toLowerCase())) ?? -1;
    if (found < 0) throw invalid();
    return String(index === 4 ? found + 1 : found);
  });
  if (index === 5) {
    // A value of a range or a list (not a step) above 6: croner reads 7 as Sunday, NCrontab refuses it.
    for (const part of numbered.split(',')) {
      const values = (part.split('/')[0] ?? '').split('-').filter((v) => v !== '*' && v !== '');
      if (values.some((v) => Number(v) > 6)) throw invalid();
    }
  }
  return numbered;
}

function croner(pattern: string): Cron | undefined {
  try {
    return new Cron(pattern, { mode: '6-part', domAndDow: true, sloppyRanges: true, timezone: 'UTC', paused: true });
  } catch {
    return undefined;
  }
}

/** Which field croner refused: each tried alone, the others `*` (croner's own messages are worded for its indexes). */
function firstBadField(fields: string[]): number {
  return fields.findIndex((field, i) => !croner(fields.map((f, j) => (j === i ? field : '*')).join(' ')));
}
