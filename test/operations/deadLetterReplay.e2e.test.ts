import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../cli/main';
import { InProcessQueue, type MessageHandler, type QueueName } from '../../shared/queue';
import { cli, printed } from '../cli/support';
import { messages, newMediaId, single } from '../fixtures/whatsapp/payloads';
import { createPrivacyTenant, getRequest, newSubject, postRequest, startPrivacyWorld, waitForStatus, type PrivacyWorld } from '../privacy/support';
import { adminHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { postWebhook, subjectDocuments } from '../whatsapp/support';

/**
 * The dead-letter replay leaves the dead-letter queue empty: against the local host, with dead letters on
 * each queue (a worker that failed every delivery until the broker gave up, as the Functions host settles
 * a Node trigger), `flowkeeper dead-letters replay` resends what still has work to do, re-drives the failed
 * privacy request behind an erasure task (so the task does not fail again), and completes every original.
 */
class PoisonableQueue extends InProcessQueue {
  readonly poisoned = new Set<QueueName>();
  readonly delivered = new Map<QueueName, number>();

  override subscribe(queue: QueueName, handler: MessageHandler, options?: { maxConcurrent?: number }): () => Promise<void> {
    return super.subscribe(
      queue,
      async (message) => {
        if (this.poisoned.has(queue)) throw new Error('worker bug (test)');
        this.delivered.set(queue, (this.delivered.get(queue) ?? 0) + 1);
        return handler(message);
      },
      options,
    );
  }
}

let world: PrivacyWorld;
const queue = new PoisonableQueue();
beforeAll(async () => {
  world = await startPrivacyWorld({ queue });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

const deadCount = (name: QueueName) => queue.countDeadLetters(name);

describe('flowkeeper dead-letters replay', () => {
  it('dead letters on each queue: a dry run changes nothing; the replay re-drives the failed request, resends the rest, and every dead-letter queue is empty afterwards', async () => {
    const { t, hubspot } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: true, messageStorage: 'hubspot' });
    const subject = newSubject();

    // erasure-tasks: HubSpot refuses the tenant's token, the request fails and its task is dead-lettered.
    hubspot.addContact({ firstname: 'Morwenna', mobilephone: `0${subject.waId.slice(2)}` });
    hubspot.revokeToken(tenant.token);
    const failedId = ((await (await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } })).json()) as { id: string }).id;
    expect((await waitForStatus(t, failedId, ['completed', 'failed'])).status).toBe('failed');
    await eventually(async () => ((await deadCount('erasure-tasks')) === 1 ? true : undefined), 10_000, 'the erasure task dead letter');

    // privacy-requests, media-downloads, hubspot-sync: their workers fail every delivery for a while.
    for (const name of ['privacy-requests', 'media-downloads', 'hubspot-sync'] as const) queue.poisoned.add(name);
    const other = newSubject();
    const webhook = await postWebhook(t.url, single(tenant.phoneNumberId, other.waId, messages.text(other.waId, other.text), other.name));
    expect(webhook.status).toBe(200);
    const mediaId = newMediaId();
    const { webhookSha256 } = world.graph.addMedia(mediaId, { bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]), mimeType: 'image/jpeg' });
    expect((await postWebhook(t.url, single(tenant.phoneNumberId, other.waId, messages.image(other.waId, { id: mediaId, sha256: webhookSha256 }, 'a photo'), other.name))).status).toBe(200);
    const accessId = ((await (await postRequest(t, { tenantId: tenant.tenantId, type: 'access', subject: { waId: other.waId } })).json()) as { id: string }).id;
    await eventually(
      async () => ((await deadCount('privacy-requests')) >= 1 && (await deadCount('media-downloads')) >= 1 && (await deadCount('hubspot-sync')) >= 1 ? true : undefined),
      15_000,
      'dead letters on every queue',
    );
    // A stale one: an erasure task of a request that is gone (removed with its tenant since).
    queue.poisoned.add('erasure-tasks');
    await queue.send('erasure-tasks', { messageId: 'stale-task', body: { requestId: `gone-${accessId}`, store: 'hubspot', attempt: 1, generation: 0 } });
    await eventually(async () => ((await deadCount('erasure-tasks')) === 2 ? true : undefined), 10_000, 'the stale dead letter');
    // The causes are fixed: the workers work again, HubSpot accepts the token, the tenant gets its channel.
    queue.poisoned.clear();
    hubspot.allowToken(tenant.token);
    const channelId = '4242';
    hubspot.addCustomChannel(channelId, '77');
    const tenantConfig = (await (await fetch(`${t.url}/api/tenants/${tenant.tenantId}`, { headers: adminHeaders() })).json()) as Record<string, unknown> & { hubspot: Record<string, unknown> };
    const { id: _id, createdAt: _c, updatedAt: _u, ...config } = tenantConfig;
    const put = await fetch(`${t.url}/api/tenants/${tenant.tenantId}`, { method: 'PUT', headers: adminHeaders(), body: JSON.stringify({ ...config, hubspot: { ...config.hubspot, customChannelId: channelId, channelAccountId: '77' } }) });
    expect(put.status, await put.clone().text()).toBe(200);
    const before = Object.fromEntries(await Promise.all((['privacy-requests', 'media-downloads', 'hubspot-sync', 'erasure-tasks'] as const).map(async (q) => [q, await deadCount(q)])));

    // A dry run: what would happen, and nothing moves.
    const dry = await cli(t.url, ['dead-letters', 'replay', '--queue', 'erasure-tasks', '--dry-run']);
    expect(dry.code).toBe(EXIT.ok);
    expect(dry.stdout).toBe('erasure-tasks (dry run, nothing changed): would replay 0, re-drive 1, complete 1 stale, keep 0\n');
    expect(await deadCount('erasure-tasks')).toBe(2);
    expect((await getRequest(t, failedId)).status).toBe('failed');

    // Every queue at once.
    const replay = await cli(t.url, ['dead-letters', 'replay', '--json']);
    expect(replay.code).toBe(EXIT.ok);
    const report = JSON.parse(replay.stdout) as { dryRun: boolean; queues: { queue: string; replayed: number; redriven: number; stale: number; kept: number; remaining: number }[] };
    const byQueue = Object.fromEntries(report.queues.map((q) => [q.queue, q]));
    expect(byQueue['erasure-tasks']).toMatchObject({ replayed: 0, redriven: 1, stale: 1, kept: 0, remaining: 0 });
    expect(byQueue['privacy-requests']).toMatchObject({ replayed: before['privacy-requests'], redriven: 0, kept: 0, remaining: 0 });
    expect(byQueue['media-downloads']).toMatchObject({ replayed: before['media-downloads'], kept: 0, remaining: 0 });
    expect(byQueue['hubspot-sync']).toMatchObject({ replayed: before['hubspot-sync'], kept: 0, remaining: 0 });

    // The dead-letter queues are empty (the originals completed, not left next to a copy) and stay so: the
    // re-driven request completes, the access request completes, the media is stored.
    expect((await waitForStatus(t, failedId, ['completed', 'failed'])).status).toBe('completed');
    expect((await waitForStatus(t, accessId, ['completed', 'failed'])).status).toBe('completed');
    await eventually(async () => ((await subjectDocuments(t.services, tenant.tenantId, other.waId)).some((d) => d.type === 'mediaRef' && d.status === 'stored') ? true : undefined), 10_000, 'the media download');
    await eventually(async () => (queue.pending() === 0 ? true : undefined), 10_000, 'the replayed work');
    await eventually(() => ([...hubspot.conversationMessages.values()].some((m) => m.channelId === channelId) ? true : undefined), 10_000, 'the synced message');
    const counts = await cli(t.url, ['dead-letters', 'count']);
    expect(counts.stdout).toMatch(/^total: 0$/m);

    // No personal data in what the operator saw.
    for (const text of printed) for (const needle of [subject.waId, other.waId, other.name, other.text]) expect(text).not.toContain(needle);
  }, 90_000);

  it('a body that can never run is kept (and said so); an unknown queue is a usage error', async () => {
    queue.poisoned.add('privacy-requests');
    await queue.send('privacy-requests', { messageId: 'not-a-request', body: { nonsense: true } });
    await eventually(async () => ((await deadCount('privacy-requests')) === 1 ? true : undefined), 10_000, 'the dead letter');
    queue.poisoned.clear();
    const replay = await cli(world.t.url, ['dead-letters', 'replay', '--queue', 'privacy-requests']);
    expect(replay).toMatchObject({ code: EXIT.ok, stdout: 'privacy-requests: 0 replayed, 0 re-driven, 0 stale, 1 kept; 1 dead-lettered now\n' });
    expect(await deadCount('privacy-requests')).toBe(1);
    const badQuery = await fetch(`${world.t.url}/api/dead-letters/privacy-requests/replay?dryRun=maybe`, { method: 'POST', headers: adminHeaders() });
    expect(badQuery.status).toBe(400);
    expect(JSON.stringify(await badQuery.json())).toContain('dryRun');
    expect(await cli(world.t.url, ['dead-letters', 'replay', '--queue', 'sms'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--queue must be one of') });
  }, 30_000);
});
