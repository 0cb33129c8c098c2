import './startupCheck';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { ADMIN_ROLE, answer503OnOutage, authenticate, errorResponse, validationError } from '../shared/http';
import { deadLetterQuerySchema, queueNameSchema, replayDeadLetters } from '../shared/metrics';
import { readDeadLetterCounts, readDeadLetters } from '../shared/queue/deadLetterReader';
import { repositoriesOf, services } from '../shared/runtime';

/** GET /api/dead-letters: dead-lettered messages per queue (admins and operators; counts say nothing about a tenant). */
export async function getDeadLetterCounts(request: HttpRequest): Promise<HttpResponseInit> {
  const s = await services();
  const auth = authenticate(request, s.settings);
  if (!auth.ok) return auth.response;
  return { status: 200, jsonBody: await readDeadLetterCounts(s.queue) };
}

/** GET /api/dead-letters/{queue}?max=: reasons, descriptions, ids and bodies (ids only). Admins: the messages span tenants. */
export async function getDeadLetters(request: HttpRequest): Promise<HttpResponseInit> {
  const s = await services();
  const auth = authenticate(request, s.settings);
  if (!auth.ok) return auth.response;
  if (!auth.principal.roles.includes(ADMIN_ROLE)) return errorResponse(403, `the ${ADMIN_ROLE} role is required: dead letters span tenants`);
  const queue = queueNameSchema.safeParse(request.params.queue);
  if (!queue.success) return validationError(queue.error, 'queue');
  const query = deadLetterQuerySchema.safeParse(Object.fromEntries(request.query.entries()));
  if (!query.success) return validationError(query.error);
  return { status: 200, jsonBody: await readDeadLetters(s.queue, queue.data, query.data.max) };
}

/** POST /api/dead-letters/{queue}/replay?max=: back to the queue with a fresh delivery count; admins only, audited. */
export async function replayDeadLetterQueue(request: HttpRequest): Promise<HttpResponseInit> {
  const s = await services();
  const auth = authenticate(request, s.settings);
  if (!auth.ok) return auth.response;
  if (!auth.principal.roles.includes(ADMIN_ROLE)) return errorResponse(403, `the ${ADMIN_ROLE} role is required to replay dead letters`);
  const queue = queueNameSchema.safeParse(request.params.queue);
  if (!queue.success) return validationError(queue.error, 'queue');
  const query = deadLetterQuerySchema.safeParse(Object.fromEntries(request.query.entries()));
  if (!query.success) return validationError(query.error);
  const result = await replayDeadLetters({ queue: s.queue, audit: repositoriesOf(s).audit, telemetry: s.telemetry }, queue.data, query.data.max, auth.principal.objectId);
  return { status: 200, jsonBody: result };
}

app.http('getDeadLetterCounts', { route: 'dead-letters', methods: ['GET'], authLevel: 'anonymous', handler: answer503OnOutage(getDeadLetterCounts) });
app.http('getDeadLetters', { route: 'dead-letters/{queue}', methods: ['GET'], authLevel: 'anonymous', handler: answer503OnOutage(getDeadLetters) });
app.http('replayDeadLetters', { route: 'dead-letters/{queue}/replay', methods: ['POST'], authLevel: 'anonymous', handler: answer503OnOutage(replayDeadLetterQueue) });
