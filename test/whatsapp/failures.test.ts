import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COSMOS_EMULATOR_KEY } from '../../local/emulators';
import { cosmosClientFor, cosmosContainers } from '../../shared/cosmos';
import type { OutgoingMessage, QueueName } from '../../shared/queue';
import { useServices } from '../../shared/runtime';
import { messages, newWaId, single } from '../fixtures/whatsapp/payloads';
import { startTestHost, type TestHost } from '../support/testHost';
import { CLOSED_PORT_URL, createTenant, json, postWebhook, RecordingInProcessQueue, subjectDocuments } from './support';

/** A queue that can be switched off, as a Service Bus namespace that does not answer. */
class SwitchableQueue extends RecordingInProcessQueue {
  down = false;
  override async send(queue: QueueName, messages: OutgoingMessage | OutgoingMessage[]): Promise<void> {
    if (this.down) throw Object.assign(new Error('connection refused'), { name: 'ServiceBusError', code: 'ServiceCommunicationProblem' });
    await super.send(queue, messages);
  }
}

const queue = new SwitchableQueue();
let t: TestHost;
beforeAll(async () => {
  t = await startTestHost({ GRAPH_API_BASE_URL: CLOSED_PORT_URL }, { queue });
});
afterAll(async () => {
  useServices(t.services);
  await t?.close();
});

describe('when a dependency is down, Meta is told to retry', () => {
  it('Cosmos unreachable: 503, and the retry after it is back stores the message', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const payload = single(tenant.phoneNumberId, waId, messages.text(waId, 'are you there?'));

    // The same app, its Cosmos pointed at a loopback port where nothing listens.
    const client = cosmosClientFor({ connectionString: `AccountEndpoint=http://127.0.0.1:9/;AccountKey=${COSMOS_EMULATOR_KEY};` });
    useServices({ ...t.services, cosmos: cosmosContainers(client, t.services.settings.COSMOS_DATABASE) });
    try {
      const down = await postWebhook(t.url, payload);
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('30');
      expect((await json<{ error: { message: string } }>(down)).error.message).toMatch(/unavailable/);
    } finally {
      useServices(t.services);
      client.dispose();
    }
    expect(t.services.telemetry.events).toContainEqual(expect.objectContaining({ name: 'webhook.unavailable' }));
    expect(t.logs.join('\n')).not.toContain('are you there');

    const back = await postWebhook(t.url, payload);
    expect(back.status).toBe(200);
    expect((await json<{ received: { stored: number } }>(back)).received.stored).toBe(1);
    expect((await subjectDocuments(t.services, tenant.tenantId, waId)).map((d) => d.type).sort()).toEqual(['contact', 'message']);
  });

  it('queue unreachable: 503 after a half-written delivery, and the retry completes it without duplicates', async () => {
    const tenant = await createTenant(t, { messageStorage: 'hubspot' });
    const waId = newWaId();
    const payload = single(tenant.phoneNumberId, waId, messages.text(waId, 'please call me back'));
    queue.down = true;
    try {
      expect((await postWebhook(t.url, payload)).status).toBe(503);
    } finally {
      queue.down = false;
    }
    // The encrypted message waits as pending; its sync message was never sent.
    expect((await subjectDocuments(t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message')).toHaveLength(1);
    expect(queue.sentTo('hubspot-sync', tenant.tenantId)).toEqual([]);

    expect((await postWebhook(t.url, payload)).status).toBe(200);
    expect((await postWebhook(t.url, payload)).status).toBe(200);
    const docs = await subjectDocuments(t.services, tenant.tenantId, waId);
    const stored = docs.filter((d) => d.type === 'message');
    expect(stored).toHaveLength(1);
    expect(queue.sentTo('hubspot-sync', tenant.tenantId).map((m) => m.messageId)).toEqual([stored[0]!.id]);
  });
});
