import { QUEUE_NAMES, type DeadLetterStore, type QueueName } from '../queue/queuePort';
import type { Telemetry } from '../telemetry/telemetry';

/**
 * The metric `queue.dead_lettered` {queue}: how many messages wait in each queue's dead-letter queue.
 * GET /api/health shows the same counts on demand; the metric lets an alert fire without anyone asking.
 * A queue whose count cannot be read is reported as such (event `queue.dead_lettered.unavailable`), never
 * as 0: a broken broker must not look like a healthy one.
 */
export async function reportDeadLetters(ports: { queue: DeadLetterStore; telemetry: Telemetry }): Promise<Partial<Record<QueueName, number>>> {
  const counts: Partial<Record<QueueName, number>> = {};
  for (const queue of QUEUE_NAMES) {
    try {
      const count = await ports.queue.countDeadLetters(queue);
      counts[queue] = count;
      ports.telemetry.metric('queue.dead_lettered', count, { queue });
    } catch (error) {
      ports.telemetry.event('queue.dead_lettered.unavailable', { queue, error: error instanceof Error ? error.name : 'error' });
    }
  }
  return counts;
}
