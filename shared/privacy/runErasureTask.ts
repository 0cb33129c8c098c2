import { DeadLetterError } from '../queue/queuePort';
import { retryDelayMs, throttledDelayMs } from '../retry';
import { failRequest, verifyAndComplete } from './completion';
import type { PrivacyDeps } from './deps';
import { describeFailure, type Failure } from './errors';
import { erasureTaskMessageSchema, type ErasureTaskMessage, type PrivacyRequestDocument, type PrivacyTask } from './privacyRequest';
import type { ErasureOutcome } from './registry';
import type { VersionedRequest } from './ports';
import { subjectOf } from './subject';

export type TaskOutcome = 'done' | 'rescheduled' | 'ignored';

/** The message id of a task's delivery: duplicate detection drops a second send of the same attempt. */
export function taskMessageId(message: ErasureTaskMessage, suffix = ''): string {
  return `${message.requestId}:${message.store}:${message.generation}:${message.attempt}${suffix}`;
}

/**
 * One store's part of an erasure (an `erasure-tasks` message: `{requestId, store, attempt, generation}`).
 *
 * The task is claimed in the request document (etag-guarded), the store's eraser runs, and the result
 * is recorded; the task that completes the set moves the request to `verifying` and runs the
 * verification. Failures: a 429 is rescheduled after Retry-After; a transient failure is rescheduled
 * with exponential backoff and jitter until `maxAttempts`; then, or at once for a permanent failure,
 * the task and the request are `failed` and the message is dead-lettered with a readable reason.
 *
 * Messages of an earlier generation (before an admin retry), for a finished task, or for a request that
 * is no longer running are stale and completed without effect.
 */
export async function runErasureTask(deps: PrivacyDeps, body: unknown): Promise<TaskOutcome> {
  const parsed = erasureTaskMessageSchema.safeParse(body);
  if (!parsed.success) throw new DeadLetterError('InvalidMessage', 'an erasure-tasks message must be {requestId, store, attempt, generation}');
  const message = parsed.data;
  const now = deps.clock.now();

  const claimTask = (doc: PrivacyRequestDocument): PrivacyRequestDocument | undefined => {
    const task = doc.tasks.find((t) => t.store === message.store);
    if (doc.status !== 'in_progress' || !task || task.generation !== message.generation) return undefined;
    if (task.status === 'done' || task.status === 'failed') return undefined;
    // An early copy while a later attempt is scheduled (a re-sent message): the scheduled one will come.
    if (task.status === 'pending' && task.nextAttemptAt && Date.parse(task.nextAttemptAt) > now.getTime() + 1000 && message.attempt <= task.attempts) return undefined;
    startAttempt(doc, task, now);
    task.status = 'running';
    return doc;
  };

  const read = await deps.requests.readForStep(message.requestId);
  if (!read) return 'ignored';
  if (!claimTask(structuredClone(read.doc))) return settleStale(deps, read, message);

  // Most store steps take tens of milliseconds. The claim ("running", one more attempt) is written only
  // for a step still running after CLAIM_AFTER_MS: an operator sees what hangs, and the fast path costs
  // one write instead of two (and fewer etag conflicts between the tasks of one request).
  const claiming: { promise?: Promise<(VersionedRequest & { changed: boolean }) | undefined> } = {};
  const timer = setTimeout(() => {
    claiming.promise = deps.requests.mutate(message.requestId, claimTask, read);
    claiming.promise.catch(() => undefined); // awaited below
  }, CLAIM_AFTER_MS);
  let outcome: ErasureOutcome | undefined;
  let failed: { error: unknown } | undefined;
  try {
    const subject = await subjectOf(deps, read.doc);
    outcome = await deps.registry.get(message.store).eraseSubject(subject, read.doc.scope);
  } catch (error) {
    failed = { error };
  } finally {
    clearTimeout(timer);
  }
  const claim = claiming.promise ? await claiming.promise : undefined;
  if (claiming.promise && !claim?.changed) return claim ? settleStale(deps, claim, message) : 'ignored';
  const claimed = claim !== undefined;

  if (failed || !outcome) {
    if (failed?.error instanceof DeadLetterError) throw failed.error;
    return handleFailure(deps, message, describeFailure(failed?.error, message.store, 'erasure'), claimed, now);
  }
  const result = outcome;
  const finishedAt = deps.clock.now();
  const recorded = await deps.requests.mutate(
    message.requestId,
    (doc) => {
      const task = doc.tasks.find((t) => t.store === message.store);
      // Recorded also when another store failed the request meanwhile: a retry must not redo this store.
      if (!['in_progress', 'failed'].includes(doc.status) || !task || task.generation !== message.generation || task.status === 'done') return undefined;
      if (!claimed) startAttempt(doc, task, now);
      task.status = 'done';
      task.counts = { found: result.found, deleted: result.deleted };
      if (result.refs) task.refs = result.refs;
      task.finishedAt = finishedAt.toISOString();
      task.durationMs = finishedAt.getTime() - Date.parse(task.startedAt ?? finishedAt.toISOString());
      if (doc.status === 'in_progress' && doc.tasks.every((t) => t.status === 'done')) doc.status = 'verifying';
      return doc;
    },
    claim ?? read,
  );
  if (recorded?.changed && recorded.doc.status === 'verifying') {
    // The verification runs on the privacy-requests trigger: it has workers of its own, so store tasks
    // do not queue behind verifications (and a crash here leaves a message, not a gap). One message id
    // per round of tasks (a retry raises a generation): duplicate detection must not drop the next one.
    const round = recorded.doc.tasks.reduce((n, t) => n + t.generation, 0);
    await deps.queue.send('privacy-requests', { messageId: `${message.requestId}:verify:${round}`, body: { requestId: message.requestId, attempt: 1 } });
  }
  return 'done';
}

/** A step still running after this long is marked `running` in the request document. */
const CLAIM_AFTER_MS = 1000;

/** What the claim would have written, for a step that finished before it was claimed. */
function startAttempt(doc: PrivacyRequestDocument, task: PrivacyTask, at: Date): void {
  task.attempts += 1;
  task.startedAt ??= at.toISOString();
  task.lastAttemptAt = at.toISOString();
  delete task.nextAttemptAt;
  doc.startedAt ??= at.toISOString();
}

/**
 * A message that found nothing to do. Under the Functions host a dead-letter cannot be asked for, so a
 * redelivered message of a failed task fails again until the broker dead-letters it; a message that
 * arrives while the request verifies (a redelivery after a crash) runs the verification.
 */
async function settleStale(deps: PrivacyDeps, current: VersionedRequest, message: ErasureTaskMessage): Promise<TaskOutcome> {
  const doc = current.doc;
  const task = doc.tasks.find((t) => t.store === message.store);
  if (doc.status === 'failed' && task?.status === 'failed' && task.generation === message.generation) {
    throw new DeadLetterError('TaskFailed', `${message.store}: ${task.lastError ?? doc.failure?.reason ?? 'failed'}`);
  }
  if (doc.status === 'verifying') await verifyAndComplete(deps, doc.id, 1, await deps.requests.read(doc.id)); // decided on the stored document
  return 'ignored';
}

async function handleFailure(deps: PrivacyDeps, message: ErasureTaskMessage, failure: Failure, claimed: boolean, startedAt: Date): Promise<TaskOutcome> {
  const now = deps.clock.now();
  const policy = deps.retry;
  let next: { delayMs: number; attempt: number; suffix: string } | undefined;
  let final = false;
  const recorded = await deps.requests.mutate(message.requestId, (doc) => {
    next = undefined;
    final = false;
    const task = doc.tasks.find((t) => t.store === message.store);
    if (doc.status !== 'in_progress' || !task || task.generation !== message.generation) return undefined;
    if (claimed ? task.status !== 'running' : task.status === 'done' || task.status === 'failed') return undefined;
    if (!claimed) startAttempt(doc, task, startedAt);
    task.lastError = failure.reason;
    if (failure.kind === 'throttled' && task.rateLimited < policy.maxRateLimited) {
      // The store asked us to slow down: that is not a failed attempt.
      task.attempts = Math.max(0, task.attempts - 1);
      task.rateLimited += 1;
      next = { delayMs: throttledDelayMs(policy, failure.retryAfterMs, deps.random), attempt: message.attempt, suffix: `:rl${task.rateLimited}` };
    } else if (failure.kind !== 'permanent' && task.attempts < policy.maxAttempts) {
      next = { delayMs: retryDelayMs(policy, { failures: task.attempts, retryAfterMs: failure.retryAfterMs, random: deps.random }), attempt: task.attempts + 1, suffix: '' };
    }
    if (!next) {
      final = true; // recorded by failRequest below
      return undefined;
    }
    task.status = 'pending';
    task.nextAttemptAt = new Date(now.getTime() + next.delayMs).toISOString();
    return doc;
  });
  if (!recorded || (!recorded.changed && !final)) return 'ignored';

  if (next) {
    const retry: ErasureTaskMessage = { ...message, attempt: next.attempt };
    await deps.queue.send('erasure-tasks', {
      messageId: taskMessageId(retry, next.suffix),
      body: retry,
      scheduledAt: new Date(now.getTime() + next.delayMs),
      properties: { store: message.store },
    });
    deps.telemetry.event('privacy.task.rescheduled', { tenantId: recorded.doc.tenantId, requestId: message.requestId, store: message.store, attempt: next.attempt, delayMs: next.delayMs });
    return 'rescheduled';
  }

  const finishedAt = now.toISOString();
  await failRequest(deps, message.requestId, message.store, failure.reason, (task) => {
    const failedTask = { ...task, status: 'failed' as const, lastError: failure.reason, finishedAt };
    if (!claimed && task.status !== 'running') {
      failedTask.attempts += 1;
      failedTask.startedAt ??= startedAt.toISOString();
      failedTask.lastAttemptAt = startedAt.toISOString();
    }
    return failedTask;
  });
  throw new DeadLetterError('TaskFailed', `${message.store}: ${failure.reason}`);
}
