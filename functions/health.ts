import './startupCheck';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { checkHealth } from '../shared/health';
import { compositionRoot } from '../shared/runtime';

/** GET /api/health: each dependency's reachability and the dead-letter counts; 503 when any is down. */
export async function health(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const report = await checkHealth((await compositionRoot()).health);
  return { status: report.status === 'healthy' ? 200 : 503, jsonBody: report };
}

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: health });
