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

export interface ReplayPorts {
  queue: DeadLetterStore;
  audit: { record(input: AuditEventInput): Promise<unknown> };
  telemetry: Telemetry;
}

export interface ReplayResult {
  queue: QueueName;
  /** What the `replay-requested` audit event announced: the dead letters counted, at most `max`. */
  requested: number;
  replayed: number;
  remaining: number;
  /** Whether the final count reached the audit log; the request to replay always did (or nothing moved). */
  countAudited: boolean;
}

/**
 * Replays up to `max` dead letters of a queue, audited first: the `queue.dead-letters.replay-requested`
 * event ("replay requested: N messages of queue Q", N = the dead letters counted, at most `max`) is written
 * before anything moves. If it cannot be written (Cosmos DB down), the error escapes and nothing is
 * replayed: the route answers 503 and the dead letters stay where they are, so an operator action never
 * happens without a trail.
 *
 * The count stays honest with a second event, `queue.dead-letters.replayed`, carrying what was moved:
 * - the move is bounded by the announced N, so a dead letter arriving meanwhile is never moved unannounced;
 * - fewer than N (another replay took some, a receive came back empty early) adds `requested` and
 *   `shortfall` to that event's details (they are left out when all N moved, which keeps the event's
 *   usual shape `{queue, replayed, max}`);
 * - a move that fails half-way records `queue.dead-letters.replay-failed` with the dead letters still
 *   there (best effort: the queue may be what failed) and rethrows;
 * - the final event failing (Cosmos DB went down during the move) cannot undo the move, so the answer is
 *   still the result, with `countAudited: false`: a 503 would invite a retry of a replay already done. The
 *   trail then holds the requested event, an upper bound of what moved.
 * The events of one replay share their id stem (`dead-letter-replay-<uuid>`, suffixed `.replayed` /
 * `.failed`), so they can be paired. None of them holds a message body or message id: counts only.
 */
export async function replayDeadLetters(ports: ReplayPorts, name: QueueName, max: number, actor: string): Promise<ReplayResult> {
  const requested = Math.min(await ports.queue.countDeadLetters(name), max);
  const replayId = `dead-letter-replay-${randomUUID()}`;
  const event = (type: string, suffix: string, details: AuditEventInput['details']): AuditEventInput => ({
    tenantId: OPERATIONS_AUDIT_TENANT,
    type,
    actor,
    details,
    idempotencyKey: `${replayId}${suffix}`,
  });
  await ports.audit.record(event('queue.dead-letters.replay-requested', '', { queue: name, requested, max }));

  let replayed: number;
  try {
    replayed = requested > 0 ? await ports.queue.replayDeadLetters(name, requested) : 0;
  } catch (error) {
    const remaining = await ports.queue.countDeadLetters(name).catch(() => null);
    await ports.audit.record(event('queue.dead-letters.replay-failed', '.failed', { queue: name, requested, max, remaining })).catch(() => undefined);
    throw error;
  }

  const shortfall = requested - replayed;
  let countAudited = true;
  try {
    await ports.audit.record(event('queue.dead-letters.replayed', '.replayed', { queue: name, replayed, max, ...(shortfall > 0 ? { requested, shortfall } : {}) }));
  } catch {
    countAudited = false;
  }
  ports.telemetry.event(EVENT_NAMES.deadLettersReplayed, { queue: name, count: replayed, ...(countAudited ? {} : { countAudited: false }) });
  return { queue: name, requested, replayed, remaining: await ports.queue.countDeadLetters(name), countAudited };
}
