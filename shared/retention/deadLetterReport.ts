import { readDeadLetterCounts } from '../queue/deadLetterReader';
import type { DeadLetterStore, QueueName } from '../queue/queuePort';
import type { Telemetry } from '../telemetry/telemetry';

/**
 * The metric `queue.dead_lettered` {queue}: how many messages wait in each queue's dead-letter queue,
 * as the one dead-letter reader counts them. GET /api/health shows the same counts on demand; the metric
 * lets an alert fire without anyone asking. A queue whose count cannot be read is reported as such
 * (event `queue.dead_lettered.unavailable`, with the error's class only), never as 0.
 */
export async function reportDeadLetters(ports: { queue: Pick<DeadLetterStore, 'countDeadLetters'>; telemetry: Telemetry }): Promise<Partial<Record<QueueName, number>>> {
  const counts = await readDeadLetterCounts(ports.queue, (queue, error) => {
    ports.telemetry.event('queue.dead_lettered.unavailable', { queue, error: error instanceof Error ? error.name : 'error' });
  });
  for (const [queue, count] of Object.entries(counts.queues)) ports.telemetry.metric('queue.dead_lettered', count, { queue });
  return counts.queues;
}
