import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId } from '../../shared/domain';
import { conversationText, HubSpotClient } from '../../shared/hubspot';
import { hubspotTokenSecret, SettingsSecretProvider } from '../../shared/secrets';
import { startHubSpotFake, type HubSpotFake } from '../fakes/hubspot';
import { hubspotFailureOf } from './support';

const tenantId = 'acme-lettings' as TenantId;
let fake: HubSpotFake;
beforeAll(async () => {
  fake = await startHubSpotFake();
});
afterAll(async () => {
  await fake?.close();
});

function clientWith(options: { maxPacingWaitMs?: number; requestsPerInterval?: number; intervalMs?: number } = {}): { client: HubSpotClient; token: string } {
  const token = `pat-eu1-${randomBytes(6).toString('hex')}`;
  const secrets = new SettingsSecretProvider({ [hubspotTokenSecret(tenantId)]: token });
  return { client: new HubSpotClient({ baseUrl: fake.url, secrets, ...options }), token };
}

const failure = hubspotFailureOf;

const read = (client: HubSpotClient, id = '1') => client.call(tenantId, 'contact read', { method: 'GET', path: `/crm/v3/objects/contacts/${id}`, accept: [404] });

describe('the fake answers as HubSpot does under its burst limit', () => {
  it('sends X-HubSpot-RateLimit-* headers, and a 429 naming TEN_SECONDLY_ROLLING with the exact Retry-After when the window is full', async () => {
    fake.requestsPerTenSeconds = 3;
    fake.rateLimitWindowMs = 4000;
    try {
      const token = `pat-eu1-${randomBytes(6).toString('hex')}`;
      const get = () => fetch(`${fake.url}/crm/v3/objects/contacts/1`, { headers: { authorization: `Bearer ${token}` } });
      const answers = [await get(), await get(), await get(), await get()];
      expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 429]);
      expect(answers.slice(0, 3).map((a) => a.headers.get('x-hubspot-ratelimit-remaining'))).toEqual(['2', '1', '0']);
      expect(answers[0]!.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('4000');
      expect(answers[0]!.headers.get('x-hubspot-ratelimit-max')).toBe('3');
      expect(answers[3]!.headers.get('retry-after')).toBe('4');
      expect(await answers[3]!.json()).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
    } finally {
      fake.requestsPerTenSeconds = 0;
      fake.rateLimitWindowMs = 10_000;
    }
  });
});

describe('the client paces every call under the burst limit', () => {
  it('learns the window from the headers of its first answer and keeps a burst of calls under it, without a single 429', async () => {
    fake.requestsPerTenSeconds = 10;
    fake.rateLimitWindowMs = 500;
    try {
      // Configured for HubSpot's default (100 per 10 s): the headers say 10 per 500 ms.
      const { client, token } = clientWith({ maxPacingWaitMs: 5000 });
      await read(client);
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 30 }, () => read(client)));
      expect(results.every((r) => r.status === 404)).toBe(true);
      const mine = fake.requests.filter((r) => r.token === token);
      expect(mine.filter((r) => r.status === 429)).toEqual([]);
      // 31 calls at 10 per 500 ms need three more windows after the first.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    } finally {
      fake.requestsPerTenSeconds = 0;
      fake.rateLimitWindowMs = 10_000;
    }
  });

  it('a caller that would wait longer than maxPacingWaitMs gets "rate-limited" with the time to come back, and nothing is sent', async () => {
    const { client, token } = clientWith({ requestsPerInterval: 2, intervalMs: 10_000, maxPacingWaitMs: 100 });
    await read(client);
    await read(client);
    const error = await failure(read(client));
    expect(error).toMatchObject({ kind: 'rate-limited', message: expect.stringMatching(/^Flowkeeper paced HubSpot contact read to 2 calls per 10000 ms; retry after \d+ s$/) });
    expect(error.retryAfterMs).toBeGreaterThan(9000);
    expect(fake.requests.filter((r) => r.token === token)).toHaveLength(2);
  });

  it('after a 429 every call of the token waits for Retry-After instead of hammering HubSpot; Remaining: 0 from another caller holds calls back too', async () => {
    const { client, token } = clientWith({ maxPacingWaitMs: 100 });
    fake.rateLimitNext(1, 5, /contacts\/1$/);
    const first = await failure(read(client));
    expect(first).toMatchObject({ kind: 'rate-limited', status: 429, retryAfterMs: 5000, policy: 'TEN_SECONDLY_ROLLING' });
    const second = await failure(read(client, '2'));
    expect(second).toMatchObject({ kind: 'rate-limited', status: undefined });
    expect(second.retryAfterMs).toBeGreaterThan(4000);
    expect(fake.requests.filter((r) => r.token === token)).toHaveLength(1);

    fake.requestsPerTenSeconds = 5;
    fake.rateLimitWindowMs = 2000;
    try {
      const other = clientWith({ maxPacingWaitMs: 100 });
      // Another integration of the same app spends four of the five; our one call sees Remaining: 0.
      for (let i = 0; i < 4; i++) await fetch(`${fake.url}/crm/v3/objects/contacts/1`, { headers: { authorization: `Bearer ${other.token}` } });
      expect((await read(other.client)).status).toBe(404);
      expect(await failure(read(other.client))).toMatchObject({ kind: 'rate-limited', status: undefined });
      expect(fake.requests.filter((r) => r.token === other.token && r.status === 429)).toEqual([]);
    } finally {
      fake.requestsPerTenSeconds = 0;
      fake.rateLimitWindowMs = 10_000;
    }
  });

  it('a DAILY 429 without Retry-After is retried after an hour, and says which limit it was', async () => {
    fake.requestsPerDay = 1;
    try {
      const { client } = clientWith();
      await read(client);
      const daily = await failure(read(client));
      expect(daily).toMatchObject({ kind: 'rate-limited', policy: 'DAILY', retryAfterMs: 3_600_000, message: 'HubSpot answered 429 (DAILY) on contact read; retry after 3600 s' });
    } finally {
      fake.requestsPerDay = 0;
    }
  });
});

describe('what a WhatsApp message looks like in the HubSpot inbox', () => {
  it('text as itself, media as a placeholder with its caption, replies by their title, a shared contact card without its content', () => {
    expect(conversationText({ type: 'text', text: { body: 'Is the flat free?' } })).toBe('Is the flat free?');
    expect(conversationText({ type: 'image', image: { id: '1', caption: 'the damp wall' } })).toBe('[image] the damp wall');
    expect(conversationText({ type: 'document', document: { id: '1', filename: 'payslip.pdf', caption: 'my payslip' } })).toBe('[document: payslip.pdf] my payslip');
    expect(conversationText({ type: 'audio', audio: { id: '1', voice: true } })).toBe('[voice message]');
    expect(conversationText({ type: 'sticker', sticker: { id: '1' } })).toBe('[sticker]');
    expect(conversationText({ type: 'location', location: { latitude: 51.5, longitude: -0.12 } })).toBe('[location] (51.5, -0.12)');
    expect(conversationText({ type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'y', title: 'Yes please' } } })).toBe('Yes please');
    expect(conversationText({ type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 's', title: 'Thursday 18:00' } } })).toBe('Thursday 18:00');
    expect(conversationText({ type: 'button', button: { text: 'Confirm viewing' } })).toBe('Confirm viewing');
    expect(conversationText({ type: 'reaction', reaction: { message_id: 'x', emoji: '\u{1F44D}' } })).toBe('[reaction \u{1F44D}]');
    expect(conversationText({ type: 'reaction', reaction: { message_id: 'x' } })).toBe('[reaction removed]');
    expect(conversationText({ type: 'order', order: { catalog_id: '1', text: 'deposit question', product_items: [{}, {}] } })).toBe('[order: 2 items] deposit question');
    const card = conversationText({ type: 'contacts', contacts: [{ name: { formatted_name: 'Alex Example' }, phones: [{ phone: '+44 7700 900456' }] }] });
    expect(card).toBe('[shared contact card]');
    expect(conversationText({ type: 'hologram', hologram: {} })).toBe('[hologram]');
    expect(conversationText({ type: 'text', text: { body: '   ' } })).toBe('[empty message]');
    expect(conversationText('not an object')).toBe('[message]');
  });
});
