import { describe, expect, it } from 'vitest';
import { ncrontabProblem, parseNcrontab } from '../../shared/config/ncrontab';
import { MINIMAL_SETTINGS, settingsProblemsOf } from '../support/settings';

const next = (expression: string, after: string) => parseNcrontab(expression).next(new Date(after)).toISOString();
const MONDAY = '2026-03-02T10:00:00Z';

describe('schedules read as Azure reads them (NCrontab, six fields, UTC)', () => {
  // Every example of Microsoft's "Timer trigger for Azure Functions", NCRONTAB expressions, and the forms it describes.
  const documented: [string, string, string][] = [
    ['0 5 * * * *', 'a specific value: minute 5 of every hour', '2026-03-02T10:05:00.000Z'],
    ['0 * 5 * * *', 'all values: every minute of hour 5', '2026-03-03T05:00:00.000Z'],
    ['5-7 * * * * *', 'a range: seconds 5 to 7', '2026-03-02T10:00:05.000Z'],
    ['5,8,10 * * * * *', 'a set: seconds 5, 8 and 10', '2026-03-02T10:00:05.000Z'],
    ['0 */5 * * * *', 'an interval: every fifth minute', '2026-03-02T10:05:00.000Z'],
    ['0 0 * * * *', 'the top of every hour', '2026-03-02T11:00:00.000Z'],
    ['0 0 */2 * * *', 'every two hours', '2026-03-02T12:00:00.000Z'],
    ['0 0 9-17 * * *', 'every hour from 9 to 17', '2026-03-02T11:00:00.000Z'],
    ['0 30 9 * * *', '9:30 every day', '2026-03-03T09:30:00.000Z'],
    ['0 30 9 * * 1-5', '9:30 every weekday', '2026-03-03T09:30:00.000Z'],
    ['0 30 9 * Jan Mon', '9:30 every Monday in January', '2027-01-04T09:30:00.000Z'],
    ['0 30 2 * * MON-FRI', 'day names in a range, upper case', '2026-03-03T02:30:00.000Z'],
    ['0 30 9 * January Monday', 'names in full', '2027-01-04T09:30:00.000Z'],
    ['0 30 2 * JAN-MAR sat', 'month names in a range, a lower-case day', '2026-03-07T02:30:00.000Z'],
    ['0 0 0 * * 0', 'day 0 is Sunday', '2026-03-08T00:00:00.000Z'],
    ['0 0 0 13 * FRI', 'day of month AND day of week, as NCrontab combines them (Friday the 13th)', '2026-03-13T00:00:00.000Z'],
    ['5/20 * * * * *', 'a value with a step: from it to the end of the range', '2026-03-02T10:00:05.000Z'],
    ['0 15 * * * *', "Flowkeeper's deadline watch (hourly at :15)", '2026-03-02T10:15:00.000Z'],
  ];
  it.each(documented)('%s (%s)', (expression, _what, expected) => {
    expect(ncrontabProblem(expression)).toBeUndefined();
    expect(next(expression, MONDAY)).toBe(expected);
  });

  it('finds the next occurrence strictly after the given time', () => {
    expect(next('0 30 2 * * *', '2026-06-01T02:30:00Z')).toBe('2026-06-02T02:30:00.000Z');
    expect(next('0 */1 * * * *', '2026-06-01T10:00:05Z')).toBe('2026-06-01T10:01:00.000Z');
    expect(next('*/15 * * * * 1-5', '2026-06-06T10:00:05Z')).toBe('2026-06-08T00:00:00.000Z');
  });

  const invalid: [string, string][] = [
    ['0 99 * * * *', 'its minute field is not'],
    ['61 * * * * *', 'its second field is not'],
    ['0 0 24 * * *', 'its hour field is not'],
    ['0 0 0 32 * *', 'its day field is not'],
    ['0 0 0 * 13 *', 'its month field is not'],
    ['0 0 0 * * 7', 'its day-of-week field is not'],
    ['0 0 0 * * Mon-Xyz', 'its day-of-week field is not'],
    ['0 0 0 * Smarch *', 'its month field is not'],
    ['0 0 Mon * * *', 'its hour field is not'],
    ['0 */0 * * * *', 'its minute field is not'],
    ['0 0 0 ? * *', 'its day field is not'],
    ['0 0 0 L * *', 'its day field is not'],
    ['0 0 0 * * 1#2', 'its day-of-week field is not'],
    ['0 0 0 30 2 *', 'it never fires'],
    ['30 2 * * *', 'six-field'],
    ['0 0 0 * * * 2026', 'six-field'],
    ['@daily', 'six-field'],
  ];
  it.each(invalid)('%s is refused: %s', (expression, problem) => {
    expect(ncrontabProblem(expression)).toContain(problem);
  });
});

describe('settings validation reads schedules the same way', () => {
  it('a schedule Azure accepts starts: RETENTION_SCHEDULE=0 30 2 * * MON-FRI', () => {
    expect(settingsProblemsOf({ ...MINIMAL_SETTINGS, RETENTION_SCHEDULE: '0 30 2 * * MON-FRI', RECONCILER_SCHEDULE: '0 */5 * * * *', DEADLINE_WATCH_SCHEDULE: '0 15 9 * Jan-Jun Mon' })).toEqual([]);
  });

  it('one Azure rejects stops start-up naming the setting, not its value', () => {
    const problems = settingsProblemsOf({ ...MINIMAL_SETTINGS, RETENTION_SCHEDULE: '0 99 * * * *', RECONCILER_SCHEDULE: '0 0 0 * * 7' });
    expect(problems).toEqual([
      'RETENTION_SCHEDULE must be a valid NCRONTAB expression: its minute field is not (0-59; *, a-b, a,b, */n)',
      'RECONCILER_SCHEDULE must be a valid NCRONTAB expression: its day-of-week field is not (0-6 (0 = Sunday) or Sunday-Saturday; *, a-b, a,b, */n)',
    ]);
    expect(problems.join('\n')).not.toContain('99');
  });
});
