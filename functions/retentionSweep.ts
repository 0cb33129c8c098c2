import './startupCheck';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { runRetentionSweep, timeBudget } from '../shared/retention';
import { compositionRoot } from '../shared/runtime';

/** host.json `functionTimeout` is 10 minutes: stop with two to spare (checkpointed); the next run resumes. */
const SWEEP_BUDGET_MS = 8 * 60_000;

/** Timer: deletes what Cosmos TTL cannot (expired media, exports, markers, documents that lost their TTL). */
export async function retentionSweep(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await runRetentionSweep((await compositionRoot()).retentionSweep, { budget: timeBudget(SWEEP_BUDGET_MS) });
  context.log(
    `retention sweep ${result.status}${result.resumed ? ' (resumed)' : ''}: ${result.tenants.length} tenants finished, ` +
      `${result.operations.listPages} list pages, ${result.operations.queries} queries, ${result.operations.deletes} deletes, ${result.durationMs} ms`,
  );
  // The other tenants were swept; a failed one is retried from its checkpoint next time. The invocation
  // still fails, so the host records it and the failure alert fires.
  if (result.failures.length > 0) {
    throw new Error(`retention sweep failed for ${result.failures.length} tenant(s): ${result.failures.map((f) => `${f.tenantId} in ${f.phase} (${f.error})`).join(', ')}`);
  }
}

// NCRONTAB in UTC: Linux plans ignore WEBSITE_TIME_ZONE. The default `0 30 2 * * *` is 02:30 GMT in winter
// and 03:30 BST in summer: night in the UK all year, away from the 01:00-02:00 hour the clocks skip/repeat.
app.timer('retentionSweep', { schedule: '%RETENTION_SCHEDULE%', handler: retentionSweep });
