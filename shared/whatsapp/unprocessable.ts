import { identifierHashOf, type TenantId } from '../domain/ids';
import { senderOf } from './sender';
import { nestedDeeperThan } from '../domain/nesting';
import { InputFailure, inputFailureReason } from '../failures';
import { requireSecret } from '../secrets/secretProvider';
import type { Tenant } from '../tenants/tenant';
import { messageKeyOf, SEEN_MESSAGE_TTL_SECONDS } from './ingestMessage';
import type { KnownMessage } from './payload';
import type { WebhookDeps } from './ports';

/**
 * A message that can never be processed costs only itself. Meta retries a delivery that is not answered
 * 200 for up to 7 days, so one such message answered with 503 would keep every other message of its
 * delivery out for a week. Instead it is counted (`webhook.message.rejected`), audited by keyed hash with
 * the reason (`webhook.message.rejected`: subject hash and message key, never content), remembered as
 * seen (a retry of the delivery skips it), and the rest of the delivery is stored: Meta gets 200.
 *
 * What "never" means is the one failure classifier's (shared/failures, `isInputFailure`): the checks
 * below, a store refusing the one document (400, 413), an engine error on the input. A store outage is
 * not: it still answers 503 so Meta retries.
 */

/**
 * How deep a message may nest. Meta's richest message (a shared contact card: contacts[].phones[].phone)
 * is 4 levels deep and a flow's answers are a JSON string (bounded apart, 32 levels: flowCompletion.ts).
 * Anything deeper is not a WhatsApp message, and storing it would overflow the stack.
 */
export const MAX_MESSAGE_DEPTH = 32;

/** Checks that need no store: an InputFailure for a message that cannot be processed, before anything is written. */
export function checkProcessable(message: KnownMessage): void {
  const at = Number(message.timestamp) * 1000;
  // Meta's timestamp is Unix seconds; "99999999999999" is beyond any date (a Date holds ±8.64e15 ms).
  if (!Number.isFinite(at) || Math.abs(at) > 8.64e15) throw new InputFailure('timestamp');
  if (nestedDeeperThan(message, MAX_MESSAGE_DEPTH)) throw new InputFailure('too-deep');
}

/**
 * Records a message that failed for good (by the classifier's reading of `error`) and skips it. Throws
 * only when recording fails (a store is down): then the delivery answers 503 and the retry rejects again.
 */
export async function rejectMessage(deps: WebhookDeps, tenant: Tenant, message: KnownMessage, error: unknown): Promise<'rejected' | 'ignored'> {
  const sender = senderOf(message);
  if (sender === undefined) return 'ignored';
  const reason = inputFailureReason(error);
  const hashKey = await requireSecret(deps.secrets, 'SUBJECT_HASH_KEY');
  const tenantId: TenantId = tenant.id;
  const messageKey = messageKeyOf(hashKey, tenantId, message.id);
  deps.telemetry.metric('webhook.message.rejected', 1, { tenantId, type: message.type, reason });
  await deps.audit.record({
    tenantId,
    type: 'webhook.message.rejected',
    subjectHash: identifierHashOf(hashKey, tenantId, sender.primary),
    details: { reason, messageType: message.type, messageKey },
    idempotencyKey: `message-rejected-${messageKey}`,
  });
  // Remembered like a processed message: Meta's retry of this delivery (another message's outage) skips it.
  await deps.markers.put('seen-message', tenantId, messageKey, { ttlSeconds: SEEN_MESSAGE_TTL_SECONDS });
  return 'rejected';
}
