import './startupCheck';
import { app, type HttpResponseInit } from '@azure/functions';
import { ADMIN_ROLE, adminRoute, validationError, type AdminCall } from '../shared/http';
import { deadLetterQuerySchema, queueNameSchema, replayDeadLetters, replayQuerySchema } from '../shared/metrics';
import { retryPrivacyRequest, triageDeadLetter } from '../shared/privacy';
import { readDeadLetterCounts, readDeadLetters } from '../shared/queue/deadLetterReader';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';

/** GET /api/dead-letters: dead-lettered messages per queue (admins and operators; counts say nothing about a tenant). */
export async function getDeadLetterCounts({ root }: AdminCall<CompositionRoot>): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: await readDeadLetterCounts(root.queue) };
}

/** GET /api/dead-letters/{queue}?max=: reasons, descriptions, ids and bodies (ids only). Admins: the messages span tenants. */
export async function getDeadLetters({ request, root }: AdminCall<CompositionRoot>): Promise<HttpResponseInit> {
  const queue = queueNameSchema.safeParse(request.params.queue);
  if (!queue.success) return validationError(queue.error, 'queue');
  const query = deadLetterQuerySchema.safeParse(Object.fromEntries(request.query.entries()));
  if (!query.success) return validationError(query.error);
  return { status: 200, jsonBody: await readDeadLetters(root.queue, queue.data, query.data.max) };
}

/**
 * POST /api/dead-letters/{queue}/replay?max=&dryRun=: empties the dead-letter queue (admins only, audited):
 * each original is completed after a resend, a re-drive of its failed request, or as stale; `dryRun=true`
 * says what would happen and changes nothing.
 */
export async function replayDeadLetterQueue({ request, principal, root }: AdminCall<CompositionRoot>): Promise<HttpResponseInit> {
  const queue = queueNameSchema.safeParse(request.params.queue);
  if (!queue.success) return validationError(queue.error, 'queue');
  const query = replayQuerySchema.safeParse(Object.fromEntries(request.query.entries()));
  if (!query.success) return validationError(query.error);
  const ports = {
    queue: root.queue,
    audit: root.audit,
    telemetry: root.telemetry,
    triage: (name: typeof queue.data, body: unknown) => triageDeadLetter(root.privacy, name, body),
    redrive: async (requestId: string) => void (await retryPrivacyRequest(root.privacy, requestId, principal.objectId)),
  };
  const result = await replayDeadLetters(ports, queue.data, query.data.max, principal.objectId, { dryRun: query.data.dryRun });
  return { status: 200, jsonBody: result };
}

app.http('getDeadLetterCounts', { route: 'dead-letters', methods: ['GET'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, getDeadLetterCounts) });
app.http('getDeadLetters', { route: 'dead-letters/{queue}', methods: ['GET'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, getDeadLetters, { adminOnly: `the ${ADMIN_ROLE} role is required: dead letters span tenants` }) });
app.http('replayDeadLetters', { route: 'dead-letters/{queue}/replay', methods: ['POST'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, replayDeadLetterQueue, { adminOnly: `the ${ADMIN_ROLE} role is required to replay dead letters` }) });
