import type { PrivacyDeps } from './deps';
import { enqueue } from './createPrivacyRequest';
import { viewOf, type PrivacyRequestView } from './privacyRequest';
import { sendTaskMessages } from './processRequest';

export type RetryResult = { kind: 'retried'; request: PrivacyRequestView } | { kind: 'not-found' } | { kind: 'not-failed'; request: PrivacyRequestView };

/**
 * POST /api/privacy-requests/{id}/retry: re-drives a failed request from the step that failed. Failed
 * tasks start again with a fresh attempt budget and a new generation (so their old scheduled or
 * dead-lettered messages are stale); tasks already done are not redone. A request that failed in
 * verification re-runs the erasers of the stores with leftovers; one that failed before planning, or a
 * failed access/rectification/restriction/objection, is sent to `privacy-requests` again.
 */
export async function retryPrivacyRequest(deps: PrivacyDeps, requestId: string, actor: string): Promise<RetryResult> {
  const now = deps.clock.now().toISOString();
  const result = await deps.requests.mutate(requestId, (doc) => {
    if (doc.status !== 'failed') return undefined;
    const failedStore = doc.failure?.store;
    // Every task not done (failed, or cut short when the request failed), and the stores verification blamed.
    const applies = (t: { note?: string }) => !t.note?.startsWith('not applicable');
    const redo = new Set(doc.tasks.filter((t) => t.status !== 'done' || (failedStore === t.store && applies(t)) || (failedStore === 'verification' && applies(t))).map((t) => t.store));
    const tasks = doc.tasks.map((t) =>
      redo.has(t.store)
        ? { ...t, status: 'pending' as const, attempts: 0, rateLimited: 0, generation: t.generation + 1, nextAttemptAt: undefined, finishedAt: undefined }
        : t,
    );
    const planned = doc.tasks.length > 0;
    const { failure: _failure, failedAt: _failedAt, ...rest } = doc;
    return { ...rest, status: planned ? 'in_progress' : 'received', attempts: 0, tasks, ...(planned ? {} : { enqueuedAt: undefined }), verification: doc.verification ? { ...doc.verification, reruns: 0 } : undefined };
  });
  if (!result) return { kind: 'not-found' };
  if (!result.changed) return { kind: 'not-failed', request: viewOf(result.doc) };
  const doc = result.doc;
  // The request holds its open-request lock again, unless an identical request was made meanwhile.
  const lock = await deps.requests.acquireOpenLock(doc.openKey, doc.id);
  if (lock.acquired) await deps.requests.mutate(doc.id, (d) => ({ ...d, openLockEtag: lock.etag }));
  await deps.audit.record({
    tenantId: doc.tenantId,
    type: 'privacy.request.retried',
    subjectHash: doc.subjectHash,
    requestId: doc.id,
    actor,
    details: { type: doc.type, scope: doc.scope, stores: doc.tasks.filter((t) => t.status === 'pending').map((t) => t.store).join(',') || 'request', retriedAt: now },
  });
  deps.telemetry.event('privacy.request.retried', { tenantId: doc.tenantId, requestId: doc.id, type: doc.type });
  if (doc.status === 'in_progress') {
    await sendTaskMessages(deps, doc, doc.tasks.filter((t) => t.status === 'pending'));
  } else {
    await enqueue(deps, doc.id, `${doc.id}:retry:${Date.parse(now)}`);
  }
  return { kind: 'retried', request: viewOf((await deps.requests.get(doc.id)) ?? doc) };
}
