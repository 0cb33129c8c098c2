import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditEventInput } from '../audit/auditLog';
import type { TenantId } from '../domain/ids';
import { QUEUE_NAMES, type DeadLetterStore, type QueueName } from '../queue/queuePort';
import type { Telemetry } from '../telemetry/telemetry';
import { EVENT_NAMES } from './names';

/**
 * Dead letters for operators: the replay that sends them back to their queue, and the schemas of the
 * routes' parameters. Counting and reading them is the one reader's (shared/queue/deadLetterReader.ts).
 *
 * A replay concerns every tenant at once, so its audit events go to the operations partition
 * (`tenantId: flowkeeper-operations`), with the operator's object id as actor (see replayDeadLetters).
 */
export const OPERATIONS_AUDIT_TENANT = 'flowkeeper-operations' as TenantId;

export const queueNameSchema = z.enum(QUEUE_NAMES, { error: `must be one of ${QUEUE_NAMES.join(', ')}` });

export const deadLetterQuerySchema = z
  .object({
    max: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(100),
  });

/** POST /api/dead-letters/{queue}/replay?max=&dryRun=true */
export const replayQuerySchema = deadLetterQuerySchema.extend({
  dryRun: z.enum(['true', 'false'], { error: 'must be true or false' }).optional().transform((v) => v === 'true'),
});

/** What a replay does with one dead letter (decided by shared/privacy/deadLetterTriage.ts for the privacy queues). */
export type ReplayVerdict = { action: 'resend' } | { action: 'redrive'; requestId: string } | { action: 'stale' } | { action: 'keep'; why: string };

export interface ReplayPorts {
  queue: DeadLetterStore;
  audit: { record(input: AuditEventInput): Promise<unknown> };
  telemetry: Telemetry;
  /** Decides each dead letter; without it every one is resent. */
  triage?: (queue: QueueName, body: unknown) => Promise<ReplayVerdict>;
  /** Re-drives a failed privacy request (the retry use case), before its dead letter is completed. */
  redrive?: (requestId: string) => Promise<void>;
}

export interface ReplayResult {
  queue: QueueName;
  /** A dry run: what a replay would do now; nothing was moved, re-driven or audited. */
  dryRun: boolean;
  /** What the `replay-requested` audit event announced: the dead letters counted, at most `max`. */
  requested: number;
  /** Copies sent back to the queue (their originals completed). */
  replayed: number;
  /** Dead letters of failed privacy requests: the request re-driven, the dead letter completed. */
  redriven: number;
  /** Nothing left to do (request completed or gone, an earlier generation): completed without a resend. */
  stale: number;
  /** Left in the dead-letter queue (a body that can never run): for an operator to look at. */
  kept: number;
  remaining: number;
  /** Whether the final count reached the audit log; the request to replay always did (or nothing moved). */
  countAudited: boolean;
}

type Tally = Pick<ReplayResult, 'replayed' | 'redriven' | 'stale' | 'kept'>;

/**
 * Replays up to `max` dead letters of a queue so that the dead-letter queue ends up empty: each original
 * is completed (Service Bus Explorer's resend leaves it in the dead-letter queue, so the queue never
 * empties and the alerts stay fired). Each dead letter is triaged first: resent, re-driven (a failed privacy
 * request goes through the retry use case, which sends fresh task messages, and the dead letter is
 * completed: resending it as it is would fail again), completed as stale, or kept. A dry run (`dryRun`)
 * peeks and triages only: nothing moves and nothing is audited.
 *
 * Audited first: the `queue.dead-letters.replay-requested` event ("replay requested: N messages of queue
 * Q", N = the dead letters counted, at most `max`) is written before anything moves. If it cannot be
 * written (Cosmos DB down), the error escapes and nothing is replayed: the route answers 503 and the dead
 * letters stay where they are, so an operator action never happens without a trail.
 *
 * The count stays honest with a second event, `queue.dead-letters.replayed`, carrying what was done
 * (replayed, redriven, stale, kept):
 * - the move is bounded by the announced N, so a dead letter arriving meanwhile is never moved unannounced;
 * - fewer than N handled (another replay took some) adds `requested` and `shortfall` to its details;
 * - a move that fails half-way records `queue.dead-letters.replay-failed` with the dead letters still
 *   there (best effort: the queue may be what failed) and rethrows; the unsettled ones stay;
 * - the final event failing (Cosmos DB went down during the move) cannot undo the move, so the answer is
 *   still the result, with `countAudited: false`: a 503 would invite a retry of a replay already done.
 * The events of one replay share their id stem (`dead-letter-replay-<uuid>`, suffixed `.replayed` /
 * `.failed`), so they can be paired. None of them holds a message body or message id: counts only.
 */
export async function replayDeadLetters(ports: ReplayPorts, name: QueueName, max: number, actor: string, options: { dryRun?: boolean } = {}): Promise<ReplayResult> {
  const dryRun = options.dryRun === true;
  const count = await ports.queue.countDeadLetters(name);
  const requested = Math.min(count, max);
  const triage = ports.triage ?? (async () => ({ action: 'resend' }) as const);
  const tally: Tally = { replayed: 0, redriven: 0, stale: 0, kept: 0 };
  // Two dead letters of one failed request: the first re-drives it, the second is then stale.
  const redriven = new Set<string>();
  const verdictOf = async (body: unknown): Promise<ReplayVerdict> => {
    const verdict = await triage(name, body);
    return verdict.action === 'redrive' && redriven.has(verdict.requestId) ? { action: 'stale' } : verdict;
  };
  const count1 = (verdict: ReplayVerdict) => {
    if (verdict.action === 'resend') tally.replayed += 1;
    else if (verdict.action === 'redrive') tally.redriven += 1;
    else if (verdict.action === 'stale') tally.stale += 1;
    else tally.kept += 1;
  };

  if (dryRun) {
    for (const message of requested > 0 ? await ports.queue.peekDeadLetters(name, requested) : []) {
      const verdict = await verdictOf(message.body);
      if (verdict.action === 'redrive') redriven.add(verdict.requestId);
      count1(verdict);
    }
    return { queue: name, dryRun, requested, ...tally, remaining: count, countAudited: false };
  }

  const replayId = `dead-letter-replay-${randomUUID()}`;
  const event = (type: string, suffix: string, details: AuditEventInput['details']): AuditEventInput => ({
    tenantId: OPERATIONS_AUDIT_TENANT,
    type,
    actor,
    details,
    idempotencyKey: `${replayId}${suffix}`,
  });
  await ports.audit.record(event('queue.dead-letters.replay-requested', '', { queue: name, requested, max }));

  try {
    if (requested > 0) {
      await ports.queue.settleDeadLetters(name, requested, async (message) => {
        const verdict = await verdictOf(message.body);
        if (verdict.action === 'redrive') {
          if (!ports.redrive) throw new Error('a failed request cannot be re-driven here');
          await ports.redrive(verdict.requestId); // first: the dead letter goes only once the request runs again
          redriven.add(verdict.requestId);
        }
        count1(verdict);
        return verdict.action === 'resend' ? 'resend' : verdict.action === 'keep' ? 'keep' : 'complete';
      });
    }
  } catch (error) {
    const remaining = await ports.queue.countDeadLetters(name).catch(() => null);
    await ports.audit.record(event('queue.dead-letters.replay-failed', '.failed', { queue: name, requested, max, remaining, ...tally })).catch(() => undefined);
    throw error;
  }

  const handled = tally.replayed + tally.redriven + tally.stale + tally.kept;
  const shortfall = requested - handled;
  let countAudited = true;
  try {
    await ports.audit.record(event('queue.dead-letters.replayed', '.replayed', { queue: name, ...tally, max, ...(shortfall > 0 ? { requested, shortfall } : {}) }));
  } catch {
    countAudited = false;
  }
  ports.telemetry.event(EVENT_NAMES.deadLettersReplayed, { queue: name, count: tally.replayed, redriven: tally.redriven, stale: tally.stale, kept: tally.kept, ...(countAudited ? {} : { countAudited: false }) });
  return { queue: name, dryRun, requested, ...tally, remaining: await ports.queue.countDeadLetters(name), countAudited };
}
