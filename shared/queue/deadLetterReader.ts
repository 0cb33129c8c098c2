import { QUEUE_NAMES, type DeadLetterStore, type QueueName } from './queuePort';

/**
 * The one reader of dead letters: the counts per queue (GET /api/health, GET /api/dead-letters, the
 * `queue.dead_lettered` metric of the deadline watch) and what waits in one queue, with its reasons
 * (GET /api/dead-letters/{queue}, the CLI).
 *
 * A queue whose count cannot be read is reported as such, never as 0: a broken broker must not look like
 * a healthy one. Queue messages carry ids and keyed hashes only; the view still masks any field whose
 * name says it could hold personal data, so a bug elsewhere does not become a second copy of a phone
 * number on an operator's screen.
 */
export interface DeadLetterCounts {
  queues: Partial<Record<QueueName, number>>;
  /** Queues whose count could not be read: reported as such, never as 0. */
  unavailable: QueueName[];
  total: number;
}

/** Every queue's dead-letter count, read at once; `onUnavailable` hears of each queue that could not be read. */
export async function readDeadLetterCounts(
  store: Pick<DeadLetterStore, 'countDeadLetters'>,
  onUnavailable?: (queue: QueueName, error: unknown) => void,
): Promise<DeadLetterCounts> {
  const result: DeadLetterCounts = { queues: {}, unavailable: [], total: 0 };
  const counts = await Promise.allSettled(QUEUE_NAMES.map((name) => store.countDeadLetters(name)));
  counts.forEach((settled, i) => {
    const queue = QUEUE_NAMES[i]!;
    if (settled.status === 'fulfilled') {
      result.queues[queue] = settled.value;
      result.total += settled.value;
    } else {
      result.unavailable.push(queue);
      onUnavailable?.(queue, settled.reason);
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

export interface DeadLetterPeek {
  queue: QueueName;
  count: number;
  messages: DeadLetterView[];
}

/** Up to `max` dead letters of a queue (oldest first, not removed), with the queue's count. */
export async function readDeadLetters(store: Pick<DeadLetterStore, 'countDeadLetters' | 'peekDeadLetters'>, queue: QueueName, max: number): Promise<DeadLetterPeek> {
  const [messages, count] = await Promise.all([store.peekDeadLetters(queue, max), store.countDeadLetters(queue)]);
  return {
    queue,
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
