import './startupCheck';
import { app, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';
import { runErasureDrill, runScheduledDrills } from '../shared/drills/erasureDrill';
import { errorResponse, tenantRoute, type TenantCall } from '../shared/http';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';

/** Timer: one erasure drill per tenant that opted in (drills.enabled); a failed or slow one raises the drill alert. */
export async function erasureDrillTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const results = await runScheduledDrills((await compositionRoot()).drills);
  context.log(`erasure drills: ${results.length} run, ${results.filter((r) => r.outcome === 'passed').length} passed, ${results.filter((r) => r.outcome === 'slow').length} slow, ${results.filter((r) => r.outcome === 'failed').length} failed`);
}

/** POST /api/tenants/{tenantId}/drills: runs one drill now and answers its result (also for a tenant not opted in). */
export async function runDrill({ tenantId, root }: TenantCall<CompositionRoot>): Promise<HttpResponseInit> {
  const result = await runErasureDrill(root.drills, tenantId);
  if ('kind' in result) return errorResponse(404, 'tenant not found', 'tenantId');
  return { status: 200, jsonBody: result };
}

app.http('runErasureDrill', { route: 'tenants/{tenantId}/drills', methods: ['POST'], authLevel: 'anonymous', handler: tenantRoute(compositionRoot, runDrill) });

// Off unless ERASURE_DRILL_SCHEDULE is set (Azure: daily, infra/modules/functionApp.bicep; locally unset): a
// timer needs a schedule, so without one there is no timer at all rather than one that runs by default.
if (process.env.ERASURE_DRILL_SCHEDULE?.trim()) app.timer('erasureDrill', { schedule: '%ERASURE_DRILL_SCHEDULE%', handler: erasureDrillTimer });
