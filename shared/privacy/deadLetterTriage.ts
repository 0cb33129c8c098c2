import type { QueueName } from '../queue/queuePort';
import type { PrivacyDeps } from './deps';
import { erasureTaskMessageSchema, privacyRequestMessageSchema } from './privacyRequest';

/**
 * What a dead-letter replay should do with one dead letter, decided on the request document as it is now:
 * - `resend`: a copy goes back to the queue (the work is still wanted and would run);
 * - `redrive`: the message belongs to a failed privacy request; resending it would fail again at once
 *   (a failed task's messages are refused by design), so the request is re-driven through the retry use
 *   case (fresh attempts, a new generation, new task messages) and the dead letter itself is completed;
 * - `stale`: nothing left to do (the request completed, was removed, or the message is of an earlier
 *   generation or a finished task): completed without a resend;
 * - `keep`: it cannot run as it is (a body that is not a message of this queue): left for an operator.
 * Only privacy queues are decided here; a media download or a HubSpot sync is resent.
 */
export type DeadLetterVerdict =
  | { action: 'resend' }
  | { action: 'redrive'; requestId: string }
  | { action: 'stale' }
  | { action: 'keep'; why: string };

export async function triageDeadLetter(deps: Pick<PrivacyDeps, 'requests'>, queue: QueueName, body: unknown): Promise<DeadLetterVerdict> {
  if (queue === 'erasure-tasks') {
    const message = erasureTaskMessageSchema.safeParse(body);
    if (!message.success) return { action: 'keep', why: 'not an erasure-tasks message' };
    const doc = await deps.requests.get(message.data.requestId);
    if (!doc || doc.status === 'completed') return { action: 'stale' };
    if (doc.status === 'failed') return { action: 'redrive', requestId: doc.id };
    const task = doc.tasks.find((t) => t.store === message.data.store);
    const wanted = doc.status === 'in_progress' && task && task.generation === message.data.generation && (task.status === 'pending' || task.status === 'running');
    return wanted ? { action: 'resend' } : { action: 'stale' };
  }
  if (queue === 'privacy-requests') {
    const message = privacyRequestMessageSchema.safeParse(body);
    if (!message.success) return { action: 'keep', why: 'not a privacy-requests message' };
    const doc = await deps.requests.get(message.data.requestId);
    if (!doc || doc.status === 'completed') return { action: 'stale' };
    if (doc.status === 'failed') return { action: 'redrive', requestId: doc.id };
    return { action: 'resend' };
  }
  return { action: 'resend' };
}
