import { describe, expect, it } from 'vitest';
import { checkHealth } from '../../shared/health';
import { QUEUE_NAMES, readDeadLetterCounts, readDeadLetters, type DeadLetteredMessage, type QueueName } from '../../shared/queue';
import { reportDeadLetters } from '../../shared/retention';
import { RecordingTelemetry } from '../doubles';

/** A dead-letter store whose counts are given, and whose listed queues cannot be read. */
function store(counts: Partial<Record<QueueName, number>>, broken: QueueName[] = [], letters: DeadLetteredMessage[] = []) {
  return {
    countDeadLetters: async (queue: QueueName) => {
      if (broken.includes(queue)) throw Object.assign(new Error('namespace unreachable'), { name: 'ServiceBusError', code: 'ServiceCommunicationProblem' });
      return counts[queue] ?? 0;
    },
    peekDeadLetters: async (_queue: QueueName, max = 100) => letters.slice(0, max),
  };
}

const letter = (body: unknown): DeadLetteredMessage => ({
  messageId: 'm-1',
  body,
  deliveryCount: 10,
  enqueuedAt: new Date('2026-03-01T10:00:00Z'),
  deadLetteredAt: new Date('2026-03-01T10:05:00Z'),
  properties: {},
  reason: 'TaskFailed',
  description: 'hubspot: HubSpot answered 401 on contact search',
});

describe('the one dead-letter reader', () => {
  it('counts every queue, with the total', async () => {
    expect(await readDeadLetterCounts(store({ 'hubspot-sync': 2, 'erasure-tasks': 1 }))).toEqual({
      queues: { 'media-downloads': 0, 'hubspot-sync': 2, 'privacy-requests': 0, 'erasure-tasks': 1 },
      unavailable: [],
      total: 3,
    });
  });

  it('a queue whose count cannot be read is listed as unavailable, never counted as 0, and the caller hears why', async () => {
    const heard: [QueueName, string][] = [];
    const counts = await readDeadLetterCounts(store({ 'hubspot-sync': 2 }, ['erasure-tasks']), (queue, error) => heard.push([queue, (error as Error).name]));
    expect(counts).toEqual({ queues: { 'media-downloads': 0, 'hubspot-sync': 2, 'privacy-requests': 0 }, unavailable: ['erasure-tasks'], total: 2 });
    expect(heard).toEqual([['erasure-tasks', 'ServiceBusError']]);
  });

  it('peeks a queue with its reasons, and masks any field that could hold personal data', async () => {
    const peek = await readDeadLetters(store({ 'erasure-tasks': 1 }, [], [letter({ requestId: 'r-1', store: 'hubspot', waId: '447700900123', nested: { profile_name: 'Ada' } })]), 'erasure-tasks', 10);
    expect(peek).toEqual({
      queue: 'erasure-tasks',
      count: 1,
      messages: [
        {
          messageId: 'm-1',
          reason: 'TaskFailed',
          description: 'hubspot: HubSpot answered 401 on contact search',
          deliveryCount: 10,
          enqueuedAt: '2026-03-01T10:00:00.000Z',
          deadLetteredAt: '2026-03-01T10:05:00.000Z',
          body: { requestId: 'r-1', store: 'hubspot', waId: '[masked]', nested: { profile_name: '[masked]' } },
        },
      ],
    });
  });
});

describe('health, the metric and the admin route read the same counts', () => {
  const queue = store({ 'media-downloads': 4, 'privacy-requests': 1 }, ['hubspot-sync']);

  it('the deadline watch emits the readable counts as the metric and an event for the unreadable queue', async () => {
    const telemetry = new RecordingTelemetry();
    expect(await reportDeadLetters({ queue, telemetry })).toEqual((await readDeadLetterCounts(queue)).queues);
    expect(telemetry.metrics.map((m) => [m.dimensions.queue, m.value])).toEqual(QUEUE_NAMES.filter((q) => q !== 'hubspot-sync').map((q) => [q, q === 'media-downloads' ? 4 : q === 'privacy-requests' ? 1 : 0]));
    expect(telemetry.events).toEqual([{ name: 'queue.dead_lettered.unavailable', dimensions: { queue: 'hubspot-sync', error: 'ServiceBusError' } }]);
  });

  it('health shows the same counts, and the queue as down while one cannot be read', async () => {
    const report = await checkHealth({
      probes: { cosmos: async () => undefined, blob: async () => undefined },
      queue,
      secrets: { get: async () => 'a key' } as never,
    });
    expect(report.deadLetters).toEqual((await readDeadLetterCounts(queue)).queues);
    expect(report.dependencies.queue).toMatchObject({ status: 'down', error: 'ServiceCommunicationProblem' });
    expect(report.status).toBe('unhealthy');
  });
});
