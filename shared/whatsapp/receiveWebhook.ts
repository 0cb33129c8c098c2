import { META_CHANGE_FIELDS, META_MESSAGE_STATUSES, META_MESSAGE_TYPES, numericId, oneOf } from '../domain/allowList';
import { PHONE_NUMBER_ID } from '../tenants/tenant';
import { classifyFailure, isInputFailure } from '../failures';
import { MissingSecretError, type SecretProvider } from '../secrets/secretProvider';
import { ingestMessage, MessageInFlightError, type MessageOutcome } from './ingestMessage';
import { applyUserIdUpdate, applyUserPreference } from './identityEvents';
import { parseEntries, parseStatuses, parseWebhook, userIdUpdateSchema, userPreferenceSchema, type KnownMessage, type MessagesValue, type WebhookContactBlock } from './payload';
import { requireSecret } from '../secrets/secretProvider';
import type { WebhookDeps } from './ports';
import { sameText, verifySignature } from './signature';
import { checkProcessable, rejectMessage } from './unprocessable';

export interface DeliverySummary {
  messages: number;
  stored: number;
  duplicates: number;
  droppedAfterErasure: number;
  /** Arrived while an erasure of its subject was in flight: included in the erasure, nothing kept. */
  includedInErasure: number;
  privacyRequests: number;
  /** Ids of the privacy requests flow completions created (ids only: what an operator or the simulator follows). */
  privacyRequestIds: string[];
  ignored: number;
  /** Messages that can never be processed: counted, audited by keyed hash, skipped (the rest is stored). */
  rejected: number;
  statuses: number;
  unknownNumbers: number;
  /** Identity events applied: identifiers linked (system messages, `user_id_update`), `user_preferences`, revokes and edits. */
  identity: number;
}

export type WebhookResult =
  | { kind: 'accepted'; summary: DeliverySummary }
  | { kind: 'unauthorized'; reason: 'missing' | 'malformed' | 'mismatch' }
  | { kind: 'too-large'; maxBytes: number }
  | { kind: 'malformed'; field: string; message: string }
  /** A dependency failed: answer 5xx so Meta retries; what was done is kept and skipped on the retry. */
  | { kind: 'unavailable'; dependency: string; summary: DeliverySummary };

/**
 * POST /api/whatsapp/webhook: size, signature over the raw bytes, JSON, schema, then every message of
 * every change, in order. Nothing of the body is logged; telemetry carries ids, counts and enums only.
 */
export async function receiveWebhook(deps: WebhookDeps, input: { body: Buffer; signature: string | null; maxBytes: number }): Promise<WebhookResult> {
  const summary: DeliverySummary = { messages: 0, stored: 0, duplicates: 0, droppedAfterErasure: 0, includedInErasure: 0, privacyRequests: 0, privacyRequestIds: [], ignored: 0, rejected: 0, statuses: 0, unknownNumbers: 0, identity: 0 };
  if (input.body.length > input.maxBytes) return { kind: 'too-large', maxBytes: input.maxBytes };

  let check;
  try {
    check = await verifySignature(deps.secrets, input.body, input.signature);
  } catch (error) {
    return unavailable(deps, 'secrets', error, summary);
  }
  if (!check.ok) {
    if (check.reason === 'no-secret') {
      deps.telemetry.event('webhook.secret.missing', { secret: 'WHATSAPP_APP_SECRET' });
      return { kind: 'unavailable', dependency: 'secrets', summary };
    }
    deps.telemetry.event('webhook.signature.rejected', { reason: check.reason });
    return { kind: 'unauthorized', reason: check.reason };
  }
  if (check.secret === 'previous') deps.telemetry.metric('webhook.signature.previous_secret', 1);

  let json: unknown;
  try {
    json = JSON.parse(input.body.toString('utf8'));
  } catch {
    return { kind: 'malformed', field: '(body)', message: 'request body is not valid JSON' };
  }
  const parsed = parseWebhook(json);
  if (!parsed.ok) return { kind: 'malformed', field: parsed.field, message: parsed.message };

  for (const change of parsed.changes) {
    if (change.field === 'user_id_update' || change.field === 'user_preferences') {
      const failed = await ingestIdentityChange(deps, change, summary);
      if (failed) return unavailable(deps, failed.dependency, failed.error, summary);
      continue;
    }
    if (change.field !== 'messages') {
      deps.telemetry.metric('webhook.change.ignored', 1, { field: oneOf(change.name, META_CHANGE_FIELDS) });
      continue;
    }
    const failed = await ingestChange(deps, change.value, summary);
    if (failed) return unavailable(deps, failed.dependency, failed.error, summary);
  }
  return { kind: 'accepted', summary };
}

async function ingestChange(deps: WebhookDeps, value: MessagesValue, summary: DeliverySummary): Promise<{ dependency: string; error: unknown } | undefined> {
  const phoneNumberId = value.metadata.phone_number_id;
  let tenant;
  try {
    // An id that is not one Meta could issue names no tenant: not looked up (a 300 KB "id" is no store outage).
    tenant = PHONE_NUMBER_ID.test(phoneNumberId) ? await deps.tenants.findByPhoneNumberId(phoneNumberId) : undefined;
  } catch (error) {
    return { dependency: 'cosmos', error };
  }
  const messages = value.messages ?? [];
  const statuses = parseStatuses(value.statuses);
  if (!tenant || tenant.cancelledAt) {
    // Acknowledged so Meta stops retrying, dropped, counted. The phone number id is the business's, not a person's.
    summary.unknownNumbers += 1;
    deps.telemetry.metric('webhook.unknown_number', messages.length + statuses.length, { phoneNumberId: numericId(phoneNumberId), cancelled: Boolean(tenant?.cancelledAt) });
    return undefined;
  }

  // Status updates are counted, never stored: they say who read what, and the product does not need it.
  summary.statuses += statuses.length;
  for (const status of statuses) {
    deps.telemetry.metric('webhook.status', 1, { tenantId: tenant.id, status: oneOf(status.status, META_MESSAGE_STATUSES), errorCode: status.errors?.[0]?.code }); // a number (schema): an id
  }
  for (const error of value.errors ?? []) deps.telemetry.metric('webhook.error', 1, { tenantId: tenant.id, code: error.code }); // a number (schema)

  const contacts: WebhookContactBlock[] = value.contacts ?? [];
  // Within a delivery, oldest first (STOP then START in one batch ends opted in).
  const ordered = messages
    .map((message, index) => ({ message, index }))
    .sort((a, b) => timestampOf(a.message) - timestampOf(b.message) || a.index - b.index)
    .map((m) => m.message);
  for (const message of ordered) {
    summary.messages += 1;
    let outcome: MessageOutcome;
    try {
      if (message.type !== 'unknown' && message.type !== 'invalid') checkProcessable(message);
      outcome = await ingestMessage(deps, tenant, message, contacts, (id) => summary.privacyRequestIds.push(id));
    } catch (error) {
      // A message that fails for good costs only itself (./unprocessable.ts); anything else is an outage: 503.
      if (!isInputFailure(error) || message.type === 'unknown' || message.type === 'invalid') return { dependency: dependencyOf(error), error };
      try {
        outcome = await rejectMessage(deps, tenant, message, error);
      } catch (failure) {
        return { dependency: dependencyOf(failure), error: failure };
      }
    }
    count(summary, outcome);
    deps.telemetry.metric('webhook.message', 1, {
      tenantId: tenant.id,
      type: message.type === 'unknown' || message.type === 'invalid' ? `${message.type}:${oneOf(message.reportedType, META_MESSAGE_TYPES)}` : message.type,
      outcome,
    });
  }
  return undefined;
}

function count(summary: DeliverySummary, outcome: MessageOutcome): void {
  if (outcome === 'stored') summary.stored += 1;
  else if (outcome === 'duplicate') summary.duplicates += 1;
  else if (outcome === 'dropped-after-erasure') summary.droppedAfterErasure += 1;
  else if (outcome === 'included-in-erasure') summary.includedInErasure += 1;
  else if (outcome === 'privacy-request') summary.privacyRequests += 1;
  else if (outcome === 'rejected') summary.rejected += 1;
  else if (outcome === 'linked' || outcome === 'revoked' || outcome === 'edited') summary.identity += 1;
  else summary.ignored += 1;
}

function timestampOf(message: { type: string }): number {
  return 'timestamp' in message ? Number((message as KnownMessage).timestamp) : 0;
}

/**
 * A `user_id_update` (BSUIDs linked) or `user_preferences` (marketing stop / resume) change, entry by
 * entry; a malformed entry is skipped. A store failure answers 503 like a message's.
 */
async function ingestIdentityChange(
  deps: WebhookDeps,
  change: Extract<ReturnType<typeof parseWebhook>, { ok: true }>['changes'][number] & { field: 'user_id_update' | 'user_preferences' },
  summary: DeliverySummary,
): Promise<{ dependency: string; error: unknown } | undefined> {
  try {
    const tenant = await deps.tenants.findByPhoneNumberId(change.value.metadata.phone_number_id);
    if (!tenant || tenant.cancelledAt) {
      summary.unknownNumbers += 1;
      return undefined;
    }
    const hashKey = await requireSecret(deps.secrets, 'SUBJECT_HASH_KEY');
    const contacts = change.value.contacts ?? [];
    if (change.field === 'user_id_update') {
      for (const update of parseEntries(userIdUpdateSchema, change.value.user_id_update)) {
        if (await applyUserIdUpdate(deps, tenant, update, contacts, hashKey)) summary.identity += 1;
      }
    } else {
      for (const preference of parseEntries(userPreferenceSchema, change.value.user_preferences)) {
        if ((await applyUserPreference(deps, tenant, preference, contacts, hashKey)) === 'recorded') summary.identity += 1;
      }
    }
    deps.telemetry.metric('webhook.change', 1, { tenantId: tenant.id, field: change.field });
    return undefined;
  } catch (error) {
    return { dependency: dependencyOf(error), error };
  }
}

/**
 * What failed, for the 503 and its telemetry: the webhook's own steps (the message lease, a secret), else
 * the store the failure classifier (shared/failures) names, else `network` for a connection that failed
 * or timed out without saying where, else `unknown`. Any failure answers 503: Meta retries the delivery,
 * and what was done is skipped on the retry.
 */
function dependencyOf(error: unknown): string {
  if (error instanceof MessageInFlightError) return 'message-lease';
  if (error instanceof MissingSecretError) return 'secrets';
  const failure = classifyFailure(error);
  return failure.store ?? (failure.unanswered ? 'network' : 'unknown');
}

function unavailable(deps: WebhookDeps, dependency: string, error: unknown, summary: DeliverySummary): WebhookResult {
  const e = error as { name?: unknown; code?: unknown };
  deps.telemetry.event('webhook.unavailable', {
    dependency,
    error: typeof e.name === 'string' ? e.name.slice(0, 64) : 'unknown',
    code: typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code).slice(0, 32) : undefined,
  });
  return { kind: 'unavailable', dependency, summary };
}

export type HandshakeResult = { ok: true; challenge: string } | { ok: false };

/** GET /api/whatsapp/webhook: Meta's verification handshake. */
export async function verifyHandshake(secrets: SecretProvider, query: { mode: string | null; token: string | null; challenge: string | null }): Promise<HandshakeResult> {
  const expected = await secrets.get('WHATSAPP_VERIFY_TOKEN');
  if (expected === undefined || query.mode !== 'subscribe' || query.token === null || query.challenge === null) return { ok: false };
  if (!sameText(query.token, expected)) return { ok: false };
  return { ok: true, challenge: query.challenge };
}
