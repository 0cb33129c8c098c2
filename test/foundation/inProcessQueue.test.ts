import { afterEach, describe, expect, it } from 'vitest';
import { DeadLetterError, InProcessQueue, type ReceivedMessage } from '../../shared/queue';
import { eventually } from '../support/testServices';
import { ManualClock } from '../doubles';

let queue: InProcessQueue;
afterEach(async () => {
  await queue?.close();
});

describe('in-process queue keeps Service Bus semantics', () => {
  it('peek-lock: a message being handled is not delivered to another consumer, and is removed on success', async () => {
    queue = new InProcessQueue();
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    queue.subscribe('erasure-tasks', async (m) => {
      seen.push(`a:${m.messageId}`);
      await gate;
    });
    queue.subscribe('erasure-tasks', async (m) => {
      seen.push(`b:${m.messageId}`);
    });
    await queue.send('erasure-tasks', { messageId: 'm1', body: { requestId: 'r1' } });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(1);
    release();
    await eventually(() => queue.pending('erasure-tasks') === 0 || undefined);
    expect(seen).toHaveLength(1);
  });

  it('a handler that throws gets the message again with a growing delivery count', async () => {
    queue = new InProcessQueue();
    const counts: number[] = [];
    queue.subscribe('media-downloads', async (m) => {
      counts.push(m.deliveryCount);
      if (m.deliveryCount < 3) throw new Error('transient');
    });
    await queue.send('media-downloads', { body: { mediaId: '1' } });
    await eventually(() => (counts.length === 3 ? true : undefined));
    await eventually(() => queue.pending() === 0 || undefined);
    expect(counts).toEqual([1, 2, 3]);
    expect(await queue.countDeadLetters('media-downloads')).toBe(0);
  });

  it("after the max delivery count the message is dead-lettered with Service Bus' own reason and description (the broker never sees the error)", async () => {
    queue = new InProcessQueue({ maxDeliveryCount: 4 });
    let deliveries = 0;
    queue.subscribe('hubspot-sync', async () => {
      deliveries += 1;
      throw new Error('HubSpot answered 500');
    });
    await queue.send('hubspot-sync', { messageId: 'x', body: { id: 'x' }, properties: { store: 'hubspot' } });
    const [dead] = await eventually(async () => ((await queue.countDeadLetters('hubspot-sync')) === 1 ? queue.peekDeadLetters('hubspot-sync') : undefined));
    expect(deliveries).toBe(4);
    expect(dead).toMatchObject({ messageId: 'x', reason: 'MaxDeliveryCountExceeded', deliveryCount: 4, body: { id: 'x' }, properties: { store: 'hubspot' } });
    expect(dead!.description).toBe('Message could not be consumed after 4 delivery attempts.');
    expect(dead!.description).not.toContain('HubSpot answered 500');
  });

  it('a DeadLetterError is settled as the Functions host settles any thrown error: abandoned, redelivered until the max delivery count, then dead-lettered', async () => {
    queue = new InProcessQueue();
    const deliveries: number[] = [];
    queue.subscribe('erasure-tasks', async (message) => {
      deliveries.push(message.deliveryCount);
      throw new DeadLetterError('TaskFailed', 'hubspot: 6 attempts failed');
    });
    await queue.send('erasure-tasks', { body: {} });
    const dead = await eventually(async () => (await queue.peekDeadLetters('erasure-tasks'))[0]);
    expect(deliveries).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(dead).toMatchObject({ reason: 'MaxDeliveryCountExceeded', description: 'Message could not be consumed after 10 delivery attempts.', deliveryCount: 10 });
  });

  it('a scheduled message is not delivered before its time', async () => {
    const clock = new ManualClock(new Date('2026-03-01T10:00:00Z'));
    queue = new InProcessQueue({ clock });
    const received: ReceivedMessage[] = [];
    queue.subscribe('erasure-tasks', async (m) => {
      received.push(m);
    });
    await queue.send('erasure-tasks', { body: { n: 1 }, scheduledAt: new Date('2026-03-01T10:00:30Z') });
    queue.tick();
    await new Promise((r) => setTimeout(r, 30));
    expect(received).toHaveLength(0);
    clock.advance(30_000);
    queue.tick();
    await eventually(() => (received.length === 1 ? true : undefined));
    expect(received[0]!.body).toEqual({ n: 1 });
  });

  it('a scheduled message arrives on its own when its time comes (real clock)', async () => {
    queue = new InProcessQueue();
    const at: number[] = [];
    queue.subscribe('erasure-tasks', async () => {
      at.push(Date.now());
    });
    const sent = Date.now();
    await queue.send('erasure-tasks', { body: {}, scheduledAt: new Date(sent + 150) });
    await eventually(() => (at.length === 1 ? true : undefined));
    expect(at[0]! - sent).toBeGreaterThanOrEqual(140);
  });

  it('a scheduled message still arrives when another queue is busy the moment it falls due (the wake-up is not lost)', async () => {
    // Seen in the erasure end-to-end test about one run in six: a retry scheduled on erasure-tasks fell
    // due, a send to another queue came first and re-armed the single wake-up timer without it.
    const clock = new ManualClock(new Date('2026-03-01T10:00:00Z'));
    queue = new InProcessQueue({ clock });
    const received: string[] = [];
    queue.subscribe('erasure-tasks', async (m) => void received.push(m.messageId));
    queue.subscribe('privacy-requests', async (m) => void received.push(m.messageId));
    await queue.send('erasure-tasks', { messageId: 'retry', body: {}, scheduledAt: new Date('2026-03-01T10:00:00.050Z') });
    clock.advance(50); // due now; its wake-up timer has not run yet
    await queue.send('privacy-requests', { messageId: 'other', body: {} });
    await eventually(() => (received.includes('retry') ? true : undefined), 2000, 'the scheduled message');
    expect(received.sort()).toEqual(['other', 'retry']);
  });

  it('duplicate detection drops a second message with the same id inside the window, not after it', async () => {
    const clock = new ManualClock();
    queue = new InProcessQueue({ clock, duplicateDetectionWindowMs: 60_000 });
    const bodies: unknown[] = [];
    queue.subscribe('privacy-requests', async (m) => {
      bodies.push(m.body);
    });
    await queue.send('privacy-requests', { messageId: 'req-1', body: 1 });
    await queue.send('privacy-requests', { messageId: 'req-1', body: 2 });
    await eventually(() => (bodies.length === 1 ? true : undefined));
    clock.advance(61_000);
    await queue.send('privacy-requests', { messageId: 'req-1', body: 3 });
    await eventually(() => (bodies.length === 2 ? true : undefined));
    expect(bodies).toEqual([1, 3]);
  });

  it('a handler that outlives its lock loses the message to a redelivery, and its late completion is ignored', async () => {
    queue = new InProcessQueue({ lockDurationMs: 50 });
    const deliveries: number[] = [];
    queue.subscribe('erasure-tasks', async (m) => {
      deliveries.push(m.deliveryCount);
      if (m.deliveryCount === 1) await new Promise((r) => setTimeout(r, 150));
    });
    await queue.send('erasure-tasks', { body: {} });
    await eventually(() => (deliveries.length === 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    expect(deliveries).toEqual([1, 2]);
    expect(queue.pending()).toBe(0);
  });

  it('messages are copies: a handler mutating the body does not change a redelivery', async () => {
    queue = new InProcessQueue();
    const seen: unknown[] = [];
    queue.subscribe('erasure-tasks', async (m) => {
      seen.push(structuredClone(m.body));
      (m.body as { n: number }).n = 99;
      if (m.deliveryCount === 1) throw new Error('again');
    });
    await queue.send('erasure-tasks', { body: { n: 1 } });
    await eventually(() => (seen.length === 2 ? true : undefined));
    expect(seen).toEqual([{ n: 1 }, { n: 1 }]);
  });

  it('dead letters can be replayed to their queue with a fresh delivery count', async () => {
    queue = new InProcessQueue({ maxDeliveryCount: 1 });
    let fail = true;
    const ok: number[] = [];
    queue.subscribe('erasure-tasks', async (m) => {
      if (fail) throw new Error('down');
      ok.push(m.deliveryCount);
    });
    await queue.send('erasure-tasks', [{ body: 1 }, { body: 2 }]);
    await eventually(async () => ((await queue.countDeadLetters('erasure-tasks')) === 2 ? true : undefined));
    fail = false;
    expect(await queue.replayDeadLetters('erasure-tasks')).toBe(2);
    await eventually(() => (ok.length === 2 ? true : undefined));
    expect(ok).toEqual([1, 1]);
    expect(await queue.countDeadLetters('erasure-tasks')).toBe(0);
  });
});
