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
 * A replay concerns every tenant at once, so its audit event goes to the operations partition
 * (`tenantId: flowkeeper-operations`), with the operator's object id as actor.
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

export async function replayDeadLetters(ports: ReplayPorts, name: QueueName, max: number, actor: string): Promise<{ queue: QueueName; replayed: number; remaining: number }> {
  const replayed = await ports.queue.replayDeadLetters(name, max);
  await ports.audit.record({
    tenantId: OPERATIONS_AUDIT_TENANT,
    type: 'queue.dead-letters.replayed',
    actor,
    details: { queue: name, replayed, max },
  });
  ports.telemetry.event(EVENT_NAMES.deadLettersReplayed, { queue: name, count: replayed });
  return { queue: name, replayed, remaining: await ports.queue.countDeadLetters(name) };
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
