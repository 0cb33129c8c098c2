import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../shared/config';
import { MINIMAL_SETTINGS, settingsProblemsOf } from '../support/settings';
import { useServices } from '../../shared/runtime';
import { resolveSettingReference, startLocalHost, type LocalHost } from '../../local/host';
import { parseNcrontab } from '../../shared/config/ncrontab';
import { eventually, testServices, type TestServices } from '../support/testServices';

/** The settings a start-up needs besides the schedule under test. */
const required = MINIMAL_SETTINGS;
const problemsOf = settingsProblemsOf;

/** When the schedule a setting names fires next, as the local host computes it. */
function nextRun(settingValue: string, after: string): string {
  const expression = resolveSettingReference('%DEADLINE_WATCH_SCHEDULE%', { DEADLINE_WATCH_SCHEDULE: settingValue });
  return parseNcrontab(expression).next(new Date(after)).toISOString();
}

describe('DEADLINE_WATCH_SCHEDULE', () => {
  it('defaults to hourly at :15 UTC, the schedule the function file used to fix', () => {
    const settings = loadSettings(required);
    expect(settings.DEADLINE_WATCH_SCHEDULE).toBe('0 15 * * * *');
    expect(nextRun(settings.DEADLINE_WATCH_SCHEDULE, '2026-06-01T10:20:00Z')).toBe('2026-06-01T11:15:00.000Z');
    expect(nextRun(settings.DEADLINE_WATCH_SCHEDULE, '2026-06-01T10:14:59Z')).toBe('2026-06-01T10:15:00.000Z');
  });

  it('an operator can set another NCRONTAB schedule, which the watch then follows', () => {
    const settings = loadSettings({ ...required, DEADLINE_WATCH_SCHEDULE: ' 0 15 */6 * * * ' });
    expect(settings.DEADLINE_WATCH_SCHEDULE).toBe('0 15 */6 * * *');
    expect(nextRun(settings.DEADLINE_WATCH_SCHEDULE, '2026-06-01T06:20:00Z')).toBe('2026-06-01T12:15:00.000Z');
  });

  it('an empty value means the default', () => {
    expect(loadSettings({ ...required, DEADLINE_WATCH_SCHEDULE: '' }).DEADLINE_WATCH_SCHEDULE).toBe('0 15 * * * *');
  });

  it('a bad value stops start-up with a message that names the setting, not its value', () => {
    for (const bad of ['15 * * * *', 'hourly', '0 15 * * * * *']) {
      const problems = problemsOf({ ...required, DEADLINE_WATCH_SCHEDULE: bad });
      expect(problems, bad).toEqual(['DEADLINE_WATCH_SCHEDULE must be a six-field NCRONTAB expression (seconds first, UTC)']);
    }
  });
});

describe('the deadlineWatch timer under the local host', () => {
  let services: TestServices;
  let host: LocalHost;
  const logs: string[] = [];

  beforeAll(async () => {
    // Every second, so the test sees the host arm the timer from the setting and run it.
    services = await testServices({ DEADLINE_WATCH_SCHEDULE: '* * * * * *' });
    Object.assign(process.env, services.env);
    useServices(services);
    host = await startLocalHost({
      services,
      port: 0,
      loadFunctions: () => import('../../functions/deadlineWatch.js'),
      runTimers: true,
      log: (line) => logs.push(line),
    });
  });
  afterAll(async () => {
    await host?.close();
    await services?.close();
  });

  it('is registered on the DEADLINE_WATCH_SCHEDULE setting, not a fixed schedule', () => {
    const registration = host.registrations.find((r) => r.name === 'deadlineWatch');
    expect(registration?.trigger).toMatchObject({ type: 'timerTrigger', schedule: '%DEADLINE_WATCH_SCHEDULE%' });
  });

  it('runs on the schedule the setting names', async () => {
    const line = await eventually(() => logs.find((l) => l.startsWith('[deadlineWatch]') && l.includes('deadline watch:')), 5_000, 'a scheduled run');
    expect(line).toMatch(/deadline watch: 0 requests at risk, 0 newly audited, 0 dead-lettered messages/);
    expect(services.telemetry.metrics.filter((m) => m.name === 'queue.dead_lettered').length).toBeGreaterThanOrEqual(4);
    expect(logs.filter((l) => l.includes('timer failed'))).toEqual([]);
  });
});
