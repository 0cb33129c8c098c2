import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditEventInput } from '../audit/auditLog';
import type { TenantId } from '../domain/ids';
import { QUEUE_NAMES, type DeadLetterStore, type QueueName } from '../queue/queuePort';
import type { Telemetry } from '../telemetry/telemetry';
import { EVENT_NAMES } from './names';

/**
 * Dead letters for operators: counts per queue, what is waiting (reason, description, ids), and a
 * replay that sends them back to their queue. Queue messages carry ids and keyed hashes only; the view
 * still masks any field whose name says it could hold personal data, so a bug elsewhere does not
 * become a second copy of a phone number on an operator's screen.
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

export interface DeadLetterCounts {
  queues: Partial<Record<QueueName, number>>;
  /** Queues whose count could not be read: reported as such, never as 0. */
  unavailable: QueueName[];
  total: number;
}

export async function countDeadLetters(queue: DeadLetterStore): Promise<DeadLetterCounts> {
  const result: DeadLetterCounts = { queues: {}, unavailable: [], total: 0 };
  const counts = await Promise.allSettled(QUEUE_NAMES.map(async (name) => [name, await queue.countDeadLetters(name)] as const));
  counts.forEach((settled, i) => {
    if (settled.status === 'fulfilled') {
      result.queues[settled.value[0]] = settled.value[1];
      result.total += settled.value[1];
    } else {
      result.unavailable.push(QUEUE_NAMES[i]!);
    }
  });
  return result;
}

export interface DeadLetterView {
  messageId: string;
  reason: string;
  description: string;
  deliveryCount: number;
  enqueuedAt: string;
  deadLetteredAt: string;
  body: unknown;
}

export async function showDeadLetters(queue: DeadLetterStore, name: QueueName, max: number): Promise<{ queue: QueueName; count: number; messages: DeadLetterView[] }> {
  const [messages, count] = await Promise.all([queue.peekDeadLetters(name, max), queue.countDeadLetters(name)]);
  return {
    queue: name,
    count,
    messages: messages.map((m) => ({
      messageId: m.messageId,
      reason: m.reason,
      description: m.description,
      deliveryCount: m.deliveryCount,
      enqueuedAt: m.enqueuedAt.toISOString(),
      deadLetteredAt: m.deadLetteredAt.toISOString(),
      body: masked(m.body),
    })),
  };
}

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

/** Field names that could only hold personal data; a message body should never have them. */
const PERSONAL_FIELD = /^(wa_?id|phone(number)?|msisdn|e164|name|profile_?name|text|body|answers?|content)$/i;

function masked(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[nested]';
  if (Array.isArray(value)) return value.map((v) => masked(v, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, PERSONAL_FIELD.test(key) ? '[masked]' : masked(v, depth + 1)]),
  );
}
