import type { PrivacyDeps } from './deps';
import { advanceCancellation, cancelledTenants } from './cancellation';
import { enqueue } from './createPrivacyRequest';
import type { ErasureTaskMessage, PrivacyRequestDocument } from './privacyRequest';
import { taskMessageId } from './runErasureTask';

export interface ReconcileOptions {
  /** A request written but not enqueued for this long is sent (the crash window between write and send). */
  unsentAfterMs?: number;
  /** A running task, or a due pending one, untouched for this long lost its message: it is sent again. */
  stuckAfterMs?: number;
}

export interface ReconcileReport {
  enqueued: number;
  redriven: number;
  verifications: number;
  cancellations: number;
}

/**
 * The privacy-request reconciler (timer, every minute): nothing a crash or a lost message leaves behind
 * stays behind.
 * - `received` with no `enqueuedAt` after a minute: written, never sent. Sent now.
 * - `received` and sent, but untouched for `stuckAfterMs`: the message was lost. Sent again.
 * - `in_progress` tasks `running` or due `pending`, untouched for `stuckAfterMs`: the worker died or the
 *   message was lost. Their message is sent again (the eraser is idempotent).
 * - `verifying` untouched for `stuckAfterMs`: the verification is run again through `privacy-requests`.
 * - cancelled tenants: the account cancellation advances by one page.
 */
export async function reconcilePrivacyRequests(deps: PrivacyDeps, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const now = deps.clock.now().getTime();
  const unsentAfter = options.unsentAfterMs ?? 60_000;
  const stuckAfter = options.stuckAfterMs ?? 10 * 60_000;
  const report: ReconcileReport = { enqueued: 0, redriven: 0, verifications: 0, cancellations: 0 };
  const open = await deps.requests.listByStatus(['received', 'in_progress', 'verifying'], { limit: 1000 });
  const minute = Math.floor(now / 60_000);
  const idle = (doc: PrivacyRequestDocument) => now - Date.parse(doc.updatedAt) >= stuckAfter;

  for (const doc of open) {
    if (doc.status === 'received') {
      if (!doc.enqueuedAt && now - Date.parse(doc.receivedAt) >= unsentAfter) {
        if (await enqueue(deps, doc.id)) report.enqueued += 1;
      } else if (doc.enqueuedAt && idle(doc)) {
        await deps.queue.send('privacy-requests', { messageId: `${doc.id}:reconcile:${minute}`, body: { requestId: doc.id, attempt: doc.attempts + 1 } });
        report.enqueued += 1;
      }
    } else if (doc.status === 'in_progress') {
      const stuck = doc.tasks.filter((t) => {
        const last = Date.parse(t.lastAttemptAt ?? t.nextAttemptAt ?? doc.startedAt ?? doc.updatedAt);
        if (t.status === 'running') return now - last >= stuckAfter;
        if (t.status === 'pending') return now - Date.parse(t.nextAttemptAt ?? doc.updatedAt) >= stuckAfter;
        return false;
      });
      if (stuck.length > 0) {
        await deps.queue.send(
          'erasure-tasks',
          stuck.map((t) => {
            const body: ErasureTaskMessage = { requestId: doc.id, store: t.store, attempt: t.attempts + 1, generation: t.generation };
            return { messageId: taskMessageId(body, `:reconcile:${minute}`), body, properties: { store: t.store } };
          }),
        );
        report.redriven += stuck.length;
        deps.telemetry.event('privacy.task.redriven', { tenantId: doc.tenantId, requestId: doc.id, stores: stuck.map((t) => t.store).join(',') });
      }
    } else if (doc.status === 'verifying' && idle(doc)) {
      await deps.queue.send('privacy-requests', { messageId: `${doc.id}:verify:reconcile:${minute}`, body: { requestId: doc.id, attempt: 1 } });
      report.verifications += 1;
    }
  }

  for (const tenantId of await cancelledTenants(deps)) {
    await advanceCancellation(deps, tenantId);
    report.cancellations += 1;
  }
  return report;
}
