import { fencePerson } from '../identity/person';
import { DeadLetterError } from '../queue/queuePort';
import { retryDelayMs, throttledDelayMs } from '../retry';
import { failRequest, verifyAndComplete } from './completion';
import type { PrivacyDeps } from './deps';
import { carryOutDirectRequest } from './directRequests';
import { describeFailure } from './errors';
import { privacyRequestMessageSchema, type ErasureTaskMessage, type PrivacyRequestDocument, type PrivacyTask } from './privacyRequest';
import type { VersionedRequest } from './ports';
import { taskMessageId } from './runErasureTask';
import { subjectHashesOf } from './subject';

export type ProcessOutcome = 'planned' | 'completed' | 'failed' | 'rescheduled' | 'verified' | 'ignored';

/**
 * A `privacy-requests` message (`{requestId, attempt}`). For an erasure it plans: the registry decides
 * which stores the scope reaches, one task each (a store that does not apply to the tenant is done at
 * once with a note), and one `erasure-tasks` message per pending task goes out. Access, rectification,
 * restriction and objection are carried out here directly. A request in `verifying` (a rescheduled
 * verification) is verified.
 */
export async function processPrivacyRequest(deps: PrivacyDeps, body: unknown): Promise<ProcessOutcome> {
  const parsed = privacyRequestMessageSchema.safeParse(body);
  if (!parsed.success) throw new DeadLetterError('InvalidMessage', 'a privacy-requests message must be {requestId}');
  const { requestId, attempt, rateLimited } = parsed.data;
  try {
    return await processParsed(deps, requestId, attempt, rateLimited);
  } catch (error) {
    if (error instanceof DeadLetterError || attempt >= deps.retry.maxAttempts) throw error;
    // A store outage (Cosmos unavailable for a moment): back off and come again, instead of spending the
    // broker's ten deliveries in milliseconds and leaving the request to the reconciler. If even the send
    // fails, the original error goes to the host and the message is redelivered.
    await deps.queue.send('privacy-requests', {
      // Unique per send: after an admin retry the attempts count from 1 again, and duplicate detection
      // must not take the new message for the old one.
      messageId: `${requestId}:outage:${attempt + 1}:${deps.clock.now().getTime()}`,
      body: { requestId, attempt: attempt + 1, rateLimited },
      scheduledAt: new Date(deps.clock.now().getTime() + retryDelayMs(deps.retry, { failures: attempt, random: deps.random })),
    });
    deps.telemetry.event('privacy.request.rescheduled', { requestId, attempt, reason: error instanceof Error ? error.name : 'error' });
    return 'rescheduled';
  }
}

async function processParsed(deps: PrivacyDeps, requestId: string, attempt: number, rateLimited: number): Promise<ProcessOutcome> {
  const read = await deps.requests.readForStep(requestId);
  if (!read) return 'ignored';
  const doc = read.doc;
  if (doc.status === 'verifying') {
    // The completion's side effects (confirmation, tombstone, audit event) come before its guarded
    // write: they are decided on the stored document, never on a copy in hand.
    const result = await verifyAndComplete(deps, requestId, attempt, await deps.requests.read(requestId), rateLimited);
    return result === 'skipped' ? 'ignored' : result === 'completed' ? 'verified' : result;
  }
  if (doc.status === 'in_progress') {
    // Planned before, but the task messages may not have gone out (a crash after the write): send again.
    await sendTaskMessages(deps, doc, doc.tasks.filter((t) => t.status === 'pending' && t.attempts === 0 && !t.nextAttemptAt));
    return 'ignored';
  }
  if (doc.status !== 'received') return 'ignored';
  return doc.type === 'erasure' ? plan(deps, read) : direct(deps, doc, attempt, rateLimited);
}

async function plan(deps: PrivacyDeps, read: VersionedRequest): Promise<ProcessOutcome> {
  const doc = read.doc;
  const tenant = await deps.recentTenants.get(doc.tenantId);
  if (!tenant) {
    await failRequest(deps, doc.id, 'request', 'the tenant no longer exists');
    return 'failed';
  }
  const now = deps.clock.now().toISOString();
  // The person: every identifier linked to the one the request names (shared/identity), recorded.
  const subjectHashes = await subjectHashesOf(deps, doc);
  // Before any store is touched: from here on, whatever arrives for any identifier of the person is
  // included in this erasure (written again in case the write at creation failed; a failure here
  // retries the planning).
  await fencePerson(deps, doc.tenantId, subjectHashes, { requestId: doc.id, since: doc.receivedAt, scope: doc.scope }, subjectHashes);
  const tasks: PrivacyTask[] = await Promise.all(
    deps.registry.storesFor(doc.scope).map(async (store): Promise<PrivacyTask> => {
      const note = store.notApplicable(tenant);
      const empty = !note && store.holdsNothing ? await store.holdsNothing({ tenantId: doc.tenantId, subjectHash: doc.subjectHash, subjectHashes }) : false;
      const done = { status: 'done' as const, counts: { found: 0, deleted: 0 }, startedAt: now, finishedAt: now, durationMs: 0 };
      const base = { store: store.name, attempts: 0, generation: 0, rateLimited: 0 };
      if (note) return { ...base, ...done, note };
      if (empty) return { ...base, ...done, note: 'nothing held (checked at planning)' };
      return { ...base, status: 'pending', counts: { found: 0, deleted: 0 } };
    }),
  );
  const planned = await deps.requests.mutate(
    doc.id,
    (d) => {
      if (d.status !== 'received') return undefined;
      const allDone = tasks.every((t) => t.status === 'done');
      return { ...d, status: allDone ? 'verifying' : 'in_progress', startedAt: d.startedAt ?? now, tasks, subjectHashes };
    },
    read,
  );
  if (!planned?.changed) return 'ignored';
  if (planned.doc.status === 'verifying') {
    await verifyAndComplete(deps, doc.id, 1, planned);
    return 'completed';
  }
  await sendTaskMessages(deps, planned.doc, planned.doc.tasks.filter((t) => t.status === 'pending'));
  return 'planned';
}

export async function sendTaskMessages(deps: PrivacyDeps, doc: PrivacyRequestDocument, tasks: readonly PrivacyTask[]): Promise<void> {
  if (tasks.length === 0) return;
  await deps.queue.send(
    'erasure-tasks',
    tasks.map((t) => {
      const body: ErasureTaskMessage = { requestId: doc.id, store: t.store, attempt: t.attempts + 1, generation: t.generation };
      return { messageId: taskMessageId(body), body, properties: { store: t.store } };
    }),
  );
}

/** Access, rectification, restriction, objection: carried out here, retried with backoff like a task. */
async function direct(deps: PrivacyDeps, doc: PrivacyRequestDocument, attempt: number, rateLimited: number): Promise<ProcessOutcome> {
  const now = deps.clock.now().toISOString();
  const claimed = await deps.requests.mutate(doc.id, (d) => (d.status === 'received' ? { ...d, attempts: d.attempts + 1, startedAt: d.startedAt ?? now } : undefined));
  if (!claimed?.changed) return 'ignored';
  try {
    await carryOutDirectRequest(deps, claimed.doc);
    return 'completed';
  } catch (error) {
    const failure = describeFailure(error, 'Flowkeeper', doc.type);
    // Message ids name this claim (its write time): after an admin retry the attempts count from 1 again.
    const run = Date.parse(claimed.doc.updatedAt);
    if (failure.kind === 'throttled' && rateLimited < deps.retry.maxRateLimited) {
      // The store asked us to slow down: not a failed attempt (as for a store task), so no attempt is spent.
      await deps.requests.mutate(doc.id, (d) => (d.status === 'received' ? { ...d, attempts: Math.max(0, d.attempts - 1) } : undefined), claimed);
      await deps.queue.send('privacy-requests', {
        messageId: `${doc.id}:${run}:${attempt}:rl${rateLimited + 1}`,
        body: { requestId: doc.id, attempt, rateLimited: rateLimited + 1 },
        scheduledAt: new Date(deps.clock.now().getTime() + throttledDelayMs(deps.retry, failure.retryAfterMs, deps.random)),
      });
      return 'rescheduled';
    }
    const attempts = claimed.doc.attempts;
    if (failure.kind !== 'permanent' && attempts < deps.retry.maxAttempts) {
      const delay = retryDelayMs(deps.retry, { failures: attempts, retryAfterMs: failure.retryAfterMs, random: deps.random });
      await deps.queue.send('privacy-requests', {
        messageId: `${doc.id}:${run}:${attempt + 1}`,
        body: { requestId: doc.id, attempt: attempt + 1, rateLimited },
        scheduledAt: new Date(deps.clock.now().getTime() + delay),
      });
      return 'rescheduled';
    }
    await failRequest(deps, doc.id, failure.store ?? 'request', failure.reason);
    throw new DeadLetterError('RequestFailed', `${doc.type}: ${failure.reason}`);
  }
}
