import type { AuditEventInput } from '../audit/auditLog';
import { retryDelayMs, throttledDelayMs } from '../retry';
import { fencePerson, liftPersonFence, markPerson } from '../identity/person';
import { advanceCancellation } from './cancellation';
import type { PrivacyDeps } from './deps';
import { describeFailure } from './errors';
import type { PrivacyRequestDocument, PrivacyTask } from './privacyRequest';
import type { SubjectContext } from './registry';
import type { VersionedRequest } from './ports';
import { subjectOf } from './subject';
import { verifyErasure, type VerificationPass } from './verification';

/** Completed requests are records (CCPA: keep at least 24 months); they hold no personal data by then. */
export const REQUEST_RECORD_TTL_SECONDS = 761 * 86_400;

type Details = NonNullable<AuditEventInput['details']>;

/**
 * The last step of an erasure, once every task has confirmed: the verification pass (./verification.ts)
 * re-reads every store for the subject, with one re-run of the erasers that left something. Still
 * leftovers fail the request with the store named; a clean pass completes it (`completeErasure`).
 *
 * A store that cannot be read right now (HubSpot 5xx) reschedules the verification with backoff
 * through `privacy-requests` (`retryVerification`), so this never throws for a store failure.
 */
export async function verifyAndComplete(
  deps: PrivacyDeps,
  requestId: string,
  attempt = 1,
  /** The document as just read or written (not a copy kept from earlier: the side effects follow it). */
  known?: VersionedRequest,
  /** Reschedules so far because a store rate-limited the verification (not failed attempts). */
  rateLimited = 0,
): Promise<'completed' | 'failed' | 'rescheduled' | 'skipped'> {
  const doc = known?.doc ?? (await deps.requests.get(requestId));
  if (!doc || doc.status !== 'verifying') return 'skipped';
  let subject: SubjectContext;
  let pass: VerificationPass;
  try {
    subject = await subjectOf(deps, doc);
    pass = await verifyErasure(deps, doc, subject);
  } catch (error) {
    return retryVerification(deps, doc, error, attempt, rateLimited);
  }

  const verification = { checkedAt: deps.clock.now().toISOString(), reruns: pass.reruns, leftovers: Object.fromEntries(Object.entries(pass.leftovers).filter(([, n]) => n > 0)) as Record<string, number> };
  const left = Object.entries(verification.leftovers);
  if (left.length > 0) {
    const [store, count] = left[0]!;
    await deps.requests.mutate(requestId, (d) => (d.status === 'verifying' ? { ...d, verification } : undefined));
    await failRequest(deps, requestId, store, `verification found ${count} item(s) left in ${store} after a re-run of the erasure`);
    return 'failed';
  }
  return completeErasure(deps, pass.current, subject, verification, pass.current === doc ? known : undefined);
}

/**
 * A verification that could not read a store: rescheduled with backoff while attempts last (a 429 is not
 * a failed attempt: under a long burst of erasures it must not use up the attempts and fail a request
 * that is fine); then, or at once for a permanent failure, the request fails.
 */
async function retryVerification(deps: PrivacyDeps, doc: PrivacyRequestDocument, error: unknown, attempt: number, rateLimited: number): Promise<'failed' | 'rescheduled'> {
  const requestId = doc.id;
  const failure = describeFailure(error, 'Flowkeeper', 'verification');
  const slowDown = failure.kind === 'throttled' && rateLimited < deps.retry.maxRateLimited;
  if (slowDown || (failure.kind !== 'permanent' && attempt < deps.retry.maxAttempts)) {
    const next = slowDown ? { attempt, rateLimited: rateLimited + 1 } : { attempt: attempt + 1, rateLimited };
    const delay = slowDown
      ? throttledDelayMs(deps.retry, failure.retryAfterMs, deps.random)
      : retryDelayMs(deps.retry, { failures: attempt, retryAfterMs: failure.retryAfterMs, random: deps.random });
    await deps.queue.send('privacy-requests', {
      messageId: `${requestId}:verify:${doc.tasks.reduce((n, t) => n + t.generation, 0)}:retry${next.attempt}${slowDown ? `:rl${next.rateLimited}` : ''}`,
      body: { requestId, ...next },
      scheduledAt: new Date(deps.clock.now().getTime() + delay),
    });
    deps.telemetry.event('privacy.verification.rescheduled', { tenantId: doc.tenantId, requestId, attempt, rateLimited: next.rateLimited });
    return 'rescheduled';
  }
  await failRequest(deps, requestId, 'verification', failure.reason);
  return 'failed';
}

/**
 * A clean verification: the tombstone and the audit event, then the request completed with its subject
 * reference wiped and its open-request lock released, then the fence lifted (the tombstone has taken
 * over by then), and last the optional confirmation to the subject: a reply to it is dated after the
 * erasure, a new relationship, and nothing the erasure covered can arrive after "completed".
 */
async function completeErasure(
  deps: PrivacyDeps,
  current: PrivacyRequestDocument,
  subject: SubjectContext,
  verification: NonNullable<PrivacyRequestDocument['verification']>,
  known: VersionedRequest | undefined,
): Promise<'completed' | 'skipped'> {
  const requestId = current.id;
  const completedAt = deps.clock.now();
  const totalMs = completedAt.getTime() - Date.parse(current.receivedAt);
  // The tombstone and the audit event before the status: once the subject reference is wiped nothing
  // could write the tombstone any more, and a crash in between repeats the event rather than loses it.
  // Under every identifier of the person (the verification read it; any linked since: markPerson reads again).
  const tombstone = markPerson(
    deps,
    current.tenantId,
    [current.subjectHash, ...subject.subjectHashes],
    'tombstone',
    { ttlSeconds: -1, data: { erasedAt: completedAt.toISOString(), requestId, scope: current.scope } },
    subject.subjectHashes,
  );
  const round = current.tasks.reduce((n, t) => n + t.generation, 0);
  const audited = deps.audit.record({
    tenantId: current.tenantId,
    type: 'privacy.erasure.completed',
    subjectHash: current.subjectHash,
    requestId,
    // A request completes once per round of tasks (a retry raises a generation): a verification that
    // runs twice (a redelivered message, two instances) writes one event.
    idempotencyKey: `${requestId}:erasure-completed:${round}`,
    details: {
      type: current.type,
      scope: current.scope,
      channel: current.channel,
      receivedAt: current.receivedAt,
      dueAt: current.dueAt,
      totalMs,
      reruns: verification.reruns,
      ...taskDetails(current.tasks),
    },
  });
  await Promise.all([tombstone, audited]);
  const finished = await finish(
    deps,
    requestId,
    (d) => (d.status === 'verifying' ? { ...d, status: 'completed', completedAt: completedAt.toISOString(), verification } : undefined),
    known,
    { releaseLock: false },
  );
  if (!finished) return 'skipped'; // a concurrent verification of the same request finished it first
  deps.telemetry.event('privacy.request.completed', { tenantId: current.tenantId, type: current.type, channel: current.channel, latencyMs: totalMs, requestId });
  await deps.requests.releaseOpenLock(finished.openKey, requestId, finished.openLockEtag);
  await liftFenceOf(deps, current);
  if (subject.tenant.confirmErasureByMessage) {
    const sent = await deps.confirmations.send(subject.tenant, subject);
    await deps.audit.record({
      tenantId: current.tenantId,
      type: 'privacy.erasure.confirmation',
      subjectHash: current.subjectHash,
      requestId,
      idempotencyKey: `${requestId}:erasure-confirmation:${round}`,
      details: { confirmationSent: sent, channel: current.channel },
    });
  }
  // An account cancellation moves on as its erasures complete (the reconciler also advances it).
  if (subject.tenant.cancelledAt) await advanceCancellation(deps, current.tenantId);
  return 'completed';
}

/**
 * This erasure's fence comes down. Another erasure of the subject still open (another scope) keeps the
 * subject fenced: its fence is written again, in case this one had overwritten it.
 */
async function liftFenceOf(deps: PrivacyDeps, request: PrivacyRequestDocument): Promise<void> {
  // Under every identifier of the person, as it was written (shared/identity).
  await liftPersonFence(deps, request.tenantId, [request.subjectHash, ...(request.subjectHashes ?? [])], request.id);
  const others = await deps.requests.listForSubject(request.tenantId, request.subjectHash, { type: 'erasure', limit: 20 });
  const open = others.find((r) => r.id !== request.id && (r.status === 'received' || r.status === 'in_progress' || r.status === 'verifying' || r.status === 'failed'));
  if (open) await fencePerson(deps, open.tenantId, [open.subjectHash, ...(open.subjectHashes ?? [])], { requestId: open.id, since: open.receivedAt, scope: open.scope });
}

/**
 * Marks a finished request: status, the subject reference and store refs wiped, kept as a record only.
 * Returns the document when this call finished it (undefined when `change` declined: already finished).
 */
export async function finish(
  deps: PrivacyDeps,
  requestId: string,
  change: (doc: PrivacyRequestDocument) => PrivacyRequestDocument | undefined,
  known?: VersionedRequest,
  options: { releaseLock?: boolean } = {},
): Promise<PrivacyRequestDocument | undefined> {
  const result = await deps.requests.mutate(
    requestId,
    (doc) => {
      const next = change(doc);
      if (!next) return undefined;
      delete next.subjectRef;
      delete next.rectificationRef;
      next.tasks = next.tasks.map(({ refs: _refs, ...task }) => task);
      return { ...next, ttl: REQUEST_RECORD_TTL_SECONDS };
    },
    known,
  );
  if (!result?.changed) return undefined;
  if (options.releaseLock !== false) await deps.requests.releaseOpenLock(result.doc.openKey, requestId, result.doc.openLockEtag);
  return result.doc;
}

/**
 * The request failed: status `failed` with the failing store and a readable reason, audited, with a
 * telemetry event the alert rules watch. The subject reference stays (encrypted) so a retry can
 * re-drive the request from the failed step.
 */
export async function failRequest(deps: PrivacyDeps, requestId: string, store: string, reason: string, changeTask?: (task: PrivacyTask) => PrivacyTask): Promise<PrivacyRequestDocument | undefined> {
  const now = deps.clock.now().toISOString();
  const result = await deps.requests.mutate(requestId, (doc) => {
    if (doc.status === 'completed' || doc.status === 'failed') return undefined;
    return {
      ...doc,
      status: 'failed',
      failedAt: now,
      failure: { store, reason },
      tasks: changeTask ? doc.tasks.map((t) => (t.store === store ? changeTask(t) : t)) : doc.tasks,
    };
  });
  if (!result?.changed) return result?.doc;
  const doc = result.doc;
  await deps.requests.releaseOpenLock(doc.openKey, requestId, doc.openLockEtag);
  await deps.audit.record({
    tenantId: doc.tenantId,
    type: 'privacy.request.failed',
    subjectHash: doc.subjectHash,
    requestId,
    details: { type: doc.type, scope: doc.scope, store, reason, ...taskDetails(doc.tasks) },
  });
  deps.telemetry.event('privacy.request.failed', { tenantId: doc.tenantId, requestId, type: doc.type, store });
  return doc;
}

/** Per-store counts, attempts and timings, flat (audit details hold scalars only). */
export function taskDetails(tasks: readonly PrivacyTask[]): Details {
  const details: Details = {};
  for (const t of tasks) {
    details[`${t.store}.status`] = t.status;
    details[`${t.store}.found`] = t.counts.found;
    details[`${t.store}.deleted`] = t.counts.deleted;
    details[`${t.store}.attempts`] = t.attempts;
    if (t.durationMs !== undefined) details[`${t.store}.durationMs`] = t.durationMs;
    if (t.note) details[`${t.store}.note`] = t.note;
  }
  return details;
}
