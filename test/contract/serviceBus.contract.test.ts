/**
 * Contract tests of the Service Bus adapter (shared/queue/serviceBusQueue.ts) through the Queue port, against a
 * real broker: Microsoft's Service Bus emulator in CI (.github/workflows/ci.yml, job servicebus-contract), or any
 * namespace you point them at. They check the semantics the in-process queue imitates
 * (test/foundation/inProcessQueue.test.ts): send and complete, scheduled delivery, duplicate detection by message
 * id, abandon and redelivery with a growing delivery count, dead-lettering after the max delivery count (10, as in
 * infra/modules/serviceBus.bicep), peeking and counting the dead-letter queue, and replaying it.
 *
 * Which broker:
 * - SERVICEBUS_CONTRACT_CONNECTION: any connection string; used as given (these tests send, receive, dead-letter
 *   and replay on the four queues, so never point it at a namespace with real traffic);
 * - otherwise SERVICEBUS_CONNECTION, but only when it is the emulator's (UseDevelopmentEmulator=true), so a
 *   developer's real namespace is never used by accident.
 * Without either, the suite is reported as skipped, with the reason in its name and on stderr.
 */
import { randomUUID } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterError, ServiceBusQueue, type QueueName, type ReceivedMessage } from '../../shared/queue';

function brokerConnection(): { connection?: string; reason: string } {
  const dedicated = process.env.SERVICEBUS_CONTRACT_CONNECTION?.trim();
  if (dedicated) return { connection: dedicated, reason: 'SERVICEBUS_CONTRACT_CONNECTION' };
  const app = process.env.SERVICEBUS_CONNECTION?.trim();
  if (app && /UseDevelopmentEmulator=true/i.test(app)) return { connection: app, reason: 'SERVICEBUS_CONNECTION (the emulator)' };
  if (app) return { reason: 'SERVICEBUS_CONNECTION is set but is not the emulator (UseDevelopmentEmulator=true); set SERVICEBUS_CONTRACT_CONNECTION to run against it on purpose' };
  return { reason: 'no broker: set SERVICEBUS_CONTRACT_CONNECTION, or SERVICEBUS_CONNECTION to the emulator (test/contract/servicebus-emulator/docker-compose.yml)' };
}

const { connection, reason } = brokerConnection();
if (!connection) process.stderr.write(`\n[contract] Service Bus contract tests SKIPPED: ${reason}.\n\n`);

const TITLE = connection
  ? `Service Bus adapter contract, against the broker of ${reason}`
  : `Service Bus adapter contract: SKIPPED (${reason})`;

/** Waits until `probe` returns a value, polling. */
async function until<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!connection)(TITLE, () => {
  let queue: ServiceBusQueue;
  let raw: ServiceBusClient;
  const run = randomUUID().slice(0, 8);

  /** Removes whatever earlier runs left in a queue and its dead-letter queue (test set-up, not the subject). */
  async function empty(name: QueueName): Promise<void> {
    for (const subQueueType of [undefined, 'deadLetter'] as const) {
      const receiver = raw.createReceiver(name, { receiveMode: 'receiveAndDelete', ...(subQueueType ? { subQueueType } : {}) });
      for (;;) {
        const batch = await receiver.receiveMessages(100, { maxWaitTimeInMs: 500 });
        if (batch.length === 0) break;
      }
      await receiver.close();
    }
  }

  /** Subscribes, collects what arrives for this run, and stops on demand. */
  function collect(name: QueueName, handler: (m: ReceivedMessage) => Promise<void> = async () => {}) {
    const received: ReceivedMessage[] = [];
    const stop = queue.subscribe(name, async (m) => {
      if ((m.properties.run ?? (m.body as { run?: string } | null)?.run) !== run) return;
      received.push(m);
      await handler(m);
    });
    return { received, stop };
  }

  beforeAll(async () => {
    queue = new ServiceBusQueue({ connectionString: connection! });
    raw = new ServiceBusClient(connection!);
    for (const name of ['media-downloads', 'hubspot-sync', 'privacy-requests', 'erasure-tasks'] as const) await empty(name);
  }, 60_000);

  afterAll(async () => {
    await queue?.close();
    await raw?.close();
  });

  it('delivers a sent message once, with its body, id and properties, and completes it', async () => {
    const id = `send-${run}`;
    const { received, stop } = collect('media-downloads');
    await queue.send('media-downloads', { messageId: id, body: { run, mediaId: 'm-1' }, properties: { run, tenantId: 't-1' } });
    const [message] = await until(() => (received.length > 0 ? received : undefined), 15_000, 'the message');
    await new Promise((r) => setTimeout(r, 1500)); // a redelivery would show up here
    await stop();
    expect(received).toHaveLength(1);
    expect(message).toMatchObject({ messageId: id, body: { run, mediaId: 'm-1' }, deliveryCount: 1, properties: { run, tenantId: 't-1' } });
    expect(await queue.countDeadLetters('media-downloads')).toBe(0);
  }, 60_000);

  it('delivers a scheduled message no earlier than its time', async () => {
    const { received, stop } = collect('hubspot-sync');
    const sent = Date.now();
    await queue.send('hubspot-sync', { messageId: `scheduled-${run}`, body: { run }, scheduledAt: new Date(sent + 4000), properties: { run } });
    await until(() => (received.length > 0 ? true : undefined), 30_000, 'the scheduled message');
    const arrived = Date.now();
    await stop();
    expect(arrived - sent).toBeGreaterThanOrEqual(3500);
  }, 60_000);

  it('drops a second message with the same id inside the duplicate-detection window', async () => {
    const { received, stop } = collect('privacy-requests');
    const id = `dup-${run}`;
    await queue.send('privacy-requests', { messageId: id, body: { run, n: 1 }, properties: { run } });
    await queue.send('privacy-requests', { messageId: id, body: { run, n: 2 }, properties: { run } });
    await until(() => (received.length > 0 ? true : undefined), 15_000, 'the first message');
    await new Promise((r) => setTimeout(r, 3000));
    await stop();
    expect(received.map((m) => m.body)).toEqual([{ run, n: 1 }]);
  }, 60_000);

  it('redelivers a message whose handler threw, with a growing delivery count', async () => {
    const counts: number[] = [];
    const { stop } = collect('erasure-tasks', async (m) => {
      counts.push(m.deliveryCount);
      if (m.deliveryCount < 3) throw new Error('transient');
    });
    await queue.send('erasure-tasks', { messageId: `retry-${run}`, body: { run }, properties: { run } });
    await until(() => (counts.length >= 3 ? true : undefined), 30_000, 'three deliveries');
    await new Promise((r) => setTimeout(r, 1500));
    await stop();
    expect(counts).toEqual([1, 2, 3]);
    expect(await queue.countDeadLetters('erasure-tasks')).toBe(0);
  }, 60_000);

  it('dead-letters a message after the max delivery count (10), where it can be peeked and counted, then replays it', async () => {
    const id = `poison-${run}`;
    let deliveries = 0;
    const failing = collect('erasure-tasks', async () => {
      deliveries += 1;
      throw new Error('HubSpot answered 500');
    });
    await queue.send('erasure-tasks', { messageId: id, body: { run, task: 'hubspot' }, properties: { run, store: 'hubspot' } });
    await until(async () => ((await queue.countDeadLetters('erasure-tasks')) === 1 ? true : undefined), 45_000, 'the message in the dead-letter queue');
    await failing.stop();
    expect(deliveries).toBe(10);
    const [dead] = await queue.peekDeadLetters('erasure-tasks');
    expect(dead).toMatchObject({ messageId: id, reason: 'MaxDeliveryCountExceeded', deliveryCount: 10, body: { run, task: 'hubspot' }, properties: { run, store: 'hubspot' } });

    // Replay: back on the queue with a fresh delivery count, gone from the dead-letter queue.
    const healthy = collect('erasure-tasks');
    expect(await queue.replayDeadLetters('erasure-tasks')).toBe(1);
    const [replayed] = await until(() => (healthy.received.length > 0 ? healthy.received : undefined), 15_000, 'the replayed message');
    await healthy.stop();
    expect(replayed).toMatchObject({ body: { run, task: 'hubspot' }, deliveryCount: 1, properties: { replayedFrom: id } });
    expect(await queue.countDeadLetters('erasure-tasks')).toBe(0);
  }, 120_000);

  it('settles dead letters one by one as decided: a resent one and a completed one leave the dead-letter queue, a kept one stays (and is not decided twice)', async () => {
    const failing = collect('hubspot-sync', async () => {
      throw new Error('worker bug');
    });
    const ids = ['resend', 'complete', 'keep'].map((k) => `settle-${k}-${run}`);
    await queue.send('hubspot-sync', ids.map((messageId) => ({ messageId, body: { run, messageId }, properties: { run } })));
    await until(async () => ((await queue.countDeadLetters('hubspot-sync')) === 3 ? true : undefined), 60_000, 'three dead letters');
    await failing.stop();
    const decided: string[] = [];
    const healthy = collect('hubspot-sync');
    const settled = await queue.settleDeadLetters('hubspot-sync', 3, async (m) => {
      decided.push(m.messageId);
      return m.messageId.startsWith('settle-resend') ? 'resend' : m.messageId.startsWith('settle-complete') ? 'complete' : 'keep';
    });
    expect(settled).toEqual({ resend: 1, complete: 1, keep: 1 });
    expect(decided.sort()).toEqual([...ids].sort());
    const [copy] = await until(() => (healthy.received.length > 0 ? healthy.received : undefined), 15_000, 'the resent copy');
    await healthy.stop();
    expect(copy).toMatchObject({ body: { run, messageId: ids[0] }, deliveryCount: 1, properties: { replayedFrom: ids[0] } });
    expect((await queue.peekDeadLetters('hubspot-sync')).map((m) => m.messageId)).toEqual([ids[2]]);
    await empty('hubspot-sync');
  }, 180_000);

  it('settles a DeadLetterError as the Functions host settles any thrown error: abandoned and redelivered until the max delivery count', async () => {
    let deliveries = 0;
    const { stop } = collect('media-downloads', async () => {
      deliveries += 1;
      throw new DeadLetterError('TaskFailed', 'blob: 6 attempts failed');
    });
    await queue.send('media-downloads', { messageId: `dlq-${run}`, body: { run }, properties: { run } });
    const dead = await until(async () => (await queue.peekDeadLetters('media-downloads')).find((m) => m.messageId === `dlq-${run}`), 45_000, 'the dead-lettered message');
    await stop();
    expect(deliveries).toBe(10);
    expect(dead).toMatchObject({ reason: 'MaxDeliveryCountExceeded', deliveryCount: 10 });
    await empty('media-downloads');
  }, 120_000);
});
