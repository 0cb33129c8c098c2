import './startupCheck';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { reportDeadLetters, watchDeadlines } from '../shared/retention';
import { compositionRoot } from '../shared/runtime';

/** Timer: alerts on privacy requests near or past their legal due date, and reports dead-lettered messages. */
export async function deadlineWatch(_timer: Timer, context: InvocationContext): Promise<void> {
  const root = await compositionRoot();
  // Both run even if one fails: a broken request query must not hide the dead-letter counts, or the reverse.
  const [deadlines, deadLetters] = await Promise.allSettled([
    watchDeadlines(root.deadlineWatch, { alertDays: root.settings.DEADLINE_ALERT_DAYS }),
    reportDeadLetters({ queue: root.queue, telemetry: root.telemetry }),
  ]);
  if (deadlines.status === 'rejected') throw deadlines.reason;
  if (deadLetters.status === 'rejected') throw deadLetters.reason;
  const dead = Object.values(deadLetters.value).reduce((a, b) => a + b, 0);
  context.log(`deadline watch: ${deadlines.value.atRisk.length} requests at risk, ${deadlines.value.audited} newly audited, ${dead} dead-lettered messages`);
}

// DEADLINE_WATCH_SCHEDULE, NCRONTAB in UTC, default `0 15 * * * *` (hourly at :15): deadlines are counted in days,
// and each run re-emits the alert event of every request still at risk and the dead-letter counts, so an hourly
// cadence keeps the alert rules' windows (infra/modules/alerts.bicep) filled without flooding the traces.
app.timer('deadlineWatch', { schedule: '%DEADLINE_WATCH_SCHEDULE%', handler: deadlineWatch });
